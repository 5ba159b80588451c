#include "runtime/worker.h"

#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>

#include "runtime/steering.h"
#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

namespace tern {

namespace {

// Worker 0 sends the port's DAD probes and Router Solicitations; its
// siblings learn the answers from the ND frames steering replicates.
IpSettings for_worker(IpSettings s, std::uint16_t id) {
  s.v6.solicits = id == 0;
  return s;
}

}  // namespace

Worker::Worker(std::uint16_t id, std::uint16_t workers, Port& port, const IpSettings& ip, rte_mempool* pool,
               rte_mempool* indirect_pool, std::uint16_t burst, const WorkerTcpSettings* tcp)
    : id_(id),
      workers_(workers),
      burst_(std::min<std::uint16_t>(burst, kMaxBurst)),
      port_(port),
      pool_(pool),
      port_holds_tx_(port.info().holds_tx),
      software_steering_(workers > 1 && port.info().steering == Steering::kSoftware),
      ip_(std::make_unique<IpLayer>(for_worker(ip, id), counters_, pool, indirect_pool)),
      inbox_(workers, nullptr),
      outbox_(workers, nullptr) {
  tx_.set_drain(&Worker::drain_cb, this);
  if (tcp != nullptr) {
    glue_ = std::make_unique<TcpIpGlue>(*ip_, tx_);
    tcp_ = std::make_unique<TcpStack>(tcp->opts, counters_, *glue_, pool,
                                      tcp->clone_pool != nullptr ? tcp->clone_pool : pool, tcp->start);
    tcp_->mem().set_limits(tcp->mem_limits);
    ip_->set_mem_account(&tcp_->mem());  // fragments in reassembly count against the same budget
    glue_->attach(*tcp_);
    if (software_steering_) tcp_->set_port_filter(&Worker::owns_tuple, this);
  }
  if (software_steering_) {
    // Every worker registers the same name and gets the same bit.
    static const rte_mbuf_dynflag kResteered{"tern_resteered_reassembly", 0};
    const int bit = rte_mbuf_dynflag_register(&kResteered);
    if (bit >= 0) {
      resteered_flag_ = std::uint64_t{1} << bit;
      ip_->set_reassembly_steering(&Worker::steer_reassembled, this);
    }
  }
}

bool Worker::steer_reassembled(void* self, const ReassembledFlow& f, Mbuf& frame) noexcept {
  auto& w = *static_cast<Worker*>(self);
  // As steer_frame hashes the datagram unfragmented.
  const auto owner = static_cast<std::uint16_t>(
      symmetric_flow_hash(f.src, f.dst, f.sport, f.dport, f.protocol) % w.workers_);
  if (owner == w.id_) return false;
  rte_mbuf* m = frame.release();
  m->ol_flags |= w.resteered_flag_;
  if (w.forward(m, owner, Drop::kReasmSteerRingFull)) w.counters_.inc(Counter::kReasmSteered);
  return true;
}

void Worker::enable_gro(int socket) { gro_ = std::make_unique<RxCoalescer>(burst_, socket); }

void Worker::enable_udp(const UdpStackOptions& o) {
  udp_ = std::make_unique<UdpStack>(o, counters_, *ip_, tx_, pool_);
  if (tcp_) udp_->set_mem_account(&tcp_->mem());
  // Datagrams reassembled from fragments (steered by addresses only) go on
  // to the worker that owns their tuple (steer_reassembled), as whole ones.
  if (software_steering_) udp_->set_port_filter(&Worker::owns_udp_flow, this);
  ip_->set_udp(udp_.get());
}

bool Worker::owns_udp_flow(void* self, const Endpoint& local, const Endpoint& remote) noexcept {
  const auto& w = *static_cast<const Worker*>(self);
  return symmetric_flow_hash(local.addr, remote.addr, local.port, remote.port, kIpProtoUdp) % w.workers_ ==
         w.id_;
}

bool Worker::owns_tuple(void* self, const FourTuple& t) noexcept {
  const auto& w = *static_cast<const Worker*>(self);
  // Either family, as software steering hashes received frames (steering.h).
  return symmetric_flow_hash(t.laddr, t.raddr, t.lport, t.rport, kIpProtoTcp) % w.workers_ == w.id_;
}

Worker::~Worker() {
  // Members go in reverse order, the account (in tcp_) before ip_: detach it first.
  ip_->set_mem_account(nullptr);
}

void Worker::drain_cb(void* self, FrameQueue&) noexcept { static_cast<Worker*>(self)->flush(); }

void Worker::flush() noexcept {
  if (tx_.empty()) {
    // A frame impairment held back to be overtaken goes out now if nothing
    // else will overtake it (otherwise a lone retransmission waits for the RTO).
    if (port_holds_tx_) (void)port_.tx_burst(id_, tx_.data(), 0);
    return;
  }
  const std::uint16_t n = tx_.size();
  // Sum lengths before the hand-over: a PMD may free what it sent at once.
  std::uint64_t bytes = 0;
  for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(tx_.data()[i]);
  const std::uint16_t sent = port_.tx_burst(id_, tx_.data(), n);
  for (std::uint16_t i = sent; i < n; ++i) bytes -= rte_pktmbuf_pkt_len(tx_.data()[i]);
  // Frames the NIC refused stay queued for the next iteration; once the queue
  // is full, new frames are dropped (TxRingFull) by whoever pushes them.
  tx_.consume(sent);
  counters_.inc(Counter::kTxPackets, sent);
  counters_.inc(Counter::kTxBytes, bytes);
}

bool Worker::forward(rte_mbuf* m, std::uint16_t to, Drop if_full) noexcept {
  if (rte_ring_sp_enqueue(outbox_[to], m) != 0) {
    counters_.drop(if_full);
    rte_pktmbuf_free(m);
    return false;
  }
  counters_.inc(Counter::kSteeredOut);
  return true;
}

void Worker::handle(rte_mbuf* m, Instant now) noexcept {
  if (software_steering_) {
    const auto frame =
        std::span<const std::byte>{rte_pktmbuf_mtod(m, const std::byte*), rte_pktmbuf_data_len(m)};
    const std::uint16_t owner = steer_frame(frame, workers_, id_);
    if (owner == kAllWorkers) {
      // Siblings get the same mbuf read-only (reference count, no copy) and
      // only learn from it; this worker answers.
      for (std::uint16_t w = 0; w < workers_; ++w) {
        if (w == id_) continue;
        rte_mbuf_refcnt_update(m, 1);
        forward(m, w);
      }
    } else if (owner != id_) {
      forward(m, owner);
      return;
    }
  }
  ip_->on_frame(Mbuf{m}, now, tx_);
}

unsigned Worker::poll_once(Instant now) noexcept {
  unsigned handled = 0;
  // The ACKs this poll's segments earn wait for the application's answers
  // (on_poll runs its callbacks), which carry them (TcpStack::begin_burst).
  if (tcp_) tcp_->begin_burst();
  std::uint16_t n = port_.rx_burst(id_, rx_.data(), burst_);
  // The burst's frames were written by another core (or a NIC): start
  // every mbuf header on its way into this core's cache at once, and each
  // frame's first bytes one frame ahead of their use, so the misses
  // overlap instead of stalling each frame's parse in turn.
  for (std::uint16_t i = 0; i < n; ++i) rte_prefetch0(rx_[i]);
  // GRO reads every frame's headers now, so the frames' prefetches overlap
  // here instead of one frame ahead of the parse.
  if (gro_ != nullptr && n > 1) {
    for (std::uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(rx_[i], void*));
    handled += n;
    n = gro_->coalesce(rx_.data(), n, counters_);
    handled -= n;
  }
  if (n > 0) rte_prefetch0(rte_pktmbuf_mtod(rx_[0], void*));
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx_[i + 1], void*));
    handle(rx_[i], now);
  }
  handled += n;
  for (std::uint16_t from = 0; workers_ > 1 && from < workers_; ++from) {
    rte_ring* r = inbox_[from];
    if (r == nullptr) continue;
    const unsigned got = rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(rx_.data()), burst_, nullptr);
    for (unsigned i = 0; i < got; ++i) {
      rte_mbuf* m = rx_[i];
      counters_.inc(Counter::kSteeredIn);
      const std::uint16_t type =
          rte_pktmbuf_data_len(m) >= 14
              ? static_cast<std::uint16_t>(rte_pktmbuf_mtod(m, const std::uint8_t*)[12] << 8 |
                                           rte_pktmbuf_mtod(m, const std::uint8_t*)[13])
              : 0;
      if ((m->ol_flags & resteered_flag_) != 0) {
        m->ol_flags &= ~resteered_flag_;
        ip_->on_resteered(Mbuf{m}, now, tx_);
      } else if (type == kEtherTypeArp)
        ip_->on_replicated_arp(Mbuf{m}, now, tx_);
      else if (type == kEtherTypeIpv6 &&
               is_neighbor_discovery({rte_pktmbuf_mtod(m, const std::byte*), rte_pktmbuf_data_len(m)}))
        ip_->on_replicated_nd(Mbuf{m}, now, tx_);  // every ND frame in an inbox is a sibling's copy
      else
        ip_->on_frame(Mbuf{m}, now, tx_);
    }
    handled += got;
  }
  if (now >= next_ip_timer_) {
    ip_->on_timer(now, tx_);
    next_ip_timer_ = now + kIpTimerPeriod;
  }
  if (tcp_) tcp_->on_timer(now);
  if (app_ != nullptr) app_->on_poll(*this, now);
  if (tcp_) tcp_->end_burst(now);
  if (snap_asked_.load(std::memory_order_relaxed) != snap_seen_) [[unlikely]]
    serve_snapshot();
  flush();
  return handled;
}

void Worker::serve_snapshot() noexcept {
  const std::uint32_t ticket = snap_asked_.load(std::memory_order_acquire);
  std::size_t skip = snap_start_.load(std::memory_order_relaxed);
  std::size_t n = 0;
  if (tcp_) {
    tcp_->for_each_connection_while([&](const Tcb& c) {
      if (skip > 0) {
        --skip;
        return true;
      }
      if (n == kSnapshotMax) return false;
      snap_[n++] = ConnRecord{c.tuple, tcp_->info(c)};
      return true;
    });
  }
  snap_count_ = n;
  snap_total_ = tcp_ ? tcp_->connections() : 0;
  snap_seen_ = ticket;
  snap_served_.store(ticket, std::memory_order_release);
}

}  // namespace tern
