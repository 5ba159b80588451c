// tern-pair: the A/B's stack-to-stack set-up for Tern. A tern-perf client
// and a tern-perf server, each a whole Tern stack (IPv4, ARP, TCP) on its
// own Worker and lcore, joined in one process by the in-process link
// (lib/port/link_pair: frames move by pointer through SPSC rings). It is
// what the kernel's "client and server in two namespaces over a veth pair"
// is for Linux: the same two cores, no NIC, every protocol layer on both
// ends. Prints tern-perf's summary (and its JSON line with --json).
//
//   tern-pair --mode bulk|rr|crr [--connections N] [--time S] [--size B]
//             [--workers W] [--lcores C1,..,CW,S1,..,SW] [--one-core] [--no-gro] [--no-tso]
//             [--ipv6] [--zerocopy] [--json]
//
// W workers per side (default 1), each on its own lcore and link queue:
// the clients on the first W lcores (the first is the main one), the
// servers on the next W; each busy-polls, as Tern's workers always do.
// Connections are spread over the client workers; a flow's owner is the
// same index on both sides (the symmetric flow hash), so frames reach
// their owner directly and the steering rings stay for ARP. --one-core polls
// every worker in turn on the first lcore: no figure to compare with the
// kernel, but a deterministic order of events, so that instructions per
// transaction under valgrind (bench/ab/ir_per_transaction.sh) repeat on a
// busy machine. --ipv6: the connections run over IPv6 (each side also has
// an IPv6 address, fd00:fe::1 and ::2, usable at once) instead of IPv4.
// --zerocopy (bulk): the clients send from a registered region without
// copying (tern-perf's --zerocopy, api::SendRegion).
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
// --ipv6: the clients connect to the server's IPv6 address (fd00:fe::2).
constexpr Ipv6Addr kClientIp6 = Ipv6Addr::from_groups({0xFD00, 0xFE, 0, 0, 0, 0, 0, 1});
constexpr Ipv6Addr kServerIp6 = Ipv6Addr::from_groups({0xFD00, 0xFE, 0, 0, 0, 0, 0, 2});
constexpr std::uint16_t kBurst = 32;
constexpr unsigned kMbufs = 16383;  // per pool; halved per extra worker to fit the EAL's memory

std::atomic<bool> g_stop{false};

// One stack's workers, their pools and the rings between them.
struct Side {
  std::vector<rte_mempool*> pools, clones;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<api::WorkerAppAdapter>> apps;
  std::vector<rte_ring*> rings;
  ~Side() {
    apps.clear();  // apps hold connections of their workers: they go first
    workers.clear();
    for (rte_ring* r : rings) rte_ring_free(r);
  }
};

