// tern-impair-bridge: a bench tool, not a product app (issue 12). An L2
// forwarder between two interfaces, each opened through DPDK's net_af_packet
// and Tern's own EthdevPort, with Tern's ImpairedPort on side A, so the frames
// each way meet the very impairment (seeded loss, reordering) that
// bench/loss/loss_bench.sh applies inside Tern's port. Placed between two
// endpoints, it lets a Tern and a kernel sender face the same receiver
// through the same impairment (bench/loss/bridge_bench.sh).
//   tern-impair-bridge --a IFACE --b IFACE [--loss P] [--reorder P] [--seed N]
//                      [--cpu N] [--idle-sleep-us N] [--ready-file PATH]
// Runs until SIGINT/SIGTERM, polling one core, then prints its counts. With
// --idle-sleep-us it sleeps that long whenever a round finds no frame either
// way: on a 2-core machine it shares its core with a receiver, and a Tern
// receiver busy-polls too (two pollers on one core take turns of
// milliseconds; bench/loss/README.md, session 22).
#include <net/if.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "port/ethdev_port.h"
#include "port/impaired_port.h"
#include "runtime/eal_in_memory.h"
#include "tern/api.h"

namespace tern {
namespace {

volatile std::sig_atomic_t g_stop = 0;  // set by SIGINT/SIGTERM; the loop polls it
void on_stop(int) { g_stop = 1; }

constexpr std::uint16_t kBurst = 64;
// The PMD's ring in frames (framecnt), as lib.sh gives Tern's af_packet port:
// the default 512 fills under bulk load.
constexpr const char* kFrameCount = "8192";
constexpr unsigned kMbufs = 32767;

struct Options {
  std::string a, b;
  ImpairmentConfig imp;
  long cpu = 1;
  long idle_sleep_us = 0;  // 0: busy-poll
  std::string ready_file;
};

int usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s --a IFACE --b IFACE [--loss P] [--reorder P] [--seed N] [--cpu N]\n"
               "          [--idle-sleep-us N] [--ready-file PATH]\n"
               "  forwards every frame between the two interfaces (net_af_packet), impaired\n"
               "  each way by Tern's ImpairedPort: loss and reorder are probabilities 0..1\n"
               "  (default 0), seed the fault generator's (default 1), cpu the core it polls (default 1),\n"
               "  idle-sleep-us how long it sleeps after a round with no frame (default 0: busy-polls)\n",
               prog);
  return 2;
}

double parse_probability(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < 0 || v > 1)
    throw std::invalid_argument(flag + ": expected a probability 0..1, not \"" + value + "\"");
  return v;
}

void check_interface(const std::string& flag, const std::string& iface) {
  if (iface.empty()) throw std::invalid_argument(flag + " is required");
  if (iface.find(',') != std::string::npos || if_nametoindex(iface.c_str()) == 0)
    throw std::invalid_argument(flag + ": no interface \"" + iface + "\" in this network namespace");
}

// Probes net_af_packetN on `iface` (one queue pair: the one loop polls it) and
// opens it as Tern opens its ports, promiscuous: a bridge takes every frame.
std::unique_ptr<Port> open_side(int n, const std::string& iface, rte_mempool* pool) {
  PortConfig pc;
  pc.name = "side " + std::string(n == 0 ? "a" : "b");
  pc.device =
      "net_af_packet" + std::to_string(n) + ",iface=" + iface + ",framecnt=" + kFrameCount + ",qpairs=1";
  // Frames pass through untouched: no checksum work either way.
  pc.rx_checksum_offload = false;
  pc.tx_checksum_offload = false;
  pc.tso = false;
  if (int rc = rte_dev_probe(pc.device.c_str()); rc != 0)
    throw std::runtime_error(pc.name + ": cannot probe " + pc.device + ": " + rte_strerror(-rc));
  auto port = EthdevPort::open(pc, 1, {pool});
  const int id = port->info().dpdk_port_id;
  if (rte_eth_promiscuous_enable(static_cast<std::uint16_t>(id)) != 0)
    std::fprintf(stderr, "tern-impair-bridge: %s: promiscuous mode refused\n", pc.name.c_str());
  return port;
}

