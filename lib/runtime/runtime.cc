#include "runtime/runtime.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_version.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "port/ethdev_port.h"
#include "port/impaired_port.h"
#include "port/veth_peer.h"
#include "runtime/clock.h"
#include "runtime/eal_log.h"
#include "runtime/gso_port.h"
#include "runtime/log.h"
#include "runtime/telemetry.h"
#include "tcp/cc/controller.h"

namespace tern {
namespace {

void ignore_signal(int) {}

// DPDK 22.11's net_tap raises a signal on every received packet (its Rx
// trigger) when it finds SIGIO or a real-time signal free; that caps receive
// at 70-90 kpps here. Occupying those signals with a no-op handler before the
// EAL probes the tap makes the PMD log "Rx trigger disabled" and plainly poll,
// which is 5-10x faster. See docs/ports.md.
void disable_tap_rx_trigger() {
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  if (sigaction(SIGIO, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) sigaction(SIGIO, &sa, nullptr);
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig)
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) sigaction(sig, &sa, nullptr);
}

IpSettings ip_settings(const Config& cfg, const PortInfo& info) {
  const PortConfig& pc = cfg.ports.front();
  IpSettings s;
  s.mac = info.mac;
  s.addr = pc.address.addr;
  s.prefix_len = pc.address.len;
  s.gateway = pc.gateway;
  s.mtu = info.mtu;
  s.rx_ip_checksum_offload = info.rx_ip_checksum_offload;
  s.tx_ip_checksum_offload = info.tx_ip_checksum_offload;
  s.arp = cfg.arp;
  s.ip = cfg.ip;
  s.v6.addrs = pc.address6;
  s.v6.gateway = pc.gateway6;
  s.v6.nd = cfg.nd;
  s.v6.seed = rte_rand() | 1;  // ReachableTime's draw (RFC 4861 §6.3.2)
  return s;
}

}  // namespace

std::vector<std::string> Runtime::eal_args(const Config& cfg, const char* program) {
  std::vector<std::string> a{program};
  std::string lcores;
  // Appended piece by piece: `const char* + std::string` makes GCC 12 at -O3
  // (the release build) warn of a memcpy bound past PTRDIFF_MAX inside
  // libstdc++'s insert, a false -Wstringop-overflow.
  for (unsigned l : cfg.runtime.lcores) {
    if (!lcores.empty()) lcores += ',';
    lcores += std::to_string(l);
  }
  a.insert(a.end(), {"-l", lcores, "--file-prefix", cfg.eal.file_prefix});
  if (cfg.eal.no_huge)
    a.insert(a.end(), {"--no-huge", "-m", std::to_string(cfg.eal.memory_mb)});
  else
    a.insert(a.end(), {"--socket-mem", std::to_string(cfg.eal.memory_mb)});
  bool any_pci = false;
  for (const PortConfig& p : cfg.ports) {
    if (is_pci_address(p.device)) {
      a.insert(a.end(), {"-a", p.device});
      any_pci = true;
    } else {
      const std::uint16_t queues =
          p.queues != 0 ? p.queues : static_cast<std::uint16_t>(cfg.runtime.lcores.size());
      const std::string driver =
          is_af_xdp(p.device) ? interface_driver(device_arg(p.device, "iface").value_or("")) : std::string{};
      a.insert(a.end(), {"--vdev", device_with_defaults(p.device, queues, driver)});
    }
  }
  if (!any_pci) a.push_back("--no-pci");
  a.push_back("--log-level=" + cfg.log_level);
  a.insert(a.end(), cfg.eal.args.begin(), cfg.eal.args.end());
  return a;
}

