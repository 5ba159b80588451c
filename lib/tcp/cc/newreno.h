#pragma once
// NewReno: RFC 5681 slow start, congestion avoidance, fast retransmit and
// fast recovery, with RFC 6582 partial-ACK handling and RFC 3465
// appropriate byte counting. Byte-based: cwnd and ssthresh are in bytes.
// RFC 3042 limited transmit: each duplicate ACK below the threshold asks
// for one new segment beyond cwnd (kSendNew), so a loss in a small window
// still draws the duplicates fast retransmit needs instead of a timeout.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

#include "tcp/cc/congestion.h"

namespace tern {

struct NewRenoConfig {
  std::uint32_t mss = 1460;     // SMSS, bytes
  std::uint32_t dupthresh = 3;  // RFC 5681 §3.2; raise it on reordering paths
  std::uint32_t abc_limit = 2;  // RFC 3465 §2.2 L, in SMSS; L = 2 is the RFC's upper bound
};

class NewReno {
 public:
  // cwnd never grows beyond the largest window TCP can advertise (RFC 7323 §2.3).
  static constexpr std::uint32_t kMaxCwnd = 1u << 30;
  // RFC 5681 §3.1: "initial value of ssthresh SHOULD be set arbitrarily high".
  static constexpr std::uint32_t kInitialSsthresh = std::numeric_limits<std::uint32_t>::max();

  explicit NewReno(const NewRenoConfig& cfg = {}) noexcept;

  // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)).
  static constexpr std::uint32_t initial_window(std::uint32_t mss) noexcept {
    const std::uint32_t floor = 2 * mss > 14600 ? 2 * mss : 14600;
    return 10 * mss < floor ? 10 * mss : floor;
  }

  CcAction on_ack(const AckSample& a) noexcept;
  CcAction on_dup_ack(const AckSample& a) noexcept;
  void on_limited_transmit(std::uint32_t bytes) noexcept { lt_bytes_ += bytes; }
  void on_rto(Seq32 snd_una, Seq32 snd_max) noexcept;
  bool on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept;

  // SACK loss recovery (RFC 6675 §5, with PRR, RFC 6937) is driven by the
  // engine (tcp_sack.cc), which decides what to send; the controller only
  // sets ssthresh on entry, lets PRR set cwnd on every ACK, and stops
  // growing until the engine ends recovery. flight_size: SND.MAX - SND.UNA;
  // the bytes on_limited_transmit reported since the last new ACK are left
  // out of it (RFC 6675 §5 (4.2)).
  void enter_sack_recovery(std::uint32_t flight_size, Seq32 snd_max) noexcept;
  void set_recovery_cwnd(std::uint32_t cwnd) noexcept { cwnd_ = std::max(cwnd, mss_); }
  void exit_sack_recovery() noexcept;

  std::uint32_t cwnd() const noexcept { return cwnd_; }
  std::uint32_t ssthresh() const noexcept { return ssthresh_; }
  // RFC 5681 §3.1: slow start while cwnd < ssthresh (at equality either may be used).
  bool in_slow_start() const noexcept { return cwnd_ < ssthresh_; }
  bool in_recovery() const noexcept { return in_recovery_; }
  std::uint32_t dup_acks() const noexcept { return dup_acks_; }
  std::string_view name() const noexcept { return "newreno"; }

 private:
  void grow(std::uint32_t acked) noexcept;
  void note_sack(const AckSample& a) noexcept;
  CcAction on_recovery_ack(const AckSample& a) noexcept;
  std::uint32_t loss_ssthresh(std::uint32_t flight) const noexcept;

  std::uint32_t mss_;
  std::uint32_t dupthresh_;
  std::uint32_t abc_limit_bytes_;
  std::uint32_t iw_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = kInitialSsthresh;
  std::uint32_t bytes_acked_ = 0;  // RFC 3465 §2.1 counter for congestion avoidance
  std::uint32_t dup_acks_ = 0;
  // Bytes sent by limited transmit since SND.UNA last moved: RFC 5681 §3.2
  // step 2 leaves them out of the FlightSize that sets ssthresh.
  std::uint32_t lt_bytes_ = 0;
  // RFC 6582 §3.2 "recover", kept one past the highest sequence number sent
  // (SND.MAX) when recovery or an RTO began. Valid only until SND.UNA passes
  // it, so a long connection never compares numbers 2^31 apart.
  Seq32 recover_;
  bool recover_valid_ = false;
  bool in_recovery_ = false;
  bool rto_since_ack_ = false;  // an RTO fired and no new data was acknowledged since
  // SACK (RFC 2018): the highest right edge any ACK reported, while above SND.UNA.
  Seq32 sack_high_;
  bool sack_high_valid_ = false;
  // After an RTO, until SND.UNA passes "recover": what the receiver was known
  // to hold when the timer fired (its highest SACK edge, else SND.UNA), and
  // the cumulative ACK whose hole was last retransmitted on SACK evidence.
  bool rto_recovery_ = false;
  Seq32 rto_mark_;
  Seq32 rto_rexmit_ack_;
  bool rto_rexmit_valid_ = false;
};

static_assert(CongestionControl<NewReno>);

}  // namespace tern
