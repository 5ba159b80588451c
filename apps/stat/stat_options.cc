#include "stat_options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace tern::stat {
namespace {

struct Flag {
  const char* long_name;
  char short_name;
  bool takes_value;
};
constexpr Flag kFlags[] = {
    {"file-prefix", 'f', true}, {"socket", 0, true},   {"json", 'j', false},  {"state", 's', true},
    {"port", 'p', true},        {"peer", 0, true},     {"worker", 'w', true}, {"interval", 'i', true},
    {"count", 'c', true},       {"zeros", 'z', false}, {"help", 'h', false},  {"version", 'V', false},
};
constexpr const char* kViews[] = {"conns", "rates"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" for the closest of `names` within 2 edits, or "".
template <typename Names, typename Get>
std::string did_you_mean(std::string_view word, const Names& names, Get get, std::string_view prefix = "") {
  std::size_t best = 3;
  std::string pick;
  for (const auto& n : names) {
    const std::string_view s = get(n);
    const std::size_t d = edit_distance(word, s);
    if (d < best) {
      best = d;
      pick = std::string(prefix) + std::string(s);
    }
  }
  return pick.empty() ? "" : " (did you mean " + pick + "?)";
}

std::string upper_snake(std::string_view s) {
  std::string out;
  for (const char c : s) out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

bool parse_u64(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

// An IPv6 address in the form Tern prints it (RFC 5952, as inet_ntop
// writes it), so that --peer 2001:DB8:0::1 matches [2001:db8::1]:80; empty
// if `s` is not one.
std::string canonical_ipv6(const std::string& s) {
  in6_addr a{};
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1 || inet_ntop(AF_INET6, &a, buf, sizeof buf) == nullptr)
    return {};
  return buf;
}

bool valid_ipv4(std::string_view s) {
  int parts = 0;
  while (true) {
    const std::size_t dot = s.find('.');
    std::uint64_t v = 0;
    if (!parse_u64(s.substr(0, dot), 255, v) || s.substr(0, dot).size() > 3) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s = s.substr(dot + 1);
  }
  return parts == 4;
}

std::string set(StatOptions& o, const Flag& f, const std::string& v) {
  const std::string name = std::string("--") + f.long_name;
  const std::string_view n = f.long_name;
  std::uint64_t u = 0;
  if (n == "file-prefix") {
    if (v.empty() || v.find('/') != std::string::npos)
      return name + ": give the EAL file prefix (`[eal] file_prefix`), got '" + v + "'";
    o.prefix = v;
  } else if (n == "socket") {
    o.socket = v;
  } else if (n == "json") {
    o.json = true;
  } else if (n == "state") {
    std::string_view rest = v;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view one = rest.substr(0, comma);
      const std::optional<std::string> s = normalize_state(one);
      if (!s) {
        std::string list;
        for (const std::string_view t : tcp_states()) list += (list.empty() ? "" : ", ") + std::string(t);
        return name + ": unknown state '" + std::string(one) + "'" +
               did_you_mean(upper_snake(one), tcp_states(), [](std::string_view t) { return t; }) +
               "; states: " + list + " (ss's ESTAB, SYN-RECV, ... and any case too)";
      }
      o.filter.states.push_back(*s);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  } else if (n == "port") {
    if (!parse_u64(v, 65535, u) || u == 0) return name + ": a port is 1..65535, got '" + v + "'";
    o.filter.port = static_cast<std::uint16_t>(u);
  } else if (n == "peer") {
    // IPv4 "A.B.C.D[:PORT]"; IPv6 bare ("2001:db8::1", no port: its colons
    // are the address's) or in brackets ("[2001:db8::1]:PORT"), as Tern prints it.
    const std::string bad = name + ": give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '" + v + "'";
    std::string addr, port;
    bool has_port = false;
    if (!v.empty() && v.front() == '[') {
      const std::size_t close = v.find(']');
      if (close == std::string::npos) return bad;
      addr = canonical_ipv6(v.substr(1, close - 1));
      if (addr.empty()) return bad;
      const std::string rest = v.substr(close + 1);
      if (!rest.empty() && rest.front() != ':') return bad;
      has_port = !rest.empty();
      port = has_port ? rest.substr(1) : "";
    } else if (std::count(v.begin(), v.end(), ':') > 1) {
      addr = canonical_ipv6(v);
      if (addr.empty()) return bad;
    } else {
      const std::size_t colon = v.find(':');
      addr = v.substr(0, colon);
      if (!valid_ipv4(addr)) return bad;
      has_port = colon != std::string::npos;
      port = has_port ? v.substr(colon + 1) : "";
    }
    o.filter.peer_addr = addr;
    if (has_port) {
      if (!parse_u64(port, 65535, u) || u == 0) return name + ": a port is 1..65535, got '" + v + "'";
      o.filter.peer_port = static_cast<std::uint16_t>(u);
    }
  } else if (n == "worker") {
    if (!parse_u64(v, 1023, u)) return name + ": a worker index (0, 1, ...), got '" + v + "'";
    o.filter.worker = static_cast<std::size_t>(u);
  } else if (n == "interval") {
    char* end = nullptr;
    const double s = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !(s >= 0.1 && s <= 3600))
      return name + ": seconds between samples, 0.1..3600, got '" + v + "'";
    o.interval_s = s;
  } else if (n == "count") {
    if (!parse_u64(v, 1'000'000'000, u) || u == 0)
      return name + ": how many samples (1 or more), got '" + v + "'";
    o.count = u;
  } else if (n == "zeros") {
    o.zeros = true;
  } else if (n == "help") {
    o.help = true;
  } else if (n == "version") {
    o.version = true;
  }
  return {};
}

}  // namespace

std::string parse_stat_options(int argc, const char* const* argv, StatOptions& o) {
  bool view_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const Flag* flag = nullptr;
    std::optional<std::string> value;
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      const std::size_t eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      for (const Flag& f : kFlags)
        if (name == f.long_name) flag = &f;
      if (flag == nullptr)
        return "unknown option --" + name +
               did_you_mean(
                   name, kFlags, [](const Flag& f) { return std::string_view(f.long_name); }, "--");
      if (eq != std::string::npos) {
        if (!flag->takes_value) return "--" + name + " takes no value";
        value = arg.substr(eq + 1);
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      for (const Flag& f : kFlags)
        if (f.short_name == arg[1]) flag = &f;
      if (flag == nullptr) return "unknown option " + arg.substr(0, 2);
      if (arg.size() > 2) {
        if (!flag->takes_value) return "-" + std::string(1, arg[1]) + " takes no value";
        value = arg.substr(2);  // -fPREFIX, as getopt allows
      }
    } else {
      if (view_given) return "one view at a time: got '" + o.view + "' and '" + arg + "'";
      if (std::find(std::begin(kViews), std::end(kViews), arg) == std::end(kViews))
        return "unknown view '" + arg + "'" +
               did_you_mean(arg, kViews, [](const char* v) { return std::string_view(v); }) +
               "; views: conns (the default), rates";
      o.view = arg;
      view_given = true;
      continue;
    }
    if (flag->takes_value && !value) {
      if (i + 1 >= argc) return "--" + std::string(flag->long_name) + " needs a value";
      value = argv[++i];
    }
    if (std::string why = set(o, *flag, value.value_or("")); !why.empty()) return why;
  }
  const bool conn_filter = !o.filter.states.empty() || o.filter.port || !o.filter.peer_addr.empty();
  if (o.view == "rates" && conn_filter)
    return "--state, --port and --peer filter connections; rates lists counters";
  return {};
}

std::string stat_usage() {
  return R"(Usage: tern-stat [-f PREFIX] [conns] [--state S] [--port P] [--peer ADDR[:PORT]] [--worker N] [--json]
       tern-stat [-f PREFIX] rates [--interval SECONDS] [--count N] [--zeros] [--worker N] [--json]

Reads a running Tern process through its DPDK telemetry socket (the one
dpdk-telemetry.py reads), found by the process's EAL file prefix.

Views:
  conns (default)  every connection, as `ss -tin` lists them: state, Recv-Q,
                   Send-Q, local and peer address, the worker, then the
                   congestion controller, rtt/rttvar (ms), rto, mss, cwnd and
                   ssthresh (segments), bytes, segments, send rate, pacing
                   rate (when the controller paces), retransmissions
  rates            every SECONDS, the change of each counter and drop reason
                   (docs/counters.md) per worker and in total, as nstat does;
                   CurrEstab, a level, is shown as it is now

Options:
  -f, --file-prefix PREFIX  the process's [eal] file_prefix (default: tern)
      --socket PATH         a telemetry socket path instead
  -j, --json                JSON: one object (conns) or one object per line (rates)
  -s, --state LIST          conns: only these states, comma-separated
                            (established, syn-sent, close-wait, ...; ss's names too)
  -p, --port PORT           conns: only connections with PORT on either side
      --peer ADDR[:PORT]    conns: only connections to this peer (IPv6: ADDR or [ADDR]:PORT)
  -w, --worker N            only worker N's connections (conns) or counters (rates)
  -i, --interval SECONDS    rates: time between samples (default 1; 0.1..3600)
  -c, --count N             rates: stop after N samples (default: until interrupted)
  -z, --zeros               rates: list counters that did not change too
  -h, --help                this text
  -V, --version             the version

Exit status: 0 done, 1 the process could not be read, 2 a bad command line.
Examples:
  tern-stat -f tern                      # like ss -tin
  tern-stat -f tern --state estab --port 80
  tern-stat -f tern rates                # like nstat, every second
  tern-stat -f tern rates -c 1 --json
)";
}

}  // namespace tern::stat