Runtime::Runtime(const Config& cfg, const char* program) : cfg_(cfg), program_(program) {
  if (cfg.ports.size() != 1) throw std::runtime_error("exactly one [[port]] is supported in this version");
  const PortConfig& pc = cfg.ports.front();
  // What the EAL would reject in its own words, and an interface another
  // Tern process drives, said in Tern's first (startup_checks.h).
  check_before_eal(cfg);
  claims_ = InterfaceClaims(cfg);
  install_log_filter(cfg.log_level,
                     std::any_of(cfg.eal.args.begin(), cfg.eal.args.end(),
                                 [](const std::string& a) { return a.rfind("--log-level", 0) == 0; }));
  if (pc.device.rfind("net_tap", 0) == 0 && !pc.tap_rx_trigger) disable_tap_rx_trigger();
  // What net_af_xdp needs from the kernel, said plainly before the PMD fails
  // with "failed to initialize"; and a net_af_packet whose queue pairs are
  // not the workers, refused before the PMD opens its sockets (one a worker
  // does not poll would swallow its share of the flows).
  const std::uint16_t port_queues =
      pc.queues != 0 ? pc.queues : static_cast<std::uint16_t>(cfg.runtime.lcores.size());
  check_af_xdp_prerequisites(pc.name, pc.device, port_queues);
  check_af_packet_queues(pc.name, pc.device, port_queues);

  std::vector<std::string> args = eal_args(cfg, program);
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
    throw std::runtime_error(std::string("rte_eal_init failed: ") + rte_strerror(rte_errno));

  const auto n = static_cast<std::uint16_t>(cfg.runtime.lcores.size());
  const std::uint16_t queues = pc.queues == 0 ? n : pc.queues;
  if (queues != n)
    throw std::runtime_error("port " + pc.name + ": queues = " + std::to_string(queues) + " but there are " +
                             std::to_string(n) + " workers; each worker needs its own queue");
  for (std::uint16_t w = 0; w < n; ++w) {
    const std::string name = "tern_pool_" + std::to_string(w);
    const unsigned lcore = cfg.runtime.lcores[w];
    const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), cfg.runtime.mbufs_per_worker, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (mp == nullptr)
      throw std::runtime_error("cannot create mbuf pool " + name + ": " + rte_strerror(rte_errno));
    pools_.push_back(mp);
  }
  // Indirect mbufs (no data room) for fragmenting oversize replies without copying.
  indirect_pool_ = rte_pktmbuf_pool_create("tern_indirect", 1023, 32, 0, 0, SOCKET_ID_ANY);
  if (indirect_pool_ == nullptr) throw std::runtime_error("cannot create the indirect mbuf pool");

  auto eth = EthdevPort::open(pc, queues, pools_);
  port_summary_ = eth->summary();
  if (const std::string iface = socket_pmd_iface(pc.device); !iface.empty()) {
    // A veth peer with TX checksum offload on makes Tern drop all its TCP
    // segments as TcpBadChecksum: say so, with the fix (docs/ports.md).
    bool warning = false;
    const std::string pmd =
        ethdev_name_of(pc.device).rfind("net_af_xdp", 0) == 0 ? "net_af_xdp" : "net_af_packet";
    const std::string advice = veth_peer_advice(pc.name, pmd, inspect_veth_peer(iface), &warning);
    if (warning)
      TERN_LOG(WARNING, "%s\n", advice.c_str());
    else if (!advice.empty())
      TERN_LOG(INFO, "%s\n", advice.c_str());
  }
  port_ = std::move(eth);
  const ImpairmentConfig& imp = cfg.impairment;
  if (imp.loss > 0 || imp.duplicate > 0 || imp.reorder > 0) {
    TERN_LOG(WARNING,
             "impairment active: loss %.4f duplicate %.4f reorder %.4f seed %llu (both directions)\n",
             imp.loss, imp.duplicate, imp.reorder, static_cast<unsigned long long>(imp.seed));
    port_ = std::make_unique<ImpairedPort>(std::move(port_), imp, pools_);
  }
  // Outside the impairment: a path drops and reorders wire frames.
  if (pc.gso && pc.tso && !port_->info().tx_tso) port_ = std::make_unique<GsoPort>(std::move(port_), pools_);

  const IpSettings ip = ip_settings(cfg, port_->info());
  // One secret per process for ISNs and one for SYN cookies (RFC 6528 §3,
  // RFC 4987 §3.6), shared by the workers so a cookie made by one validates
  // on another; rte_rand is seeded from the hardware RNG or the TSC at EAL start.
  const auto random_key = [] {
    std::array<std::uint8_t, 16> k{};
    for (std::size_t i = 0; i < k.size(); i += 8) {
      const std::uint64_t r = rte_rand();
      for (std::size_t j = 0; j < 8; ++j) k[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
    return k;
  };
  WorkerTcpSettings tcp;
  tcp.opts.local_addr = pc.address.addr;
  tcp.opts.mtu = pc.mtu;
  tcp.opts.cfg = cfg.tcp;
  tcp.opts.isn_key = random_key();
  tcp.opts.cookie_key = random_key();
  tcp.opts.port_seed = rte_rand();
  tcp.start = Instant{};  // each worker's TscClock starts at zero
  // Steered frames come from the sibling's pool (Worker::forward).
  tcp.opts.tx_checksum_offload = port_->info().tx_l4_checksum_offload;
  tcp.opts.tx_copy_max =
      port_->info().tx_gathers_by_dma ? TcpStackOptions::kTxCopyMaxGather : TcpStackOptions::kTxCopyMaxAlways;
  // EthdevPort enabled TSO only where [port] tso asks for it.
  tcp.opts.tso_max = port_->info().tx_tso ? TcpStackOptions::kTsoMaxPayload : 0;
  tcp.opts.adopt_foreign_frames = n > 1 && port_->info().steering == Steering::kSoftware;
  // net_af_xdp keeps kAfXdpFillMbufs of the pool in the kernel's fill ring,
  // whatever rx_ring says, and a sent frame's mbuf until the kernel completes
  // it, which in copy mode is when the receiver frees its copy: up to the
  // completion ring's kAfXdpFillMbufs beyond the TX ring. Without this
  // reserve a bulk sender's queue took the mbufs the fill ring needed, and
  // no ACK could come in to free them.
  const bool xdp = is_af_xdp(pc.device);
  const MemReserve reserve{.rx_ring = xdp ? std::max<std::uint32_t>(pc.rx_ring, kAfXdpFillMbufs) : pc.rx_ring,
                           .tx_ring = xdp ? pc.tx_ring + kAfXdpFillMbufs : pc.tx_ring,
                           .burst = cfg.runtime.burst};
  tcp.mem_limits =
      mem_limits_for_pool(cfg.runtime.mbufs_per_worker,
                          static_cast<std::uint32_t>(sizeof(rte_mbuf)) + RTE_MBUF_DEFAULT_BUF_SIZE, reserve);
  lendable_mbufs_ =
      static_cast<std::uint32_t>(tcp.mem_limits.high / (sizeof(rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE));
  TERN_LOG(
      DEBUG,
      "buffer budget per worker: %u of %u mbufs lent to queues (reserve %u); pressure at %llu bytes, high at "
      "%llu\n",
      lendable_mbufs_, cfg.runtime.mbufs_per_worker, reserve.mbufs(),
      static_cast<unsigned long long>(tcp.mem_limits.pressure),
      static_cast<unsigned long long>(tcp.mem_limits.high));
  for (std::uint16_t w = 0; w < n; ++w) {
    // Indirect mbufs that reference send-queue data, one pool per worker:
    // every unacknowledged segment in a NIC ring holds one per mbuf it spans.
    const std::string name = "tern_clone_" + std::to_string(w);
    rte_mempool* clones =
        rte_pktmbuf_pool_create(name.c_str(), cfg.runtime.mbufs_per_worker, 256, 0, 0,
                                static_cast<int>(rte_lcore_to_socket_id(cfg.runtime.lcores[w])));
    if (clones == nullptr)
      throw std::runtime_error("cannot create mbuf pool " + name + ": " + rte_strerror(rte_errno));
    clone_pools_.push_back(clones);
    tcp.clone_pool = clones;
    tcp.opts.hash_seed = rte_rand();
    workers_.push_back(
        std::make_unique<Worker>(w, n, *port_, ip, pools_[w], indirect_pool_, cfg.runtime.burst, &tcp));
    UdpStackOptions udp{.cfg = cfg.udp,
                        .ephemeral_first = cfg.tcp.ephemeral_first,
                        .ephemeral_last = cfg.tcp.ephemeral_last,
                        .port_seed = rte_rand(),
                        .tx_checksum_offload = port_->info().tx_l4_checksum_offload};
    workers_.back()->enable_udp(udp);
    if (pc.gro) workers_.back()->enable_gro(static_cast<int>(rte_lcore_to_socket_id(cfg.runtime.lcores[w])));
  }
  // GSO counts into the worker that owns each queue (worker w, queue w).
  if (auto* gso = dynamic_cast<GsoPort*>(port_.get()))
    for (std::uint16_t w = 0; w < n; ++w) gso->attach_counters(w, &workers_[w]->counters());
  // An SPSC ring for every ordered pair of workers: no locks between cores.
  for (std::uint16_t from = 0; from < n; ++from) {
    for (std::uint16_t to = 0; to < n; ++to) {
      if (from == to) continue;
      const std::string name = "tern_steer_" + std::to_string(from) + "_" + std::to_string(to);
      rte_ring* r = rte_ring_create(name.c_str(), cfg.runtime.steer_ring_size, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (r == nullptr) throw std::runtime_error("cannot create ring " + name);
      rings_.push_back(r);
      workers_[from]->set_outbox(to, r);
      workers_[to]->set_inbox(from, r);
    }
  }
  if (!cfg.eal.no_huge) {
    // Lets dpdk-dumpcap (a secondary process) capture live traffic.
    pdump_ = rte_pdump_init() == 0;
    if (!pdump_) TERN_LOG(WARNING, "packet capture unavailable: rte_pdump_init failed\n");
  } else {
    TERN_LOG(NOTICE, "no_huge: memory is not shared, so dpdk-dumpcap cannot attach\n");
  }
  if (const int rc = register_telemetry(this); rc != 0)
    throw std::runtime_error(std::string("cannot register the /tern telemetry commands: ") +
                             rte_strerror(-rc));
}

namespace {

// Removes the files of an exited primary's runtime directory and the
// directory itself; leaves anything unexpected (a subdirectory) alone.
void remove_runtime_dir(const std::string& dir) {
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (!e.is_directory(ec)) std::filesystem::remove(e.path(), ec);
  std::filesystem::remove(dir, ec);  // only if now empty
}

}  // namespace

Runtime::~Runtime() {
  register_telemetry(nullptr);  // unpublishes; its result was checked when registering
  workers_.clear();             // frees parked and queued frames before the pools go
  port_.reset();
  for (rte_ring* r : rings_) {
    rte_mbuf* m = nullptr;
    while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
  }
  if (pdump_) rte_pdump_uninit();
  // DPDK 22.11's cleanup leaves the primary's runtime directory behind
  // (/var/run/dpdk/<file_prefix>: its config, memseg arrays and sockets,
  // about 2 MB); a machine that starts Tern often (tests, benchmarks) would
  // pile them up. Nothing may attach to an exited primary, so they go too.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_runtime_dir(runtime_dir);
}

void Runtime::worker_loop(std::size_t index) {
  Worker& w = *workers_[index];
  TscClock clock;
  w.start_app(clock.now());
  while (!stopping()) w.poll_once(clock.now());
  if (w.tcp() != nullptr) w.tcp()->flush_header_mbufs();  // the pool full again once the worker stops
  w.flush();
}

int Runtime::lcore_main(void* arg) {
  auto* self = static_cast<Runtime*>(arg);
  const unsigned lcore = rte_lcore_id();
  for (std::size_t i = 0; i < self->cfg_.runtime.lcores.size(); ++i)
    if (self->cfg_.runtime.lcores[i] == lcore) self->worker_loop(i);
  return 0;
}

void Runtime::run() {
  rte_eal_mp_remote_launch(&Runtime::lcore_main, this, CALL_MAIN);
  rte_eal_mp_wait_lcore();
}

Counters Runtime::totals() const noexcept {
  Counters t;
  for (const auto& w : workers_) t += w->counters();
  return t;
}

std::string Runtime::describe() const {
  const PortConfig& pc = cfg_.ports.front();
  std::string lcores;
  for (std::size_t i = 0; i < cfg_.runtime.lcores.size(); ++i) {  // appended piece by piece, as in eal_args
    if (i != 0) lcores += ", ";
    lcores += std::to_string(cfg_.runtime.lcores[i]);
    if (i == 0) lcores += " (main)";
  }
  std::string s = program_ + ": Tern " + std::string(TERN_VERSION) + " on " + rte_version() + ", pid " +
                  std::to_string(getpid()) + "\n";
  const auto line = [&s](const std::string& label, const std::string& text) {
    s += "  " + label + std::string(label.size() < 11 ? 11 - label.size() : 1, ' ') + text + "\n";
  };
  line("lcores", lcores + ": " + std::to_string(workers_.size()) + " worker(s), one per lcore");
  for (const auto& [label, text] : port_summary_) {
    // GRO is Tern's (rte_gro in the worker), not the port's: said with the offloads.
    const bool gro = !workers_.empty() && workers_.front()->gro();
    // GSO too ([port] gso): TCP's super-segments cut in software before the port.
    const std::string gso = pc.gso && pc.tso && dynamic_cast<const GsoPort*>(port_.get()) != nullptr
                                ? "; TX GSO: TCP super-segments cut in software before the port"
                                : "";
    line(label, label != "offloads" ? text
                : gro ? text + "; RX GRO: in-order TCP/IPv4 segments merged per burst (rte_gro)" + gso
                      : text + "; RX GRO off" + gso);
  }
  if (const std::string iface = claimed_interface(pc.device); !iface.empty())
    line("interface", iface + " (claimed: a second Tern process on it is refused)");
  line("address", format_ipv4(pc.address.addr) + "/" + std::to_string(pc.address.len) +
                      (pc.gateway ? ", gateway " + format_ipv4(*pc.gateway) : std::string(", no gateway")));
  {
    std::string v6 = link_local_from_mac(port_->info().mac).to_string() + " (link-local)";
    for (const Ipv6Prefix& a : pc.address6) v6 += ", " + format_ipv6_prefix(a);
    v6 += pc.gateway6 ? ", gateway6 " + pc.gateway6->to_string() : std::string(", no gateway6");
    if (!port_->info().ipv6_multicast.empty()) v6 += "; multicast " + port_->info().ipv6_multicast;
    line("address6", v6);
  }
  const TcpConfig& t = cfg_.tcp;
  const std::string pacing =
      t.pacing
          ? ", paced (" + std::to_string(t.pacing_ss_ratio) + " % / " + std::to_string(t.pacing_ca_ratio) +
                " % of cwnd / SRTT, bursts of " + std::to_string(t.pacing_burst) + " segments)"
          : std::string(t.congestion == CongestionAlgorithm::kBbr ? "" : ", not paced");
  line("tcp", "congestion " + std::string(to_string(t.congestion)) + pacing + ", up to " +
                  std::to_string(t.max_connections) + " connections per worker");
  line("mbufs", std::to_string(cfg_.runtime.mbufs_per_worker) + " per worker (" +
                    std::to_string(lendable_mbufs_) + " for socket buffers), " +
                    std::to_string(cfg_.runtime.mbufs_per_worker) + " clones, burst " +
                    std::to_string(cfg_.runtime.burst));
  line("memory", std::to_string(cfg_.eal.memory_mb) + " MB " +
                     (cfg_.eal.no_huge ? std::string("of ordinary memory (eal.no_huge)")
                                       : std::string("of hugepages")) +
                     ", file prefix " + cfg_.eal.file_prefix);
  line("telemetry", "dpdk-telemetry.py -f " + cfg_.eal.file_prefix + " (/tern/stats, /tern/conns, ...)" +
                        (pdump_ ? "; capture: dpdk-dumpcap --file-prefix=" + cfg_.eal.file_prefix : ""));
  return s;
}

std::string format_counters(const Counters& c) {
  std::string s;
  for (std::size_t i = 0; i < kCounterCount; ++i)
    if (c.events[i] != 0)
      s += std::string(counter_name(static_cast<Counter>(i))) + " " + std::to_string(c.events[i]) + "\n";
  for (std::size_t i = 0; i < kDropCount; ++i)
    if (c.drops[i] != 0)
      s += "Drop." + std::string(drop_name(static_cast<Drop>(i))) + " " + std::to_string(c.drops[i]) + "\n";
  return s;
}

}  // namespace tern
