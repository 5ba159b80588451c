// Goodput of one bulk connection in the simulator against the Mathis bound
// (issue 12's simulator table; a benchmark, not a test: nothing passes or
// fails). For each congestion controller, round-trip time and random loss
// rate (the same in both directions), A sends to B over a 1 Gbit/s link with
// a 1 MB queue, and the table gives the goodput (bytes delivered over the
// virtual time from connect to close) beside the Mathis et al. bound
// (Mathis, Semke, Mahdavi, Ott, "The Macroscopic Behavior of the TCP
// Congestion Avoidance Algorithm", CCR 1997): MSS / RTT * C / sqrt(p), with
// C = sqrt(3/2) for an ACK per segment. The bound models Reno's sawtooth
// without timeouts, so at high loss (where timeouts dominate, Padhye et al.)
// it overestimates what any Reno-like sender gets; CUBIC may exceed it at
// long RTTs, BBR at any loss below its 20 % tolerance. "lost" counts the
// link's random losses of A's frames, "queue drops" those the full queue
// dropped (slow start overshooting), "retransmitted" is A's RetransSegs.
//
//   build/tests/sim/tcp_sim_goodput [--cc newreno,cubic] [--rtt-ms 10,100]
//       [--loss 0.0001,0.001,0.01,0.03,0.05] [--seconds 30] [--seed 7]
//       [--counters] [--pacing] [--rate-mbps 1000] [--batch-us 0] [--default-buffers] [--gro]
//       [--trace-ms MS] [--worker-mbufs N]
//
// Each run transfers about --seconds of data at the bound's rate (between 2
// MB and 200 MB), so each point sees many loss events. --counters prints
// the sender's non-zero counters under each row; --pacing turns the
// sender's [tcp] pacing on; --rate-mbps sets the link's rate, --batch-us
// gathers each direction's arrivals into receive bursts every that many
// microseconds (LinkParams::batch: a bridge or a sleeping poller, as
// bench/loss/bridge_bench.sh has; issue 12's needless retransmissions
// between two Tern ends showed only with bursts); --trace-ms prints the
// sender's cwnd, flight, peer window, send queue, recovery and (BBR) model
// every MS of virtual time; --worker-mbufs N gives both hosts the buffer
// budget a worker with an N-mbuf pool has (docs/architecture.md "Memory
// model": autotuning's ceilings become an eighth of it; the simulator sets
// no budget otherwise), applied at the first step, after connect().
// Virtual time: the
// figures do not depend on this machine's speed or load, only on the seed.
#include <rte_eal.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mem_account.h"
#include "runtime/eal_in_memory.h"
#include "sim_scenario.h"
#include "tcp/cc/controller.h"

namespace {

using namespace tern;
using namespace tern::sim;

constexpr double kMathisC = 1.2247448713915890;  // sqrt(3/2)
constexpr double kMss = 1448;                    // 1500-byte MTU, timestamps on

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool parse_doubles(const char* arg, std::vector<double>& out) {
  out.clear();
  for (const std::string& v : split(arg)) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !(d >= 0)) return false;
    out.push_back(d);
  }
  return !out.empty();
}

int usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--cc NAME,...] [--rtt-ms MS,...] [--loss P,...] [--seconds S] [--seed N] "
               "[--counters] [--pacing] [--rate-mbps M] [--batch-us U] [--default-buffers] [--no-autotune] "
               "[--gro] [--ofo N] [--trace-ms MS] [--worker-mbufs N]\n"
               "  loss rates are fractions (0.01 = 1 %%), each in (0, 0.5]\n",
               prog);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<CongestionAlgorithm> ccs{CongestionAlgorithm::kNewReno, CongestionAlgorithm::kCubic};
  std::vector<double> rtts{10, 100};
  std::vector<double> losses{0.0001, 0.001, 0.01, 0.03, 0.05};
  double seconds = 30;
  std::uint64_t seed = 7;
  bool counters = false, pacing = false, default_buffers = false, gro = false, no_autotune = false;
  double rate_mbps = 1000, batch_us = 0;
  int ofo = -1;                    // the receiver's ofo_max_segments (-1: as the buffers imply)
  double trace_ms = 0;             // > 0: print the sender's window every that many ms of virtual time
  std::uint32_t worker_mbufs = 0;  // > 0: both hosts get a worker's buffer budget for a pool this size
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--counters") {
      counters = true;
      continue;
    }
    if (a == "--pacing") {  // [tcp] pacing for the sender
      pacing = true;
      continue;
    }
    if (a == "--default-buffers") {  // [tcp]'s default buffers, as tern-perf runs
      default_buffers = true;
      continue;
    }
    if (a == "--no-autotune") {  // buffers fixed at rcv_buf / snd_buf, as before autotuning
      no_autotune = true;
      continue;
    }
    if (a == "--gro") {  // both hosts merge each receive burst (with --batch-us)
      gro = true;
      continue;
    }
    if (i + 1 >= argc) return usage(argv[0]);
    const char* v = argv[++i];
    if (a == "--cc") {
      ccs.clear();
      for (const std::string& name : split(v)) {
        CongestionAlgorithm c{};
        if (!parse_congestion(name, c)) {
          std::fprintf(stderr, "%s: unknown congestion control \"%s\"\n", argv[0], name.c_str());
          return 2;
        }
        ccs.push_back(c);
      }
    } else if (a == "--rtt-ms") {
      if (!parse_doubles(v, rtts)) return usage(argv[0]);
    } else if (a == "--loss") {
      if (!parse_doubles(v, losses)) return usage(argv[0]);
      for (double p : losses)
        if (p <= 0 || p > 0.5) return usage(argv[0]);
    } else if (a == "--seconds") {
      char* end = nullptr;
      seconds = std::strtod(v, &end);
      if (*end != '\0' || !(seconds > 0)) return usage(argv[0]);
    } else if (a == "--rate-mbps" || a == "--batch-us") {
      char* end = nullptr;
      const double d = std::strtod(v, &end);
      if (*end != '\0' || !(d >= 0) || (a == "--rate-mbps" && !(d > 0))) return usage(argv[0]);
      (a == "--rate-mbps" ? rate_mbps : batch_us) = d;
    } else if (a == "--trace-ms") {
      char* end = nullptr;
      trace_ms = std::strtod(v, &end);
      if (*end != '\0' || !(trace_ms > 0)) return usage(argv[0]);
    } else if (a == "--worker-mbufs") {
      char* end = nullptr;
      const unsigned long n = std::strtoul(v, &end, 10);
      if (*end != '\0' || n < 1024 || n > (1u << 24)) return usage(argv[0]);
      worker_mbufs = static_cast<std::uint32_t>(n);
    } else if (a == "--ofo") {  // the receiver's [tcp] ofo_max_segments
      char* end = nullptr;
      const unsigned long n = std::strtoul(v, &end, 10);
      if (*end != '\0' || n > 4096) return usage(argv[0]);
      ofo = static_cast<int>(n);
    } else if (a == "--seed") {
      char* end = nullptr;
      seed = std::strtoull(v, &end, 10);
      if (*end != '\0') return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  if (!start_eal_in_memory("tcp_sim_goodput")) return 2;
  int rc = 0;
  {
    SimPools pools;
    if (!pools.ok()) {
      std::fprintf(stderr, "tcp_sim_goodput: no mempool\n");
      rc = 2;
    } else {
      std::printf(
          "| cc | RTT | loss | goodput, Mbit/s | Mathis bound, Mbit/s | goodput / bound | lost | queue drops "
          "| "
          "RTOs | retransmitted |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
      for (CongestionAlgorithm cc : ccs) {
        for (double rtt_ms : rtts) {
          for (double p : losses) {
            const double bound_bps = kMss * 8 / (rtt_ms / 1000) * kMathisC / std::sqrt(p);
            const double link_bps = rate_mbps * 1e6;
            const double bytes = std::clamp(std::min(bound_bps, link_bps) / 8 * seconds, 2e6, 2e8);
            Scenario s;
            s.seed = seed;
            s.a = s.b = sim_host_defaults();
            s.a.tcp.congestion = s.b.tcp.congestion = cc;
            s.a.tcp.pacing = pacing;
            s.a.gro = s.b.gro = gro;
            if (!default_buffers) {
              s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 4 << 20;
              // The receiver holds what a Linux receiver would (bounded by
              // memory, not by a segment count): the sender is measured, not
              // [tcp] ofo_max_segments' default of 256.
              s.b.tcp.ofo_max_segments = 4096;
            }
            if (ofo >= 0) s.b.tcp.ofo_max_segments = static_cast<std::uint16_t>(ofo);
            if (no_autotune) {
              for (HostOptions* h : {&s.a, &s.b}) {
                h->tcp.rcv_buf_max = h->tcp.rcv_buf;
                h->tcp.snd_buf_max = h->tcp.snd_buf;
              }
            }
            LinkParams l;
            l.rate_bps = static_cast<std::uint64_t>(link_bps);
            l.delay = Duration::us(static_cast<std::int64_t>(rtt_ms * 500));
            l.loss = p;
            l.batch = Duration::ns(static_cast<std::int64_t>(batch_us * 1000));
            s.ab = s.ba = l;
            s.bytes_ab = static_cast<std::uint64_t>(bytes);
            s.time_limit = Duration::s(3600);
            Instant last_trace;
            bool limits_set = false;
            std::function<void(TcpSim&, Instant)> trace;
            s.observe = [&](TcpSim& sim, Instant now) {
              if (worker_mbufs > 0 && !limits_set) {
                // As the runtime sizes a worker's account (runtime.cc): the
                // default port's rings and burst reserved, the rest lent to
                // queues; autotuning's ceilings are an eighth of it.
                const MemReserve reserve{.rx_ring = 1024, .tx_ring = 1024, .burst = 32};
                const MemLimits lim = mem_limits_for_pool(
                    worker_mbufs, static_cast<std::uint32_t>(sizeof(rte_mbuf)) + RTE_MBUF_DEFAULT_BUF_SIZE,
                    reserve);
                sim.a().tcp.mem().set_limits(lim);
                sim.b().tcp.mem().set_limits(lim);
                limits_set = true;
              }
              if (trace_ms > 0) trace(sim, now);
            };
            if (trace_ms > 0) {
              // One line per interval: what held the sender (its window, the
              // peer's, what is in flight) and, for BBR, the model.
              trace = [&, step = Duration::us(static_cast<std::int64_t>(trace_ms * 1000))](TcpSim& sim,
                                                                                           Instant now) {
                if (now - last_trace < step) return;
                last_trace = now;
                sim.a().tcp.for_each_connection([&](const Tcb& c) {
                  std::printf(
                      "  t %.4f cwnd %u flight %u snd_wnd %u sndq %u (truesize %u) snd_buf %u rec %d "
                      "lost_segs %u queue %llu",
                      static_cast<double>((now - Instant{}).count_ns()) / 1e9, c.cc.cwnd(), c.flight(),
                      c.snd_wnd, c.sndq.bytes(), c.sndq.truesize(), c.snd_buf, c.sack_recovery ? 1 : 0,
                      c.lost_segs, static_cast<unsigned long long>(sim.link().queued_bytes(Side::kA, now)));
                  if (const Bbr* b = c.cc.bbr())
                    std::printf(" bbr %d btlbw %.1f pacing %.1f target %u pcons %d",
                                static_cast<int>(b->state()), static_cast<double>(b->btl_bw()) * 8 / 1e6,
                                static_cast<double>(b->pacing_rate()) * 8 / 1e6, b->target_cwnd(),
                                b->packet_conservation() ? 1 : 0);
                  std::printf("\n");
                });
              };
            }
            const Outcome o = run_scenario(s, pools);
            const double secs = static_cast<double>((o.end - Instant{}).count_ns()) / 1e9;
            const double goodput = o.ok && secs > 0 ? static_cast<double>(s.bytes_ab) * 8 / secs : 0;
            std::printf("| %s | %g ms | %g %% | %.2f | %.2f | %.2f | %llu | %llu | %llu | %llu |%s\n",
                        std::string(to_string(cc)).c_str(), rtt_ms, p * 100, goodput / 1e6,
                        std::min(bound_bps, link_bps) / 1e6, goodput / std::min(bound_bps, link_bps),
                        static_cast<unsigned long long>(o.ab.lost),
                        static_cast<unsigned long long>(o.ab.dropped_queue),
                        static_cast<unsigned long long>(o.a.get(Counter::kTCPTimeouts)),
                        static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)),
                        o.ok ? "" : " (scenario failed)");
            if (counters) {
              for (std::size_t k = 0; k < kCounterCount; ++k)
                if (o.a.events[k] != 0)
                  std::printf("    A %s %llu\n", std::string(counter_name(static_cast<Counter>(k))).c_str(),
                              static_cast<unsigned long long>(o.a.events[k]));
              for (std::size_t k = 0; k < kCounterCount; ++k)
                if (o.b.events[k] != 0)
                  std::printf("    B %s %llu\n", std::string(counter_name(static_cast<Counter>(k))).c_str(),
                              static_cast<unsigned long long>(o.b.events[k]));
              for (std::size_t k = 0; k < kDropCount; ++k)
                if (o.b.drops[k] != 0)
                  std::printf("    B Drop.%s %llu\n", std::string(drop_name(static_cast<Drop>(k))).c_str(),
                              static_cast<unsigned long long>(o.b.drops[k]));
            }
            std::fflush(stdout);
            if (!o.ok) {
              std::fprintf(stderr, "%s", o.failures.c_str());
              rc = 1;
            }
          }
        }
      }
    }
  }
  rte_eal_cleanup();
  return rc;
}
