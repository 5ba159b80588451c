// tern-pair: the A/B's stack-to-stack set-up for Tern. A tern-perf client
// and a tern-perf server, each a whole Tern stack (IPv4, ARP, TCP) on its
// own Worker and lcore, joined in one process by the in-process link
// (lib/port/link_pair: frames move by pointer through SPSC rings). It is
// what the kernel's "client and server in two namespaces over a veth pair"
// is for Linux: the same two cores, no NIC, every protocol layer on both
// ends. Prints tern-perf's summary (and its JSON line with --json).
//
//   tern-pair --mode bulk|rr|crr [--connections N] [--time S] [--size B]
//             [--lcores C,S] [--one-core] [--json]
//
// The client runs on the first lcore (the main one), the server on the
// second; each busy-polls, as Tern's workers always do. --one-core polls
// both in turn on the first lcore: no figure to compare with the kernel, but
// a deterministic order of events, so that instructions per transaction
// under valgrind (bench/ab/ir_per_transaction.sh) repeat on a busy machine.
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_random.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "api/adapter.h"
#include "perf_options.h"
#include "perf_stats.h"
#include "perf_tern.h"
#include "port/link_pair.h"
#include "runtime/clock.h"
#include "runtime/eal_in_memory.h"
#include "runtime/worker.h"

