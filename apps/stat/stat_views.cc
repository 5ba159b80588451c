#include "stat_views.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

namespace tern::stat {
namespace {

std::string upper(std::string_view s) {
  std::string out;
  for (const char c : s)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "10.0.0.1:80" into its address and port.
// "a.b.c.d:port" or "[v6]:port" (RFC 3986 §3.2.2, as telemetry writes an
// IPv6 end): the address without brackets, and the port.
std::pair<std::string_view, std::string_view> split_endpoint(std::string_view e) {
  const std::size_t colon = e.rfind(':');
  if (colon == std::string_view::npos) return {e, {}};
  std::string_view addr = e.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
  return {addr, e.substr(colon + 1)};
}

std::string ms(std::uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(us) / 1000.0);
  return buf;
}

// Bits per second as ss writes them: "940Mbps", "1.2Gbps".
std::string bps(double bits) {
  char buf[32];
  if (bits >= 1e9)
    std::snprintf(buf, sizeof(buf), "%.1fGbps", bits / 1e9);
  else if (bits >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.1fMbps", bits / 1e6);
  else if (bits >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fKbps", bits / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0fbps", bits);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

std::uint64_t value_of(const CounterList& l, std::size_t i, std::string_view name) {
  // Same order on every sample of one process; by name if not.
  if (i < l.size() && l[i].first == name) return l[i].second;
  for (const auto& [k, v] : l)
    if (k == name) return v;
  return 0;
}

// The change from `before` to `now` of counter `name` (a gauge: its value now).
std::int64_t change(const CounterList& before, const CounterList& now, std::size_t i) {
  const std::string& name = now[i].first;
  if (is_gauge(name)) return static_cast<std::int64_t>(now[i].second);
  return static_cast<std::int64_t>(now[i].second - value_of(before, i, name));
}

}  // namespace

// ---- connections ----

std::string_view ConnEntry::get(std::string_view name) const noexcept {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

std::uint64_t ConnEntry::num(std::string_view name) const noexcept {
  const std::string_view v = get(name);
  std::uint64_t n = 0;
  for (const char c : v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

bool conns_from_reply(const Json& reply, std::vector<ConnEntry>& out, std::string& why) {
  if (const Json* e = reply.find("error"); e != nullptr) {
    why = e->string;
    return false;
  }
  const Json* fields = reply.find("fields");
  const Json* listed = reply.find("listed");
  if (fields == nullptr || fields->kind != Json::Kind::kArray || listed == nullptr || !listed->integer) {
    why = "not a /tern/conns reply";
    return false;
  }
  for (std::uint64_t r = 0; r < *listed->integer; ++r) {
    const Json* row = reply.find("c" + std::to_string(r));
    if (row == nullptr || row->kind != Json::Kind::kArray || row->array.size() != fields->array.size()) {
      why = "row c" + std::to_string(r) + " missing or of the wrong size";
      return false;
    }
    ConnEntry c;
    for (std::size_t f = 0; f < row->array.size(); ++f)
      c.fields.emplace_back(fields->array[f].string, row->array[f].string);
    out.push_back(std::move(c));
  }
  return true;
}

const std::vector<std::string_view>& tcp_states() noexcept {
  static const std::vector<std::string_view> k{"SYN_SENT",   "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
                                               "FIN_WAIT_2", "CLOSE_WAIT",   "CLOSING",     "LAST_ACK",
                                               "TIME_WAIT",  "CLOSED",       "LISTEN"};
  return k;
}

std::optional<std::string> normalize_state(std::string_view user) {
  const std::string u = upper(user);
  static const std::map<std::string, std::string> aliases{
      {"ESTAB", "ESTABLISHED"}, {"SYN_RECV", "SYN_RECEIVED"}, {"SYN_RCVD", "SYN_RECEIVED"}};
  if (const auto it = aliases.find(u); it != aliases.end()) return it->second;
  for (const std::string_view s : tcp_states())
    if (s == u) return std::string(s);
  return std::nullopt;
}

std::string ss_state(std::string_view tern) {
  if (tern == "ESTABLISHED") return "ESTAB";
  if (tern == "SYN_RECEIVED") return "SYN-RECV";
  std::string s(tern);
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

bool ConnFilter::matches(const ConnEntry& c) const {
  if (!states.empty() && std::find(states.begin(), states.end(), c.get("state")) == states.end())
    return false;
  const auto [laddr, lport] = split_endpoint(c.get("local"));
  const auto [raddr, rport] = split_endpoint(c.get("remote"));
  if (port) {
    const std::string p = std::to_string(*port);
    if (lport != p && rport != p) return false;
  }
  if (!peer_addr.empty() && raddr != peer_addr) return false;
  if (peer_port && rport != std::to_string(*peer_port)) return false;
  if (worker && c.get("worker") != std::to_string(*worker)) return false;
  (void)laddr;
  return true;
}

std::string format_conns_text(const std::vector<ConnEntry>& conns) {
  std::size_t lw = 20, rw = 20;
  for (const ConnEntry& c : conns) {
    lw = std::max(lw, c.get("local").size() + 2);
    rw = std::max(rw, c.get("remote").size() + 2);
  }
  std::string out = pad("State", 11) + pad("Recv-Q", 8) + pad("Send-Q", 8) + pad("Local Address:Port", lw) +
                    pad("Peer Address:Port", rw) + "Worker\n";
  for (const ConnEntry& c : conns) {
    out += pad(ss_state(c.get("state")), 11) + pad(std::to_string(c.num("rcv_queue")), 8) +
           pad(std::to_string(c.num("snd_queue")), 8) + pad(std::string(c.get("local")), lw) +
           pad(std::string(c.get("remote")), rw) + std::string(c.get("worker")) + "\n";
    // ss's second line: the controller, then name:value figures.
    std::string f = "\t " + std::string(c.get("congestion"));
    const std::uint64_t srtt = c.num("srtt_us");
    if (srtt > 0) f += " rtt:" + ms(srtt) + "/" + ms(c.num("rttvar_us"));
    f += " rto:" + ms(c.num("rto_us"));
    f += " mss:" + std::to_string(c.num("mss"));
    f += " cwnd:" + std::to_string(c.num("cwnd_segs"));
    if (c.num("ssthresh") < UINT32_MAX) f += " ssthresh:" + std::to_string(c.num("ssthresh_segs"));
    f += " bytes_acked:" + std::to_string(c.num("bytes_acked"));
    f += " bytes_received:" + std::to_string(c.num("bytes_received"));
    f += " segs_out:" + std::to_string(c.num("segs_out"));
    f += " segs_in:" + std::to_string(c.num("segs_in"));
    if (srtt > 0) f += " send " + bps(static_cast<double>(c.num("cwnd")) * 8e6 / static_cast<double>(srtt));
    if (c.num("pacing_rate") > 0) f += " pacing_rate " + bps(static_cast<double>(c.num("pacing_rate")) * 8);
    f += " retrans:" + std::to_string(c.num("total_retrans"));
    if (c.num("lost") > 0) f += " lost:" + std::to_string(c.num("lost"));
    f += " reordering:" + std::to_string(c.num("reordering"));
    if (c.get("ca_state") != "open" && !c.get("ca_state").empty())
      f += " ca_state:" + std::string(c.get("ca_state"));
    if (c.num("min_rtt_us") > 0) f += " minrtt:" + ms(c.num("min_rtt_us"));
    f += " snd_wnd:" + std::to_string(c.num("snd_wnd"));
    f += " rcv_wnd:" + std::to_string(c.num("rcv_wnd"));
    if (c.num("rcv_rtt_us") > 0) f += " rcv_rtt:" + ms(c.num("rcv_rtt_us"));
    if (c.num("rcv_space") > 0) f += " rcv_space:" + std::to_string(c.num("rcv_space"));
    if (c.num("snd_buf") > 0) f += " snd_buf:" + std::to_string(c.num("snd_buf"));
    if (c.num("rcv_buf") > 0) f += " rcv_buf:" + std::to_string(c.num("rcv_buf"));
    out += f + "\n";
  }
  return out;
}

std::string format_conns_json(const std::vector<ConnEntry>& conns, std::size_t total, std::size_t workers) {
  std::string out = "{\"workers\": " + std::to_string(workers) + ", \"total\": " + std::to_string(total) +
                    ", \"connections\": [";
  for (std::size_t i = 0; i < conns.size(); ++i) {
    out += i == 0 ? "{" : ", {";
    bool first = true;
    for (const auto& [k, v] : conns[i].fields) {
      out += (first ? "" : ", ") + json_quote(k) + ": " + (all_digits(v) ? v : json_quote(v));
      first = false;
    }
    out += "}";
  }
  return out + "]}\n";
}

// ---- counters ----

bool counters_from_reply(const Json& reply, CounterList& out, std::string& why) {
  if (const Json* e = reply.find("error"); e != nullptr) {
    why = e->string;
    return false;
  }
  if (!reply.is_object()) {
    why = "no counters in the reply (null: is this a Tern process?)";
    return false;
  }
  out.clear();
  for (const auto& [k, v] : reply.object) {
    if (!v.integer) {
      why = "counter " + k + " is not a number";
      return false;
    }
    out.emplace_back(k, *v.integer);
  }
  return true;
}

WorkerCounters sum_workers(const std::vector<WorkerCounters>& workers) {
  WorkerCounters t;
  if (workers.empty()) return t;
  t = workers.front();
  for (std::size_t w = 1; w < workers.size(); ++w) {
    for (std::size_t i = 0; i < t.events.size(); ++i)
      t.events[i].second += value_of(workers[w].events, i, t.events[i].first);
    for (std::size_t i = 0; i < t.drops.size(); ++i)
      t.drops[i].second += value_of(workers[w].drops, i, t.drops[i].first);
  }
  return t;
}

bool is_gauge(std::string_view name) noexcept { return name == "CurrEstab"; }

std::string format_rates_text(const std::vector<WorkerCounters>& before,
                              const std::vector<WorkerCounters>& now, const RatesView& v) {
  const WorkerCounters tb = sum_workers(before), tn = sum_workers(now);
  constexpr std::size_t kName = 26, kCol = 12;
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.2f s", v.seconds);
  std::string out;
  const auto table = [&](const char* title, CounterList WorkerCounters::*list) {
    const CounterList& total_now = tn.*list;
    std::string rows;
    for (std::size_t i = 0; i < total_now.size(); ++i) {
      const std::int64_t t = change(tb.*list, total_now, i);
      bool any = t != 0;
      std::vector<std::int64_t> per;
      for (std::size_t w = 0; w < now.size(); ++w) {
        const CounterList& wn = now[w].*list;
        const std::size_t j = i < wn.size() && wn[i].first == total_now[i].first ? i : wn.size();
        std::int64_t d = 0;
        if (j < wn.size()) d = change(before[w].*list, wn, j);
        any = any || d != 0;
        per.push_back(d);
      }
      if (!any && !v.zeros) continue;
      const std::string& name = total_now[i].first;
      rows += pad(name + (is_gauge(name) ? " (now)" : ""), kName) + pad_left(std::to_string(t), kCol);
      if (now.size() > 1)
        for (const std::int64_t d : per) rows += pad_left(std::to_string(d), kCol);
      rows += "\n";
    }
    std::string head = pad(title, kName) + pad_left("total", kCol);
    if (now.size() > 1)
      for (std::size_t w = 0; w < now.size(); ++w) head += pad_left("worker " + std::to_string(w), kCol);
    out += head + "\n" + (rows.empty() ? "  (none changed)\n" : rows);
  };
  out += "# change over " + std::string(secs) + "\n";
  table("event", &WorkerCounters::events);
  table("drop reason", &WorkerCounters::drops);
  return out;
}

std::string format_rates_json(const std::vector<WorkerCounters>& before,
                              const std::vector<WorkerCounters>& now, const RatesView& v) {
  const auto dict = [&](const CounterList& b, const CounterList& n) {
    std::string out = "{";
    bool first = true;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::int64_t d = change(b, n, i);
      if (d == 0 && !v.zeros) continue;
      out += (first ? "" : ", ") + json_quote(n[i].first) + ": " + std::to_string(d);
      first = false;
    }
    return out + "}";
  };
  const WorkerCounters tb = sum_workers(before), tn = sum_workers(now);
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.3f", v.seconds);
  std::string out = "{\"interval_s\": " + std::string(secs) +
                    ", \"total\": {\"events\": " + dict(tb.events, tn.events) +
                    ", \"drops\": " + dict(tb.drops, tn.drops) + "}, \"workers\": [";
  for (std::size_t w = 0; w < now.size(); ++w)
    out += std::string(w == 0 ? "" : ", ") + "{\"worker\": " + std::to_string(w) +
           ", \"events\": " + dict(before[w].events, now[w].events) +
           ", \"drops\": " + dict(before[w].drops, now[w].drops) + "}";
  return out + "]}\n";
}

}  // namespace tern::stat
