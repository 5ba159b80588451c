// The seeded TCP simulation sweep as a standalone program, for long runs
// (100,000 seeds) outside the test suite:
//
//   build/tests/sim/tcp_sim_sweep --seeds 100000 --first 1
//
// Prints every failing seed (scenario, failed checks, trace tail), a progress
// line every 1000 seeds, and a summary; exits 1 if any seed failed.
// --describe prints each seed's scenario; --trace-lines N sets the trace tail
// printed for a failure (default 300); --congestion NAME runs both hosts with
// that controller ("cubic", the default, "newreno" or "bbr"); --pacing turns
// [tcp] pacing on for both (window-based controllers paced as BBR is);
// --counters prints each seed's virtual end time and each host's timeouts,
// fast retransmits and retransmitted segments (runs the seed once more).
#include <rte_eal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "runtime/eal_in_memory.h"
#include "sim_scenario.h"
#include "tcp/cc/controller.h"

namespace {

int usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--seeds N] [--first S] [--trace-lines N] [--congestion NAME] [--pacing] [--ipv6] "
               "[--describe] [--counters] "
               "[--stop-on-failure]\n",
               prog);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seeds = 1000, first = 1, trace_lines = 300;
  bool describe = false, stop = false, ipv6 = false, pacing = false, counters = false;
  std::optional<tern::CongestionAlgorithm> cc;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::uint64_t& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      out = std::strtoull(argv[++i], &end, 10);
      return end != nullptr && *end == '\0';
    };
    if (a == "--seeds") {
      if (!value(seeds)) return usage(argv[0]);
    } else if (a == "--first") {
      if (!value(first)) return usage(argv[0]);
    } else if (a == "--trace-lines") {
      if (!value(trace_lines)) return usage(argv[0]);
    } else if (a == "--congestion") {
      tern::CongestionAlgorithm c{};
      if (i + 1 >= argc || !tern::parse_congestion(argv[++i], c)) return usage(argv[0]);
      cc = c;
    } else if (a == "--pacing") {
      pacing = true;
    } else if (a == "--ipv6") {
      ipv6 = true;
    } else if (a == "--describe") {
      describe = true;
    } else if (a == "--counters") {
      counters = true;
    } else if (a == "--stop-on-failure") {
      stop = true;
    } else {
      return usage(argv[0]);
    }
  }
  if (!tern::start_eal_in_memory("tcp_sim_sweep")) return 2;
  int rc = 0;
  {
    const tern::sim::SimPools pools;
    if (!pools.ok()) {
      std::fprintf(stderr, "cannot create the mempools\n");
      rte_eal_cleanup();
      return 2;
    }
    std::vector<std::uint64_t> failed;
    const auto start = std::chrono::steady_clock::now();  // progress report only; never affects a run
    for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
      tern::sim::Scenario s = tern::sim::scenario_for_seed(seed);
      if (cc) s.a.tcp.congestion = s.b.tcp.congestion = *cc;
      s.a.ipv6 = s.b.ipv6 = ipv6;
      if (pacing) s.a.tcp.pacing = s.b.tcp.pacing = true;
      if (describe) std::printf("%s\n", tern::sim::describe(s).c_str());
      const tern::sim::Outcome o = tern::sim::run_scenario(s, pools);
      if (counters) {
        const auto n = [](const tern::Counters& c, tern::Counter k) {
          return static_cast<unsigned long long>(c.get(k));
        };
        std::printf(
            "seed %llu: ok %d, end %s s; A: TCPTimeouts %llu, TCPFastRetrans %llu, RetransSegs %llu; "
            "B: TCPTimeouts %llu, TCPFastRetrans %llu, RetransSegs %llu\n",
            static_cast<unsigned long long>(seed), o.ok ? 1 : 0, tern::sim::format_time(o.end).c_str(),
            n(o.a, tern::Counter::kTCPTimeouts), n(o.a, tern::Counter::kTCPFastRetrans),
            n(o.a, tern::Counter::kRetransSegs), n(o.b, tern::Counter::kTCPTimeouts),
            n(o.b, tern::Counter::kTCPFastRetrans), n(o.b, tern::Counter::kRetransSegs));
        if (!o.gave_up.empty())
          std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), o.gave_up.c_str());
      }
      const std::string report = tern::sim::check_outcome(s, pools, o, trace_lines);
      if (!report.empty()) {
        failed.push_back(seed);
        std::printf("%s\n", report.c_str());
        std::fflush(stdout);
        if (stop) break;
      }
      if ((seed - first + 1) % 1000 == 0) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("... %llu seeds, %zu failed, %.1f s\n", static_cast<unsigned long long>(seed - first + 1),
                    failed.size(), secs);
        std::fflush(stdout);
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%llu seeds from %llu: %zu failed in %.1f s\n", static_cast<unsigned long long>(seeds),
                static_cast<unsigned long long>(first), failed.size(), secs);
    if (!failed.empty()) {
      std::printf("failing seeds:");
      for (std::uint64_t f : failed) std::printf(" %llu", static_cast<unsigned long long>(f));
      std::printf("\n");
      rc = 1;
    }
  }
  rte_eal_cleanup();
  return rc;
}
