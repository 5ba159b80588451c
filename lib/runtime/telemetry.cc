#include "runtime/telemetry.h"

#include <rte_telemetry.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/counters.h"
#include "config/config.h"
#include "runtime/log.h"
#include "runtime/runtime.h"

namespace tern {
namespace {

constexpr const char* kStatsCmd = "/tern/stats";
constexpr const char* kDropsCmd = "/tern/drops";
constexpr const char* kInfoCmd = "/tern/info";
constexpr const char* kConnsCmd = "/tern/conns";

// The keys, straight from the X-macro lists (the same strings as
// counter_name() and drop_name()), so that the limits below are checked
// when the lists change, at compile time.
constexpr std::string_view kEventKeys[] = {
#define TERN_X(name) #name,
    TERN_EVENT_COUNTERS(TERN_X)
#undef TERN_X
};
constexpr std::string_view kDropKeys[] = {
#define TERN_X(name) #name,
    TERN_DROP_REASONS(TERN_X)
#undef TERN_X
};
static_assert(std::size(kEventKeys) == kCounterCount);
static_assert(std::size(kDropKeys) == kDropCount);

// valid_name() in DPDK 22.11 lib/telemetry/telemetry_data.c: anything else
// makes rte_tel_data_add_dict_*() return -EINVAL and add nothing. Names of
// RTE_TEL_MAX_STRING_LEN or more are truncated (the call returns E2BIG).
constexpr bool valid_key(std::string_view s) noexcept {
  if (s.empty() || s.size() >= RTE_TEL_MAX_STRING_LEN) return false;
  for (const char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '/'))
      return false;
  return true;
}

constexpr std::size_t decimal_digits(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// The room a reply takes in DPDK 22.11's kTelemetryMaxReply bytes (output_json()
// and rte_tel_json_add_obj_u64()): `{"cmd":{}}` plus the NUL its snprintf
// needs, and `"name":value,` per entry. A sum up to kTelemetryMaxReply is
// written whole; one byte more and DPDK leaves the last entry out.
constexpr std::size_t reply_overhead(std::string_view cmd) noexcept { return cmd.size() + 7; }
constexpr std::size_t entry_size(std::string_view name, std::size_t digits) noexcept {
  return name.size() + digits + 4;
}

constexpr bool keys_fit(std::string_view cmd, std::span<const std::string_view> keys) noexcept {
  if (keys.size() > RTE_TEL_MAX_DICT_ENTRIES) return false;
  std::size_t size = reply_overhead(cmd);
  for (const std::string_view k : keys) {
    if (!valid_key(k)) return false;
    size += entry_size(k, decimal_digits(UINT64_MAX));
  }
  return size <= kTelemetryMaxReply;
}
// Should one of these fail as counters are added: give the list its own
// command (as /tern/drops is), or split it between two.
static_assert(keys_fit(kStatsCmd, kEventKeys),
              "TERN_EVENT_COUNTERS no longer fits one DPDK telemetry reply (256 keys, 16 KiB)");
static_assert(keys_fit(kDropsCmd, kDropKeys),
              "TERN_DROP_REASONS no longer fits one DPDK telemetry reply (256 keys, 16 KiB)");

// The runtime served, and the lock each command holds while it uses it:
// DPDK runs commands on a thread per client connection, and the Runtime's
// destructor unregisters it (register_telemetry(nullptr)) before freeing its
// workers, which must not happen under a command still reading them.
std::mutex g_runtime_mutex;
const Runtime* g_runtime = nullptr;

// A command's hold on the runtime: rt is nullptr between runtimes (the reply
// is then null).
struct Served {
  std::lock_guard<std::mutex> lock{g_runtime_mutex};
  const Runtime* rt = g_runtime;
};

// rc from an rte_tel_data_* call: 0 stays 0; DPDK's positive E2BIG (a name or
// value truncated) and every negative errno become a negative errno, logged.
int check(int rc, std::string_view cmd, std::string_view what) {
  if (rc == 0) return 0;
  const int err = rc > 0 ? -E2BIG : rc;
  TERN_LOG(ERR, "telemetry %.*s: DPDK refused %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(),
           static_cast<int>(what.size()), what.data(), std::strerror(-err));
  return err;
}

// What a request's parameter may echo back in an error: printable, no
// quote or backslash (DPDK 22.11 does not escape strings), and short enough
// that the message stays under RTE_TEL_MAX_STRING_LEN.
std::string quoted(const char* params) {
  std::string out;
  for (const char* p = params; *p != '\0' && out.size() < 24; ++p)
    out += (*p >= ' ' && *p <= '~' && *p != '"' && *p != '\\') ? *p : '?';
  return "'" + out + (std::strlen(params) > 24 ? "...'" : "'");
}

std::string worker_range(std::size_t workers) {
  return workers == 1 ? "the only worker is 0" : "workers are 0.." + std::to_string(workers - 1);
}

// A worker index from the decimal text [p, p + len); an empty string when it
// is one of `workers`, else why not.
std::string parse_worker(std::string_view text, std::size_t workers, std::size_t& out) {
  std::size_t w = 0;
  bool digits = !text.empty() && text.size() <= 9;
  for (const char c : text) {
    if (c < '0' || c > '9') digits = false;
    if (digits) w = w * 10 + static_cast<std::size_t>(c - '0');
  }
  if (!digits) return "bad worker " + quoted(std::string(text).c_str()) + "; " + worker_range(workers);
  if (w >= workers) return "unknown worker " + std::to_string(w) + "; " + worker_range(workers);
  out = w;
  return {};
}

// The answer to a request telemetry cannot serve: {"error": why}, so the
// client reads the reason instead of a bare null.
int error_reply(rte_tel_data* d, std::string_view cmd, const std::string& why) {
  int rc = check(rte_tel_data_start_dict(d), cmd, "the dictionary");
  if (rc == 0) rc = check(rte_tel_data_add_dict_string(d, "error", why.c_str()), cmd, "error");
  return rc;
}

template <std::size_t N, std::size_t M>
int counters_reply(const char* params, rte_tel_data* d, std::string_view cmd,
                   const std::string_view (&keys)[N], std::array<std::uint64_t, M> Counters::*values) {
  static_assert(N == M);
  const Served s;
  if (s.rt == nullptr) return -ENODEV;  // between runtimes: the reply is null
  Counters c;
  if (params == nullptr || *params == '\0') {
    c = s.rt->totals();
  } else {
    std::size_t w = 0;
    if (const std::string why = parse_worker(params, s.rt->workers(), w); !why.empty())
      return error_reply(d, cmd, why + ", or nothing for the total");
    c = s.rt->worker(w).counters();
  }
  if (const int rc = check(rte_tel_data_start_dict(d), cmd, "the dictionary"); rc != 0) return rc;
  return telemetry_add_u64s(d, cmd, keys, c.*values);
}

int stats_cmd(const char*, const char* params, rte_tel_data* d) {
  return counters_reply(params, d, kStatsCmd, kEventKeys, &Counters::events);
}

int drops_cmd(const char*, const char* params, rte_tel_data* d) {
  return counters_reply(params, d, kDropsCmd, kDropKeys, &Counters::drops);
}

int info_cmd(const char*, const char* params, rte_tel_data* d) {
  const Served s;
  const Runtime* rt = s.rt;
  if (rt == nullptr) return -ENODEV;
  if (params != nullptr && *params != '\0')
    return error_reply(d, kInfoCmd, std::string(kInfoCmd) + " takes no parameter; got " + quoted(params));
  const PortInfo& p = rt->port().info();
  const PortConfig& pc = rt->config().ports.front();
  const std::string address = format_ipv4(pc.address.addr) + "/" + std::to_string(pc.address.len);
  const char* steering = p.queues == 1 || rt->workers() == 1 ? "single-queue"
                         : p.steering == Steering::kRss      ? "rss"
                                                             : "software";
  int rc = check(rte_tel_data_start_dict(d), kInfoCmd, "the dictionary");
  if (rc == 0) rc = check(rte_tel_data_add_dict_u64(d, "workers", rt->workers()), kInfoCmd, "workers");
  if (rc == 0) rc = check(rte_tel_data_add_dict_string(d, "address", address.c_str()), kInfoCmd, "address");
  if (rc == 0) rc = check(rte_tel_data_add_dict_string(d, "mac", p.mac.to_string().c_str()), kInfoCmd, "mac");
  if (rc == 0) rc = check(rte_tel_data_add_dict_string(d, "port", p.name.c_str()), kInfoCmd, "port");
  if (rc == 0) rc = check(rte_tel_data_add_dict_u64(d, "mtu", p.mtu), kInfoCmd, "mtu");
  if (rc == 0) rc = check(rte_tel_data_add_dict_string(d, "steering", steering), kInfoCmd, "steering");
  return rc;
}

// ---- /tern/conns ----------------------------------------------------------

// JSON bytes of `"name":["v0","v1",...],` as DPDK 22.11 writes a string
// array inside a dictionary.
std::size_t row_size(std::string_view name, const std::vector<std::string>& row) {
  std::size_t n = name.size() + 4 + 2;
  for (const std::string& v : row) n += v.size() + 3;
  return n;
}

int add_row(rte_tel_data* d, const std::string& name, const std::vector<std::string>& row) {
  rte_tel_data* a = rte_tel_data_alloc();
  if (a == nullptr) return check(-ENOMEM, kConnsCmd, name);
  int rc = check(rte_tel_data_start_array(a, RTE_TEL_STRING_VAL), kConnsCmd, name);
  for (std::size_t i = 0; rc == 0 && i < row.size(); ++i)
    rc = check(rte_tel_data_add_array_string(a, row[i].c_str()), kConnsCmd, name);
  if (rc == 0) rc = check(rte_tel_data_add_dict_container(d, name.c_str(), a, 0), kConnsCmd, name);
  if (rc != 0) rte_tel_data_free(a);
  return rc;
}

// Waits for each worker asked to copy out its connections (it alone may
// read its TCBs, in its loop); one request at a time (Served's lock).
constexpr auto kConnsWait = std::chrono::milliseconds(500);

// The parameter of /tern/conns: nothing (every worker), "W" (worker W) or
// "W,START" (worker W's connections from the START-th on: the next page).
// An empty string, or why the parameter is bad.
std::string parse_conns_params(const char* params, std::size_t workers, std::size_t& first, std::size_t& last,
                               std::uint32_t& start) {
  first = 0;
  last = workers;
  start = 0;
  if (params == nullptr || *params == '\0') return {};
  const std::string_view p(params);
  const std::size_t comma = p.find(',');
  if (std::string why = parse_worker(p.substr(0, comma), workers, first); !why.empty())
    return why + ", or nothing for all";
  last = first + 1;
  if (comma == std::string_view::npos) return {};
  const std::string_view from = p.substr(comma + 1);
  std::uint64_t v = 0;
  bool ok = !from.empty() && from.size() <= 9;
  for (const char c : from) {
    if (c < '0' || c > '9') ok = false;
    if (ok) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!ok) return "bad start " + quoted(std::string(from).c_str()) + "; give WORKER,START (a number)";
  start = static_cast<std::uint32_t>(v);
  return {};
}

int conns_cmd(const char*, const char* params, rte_tel_data* d) {
  const Served s;
  const Runtime* rt = s.rt;
  if (rt == nullptr) return -ENODEV;
  std::size_t first = 0, last = 0;
  std::uint32_t start = 0;
  if (const std::string why = parse_conns_params(params, rt->workers(), first, last, start); !why.empty())
    return error_reply(d, kConnsCmd, why);
  std::vector<ConnRow> rows;
  std::size_t total = 0;
  for (std::size_t w = first; w < last; ++w) {
    // This thread only asks, and reads what the worker published for the
    // ticket (Worker::request_snapshot's protocol).
    const Worker& worker = rt->worker(w);
    const std::uint32_t ticket = worker.request_snapshot(start);
    const auto deadline = std::chrono::steady_clock::now() + kConnsWait;
    while (!worker.snapshot_ready(ticket)) {
      if (std::chrono::steady_clock::now() > deadline)
        return error_reply(d, kConnsCmd,
                           "worker " + std::to_string(w) + " did not answer within " +
                               std::to_string(kConnsWait.count()) + " ms (not running?)");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    total += worker.snapshot_total();
    for (const ConnRecord& r : worker.snapshot()) rows.push_back(conn_row(w, r));
  }
  return conns_reply(d, rows, total, start);
}

int register_commands() {
  struct Command {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  const Command commands[] = {
      {kStatsCmd, stats_cmd, "Tern event counters, summed over workers. Parameter: worker index"},
      {kDropsCmd, drops_cmd, "Tern drop reasons, summed over workers. Parameter: worker index"},
      {kInfoCmd, info_cmd, "Tern workers, address, MAC and steering mode"},
      {kConnsCmd, conns_cmd,
       "Tern connections and their figures (cwnd, RTT, retransmissions...). Parameter: worker[,start]"},
  };
  for (const Command& c : commands) {
    if (const int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help); rc != 0) {
      TERN_LOG(ERR, "telemetry: cannot register %s: %s\n", c.name, std::strerror(rc < 0 ? -rc : rc));
      return rc < 0 ? rc : -rc;
    }
  }
  return 0;
}

}  // namespace

int telemetry_add_u64s(rte_tel_data* d, std::string_view cmd, std::span<const std::string_view> names,
                       std::span<const std::uint64_t> values) {
  if (names.size() != values.size()) {
    TERN_LOG(ERR, "telemetry %.*s: %zu names for %zu values\n", static_cast<int>(cmd.size()), cmd.data(),
             names.size(), values.size());
    return -EINVAL;
  }
  std::size_t size = reply_overhead(cmd);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string name(names[i]);
    size += entry_size(name, decimal_digits(values[i]));
    if (size > kTelemetryMaxReply) {
      TERN_LOG(ERR, "telemetry %.*s: reply too long for DPDK's %zu bytes at %s (entry %zu of %zu)\n",
               static_cast<int>(cmd.size()), cmd.data(), kTelemetryMaxReply, name.c_str(), i + 1,
               names.size());
      return -E2BIG;
    }
    if (const int rc = check(rte_tel_data_add_dict_u64(d, name.c_str(), values[i]), cmd, name); rc != 0)
      return rc;
  }
  return 0;
}

std::span<const std::string_view> conn_fields() noexcept {
  static constexpr std::string_view kFields[] = {
      "worker",        "local",       "remote",      "state",          "congestion", "ca_state",  "mss",
      "cwnd",          "cwnd_segs",   "ssthresh",    "ssthresh_segs",  "srtt_us",    "rttvar_us", "rto_us",
      "min_rtt_us",    "pacing_rate", "bytes_acked", "bytes_received", "delivered",  "segs_out",  "segs_in",
      "total_retrans", "lost",        "reordering",  "snd_queue",      "rcv_queue",  "snd_wnd",   "rcv_wnd",
      "pmtu",          "snd_buf",     "rcv_buf",     "rcv_space",      "rcv_rtt_us",
  };
  return kFields;
}

ConnRow conn_row(std::size_t worker, const ConnRecord& r) {
  const ConnectionInfo& i = r.info;
  const auto n = [](std::uint64_t v) { return std::to_string(v); };
  ConnRow row{n(worker),
              Endpoint{r.tuple.laddr, r.tuple.lport}.to_string(),
              Endpoint{r.tuple.raddr, r.tuple.rport}.to_string(),
              std::string(i.state),
              std::string(i.congestion),
              std::string(to_string(i.ca_state)),
              n(i.mss),
              n(i.cwnd),
              n(i.cwnd_segments),
              n(i.ssthresh),
              n(i.ssthresh_segments),
              n(i.srtt_us),
              n(i.rttvar_us),
              n(i.rto_us),
              n(i.min_rtt_us),
              n(i.pacing_rate),
              n(i.bytes_acked),
              n(i.bytes_received),
              n(i.delivered),
              n(i.segs_out),
              n(i.segs_in),
              n(i.total_retrans),
              n(i.lost),
              n(i.reordering),
              n(i.snd_queue),
              n(i.rcv_queue),
              n(i.snd_wnd),
              n(i.rcv_wnd),
              n(i.pmtu),
              n(i.snd_buf),
              n(i.rcv_buf),
              n(i.rcv_space),
              n(i.rcv_rtt_us)};
  return row;
}

int conns_reply(rte_tel_data* d, const std::vector<ConnRow>& rows, std::size_t total, std::size_t first) {
  int rc = check(rte_tel_data_start_dict(d), kConnsCmd, "the dictionary");
  if (rc != 0) return rc;
  const std::vector<std::string> fields(conn_fields().begin(), conn_fields().end());
  // What DPDK writes, counted as telemetry_add_u64s counts it: the three
  // counts (at most 20 digits each) and the field names come first; rows
  // follow while they fit, the others are counted as left out.
  std::size_t size = reply_overhead(kConnsCmd) + row_size("fields", fields);
  for (const char* k : {"connections", "first", "listed", "left_out"})
    size += entry_size(k, decimal_digits(UINT64_MAX));
  std::size_t listed = 0;
  std::vector<std::string> names;
  for (const ConnRow& r : rows) {
    std::string name = "c" + std::to_string(listed);
    const std::size_t more = row_size(name, r);
    // Keys are limited too (RTE_TEL_MAX_DICT_ENTRIES, "fields" and the counts included).
    if (size + more > kTelemetryMaxReply || listed + 5 >= RTE_TEL_MAX_DICT_ENTRIES) break;
    size += more;
    names.push_back(std::move(name));
    ++listed;
  }
  // A page past the end (connections closed since the last one) lists none.
  const std::size_t after = total > first + listed ? total - first - listed : 0;
  rc = check(rte_tel_data_add_dict_u64(d, "connections", total), kConnsCmd, "connections");
  if (rc == 0) rc = check(rte_tel_data_add_dict_u64(d, "first", first), kConnsCmd, "first");
  if (rc == 0) rc = check(rte_tel_data_add_dict_u64(d, "listed", listed), kConnsCmd, "listed");
  if (rc == 0) rc = check(rte_tel_data_add_dict_u64(d, "left_out", after), kConnsCmd, "left_out");
  if (rc == 0) rc = add_row(d, "fields", fields);
  for (std::size_t i = 0; rc == 0 && i < listed; ++i) rc = add_row(d, names[i], rows[i]);
  return rc;
}

int register_telemetry(const Runtime* rt) {
  static const int registered = register_commands();
  const std::lock_guard lock(g_runtime_mutex);  // waits for a command in progress
  g_runtime = registered == 0 ? rt : nullptr;
  return registered;
}

}  // namespace tern
