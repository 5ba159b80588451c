#pragma once
// Starts DPDK's EAL for tools that only need mbufs and rings: tests,
// benchmarks, fuzzers. No hugepages, no PCI, no shared files (--no-shconf
// rather than --in-memory: DPDK 22.11 refuses --in-memory with --no-huge), a
// per-process file prefix so parallel runs never collide, no telemetry.
namespace tern {
// Returns false (and prints why) when the EAL does not start.
// `lcores` is the EAL's -l list: "0", or "0,1" for a tool that runs loops on two cores; with an
// '@' it is an --lcores mapping ("(0-3)@(0-1)"). `memory_mb` is the EAL's -m.
bool start_eal_in_memory(const char* program, const char* log_level = "error", const char* lcores = "0",
                         unsigned memory_mb = 256);
}  // namespace tern
