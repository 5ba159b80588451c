#pragma once
// DPDK's log, quiet by default. Tern owns the process's rte_log stream: its
// own lines ("TERN: ...") pass at [log_level]; DPDK's components speak up at
// warning and above (at log_level = "debug", all that rte_log lets through),
// except lines that only restate what Tern handles and says in its start-up
// summary (net_tap's missing multiq qdisc and rte_flow, its Rx trigger
// signals, the telemetry legacy socket...), which appear at "debug" only.
#include <string>
#include <string_view>

namespace tern {

// Installs the filter as rte_log's stream (before rte_eal_init, so the EAL's
// own start-up lines go through it). `level` is Config::log_level;
// `explicit_levels` is true when eal.args sets DPDK log levels itself
// (--log-level=...), which then pass unfiltered. Start-up only.
void install_log_filter(std::string_view level, bool explicit_levels);

// True for a DPDK line the filter shows at `level` ("info", ...); exposed for tests.
bool dpdk_line_shown(std::string_view text, int rte_level, std::string_view level);

}  // namespace tern
