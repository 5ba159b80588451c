#pragma once
// DPDK telemetry commands, readable with dpdk-telemetry.py:
//   /tern/stats            event counters summed over workers ("RxPackets", "CurrEstab", ...)
//   /tern/stats,<worker>   one worker's event counters
//   /tern/drops            drop reasons summed over workers ("TcpOutOfWindow", ...)
//   /tern/drops,<worker>   one worker's drop reasons
//   /tern/info             workers, address, MAC, steering mode
//   /tern/conns            every worker's connections with their figures
//                          (tern/connection_info.h), at most what one reply holds
//   /tern/conns,<worker>   one worker's
//   /tern/conns,<w>,<start> worker w's from its start-th on (the next page)
// A bad or unknown argument answers {"error": "why"}, never a bare null.
// Every key is the name from lib/base/counters.h, unchanged. Drop reasons have
// their own command because DPDK 22.11 bounds each reply: at most
// RTE_TEL_MAX_DICT_ENTRIES (256) keys, 16 KiB of JSON (past which it silently
// cuts entries), and keys only from [A-Za-z0-9_/] ("Drop.X" is refused). Each
// list may grow to 256 names before telemetry.cc stops compiling, and any
// entry DPDK refuses makes the command log why and answer null, never a short
// dictionary. See docs/counters.md.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct rte_tel_data;

namespace tern {
class Runtime;
struct ConnRecord;

// DPDK 22.11's telemetry callbacks take no context argument, so the runtime
// being served is kept in one process-wide pointer; nullptr unregisters it.
// The commands are registered with DPDK once per process; returns 0, or the
// negative errno of the registration that failed (logged), every later call
// included.
int register_telemetry(const Runtime* rt);

// DPDK 22.11's limit on a reply (MAX_OUTPUT_LEN in lib/telemetry/telemetry.c,
// not exported): the JSON text of the whole answer, command name included.
inline constexpr std::size_t kTelemetryMaxReply = 16 * 1024;

// Adds names[i] = values[i] to `d`, which the caller has started as a
// dictionary, for the reply to `cmd`. Returns 0, or after logging why:
// -EINVAL for a name DPDK refuses (or names/values of different sizes),
// -ENOSPC past RTE_TEL_MAX_DICT_ENTRIES, -E2BIG for a name DPDK would truncate
// or a reply longer than kTelemetryMaxReply (which DPDK would cut short
// without a word). Exposed for tests.
int telemetry_add_u64s(rte_tel_data* d, std::string_view cmd, std::span<const std::string_view> names,
                       std::span<const std::uint64_t> values);

// /tern/conns's reply: {"connections": N (on the workers asked), "first": s
// (the index of the first row among them: the page's start), "listed": n,
// "left_out": N - s - n, "fields": [names], "c0": [values], ...}, one string
// array per connection (DPDK 22.11 nests only arrays in a dictionary), as
// many rows as one reply holds. Exposed for tests.
using ConnRow = std::vector<std::string>;
std::span<const std::string_view> conn_fields() noexcept;
ConnRow conn_row(std::size_t worker, const ConnRecord& r);
int conns_reply(rte_tel_data* d, const std::vector<ConnRow>& rows, std::size_t total, std::size_t first = 0);

}  // namespace tern
