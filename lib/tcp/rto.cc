#include "tcp/rto.h"

#include <algorithm>
#include <limits>

#include "base/check.h"

namespace tern {

bool RtoConfig::valid() const noexcept {
  return granularity >= Duration{} && min > Duration{} && min <= max && initial > Duration{};
}

RtoEstimator::RtoEstimator(const RtoConfig& cfg) noexcept
    : initial_ns_(cfg.initial.count_ns()),
      min_ns_(cfg.min.count_ns()),
      max_ns_(cfg.max.count_ns()),
      granularity_ns_(cfg.granularity.count_ns()),
      k_(cfg.k) {
  TERN_CHECK(cfg.valid());
  // Keep a release build with a bad config sane: a non-empty [min, max].
  min_ns_ = std::max<std::int64_t>(min_ns_, 1);
  max_ns_ = std::max(max_ns_, min_ns_);
  granularity_ns_ = std::max<std::int64_t>(granularity_ns_, 0);
  if (initial_ns_ <= 0) initial_ns_ = min_ns_;
  recompute();
}

// RFC 6298 §2.2/§2.3: RTO <- SRTT + max(G, K*RTTVAR), never negative (SRTT,
// RTTVAR and G are not). K*RTTVAR saturates at max, which the result is
// clamped to anyway. (Runs on every ACK that samples: an overflow check, not
// a division by K.) Inline into on_rtt_sample, which runs on every ACK that
// samples (a call there cost its prologue and epilogue).
[[gnu::always_inline]] inline std::int64_t RtoEstimator::sampled_rto_ns() const noexcept {
  std::int64_t k_rttvar4 = 0;
  const std::int64_t var =
      __builtin_mul_overflow(static_cast<std::int64_t>(k_), rttvar4_, &k_rttvar4) || div4(k_rttvar4) > max_ns_
          ? max_ns_
          : div4(k_rttvar4);
  return div8(srtt8_) + std::max(granularity_ns_, var);
}

std::int64_t RtoEstimator::base_rto_ns() const noexcept {
  std::int64_t rto = has_sample_ ? sampled_rto_ns() : initial_ns_;  // RFC 6298 §2.1
  rto = std::max(rto, floor_ns_);
  // RFC 6298 §2.4 (minimum), §2.5 (maximum).
  return std::clamp(rto, min_ns_, max_ns_);
}

void RtoEstimator::on_rtt_sample(Duration r) noexcept {
  const std::int64_t rn = std::clamp(r.count_ns(), std::int64_t{0}, kMaxSample.count_ns());
  // The lifetime minimum in microseconds, divided only when it falls:
  // rn / 1000 < m exactly when rn < 1000 * m (rn >= 0), and most samples
  // are no new minimum.
  if (!has_sample_ || rn < std::int64_t{min_rtt_us_} * 1000) [[unlikely]]
    min_rtt_us_ = static_cast<std::uint32_t>(std::min<std::int64_t>(rn / 1000, UINT32_MAX));
  if (!has_sample_) [[unlikely]] {
    // RFC 6298 §2.2: SRTT <- R, RTTVAR <- R/2.
    srtt8_ = rn * 8;
    rttvar4_ = rn * 2;
    has_sample_ = true;
  } else {
    // RFC 6298 §2.3, RTTVAR first, with the old SRTT:
    //   RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|
    //   SRTT   <- (1 - 1/8) * SRTT   + 1/8 * R'
    // Scaled: 4*RTTVAR' = 4*RTTVAR - RTTVAR + |SRTT - R'|, 8*SRTT' = 8*SRTT - SRTT + R'.
    // Every term is non-negative (R' >= 0, and each update keeps at least
    // 3/4 resp. 7/8 of a non-negative value), so the divisions are shifts
    // (div8, div4): the same quotients as C++'s signed division, without
    // its rounding-toward-zero fix-up, on every ACK that samples.
    std::int64_t err8 = rn * 8 - srtt8_;  // 8 * (R' - SRTT)
    if (err8 < 0) err8 = -err8;
    rttvar4_ += div8(err8) - div4(rttvar4_);
    srtt8_ += rn - div8(srtt8_);
  }
  // Karn & Partridge: a valid sample ends the backoff; RFC 6298 §5.7's 3 s
  // applies only until then.
  backoffs_ = 0;
  floor_ns_ = 0;
  // recompute() with no backoff: base_rto_ns() with a sample, without the
  // floor's max (the floor is 0 and min_ns_ at least 1: the clamp decides).
  rto_ns_ = std::clamp(sampled_rto_ns(), min_ns_, max_ns_);
}

void RtoEstimator::recompute() noexcept {
  std::int64_t rto = base_rto_ns();
  // RFC 6298 §5.5: double per expiry; §2.5: a maximum may be placed on it.
  for (std::uint32_t i = 0; i < backoffs_ && rto < max_ns_; ++i) rto = rto > max_ns_ / 2 ? max_ns_ : rto * 2;
  rto_ns_ = rto;
}

void RtoEstimator::on_timeout() noexcept {
  if (backoffs_ != std::numeric_limits<std::uint32_t>::max()) ++backoffs_;
  recompute();
}

void RtoEstimator::on_syn_retransmitted_established() noexcept {
  // RFC 6298 §5.7: "the RTO MUST be re-initialized to 3 seconds when data
  // transmission begins". Like Linux (TCP_TIMEOUT_FALLBACK), the SYN's
  // backoff does not carry over into the data phase.
  floor_ns_ = kSynLossRto.count_ns();
  backoffs_ = 0;
  recompute();
}

}  // namespace tern
