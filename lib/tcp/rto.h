#pragma once
// Retransmission timeout estimator, RFC 6298. I/O-free and clock-free: the
// caller measures RTT samples (from its own send times or from RFC 7323
// timestamps), feeds them in, and arms its retransmission timer with rto().
//
// Arithmetic is integer, in nanoseconds, with SRTT kept scaled by 8 and
// RTTVAR by 4 (the scaling RFC 6298 §2 footnote and BSD's t_srtt/t_rttvar
// use), so alpha = 1/8 and beta = 1/4 become shifts-by-division of exact
// integers. Truncation loses less than 1 ns per sample and the error decays
// geometrically, so the estimate tracks the real-valued formulas to a few
// nanoseconds, far below the 1 ms clock granularity G.
//
// Karn's algorithm (RFC 6298 §3) is the caller's side of the contract: call
// sample_allowed() before on_rtt_sample(). A backed-off RTO is kept until a
// valid sample arrives (RFC 6298 §5 "Note", Karn & Partridge), so there is no
// separate "new ACK after backoff" hook: an ACK that yields no valid sample
// leaves the backoff in place, and the next valid sample clears it.
#include <cstdint>

#include "base/instant.h"

namespace tern {

struct RtoConfig {
  Duration initial = Duration::s(1);       // RFC 6298 §2.1 (was 3 s in RFC 2988)
  Duration min = Duration::ms(200);        // Linux TCP_RTO_MIN; RFC 6298 §2.4 says 1 s (SHOULD)
  Duration max = Duration::s(120);         // Linux TCP_RTO_MAX; RFC 6298 §2.5 allows >= 60 s
  std::uint32_t k = 4;                     // RFC 6298 §2: K = 4
  Duration granularity = Duration::ms(1);  // G, the timer's tick (RFC 6298 §2, §4)

  // 0 <= granularity, 0 < min <= max, 0 < initial. Config loaders check this
  // at start-up; the estimator asserts it.
  bool valid() const noexcept;
};

class RtoEstimator {
 public:
  // RFC 6298 §5.7: the RTO used once data transmission begins after a
  // retransmitted SYN.
  static constexpr Duration kSynLossRto = Duration::s(3);
  // Samples are clamped to [0, kMaxSample] so the scaled state cannot overflow.
  static constexpr Duration kMaxSample = Duration::s(3600);

  explicit RtoEstimator(const RtoConfig& cfg) noexcept;

  // Karn's algorithm, RFC 6298 §3: no sample from a retransmitted segment,
  // whose ACK is ambiguous, unless an RFC 7323 §4 timestamp echo says which
  // transmission it acknowledges.
  static constexpr bool sample_allowed(bool segment_was_retransmitted, bool from_timestamp) noexcept {
    return from_timestamp || !segment_was_retransmitted;
  }

  // RFC 6298 §2.2 (first sample) / §2.3 (later ones), then §2.4/§2.5 clamps
  // in rto(). A valid sample also ends any backoff (Karn; §5.7's 3 s floor too).
  void on_rtt_sample(Duration r) noexcept;

  // RFC 6298 §2.1 before the first sample, else SRTT + max(G, K*RTTVAR);
  // clamped to [min, max] (§2.4, §2.5), then doubled per backoff and capped
  // at max (§5.5). Kept computed (every ACK that restarts the timer reads
  // it, several times per segment sent; it changes only on a sample, a
  // timeout or the §5.7 floor).
  Duration rto() const noexcept { return Duration::ns(rto_ns_); }

  // RFC 6298 §5.5: the retransmission timer expired; back off.
  void on_timeout() noexcept;

  // RFC 6298 §5.7: call when the handshake completes if the SYN (or SYN-ACK)
  // had to be retransmitted. The RTO becomes at least 3 s (capped at max),
  // with the SYN's backoff cleared, until the next valid sample.
  void on_syn_retransmitted_established() noexcept;

  // Consecutive timeouts since the last valid sample (saturating). The caller
  // compares this with tcp_retries2-style limits.
  std::uint32_t backoffs() const noexcept { return backoffs_; }
  bool has_sample() const noexcept { return has_sample_; }
  // Zero until the first sample.
  Duration srtt() const noexcept { return Duration::ns(div8(srtt8_)); }
  Duration rttvar() const noexcept { return Duration::ns(div4(rttvar4_)); }
  // The smallest sample so far (over the connection's life, where Linux
  // keeps a 5-minute window); zero until the first sample.
  Duration min_rtt() const noexcept { return Duration::us(min_rtt_us_); }

 private:
  // x / 8 and x / 4 for x >= 0 (the scaled state and K * RTTVAR never go
  // below zero: on_rtt_sample): shifts, the quotient C++'s division gives.
  static constexpr std::int64_t div8(std::int64_t x) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(x) >> 3);
  }
  static constexpr std::int64_t div4(std::int64_t x) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(x) >> 2);
  }
  std::int64_t base_rto_ns() const noexcept;     // before backoff
  std::int64_t sampled_rto_ns() const noexcept;  // SRTT + max(G, K*RTTVAR), before the floor and clamp
  void recompute() noexcept;                     // rto_ns_ from the state below

  std::int64_t initial_ns_;
  std::int64_t min_ns_;
  std::int64_t max_ns_;
  std::int64_t granularity_ns_;
  std::int64_t srtt8_ = 0;     // 8 * SRTT, ns
  std::int64_t rttvar4_ = 0;   // 4 * RTTVAR, ns
  std::int64_t floor_ns_ = 0;  // RFC 6298 §5.7 floor, 0 when not in force
  std::int64_t rto_ns_ = 0;    // rto(), backoff included
  std::uint32_t k_;
  std::uint32_t backoffs_ = 0;
  std::uint32_t min_rtt_us_ = 0;
  bool has_sample_ = false;
};

}  // namespace tern