// Moves one burst from `from` to `to`; frames `to` refuses are freed and
// counted; returns how many came in. With `flush_when_empty` an empty burst
// still calls `to`'s tx_burst: ImpairedPort sends a frame it held back for
// reordering only when called. Not otherwise: net_af_packet's tx_burst makes
// a sendto() even for no frames.
std::uint16_t forward(Port& from, Port& to, bool flush_when_empty, rte_mbuf** pkts, std::uint64_t& forwarded,
                      std::uint64_t& refused) {
  const std::uint16_t n = from.rx_burst(0, pkts, kBurst);
  if (n == 0 && !flush_when_empty) return 0;
  const std::uint16_t sent = to.tx_burst(0, pkts, n);
  forwarded += sent;
  if (sent < n) {
    refused += n - sent;
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
  return n;
}

void print_eth_stats(const char* label, const Port& p) {
  rte_eth_stats s{};
  if (rte_eth_stats_get(static_cast<std::uint16_t>(p.info().dpdk_port_id), &s) != 0) return;
  std::printf("%s: ipackets %llu opackets %llu imissed %llu ierrors %llu oerrors %llu rx_nombuf %llu\n",
              label, static_cast<unsigned long long>(s.ipackets), static_cast<unsigned long long>(s.opackets),
              static_cast<unsigned long long>(s.imissed), static_cast<unsigned long long>(s.ierrors),
              static_cast<unsigned long long>(s.oerrors), static_cast<unsigned long long>(s.rx_nombuf));
}

int run(const Options& o) {
  const std::string lcore = std::to_string(o.cpu);
  if (!start_eal_in_memory("tern-impair-bridge", "error", lcore.c_str(), 256)) return 1;
  rte_mempool* pool =
      rte_pktmbuf_pool_create("bridge_pool", kMbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (pool == nullptr)
    throw std::runtime_error(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno));
  std::unique_ptr<Port> b = open_side(1, o.b, pool);
  // Side A carries the impairment: its RX is the A->B direction, its TX B->A,
  // each with its share of one seeded generator, as in Tern's own port.
  auto a = std::make_unique<ImpairedPort>(open_side(0, o.a, pool), o.imp, std::vector<rte_mempool*>{pool});
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  // Sleep what was asked, not the default 50 us of timer slack more.
  if (o.idle_sleep_us > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const timespec idle{.tv_sec = 0, .tv_nsec = o.idle_sleep_us * 1000};
  const bool reorders = o.imp.reorder > 0;
  std::printf(
      "tern-impair-bridge: %s <-> %s on CPU %ld, loss %.4f reorder %.4f seed %llu, idle sleep %ld us\n",
      o.a.c_str(), o.b.c_str(), o.cpu, o.imp.loss, o.imp.reorder, static_cast<unsigned long long>(o.imp.seed),
      o.idle_sleep_us);
  std::fflush(stdout);
  if (!o.ready_file.empty()) std::ofstream(o.ready_file) << "ready\n";

  std::uint64_t fwd_ab = 0, fwd_ba = 0, refused_ab = 0, refused_ba = 0;
  std::uint64_t dropped_ab = 0, dropped_ba = 0, sleeps = 0;
  rte_mbuf* pkts[kBurst];
  while (g_stop == 0) {
    std::uint64_t before = a->counts(0).dropped;
    std::uint16_t n = forward(*a, *b, false, pkts, fwd_ab, refused_ab);  // A's rx_burst impairs A->B
    dropped_ab += a->counts(0).dropped - before;
    before = a->counts(0).dropped;
    n += forward(*b, *a, reorders, pkts, fwd_ba, refused_ba);  // A's tx_burst impairs B->A
    // ImpairedPort's tx_burst counts what it dropped as taken: not forwarded.
    fwd_ba -= a->counts(0).dropped - before;
    dropped_ba += a->counts(0).dropped - before;
    if (n == 0 && o.idle_sleep_us > 0) {
      nanosleep(&idle, nullptr);
      ++sleeps;
    }
  }
  const ImpairmentCounts& c = a->counts(0);
  std::printf("a->b: forwarded %llu impaired drops %llu tx refused %llu\n",
              static_cast<unsigned long long>(fwd_ab), static_cast<unsigned long long>(dropped_ab),
              static_cast<unsigned long long>(refused_ab));
  std::printf("b->a: forwarded %llu impaired drops %llu tx refused %llu\n",
              static_cast<unsigned long long>(fwd_ba), static_cast<unsigned long long>(dropped_ba),
              static_cast<unsigned long long>(refused_ba));
  std::printf("reordered %llu (both ways), idle sleeps %llu\n", static_cast<unsigned long long>(c.reordered),
              static_cast<unsigned long long>(sleeps));
  print_eth_stats("side a", *a);
  print_eth_stats("side b", *b);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string f = argv[i];
      if (i + 1 >= argc) return usage(argv[0]);
      const std::string v = argv[++i];
      if (f == "--a") {
        o.a = v;
      } else if (f == "--b") {
        o.b = v;
      } else if (f == "--loss") {
        o.imp.loss = parse_probability(f, v);
      } else if (f == "--reorder") {
        o.imp.reorder = parse_probability(f, v);
      } else if (f == "--seed") {
        o.imp.seed = static_cast<std::uint64_t>(api::parse_int_option(f, v, 0, 9223372036854775807L));
      } else if (f == "--cpu") {
        o.cpu = api::parse_int_option(f, v, 0, RTE_MAX_LCORE - 1);
      } else if (f == "--idle-sleep-us") {
        o.idle_sleep_us = api::parse_int_option(f, v, 0, 999999);
      } else if (f == "--ready-file") {
        o.ready_file = v;
      } else {
        return usage(argv[0]);
      }
    }
    check_interface("--a", o.a);
    check_interface("--b", o.b);
    if (o.a == o.b) throw std::invalid_argument("--a and --b name the same interface");
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "tern-impair-bridge: %s\n", e.what());
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern-impair-bridge: %s\n", e.what());
    return 1;
  }
}