namespace tern {
namespace {

constexpr std::uint32_t kClientIp = 0x0AFE0001;  // 10.254.0.1
constexpr std::uint32_t kServerIp = 0x0AFE0002;  // 10.254.0.2
constexpr std::uint16_t kBurst = 32;
constexpr unsigned kMbufs = 16383;

std::atomic<bool> g_stop{false};

struct Side {
  rte_mempool* pool = nullptr;
  rte_mempool* clones = nullptr;
  std::unique_ptr<Worker> worker;
  std::unique_ptr<api::WorkerAppAdapter> app;
};

rte_mempool* make_pool(const std::string& name, bool indirect) {
  rte_mempool* p = rte_pktmbuf_pool_create(name.c_str(), kMbufs, 256, 0,
                                           indirect ? 0 : RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (p == nullptr) throw std::runtime_error("cannot create mempool " + name);
  return p;
}

Side make_side(const char* name, Port& port, const MacAddr& mac, std::uint32_t addr) {
  Side s;
  s.pool = make_pool(std::string(name) + "_pool", false);
  s.clones = make_pool(std::string(name) + "_clones", true);
  IpSettings ip;
  ip.mac = mac;
  ip.addr = addr;
  ip.prefix_len = 24;
  // Room for every first SYN while the peer's MAC is being resolved: a
  // run opens up to --connections at once and must not wait for SYN retries.
  ip.arp.max_pending = 16384;
  ip.rx_ip_checksum_offload = port.info().rx_ip_checksum_offload;
  ip.tx_ip_checksum_offload = port.info().tx_ip_checksum_offload;
  WorkerTcpSettings tcp;
  tcp.opts.local_addr = addr;
  tcp.opts.cfg.max_connections = 16384;
  tcp.opts.tx_checksum_offload = port.info().tx_l4_checksum_offload;
  for (auto& b : tcp.opts.isn_key) b = static_cast<std::uint8_t>(rte_rand());
  for (auto& b : tcp.opts.cookie_key) b = static_cast<std::uint8_t>(rte_rand());
  tcp.opts.hash_seed = rte_rand();
  tcp.opts.port_seed = rte_rand();
  tcp.clone_pool = s.clones;
  tcp.start = TscClock{}.now();
  s.worker = std::make_unique<Worker>(0, 1, port, ip, s.pool, nullptr, kBurst, &tcp);
  return s;
}

int server_loop(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  TscClock clock;
  w->start_app(clock.now());
  while (!g_stop.load(std::memory_order_relaxed)) w->poll_once(clock.now());
  w->flush();
  return 0;
}

int usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s --mode bulk|rr|crr [--connections N] [--time S] [--size B] [--lcores C,S] [--one-core]\n"
      "       [--json]\n"
      "Tern client and Tern server in one process, one lcore each, over the in-process link.\n",
      argv0);
  return 2;
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  perf::Options o;
  o.client = true;
  o.addr = kServerIp;
  o.interval_s = 0;
  o.time_s = 5;
  std::string lcores = "0,1";
  bool one_core = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const bool has = i + 1 < argc;
      if (a == "--mode" && has) {
        const std::string v = argv[++i];
        const auto m = perf::parse_mode(v);
        if (!m) throw std::invalid_argument("--mode: expected bulk, rr or crr, not \"" + v + "\"");
        o.mode = *m;
      } else if (a == "--connections" && has) {
        o.connections = static_cast<std::uint32_t>(api::parse_int_option(a, argv[++i], 1, 10000));
      } else if (a == "--time" && has) {
        o.time_s = static_cast<double>(api::parse_int_option(a, argv[++i], 1, 3600));
      } else if (a == "--size" && has) {
        o.size = static_cast<std::uint32_t>(api::parse_int_option(a, argv[++i], 1, perf::kMaxSize));
      } else if (a == "--lcores" && has) {
        lcores = argv[++i];
      } else if (a == "--one-core") {
        one_core = true;
      } else if (a == "--json") {
        o.json = true;
      } else {
        return usage(argv[0]);
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "tern-pair: %s\n", e.what());
    return 2;
  }
  if (!start_eal_in_memory("tern-pair", "error", lcores.c_str())) return 1;
  const unsigned server_lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
  if (!one_core && server_lcore >= RTE_MAX_LCORE) {
    std::fprintf(stderr, "tern-pair: --lcores must name two cores (client,server)\n");
    return 2;
  }
  try {
    auto [client_port, server_port] = make_link_pair(1, 4096);
    // As a veth between two namespaces: checksums of locally built frames
    // are trusted, not computed (the kernel side of the A/B does the same).
    client_port->offer_checksum_offload();
    server_port->offer_checksum_offload();
    // make_link_pair's MACs: 02:00:00:00:00:01 on the first end, :02 on the second.
    Side client = make_side("tp_c", *client_port, MacAddr{{2, 0, 0, 0, 0, 1}}, kClientIp);
    Side server = make_side("tp_s", *server_port, MacAddr{{2, 0, 0, 0, 0, 2}}, kServerIp);

    perf::Options so = o;
    so.client = false;
    so.server = true;
    auto server_app = std::make_unique<perf::TernPerfServer>(so);
    server.app = std::make_unique<api::WorkerAppAdapter>(*server.worker, server.pool, std::move(server_app));
    server.worker->set_app(server.app.get());
    perf::TernClientShared shared(1);
    auto client_app = std::make_unique<perf::TernPerfClient>(o, shared);
    const perf::TernPerfClient* client_view = client_app.get();
    client.app = std::make_unique<api::WorkerAppAdapter>(*client.worker, client.pool, std::move(client_app));
    client.worker->set_app(client.app.get());

    TscClock clock;
    if (one_core) {
      server.worker->start_app(clock.now());
      client.worker->start_app(clock.now());
      while (!shared.finished()) {
        client.worker->poll_once(clock.now());
        server.worker->poll_once(clock.now());
      }
      client.worker->flush();
      server.worker->flush();
    } else {
      // The server listens before the client's first SYN can arrive.
      if (rte_eal_remote_launch(server_loop, server.worker.get(), server_lcore) != 0)
        throw std::runtime_error("cannot launch the server lcore");
      const Instant settle = clock.now() + Duration::ms(50);
      while (clock.now() < settle) {
      }
      client.worker->start_app(clock.now());
      while (!shared.finished()) client.worker->poll_once(clock.now());
      client.worker->flush();
      g_stop.store(true);
      rte_eal_wait_lcore(server_lcore);
    }

    perf::Result r = perf::merge_client_results({client_view}, o);
    r.stack = "tern";
    perf::print_summary(stdout, r, o.json);
    std::fflush(stdout);
    if (r.errors != 0) {
      // What each stack dropped, to tell a broken run's cause at once.
      for (const auto& [name, side] : {std::pair{"client", &client}, std::pair{"server", &server}}) {
        const Counters& k = side->worker->counters();
        for (std::size_t d = 0; d < kDropCount; ++d)
          if (k.drops[d] != 0)
            std::fprintf(stderr, "tern-pair: %s dropped %llu (%.*s)\n", name,
                         static_cast<unsigned long long>(k.drops[d]),
                         static_cast<int>(drop_name(static_cast<Drop>(d)).size()),
                         drop_name(static_cast<Drop>(d)).data());
      }
    }
    // Apps hold connections of their workers: they go first.
    client.app.reset();
    server.app.reset();
    return r.errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern-pair: %s\n", e.what());
    return 1;
  }
}
