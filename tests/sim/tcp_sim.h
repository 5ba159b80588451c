#pragma once
// Two TCP stacks joined by a SimLink on virtual time (issue 3). Host A is
// 10.0.0.1, host B 10.0.0.2; each is the very code a worker runs (IpLayer +
// TcpStack + TcpIpGlue) with its own FrameQueue, Counters and mempool.
//
// The event loop advances `now` to the earliest of the next link arrival,
// the next 1 ms timer tick and the next pacing deadline of either stack
// (TcpStack::pacing_deadline), delivers the frames due, runs the timers (or
// the pacers between ticks), lets the
// caller's hook act (the applications), and drains both FrameQueues into the
// link. Nothing reads a clock and nothing iterates an unordered container, so
// a run is a pure function of (options, seed, inputs): the same seed gives the
// same trace.
//
// The trace, when enabled, has one line per frame handed to the link: the
// virtual time, the direction, a tcpdump-like summary (relative sequence
// numbers per direction, as tcpdump prints them) and what the link did to it.
#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "ip/software_tso.h"
#include "runtime/rx_coalesce.h"
#include "sim_link.h"
#include "tcp/ip_glue.h"
#include "tcp/tcp_stack.h"

namespace tern::sim {

inline constexpr std::uint32_t kAddrA = 0x0A000001;  // 10.0.0.1
inline constexpr std::uint32_t kAddrB = 0x0A000002;  // 10.0.0.2
// With HostOptions::ipv6 (RFC 3849 documentation prefix, on-link /64).
inline constexpr IpAddr kAddr6A = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
inline constexpr IpAddr kAddr6B = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
inline constexpr Duration kTick = Duration::ms(1);

// One mempool per host, made once per process and reused by every scenario
// (creating 2 x 16k mbufs per seed would dominate a sweep). A host's pool
// holds what that host sends, so frames in flight and data waiting in the
// peer's receive queue are counted against the sender.
struct SimPools {
  static constexpr unsigned kMbufs = 16383;  // enough for 10 MB transfers: windows are <= 1 MB
  SimPools();
  ~SimPools();
  SimPools(const SimPools&) = delete;
  SimPools& operator=(const SimPools&) = delete;
  rte_mempool* a = nullptr;
  rte_mempool* b = nullptr;
  bool ok() const noexcept { return a != nullptr && b != nullptr; }
};

struct HostOptions {
  TcpConfig tcp;
  std::uint16_t mtu = 1500;
  std::optional<std::uint32_t> gateway;
  // The host also has kAddr6A / kAddr6B (2001:db8::/64 on the link), and a
  // scenario's connection runs over IPv6 (issue 15). Off: no IPv6 address
  // is configured, so IPv4 traces stay as they were.
  bool ipv6 = false;
  // TCP sends super-segments (TcpStackOptions::tso_max) and the host's
  // "NIC" cuts them into wire frames before the link (SoftwareTso), so
  // the link's loss, reordering and corruption hit each wire segment.
  bool tso = false;
  // The host merges each receive burst's in-order TCP segments before IP
  // (runtime/rx_coalesce.h), as a worker with [port] gro does, in bursts of
  // up to kSimRxBurst frames. Bursts come from the incoming direction's
  // LinkParams::batch; without it every frame arrives alone.
  bool gro = false;
};
inline constexpr std::uint16_t kSimRxBurst = 32;  // a worker's rx_burst

struct TcpSimOptions {
  std::uint64_t seed = 1;
  LinkParams ab;  // A -> B
  LinkParams ba;  // B -> A
  HostOptions a, b;
  bool trace = false;
  std::size_t max_in_flight = SimLink::kDefaultMaxInFlight;
};

struct SimHost {
  SimHost(Side side, const HostOptions& o, std::uint64_t seed, rte_mempool* pool, Instant start);
  Side side;
  rte_mempool* pool;
  Counters counters;
  FrameQueue out;
  IpLayer ip;
  TcpIpGlue glue;
  TcpStack tcp;
  SoftwareTso nic_tso;               // cuts TSO frames (HostOptions::tso) as a NIC would
  std::unique_ptr<RxCoalescer> gro;  // HostOptions::gro
  std::vector<rte_mbuf*> rx;         // the receive burst being gathered (with gro)
  std::uint32_t addr() const noexcept { return side == Side::kA ? kAddrA : kAddrB; }
};

class TcpSim {
 public:
  TcpSim(const TcpSimOptions& o, const SimPools& pools);
  ~TcpSim();
  TcpSim(const TcpSim&) = delete;
  TcpSim& operator=(const TcpSim&) = delete;

  Instant now() const noexcept { return now_; }
  SimHost& host(Side s) noexcept { return s == Side::kA ? *a_ : *b_; }
  SimHost& a() noexcept { return *a_; }
  SimHost& b() noexcept { return *b_; }
  SimLink& link() noexcept { return link_; }

  // Called once per step after frames and timers, before the queues drain:
  // where the applications act.
  void set_hook(std::function<void(Instant)> hook) { hook_ = std::move(hook); }

  // One step: advance to the next arrival or tick; false (time unchanged)
  // when that would pass `limit`.
  bool step(Instant limit);
  // Steps until done() or `limit`; returns done().
  template <class Done>
  bool run_until(Done&& done, Instant limit) {
    while (!done()) {
      if (!step(limit)) return done();
    }
    return true;
  }

  // A frame as if it had just arrived at `to` from the wire (not traced).
  void inject(Side to, Mbuf frame) noexcept;

  const std::vector<std::string>& trace() const noexcept { return trace_; }
  // The last `lines` trace lines, newline-separated.
  std::string trace_tail(std::size_t lines) const;

 private:
  static void drain_cb(void* ctx, FrameQueue& q);
  void drain(Side from) noexcept;
  void transmit(Side from, Mbuf frame) noexcept;
  void take_rx_burst(SimHost& h) noexcept;
  std::string describe(Side from, const rte_mbuf* m);

  TcpSimOptions o_;
  SimLink link_;
  Instant now_{};
  Instant next_tick_{};
  std::unique_ptr<SimHost> a_, b_;
  std::function<void(Instant)> hook_;
  std::vector<std::string> trace_;
  // Per direction: the first sequence number seen (tcpdump's relative numbering).
  std::uint32_t base_seq_[2] = {0, 0};
  bool have_base_[2] = {false, false};
};

// Formats a duration as seconds with microseconds, e.g. "12.000345".
std::string format_time(Instant t);

}  // namespace tern::sim
