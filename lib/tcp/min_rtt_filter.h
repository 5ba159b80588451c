#pragma once
// RACK.min_RTT (RFC 8985 §6.2 step 2, tcp_rack.cc) as a windowed minimum:
// the least RTT sampled over the last few minutes, not over the
// connection's life. A path whose RTT rises (a route change, a standing
// queue) would otherwise keep its old minimum for good, and with it a
// reordering window (min_RTT / 4 per step) that is too small and a
// retransmission check (a resend delivered sooner than min_RTT after it
// left is the original's) that no longer recognises an original's ACK.
// Linux keeps a windowed min filter for the same (tcp_min_rtt_wlen,
// 300 s; lib/minmax.c's three-sample filter).
//
// Cheaper than Linux's: two half-windows, each's minimum, and when the
// current one began (16 bytes, no heap). A sample starts a new half once
// kWindow / 2 has passed since the current one began, and the current one
// becomes the previous one (forgotten instead if kWindow had passed, so a
// connection quiet for longer keeps nothing). The minimum is that of both
// halves: while samples flow it covers at least the last kWindow / 2 and
// nothing older than kWindow; an old minimum is gone within kWindow of the
// last sample that set it, once a later sample turns the halves.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "base/instant.h"

namespace tern {

class MinRttFilter {
 public:
  static constexpr Duration kWindow = Duration::s(300);  // Linux's tcp_min_rtt_wlen

  // The minimum in microseconds; 0 while there is no sample.
  std::uint32_t us() const noexcept {
    const std::uint32_t m = std::min(prev_, cur_);
    return m == kNone ? 0 : m;
  }
  // A sample of `rtt_us` microseconds (at least 1) taken at `now`.
  void update(std::uint32_t rtt_us, Instant now) noexcept {
    const Duration age = now - start_;
    if (age >= kWindow / 2 || cur_ == kNone) [[unlikely]] {  // cur_ is kNone only before the first sample
      prev_ = age < kWindow ? cur_ : kNone;
      cur_ = kNone;
      start_ = now;
    }
    cur_ = std::min(cur_, std::max(rtt_us, 1u));
  }

 private:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t prev_ = kNone;  // the previous half's minimum
  std::uint32_t cur_ = kNone;   // the current half's minimum
  Instant start_;               // when the current half began
};

}  // namespace tern
