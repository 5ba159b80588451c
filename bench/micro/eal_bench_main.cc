// Google Benchmark's main for benchmarks that need mbufs: starts the EAL in
// memory (no hugepages, no PCI, no shared files), like the tests do.
#include <benchmark/benchmark.h>
#include <rte_eal.h>

#include "runtime/eal_in_memory.h"

int main(int argc, char** argv) {
  if (!tern::start_eal_in_memory("ternbench")) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
