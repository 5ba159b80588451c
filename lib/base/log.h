#pragma once
// Tern logs through DPDK's rte_log with its own log type ("tern"), so
// `--log-level=tern:debug` works like any DPDK component's.
#include <rte_log.h>

namespace tern {
int log_type() noexcept;  // registered on first use
}

#define TERN_LOG(level, ...) rte_log(RTE_LOG_##level, ::tern::log_type(), "TERN: " __VA_ARGS__)
