#pragma once
// DPDK telemetry commands, readable with dpdk-telemetry.py:
//   /tern/stats            counters summed over workers
//   /tern/stats,<worker>   one worker's counters
//   /tern/info             workers, address, MAC, steering mode
// Drop reasons appear as "Drop.<Reason>" keys next to the event counters.
namespace tern {
class Runtime;
// DPDK 22.11's telemetry callbacks take no context argument, so the runtime
// being served is kept in one process-wide pointer; nullptr unregisters it.
void register_telemetry(const Runtime* rt);
}  // namespace tern
