#pragma once
// One run-to-completion worker: polls its RX queue, steers frames it does not
// own to their owner, runs the protocol layers, fires timers and transmits,
// all on one lcore with no locks. The clock is read once per iteration.
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "port/port.h"
#include "runtime/rx_coalesce.h"
#include "tcp/ip_glue.h"
#include "tcp/tcp_stack.h"
#include "udp/udp_stack.h"

namespace tern {

class Worker;

// One connection as telemetry lists it (/tern/conns).
struct ConnRecord {
  FourTuple tuple;
  ConnectionInfo info;
};

// Application code that runs on a worker's lcore, in the worker's loop: the
// public API (issue 4) and the apps are built on this. on_start runs once
// before the first poll (set the TcpHandler, listen, connect); on_poll runs
// every iteration after received frames and timers were processed.
class WorkerApp {
 public:
  virtual ~WorkerApp() = default;
  virtual void on_start(Worker& w, Instant now) = 0;
  virtual void on_poll(Worker& /*w*/, Instant /*now*/) {}
};

// What a worker needs to run TCP. clone_pool supplies the indirect mbufs that
// reference send-queue data (zero-copy segments).
struct WorkerTcpSettings {
  TcpStackOptions opts;
  MemLimits mem_limits;  // the worker's buffer budget (base/mem_account.h)
  rte_mempool* clone_pool = nullptr;
  Instant start;
};

class Worker final {
 public:
  static constexpr std::uint16_t kMaxBurst = 512;

