#pragma once
// Per-worker accounting of the packet buffers that queues hold (DESIGN.md
// "Memory and pressure"; docs/architecture.md "Memory model").
//
// A queue is charged what its mbufs really cost, not the payload they carry:
// a 1-byte segment in a 2 KB data room costs the whole mbuf (Linux's
// truesize). Every queue that holds mbufs on behalf of a peer (TCP receive,
// out-of-order and send queues, IPv4 reassembly) charges the worker's one
// MemAccount, and the TCP engine reads its level to decide how much more a
// connection may take. One writer (the worker's lcore), so no atomics.
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "tern/buffer.h"

namespace tern {

// What one mbuf segment costs its holder: its metadata plus its whole data
// room, however little of it is used.
inline std::uint32_t mbuf_seg_truesize(const rte_mbuf* m) noexcept {
  return static_cast<std::uint32_t>(sizeof(rte_mbuf)) + m->buf_len;
}
// The same for every segment of a chain.
inline std::uint32_t mbuf_truesize(const rte_mbuf* m) noexcept {
  std::uint32_t n = 0;
  for (; m != nullptr; m = m->next) n += mbuf_seg_truesize(m);
  return n;
}

// The worker's state, like Linux's tcp_mem: below `pressure` all is well;
// from `pressure` (until charges fall back under `low`) windows are clamped;
// from `high` queues that already hold data take no more.
enum class MemLevel : std::uint8_t { kNormal, kPressure, kHigh };

struct MemLimits {
  static constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t low = kNone;
  std::uint64_t pressure = kNone;
  std::uint64_t high = kNone;
  // The last resort: with fewer free mbufs than this in the worker's pool,
  // the engine aborts the connection holding the most (0 = never).
  std::uint32_t min_free_mbufs = 0;
};

// The limits for a worker whose pool has `mbufs` mbufs of `mbuf_truesize`
// each. A reserve is never lent to queues: the RX ring's descriptors (always
// full of the pool's mbufs), the TX ring, two bursts in flight, what the
// mempool's per-lcore cache can strand (1.5 x its 256) and kControlReserve
// mbufs for ARP, ICMP, handshakes, RSTs and ACKs. Of the rest, queues may
// hold all (high), pressure starts at three quarters and ends under half.
// A pool too small to leave anything gets a token budget of 64 mbufs (the
// configuration check already refused pools that cannot fill the rings).
// The last resort acts when less than the control reserve is free.
struct MemReserve {
  static constexpr std::uint32_t kCacheStranded = 384;
  static constexpr std::uint32_t kControlReserve = 256;
  static constexpr std::uint32_t kMinBudget = 64;
  std::uint32_t rx_ring = 0, tx_ring = 0, burst = 0;
  std::uint32_t mbufs() const noexcept {
    return rx_ring + tx_ring + 2 * burst + kCacheStranded + kControlReserve;
  }
};
inline MemLimits mem_limits_for_pool(std::uint32_t mbufs, std::uint32_t mbuf_truesize,
                                     const MemReserve& r) noexcept {
  const std::uint32_t reserve = r.mbufs();
  const std::uint32_t budget =
      mbufs > reserve + MemReserve::kMinBudget ? mbufs - reserve : MemReserve::kMinBudget;
  const std::uint64_t high = std::uint64_t{budget} * mbuf_truesize;
  return MemLimits{.low = high / 2,
                   .pressure = high * 3 / 4,
                   .high = high,
                   .min_free_mbufs = std::min(MemReserve::kControlReserve, mbufs / 16)};
}

// The per-worker account: BufferAccount's charge, plus the levels.
class MemAccount : public BufferAccount {
 public:
  void set_limits(const MemLimits& l) noexcept {
    limits_ = l;
    normal_below_ = in_pressure_ ? 0 : l.pressure;
  }
  const MemLimits& limits() const noexcept { return limits_; }

  // The level now. Entering pressure is sticky until charges fall under
  // `low` (hysteresis, as tcp_mem), so a queue hovering at the threshold does
  // not flip windows open and shut on every segment. `entered_pressure`
  // counts the entries (Linux's TCPMemoryPressures).
  MemLevel level() noexcept {
    // The engine asks for every segment: the usual answer costs one
    // comparison (limits are ordered low <= pressure <= high).
    if (charged_ < normal_below_) return MemLevel::kNormal;
    return level_slow();
  }

  std::uint64_t entered_pressure() const noexcept { return entered_pressure_; }

  // level()'s quick answer without its bookkeeping: true only where level()
  // would say kNormal at once. For callers that must not move the level's
  // state (the pressure entries it counts) by asking more often than the
  // queues do: the header stash's keep-or-flush test (TcpStack).
  bool surely_normal() const noexcept { return charged_ < normal_below_; }

 private:
  MemLevel level_slow() noexcept {
    if (charged_ >= limits_.pressure) {
      if (!in_pressure_) ++entered_pressure_;
      in_pressure_ = true;
    } else if (charged_ < limits_.low) {
      in_pressure_ = false;
    }
    normal_below_ = in_pressure_ ? 0 : limits_.pressure;
    if (charged_ >= limits_.high) return MemLevel::kHigh;
    return in_pressure_ ? MemLevel::kPressure : MemLevel::kNormal;
  }

  MemLimits limits_;
  // level() answers kNormal below this without looking further: `pressure`
  // while out of pressure, 0 (never) while in it.
  std::uint64_t normal_below_ = MemLimits::kNone;
  std::uint64_t entered_pressure_ = 0;
  bool in_pressure_ = false;
};

}  // namespace tern
