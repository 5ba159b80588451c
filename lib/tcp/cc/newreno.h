#pragma once
// NewReno: RFC 5681 slow start, congestion avoidance, fast retransmit and
// fast recovery, with RFC 6582 partial-ACK handling and RFC 3465
// appropriate byte counting. Byte-based: cwnd and ssthresh are in bytes.
// RFC 3042 limited transmit: each duplicate ACK below the threshold asks
// for one new segment beyond cwnd (kSendNew), so a loss in a small window
// still draws the duplicates fast retransmit needs instead of a timeout.
//
// The recovery half is RenoRecovery (reno_recovery.h), shared with CUBIC;
// this file holds the growth half: RFC 5681 AIMD with RFC 3465 counting.
#include <cstdint>
#include <string_view>

#include "tcp/cc/congestion.h"
#include "tcp/cc/reno_recovery.h"

namespace tern {

class RenoGrowth {
 public:
  struct Config {};
  static constexpr std::string_view kName = "newreno";
  static constexpr bool kReducesFromCwnd = false;  // RFC 6675 §5 (4.2): FlightSize / 2

  RenoGrowth(std::uint32_t mss, std::uint32_t abc_limit_bytes, const Config& = {}) noexcept
      : mss_(mss), abc_limit_bytes_(abc_limit_bytes) {}

  void on_ack(const AckSample& a, CcWindow& w) noexcept;
  std::uint32_t on_congestion(std::uint32_t flight, const CcWindow& w) noexcept;
  void on_recovery_exit() noexcept { bytes_acked_ = 0; }
  std::uint32_t on_rto(std::uint32_t flight, bool first, const CcWindow& w) noexcept;
  void on_idle(Instant now, Instant last_send, bool restarted, const CcWindow& w) noexcept;
  // Nothing to keep: AIMD has no state beyond the window (RFC 3465's
  // counter restarts).
  void save_prior() noexcept {}
  void undo_prior(bool) noexcept { bytes_acked_ = 0; }

 private:
  std::uint32_t loss_ssthresh(std::uint32_t flight) const noexcept;

  std::uint32_t mss_;
  std::uint32_t abc_limit_bytes_;
  std::uint32_t bytes_acked_ = 0;  // RFC 3465 §2.1 counter for congestion avoidance
};

using NewReno = RenoRecovery<RenoGrowth>;
extern template class RenoRecovery<RenoGrowth>;  // newreno.cc

static_assert(CongestionControl<NewReno>);

}  // namespace tern