  Worker(std::uint16_t id, std::uint16_t workers, Port& port, const IpSettings& ip, rte_mempool* pool,
         rte_mempool* indirect_pool, std::uint16_t burst, const WorkerTcpSettings* tcp = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Rings between workers: `inbox[from]` carries frames worker `from` received
  // for this worker (SPSC). Wired up by the runtime before any worker runs.
  void set_inbox(std::uint16_t from, rte_ring* ring) noexcept { inbox_[from] = ring; }
  void set_outbox(std::uint16_t to, rte_ring* ring) noexcept { outbox_[to] = ring; }

  // One loop iteration; returns how many frames it handled (0 = idle).
  unsigned poll_once(Instant now) noexcept;
  // Pushes everything queued for transmission to the port.
  void flush() noexcept;

  std::uint16_t id() const noexcept { return id_; }
  const Counters& counters() const noexcept { return counters_; }
  // For what counts on the worker's behalf on its own thread (GsoPort on its queue).
  Counters& counters() noexcept { return counters_; }
  IpLayer& ip() noexcept { return *ip_; }
  const IpLayer& ip() const noexcept { return *ip_; }
  // The worker's own mbuf pool (receive and header mbufs).
  rte_mempool* pool() const noexcept { return pool_; }
  FrameQueue& tx_queue() noexcept { return tx_; }
  // nullptr when the worker was built without TCP.
  TcpStack* tcp() noexcept { return tcp_.get(); }
  // Attaches UDP sockets (lib/udp) to this worker's IPv4; call once, before
  // the worker runs. Queued datagrams share TCP's buffer account.
  void enable_udp(const UdpStackOptions& o);
  // nullptr until enable_udp.
  UdpStack* udp() noexcept { return udp_.get(); }
  // Merges each RX burst's in-order TCP segments of a flow before IP and
  // TCP see them (rx_coalesce.h: rte_gro for IPv4, rx_coalesce6.h for
  // IPv6); call before the worker runs. `[port] gro` (docs/config.md).
  void enable_gro(int socket);
  bool gro() const noexcept { return gro_ != nullptr; }
  std::uint16_t workers() const noexcept { return workers_; }
  // Set before the worker runs; start_app calls on_start (the runtime does
  // it on the worker's lcore).
  void set_app(WorkerApp* app) noexcept { app_ = app; }
  void start_app(Instant now) {
    if (app_ != nullptr) app_->on_start(*this, now);
  }

  // ---- connection snapshots for telemetry (/tern/conns) ----
  // Only the worker may read its TCBs, so another thread asks and the worker
  // answers in its loop (one relaxed atomic load per iteration when nobody
  // asks): request_snapshot(start) returns a ticket; once
  // snapshot_ready(ticket), snapshot() holds up to kSnapshotMax connections
  // from the start-th on (in the table's order) of the snapshot_total() in
  // the table, stable until the next request. The worker copies into an
  // array allocated at construction: no lock, no allocation in its loop.
  // One asker at a time (telemetry.cc serialises); docs/architecture.md
  // ("Connection listing") says why not a shared iterator.
  static constexpr std::size_t kSnapshotMax = 64;
  std::uint32_t request_snapshot(std::uint32_t start = 0) const noexcept {
    snap_start_.store(start, std::memory_order_relaxed);  // published by the fetch_add below
    return snap_asked_.fetch_add(1, std::memory_order_acq_rel) + 1;
  }
  bool snapshot_ready(std::uint32_t ticket) const noexcept {
    return snap_served_.load(std::memory_order_acquire) == ticket;
  }
  std::span<const ConnRecord> snapshot() const noexcept { return {snap_.get(), snap_count_}; }
  std::size_t snapshot_total() const noexcept { return snap_total_; }

 private:
  void handle(rte_mbuf* m, Instant now) noexcept;
  void serve_snapshot() noexcept;
  // Returns false when `to`'s ring was full (`if_full` counted, `m` freed).
  bool forward(rte_mbuf* m, std::uint16_t to, Drop if_full = Drop::kSteerRingFull) noexcept;
  static void drain_cb(void* self, FrameQueue& q) noexcept;
  // Active open keeps only local ports whose replies software steering
  // brings back to this worker.
  static bool owns_tuple(void* self, const FourTuple& t) noexcept;
  // The same for a UDP socket's ephemeral port.
  static bool owns_udp_flow(void* self, const Endpoint& local, const Endpoint& remote) noexcept;
  // A TCP or UDP datagram reassembled from fragments, which steering sent
  // by addresses only: forwarded to the worker that owns its tuple, marked
  // with resteered_flag_ so that worker delivers it (IpLayer::on_resteered).
  static bool steer_reassembled(void* self, const ReassembledFlow& f, Mbuf& frame) noexcept;

  std::uint16_t id_;
  std::uint16_t workers_;
  std::uint16_t burst_;
  Port& port_;
  rte_mempool* pool_;
  bool port_holds_tx_;
  bool software_steering_;
  // An rte_mbuf dynamic flag (ol_flags bit) on datagrams steer_reassembled
  // forwards; 0 when none could be registered (then none is forwarded).
  std::uint64_t resteered_flag_ = 0;
  Counters counters_;
  std::unique_ptr<IpLayer> ip_;
  FrameQueue tx_;
  std::unique_ptr<TcpIpGlue> glue_;
  std::unique_ptr<TcpStack> tcp_;
  std::unique_ptr<RxCoalescer> gro_;  // nullptr: frames go up as received
  std::unique_ptr<UdpStack> udp_;     // after tcp_: destroyed first, it uncharges tcp_'s account
  WorkerApp* app_ = nullptr;
  std::vector<rte_ring*> inbox_;
  std::vector<rte_ring*> outbox_;
  std::array<rte_mbuf*, kMaxBurst> rx_{};
  mutable std::atomic<std::uint32_t> snap_asked_{0};  // written by the asking thread only
  mutable std::atomic<std::uint32_t> snap_start_{0};  // likewise: the first connection wanted
  std::atomic<std::uint32_t> snap_served_{0};
  std::uint32_t snap_seen_ = 0;  // the last ticket served, the worker's own copy
  // IPv4's timers (ARP retries and ageing in hundreds of ms, reassembly in
  // seconds) run once per millisecond, not on every loop iteration.
  static constexpr Duration kIpTimerPeriod = Duration::ms(1);
  Instant next_ip_timer_{};
  std::unique_ptr<ConnRecord[]> snap_ = std::make_unique<ConnRecord[]>(kSnapshotMax);
  std::size_t snap_count_ = 0;
  std::size_t snap_total_ = 0;
};

}  // namespace tern
