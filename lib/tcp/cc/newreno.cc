#include "tcp/cc/newreno.h"

#include <algorithm>

namespace tern {

template class RenoRecovery<RenoGrowth>;

// RFC 5681 eq. 4 (and §3.2 step 2): ssthresh = max(FlightSize / 2, 2*SMSS).
std::uint32_t RenoGrowth::loss_ssthresh(std::uint32_t flight) const noexcept {
  return std::max(flight / 2, 2 * mss_);
}

void RenoGrowth::on_ack(const AckSample& a, CcWindow& w) noexcept {
  if (w.in_slow_start()) {
    // RFC 3465 §2.2: cwnd += min(N, L*SMSS). Counting bytes, not ACKs, means
    // a receiver splitting its ACKs (ACK division) gains nothing; L bounds
    // the burst after a stretch ACK.
    cc_slow_start(w, std::min(a.acked, abc_limit_bytes_));
    return;
  }
  // RFC 3465 §2.1 / RFC 5681 §3.1 eq. 3: one SMSS per cwnd of acknowledged bytes.
  bytes_acked_ += a.acked;
  if (bytes_acked_ >= w.cwnd) {
    bytes_acked_ -= w.cwnd;
    w.cwnd = std::min(kCcMaxCwnd, w.cwnd + mss_);
  }
}

std::uint32_t RenoGrowth::on_congestion(std::uint32_t flight, const CcWindow&) noexcept {
  bytes_acked_ = 0;
  return loss_ssthresh(flight);
}

std::uint32_t RenoGrowth::on_rto(std::uint32_t flight, bool first, const CcWindow& w) noexcept {
  bytes_acked_ = 0;  // RFC 3465 §2.1
  return first ? loss_ssthresh(flight) : w.ssthresh;
}

void RenoGrowth::on_idle(Instant, Instant, bool restarted, const CcWindow&) noexcept {
  if (restarted) bytes_acked_ = 0;
}

}  // namespace tern