rte_mempool* make_pool(const std::string& name, bool indirect, unsigned mbufs) {
  rte_mempool* p = rte_pktmbuf_pool_create(name.c_str(), mbufs, 256, 0,
                                           indirect ? 0 : RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (p == nullptr) throw std::runtime_error("cannot create mempool " + name);
  return p;
}

void make_side(Side& s, const char* name, Port& port, const MacAddr& mac, std::uint32_t addr,
               const Ipv6Addr& addr6, std::uint16_t n, bool gro) {
  IpSettings ip;
  ip.mac = mac;
  ip.addr = addr;
  ip.prefix_len = 24;
  ip.v6.addrs = {Ipv6Prefix{addr6, 64}};  // usable at once: no DAD when built by hand
  ip.v6.nd.max_pending = 16384;
  ip.v6.nd.max_pending_per_neighbor = 16384;
  // Room for every first SYN while the peer's MAC is being resolved: a
  // run opens up to --connections at once and must not wait for SYN retries.
  ip.arp.max_pending = 16384;
  ip.rx_ip_checksum_offload = port.info().rx_ip_checksum_offload;
  ip.tx_ip_checksum_offload = port.info().tx_ip_checksum_offload;
  WorkerTcpSettings tcp;
  tcp.opts.local_addr = addr;
  tcp.opts.cfg.max_connections = 16384;
  tcp.opts.tx_checksum_offload = port.info().tx_l4_checksum_offload;
  // The link hands the receiver the sender's chain, which it then copies
  // into one buffer (tx_gathers_by_dma is false): copying at once is cheaper.
  tcp.opts.tx_copy_max =
      port.info().tx_gathers_by_dma ? TcpStackOptions::kTxCopyMaxGather : TcpStackOptions::kTxCopyMaxAlways;
  tcp.opts.tso_max = port.info().tx_tso ? TcpStackOptions::kTsoMaxPayload : 0;  // as the runtime sets it
  tcp.opts.adopt_foreign_frames = n > 1;  // a steered frame is in its receiver's pool
  for (auto& b : tcp.opts.isn_key) b = static_cast<std::uint8_t>(rte_rand());
  for (auto& b : tcp.opts.cookie_key) b = static_cast<std::uint8_t>(rte_rand());
  tcp.opts.port_seed = rte_rand();
  tcp.start = TscClock{}.now();
  const unsigned mbufs = n == 1 ? kMbufs : std::max(2047u, kMbufs / n);
  for (std::uint16_t w = 0; w < n; ++w) {
    const std::string tag = std::string(name) + std::to_string(w);
    s.pools.push_back(make_pool(tag + "_pool", false, mbufs));
    s.clones.push_back(make_pool(tag + "_clones", true, mbufs));
    tcp.clone_pool = s.clones.back();
    tcp.opts.hash_seed = rte_rand();
    s.workers.push_back(std::make_unique<Worker>(w, n, port, ip, s.pools.back(), nullptr, kBurst, &tcp));
    if (gro) s.workers.back()->enable_gro(SOCKET_ID_ANY);  // as the runtime does for [port] gro
  }
  // An SPSC ring for every ordered pair of workers, as the runtime makes them.
  for (std::uint16_t from = 0; from < n; ++from) {
    for (std::uint16_t to = 0; to < n; ++to) {
      if (from == to) continue;
      const std::string rn = std::string(name) + "_steer_" + std::to_string(from) + "_" + std::to_string(to);
      rte_ring* r = rte_ring_create(rn.c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (r == nullptr) throw std::runtime_error("cannot create ring " + rn);
      s.rings.push_back(r);
      s.workers[from]->set_outbox(to, r);
      s.workers[to]->set_inbox(from, r);
    }
  }
}

int worker_loop(void* arg) {
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
      "usage: %s --mode bulk|rr|crr [--connections N] [--time S] [--size B] [--workers W]\n"
      "       [--lcores C1,..,CW,S1,..,SW] [--one-core] [--no-gro] [--no-tso] [--ipv6] [--zerocopy]\n"
      "       [--json]\n"
      "Tern clients and Tern servers in one process, W workers each (one lcore each), over the\n"
      "in-process link.\n",
      argv0);
  return 2;
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  perf::Options o;
  o.client = true;
  o.addr = tern::IpAddr::v4(kServerIp);
  o.interval_s = 0;
  o.time_s = 5;
  std::string lcores;
  std::uint16_t workers = 1;
  bool one_core = false;
  bool gro = true;  // [port] gro's default
  bool tso = true;  // [port] tso's default
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
      } else if (a == "--workers" && has) {
        workers = static_cast<std::uint16_t>(api::parse_int_option(a, argv[++i], 1, 8));
      } else if (a == "--lcores" && has) {
        lcores = argv[++i];
      } else if (a == "--one-core") {
        one_core = true;
      } else if (a == "--no-gro") {
        gro = false;
      } else if (a == "--no-tso") {
        tso = false;
      } else if (a == "--ipv6") {
        o.addr = tern::IpAddr::v6(kServerIp6.b);
      } else if (a == "--zerocopy") {
        o.zerocopy = true;  // bulk only: checked below, once --mode is known
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
  if (o.zerocopy && o.mode != perf::Mode::kBulk) {
    std::fprintf(stderr, "tern-pair: --zerocopy is for --mode bulk\n");
    return 2;
  }
  if (o.connections < workers) {
    std::fprintf(stderr, "tern-pair: --connections (%u) below --workers (%u) leaves a worker idle\n",
                 o.connections, workers);
    return 2;
  }
  if (lcores.empty()) lcores = one_core ? "0" : "0-" + std::to_string(2 * workers - 1);
  // Two pools of kMbufs 2 KiB mbufs per worker and side, halved per extra worker.
  if (!start_eal_in_memory("tern-pair", "error", lcores.c_str(), 256 + 128 * (workers - 1))) return 1;
  std::vector<unsigned> others;  // the lcores after the main one: clients 2..W, then servers
  for (unsigned l = rte_get_next_lcore(rte_lcore_id(), 1, 0); l < RTE_MAX_LCORE;
       l = rte_get_next_lcore(l, 1, 0))
    others.push_back(l);
  if (!one_core && others.size() < 2u * workers - 1) {
    std::fprintf(stderr, "tern-pair: --lcores must name %u cores (clients, then servers)\n", 2u * workers);
    return 2;
  }
  try {
    auto [client_port, server_port] = make_link_pair(workers, 4096);
    // As a veth between two namespaces: checksums of locally built frames
    // are trusted, not computed (the kernel side of the A/B does the same).
    client_port->offer_checksum_offload();
    server_port->offer_checksum_offload();
    if (tso) {
      // And TSO, as a veth offers it: a bulk sender's super-segment reaches
      // the receiver as one LRO chain (LinkPort::offer_tso).
      client_port->offer_tso();
      server_port->offer_tso();
    }
    // make_link_pair's MACs: 02:00:00:00:00:01 on the first end, :02 on the second.
    Side client, server;
    make_side(client, "tp_c", *client_port, MacAddr{{2, 0, 0, 0, 0, 1}}, kClientIp, kClientIp6, workers, gro);
    make_side(server, "tp_s", *server_port, MacAddr{{2, 0, 0, 0, 0, 2}}, kServerIp, kServerIp6, workers, gro);

    perf::Options so = o;
    so.client = false;
    so.server = true;
    perf::TernClientShared shared(workers);
    perf::TestTable tests(workers);  // unused: the client's test id stays 0 (no end message)
    std::vector<const perf::TernPerfClient*> client_views;
    for (std::uint16_t w = 0; w < workers; ++w) {
      server.apps.push_back(std::make_unique<api::WorkerAppAdapter>(
          *server.workers[w], server.pools[w], std::make_unique<perf::TernPerfServer>(so, tests)));
      server.workers[w]->set_app(server.apps.back().get());
      auto client_app = std::make_unique<perf::TernPerfClient>(o, shared);
      client_views.push_back(client_app.get());
      client.apps.push_back(std::make_unique<api::WorkerAppAdapter>(*client.workers[w], client.pools[w],
                                                                    std::move(client_app)));
      client.workers[w]->set_app(client.apps.back().get());
    }

    TscClock clock;
    if (one_core) {
      for (auto* side : {&server, &client})
        for (auto& w : side->workers) w->start_app(clock.now());
      while (!shared.finished()) {
        for (std::uint16_t w = 0; w < workers; ++w) {
          client.workers[w]->poll_once(clock.now());
          server.workers[w]->poll_once(clock.now());
        }
      }
    } else {
      // The servers listen before the clients' first SYNs can arrive.
      std::size_t next = 0;
      for (auto& w : server.workers)
        if (rte_eal_remote_launch(worker_loop, w.get(), others[workers - 1 + next++]) != 0)
          throw std::runtime_error("cannot launch a server lcore");
      const Instant settle = clock.now() + Duration::ms(50);
      while (clock.now() < settle) {
      }
      for (std::uint16_t w = 1; w < workers; ++w)
        if (rte_eal_remote_launch(worker_loop, client.workers[w].get(), others[w - 1]) != 0)
          throw std::runtime_error("cannot launch a client lcore");
      Worker& main_worker = *client.workers[0];
      main_worker.start_app(clock.now());
      while (!shared.finished()) main_worker.poll_once(clock.now());
      g_stop.store(true);
      rte_eal_mp_wait_lcore();
    }
    for (auto* side : {&client, &server})
      for (auto& w : side->workers) w->flush();

    perf::Result r = perf::merge_client_results(client_views, o);
    r.stack = "tern";
    perf::print_summary(stdout, r, o.json);
    std::fflush(stdout);
    if (r.errors != 0) {
      // What each stack dropped, to tell a broken run's cause at once.
      for (const auto& [name, side] : {std::pair{"client", &client}, std::pair{"server", &server}}) {
        Counters k;
        for (auto& w : side->workers) k += w->counters();
        for (std::size_t d = 0; d < kDropCount; ++d)
          if (k.drops[d] != 0)
            std::fprintf(stderr, "tern-pair: %s dropped %llu (%.*s)\n", name,
                         static_cast<unsigned long long>(k.drops[d]),
                         static_cast<int>(drop_name(static_cast<Drop>(d)).size()),
                         drop_name(static_cast<Drop>(d)).data());
      }
    }
    return r.errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern-pair: %s\n", e.what());
    return 1;
  }
}
