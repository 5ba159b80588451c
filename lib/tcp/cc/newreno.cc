#include "tcp/cc/newreno.h"

#include <algorithm>

namespace tern {

NewReno::NewReno(const NewRenoConfig& cfg) noexcept
    : mss_(std::max<std::uint32_t>(cfg.mss, 1)),
      dupthresh_(std::max<std::uint32_t>(cfg.dupthresh, 1)),
      abc_limit_bytes_(std::max<std::uint32_t>(cfg.abc_limit, 1) * mss_),
      iw_(initial_window(mss_)),
      cwnd_(iw_) {}

// RFC 5681 eq. 4 (and §3.2 step 2): ssthresh = max(FlightSize / 2, 2*SMSS).
std::uint32_t NewReno::loss_ssthresh(std::uint32_t flight) const noexcept {
  return std::max(flight / 2, 2 * mss_);
}

void NewReno::grow(std::uint32_t acked) noexcept {
  if (in_slow_start()) {
    // RFC 3465 §2.2: cwnd += min(N, L*SMSS). Counting bytes, not ACKs, means
    // a receiver splitting its ACKs (ACK division) gains nothing; L bounds
    // the burst after a stretch ACK. Stopping at ssthresh (RFC 5681 §3.1
    // allows either algorithm at equality) keeps slow start from overshooting
    // the point where loss was last seen.
    cwnd_ = std::min({kMaxCwnd, ssthresh_, cwnd_ + std::min(acked, abc_limit_bytes_)});
    return;
  }
  // RFC 3465 §2.1 / RFC 5681 §3.1 eq. 3: one SMSS per cwnd of acknowledged bytes.
  bytes_acked_ += acked;
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    cwnd_ = std::min(kMaxCwnd, cwnd_ + mss_);
  }
}

void NewReno::note_sack(const AckSample& a) noexcept {
  if (sack_high_valid_ && seq_leq(sack_high_, a.ack)) sack_high_valid_ = false;
  if (a.sacked && (!sack_high_valid_ || seq_gt(a.sack_high, sack_high_))) {
    sack_high_ = a.sack_high;
    sack_high_valid_ = true;
  }
}

CcAction NewReno::on_ack(const AckSample& a) noexcept {
  dup_acks_ = 0;
  lt_bytes_ = 0;
  rto_since_ack_ = false;
  note_sack(a);
  if (in_recovery_) return on_recovery_ack(a);
  // Once SND.UNA is past "recover", RFC 6582 §3.2 step 1's test always
  // passes; forget it so the modular comparison cannot wrap later.
  if (recover_valid_ && seq_gt(a.ack, recover_)) {
    recover_valid_ = false;
    rto_recovery_ = false;
    rto_rexmit_valid_ = false;
  }
  grow(a.acked);
  return CcAction::kNone;
}

CcAction NewReno::on_recovery_ack(const AckSample& a) noexcept {
  if (seq_geq(a.ack, recover_)) {
    // RFC 6582 §3.2 step 3, full acknowledgment, option (1):
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). Avoids a burst
    // when little is outstanding; option (2), cwnd = ssthresh, would not.
    cwnd_ = std::min(ssthresh_, std::max(a.flight_size(), mss_) + mss_);
    in_recovery_ = false;
    bytes_acked_ = 0;
    return CcAction::kNone;
  }
  // RFC 6582 §3.2 step 3, partial acknowledgment: retransmit the first
  // unacknowledged segment, deflate cwnd by the amount acknowledged, add back
  // one SMSS if that was at least SMSS, and stay in fast recovery.
  cwnd_ = cwnd_ > a.acked ? cwnd_ - a.acked : 0;
  if (a.acked >= mss_) cwnd_ += mss_;
  cwnd_ = std::max(cwnd_, mss_);
  return CcAction::kRetransmit;
}

CcAction NewReno::on_dup_ack(const AckSample& a) noexcept {
  // Evidence is judged against what was known before this ACK.
  const bool sack_beyond_mark = rto_recovery_ && a.sacked && seq_gt(a.sack_high, rto_mark_);
  note_sack(a);
  if (in_recovery_) {
    // RFC 5681 §3.2 step 4 / RFC 6582 §3.2 step 2: each further duplicate
    // means a segment left the network; inflate so new data can go out.
    cwnd_ = std::min(kMaxCwnd, cwnd_ + mss_);
    return CcAction::kNone;
  }
  ++dup_acks_;
  // RFC 3042 §2: on each of the first two duplicate ACKs (here: each below
  // dupthresh, so a raised threshold still keeps the ACK clock going, as
  // RFC 4653's extended limited transmit does) send one new segment, cwnd
  // unchanged. Outstanding data stays within cwnd + (dupthresh-1)*SMSS.
  if (dup_acks_ < dupthresh_) return CcAction::kSendNew;
  // RFC 6582 §3.2 step 1: enter fast retransmit only if the cumulative ACK
  // covers more than "recover"; otherwise these duplicates belong to a loss
  // event already answered (same window, or retransmissions after an RTO),
  // and ssthresh must not be halved twice. Without SACK a sender cannot
  // tell those from duplicates caused by a loss of data sent after
  // "recover" (RFC 6582 §4). With SACK it can: a block reaching past
  // "recover" shows the receiver holds data sent after the last reduction
  // began while the data at SEG.ACK is missing, a new loss (Linux likewise
  // holds the old state after recovery only for peers without SACK). So a
  // duplicate with that evidence enters, even past the dupthresh-th: else
  // losing the first segment sent after "recover" always cost an RTO.
  const bool sack_beyond_recover = recover_valid_ && a.sacked && seq_gt(a.sack_high, recover_);
  if ((recover_valid_ && seq_leq(a.ack, recover_) && !sack_beyond_recover) ||
      (dup_acks_ > dupthresh_ && !sack_beyond_recover)) {
    // After an RTO the sender goes back to SND.UNA and resends in order
    // (RFC 5681 §3.1); a resent segment that is lost again leaves the
    // duplicates of what follows it below "recover", and each such loss
    // cost another RTO. A duplicate whose SACK blocks reach past what the
    // receiver was known to hold when the timer fired reports data it never
    // had before the timeout, sent after the retransmission of the hole at
    // SEG.ACK: that retransmission is lost. Resend it once per hole, cwnd
    // and ssthresh untouched: the RTO already answered this loss event
    // (RFC 5681 §3.1, RFC 6582 §3.2 step 4), and RFC 6675 §5.1 has the
    // sender use SACK information to choose what to resend after an RTO.
    if (sack_beyond_mark && dup_acks_ >= dupthresh_ && !(rto_rexmit_valid_ && rto_rexmit_ack_ == a.ack)) {
      rto_rexmit_ack_ = a.ack;
      rto_rexmit_valid_ = true;
      return CcAction::kRetransmit;
    }
    return CcAction::kNone;
  }
  rto_recovery_ = false;
  rto_rexmit_valid_ = false;
  recover_ = a.snd_max;
  recover_valid_ = true;
  in_recovery_ = true;
  // RFC 5681 §3.2 steps 2-3: ssthresh = max(FlightSize/2, 2*SMSS),
  // cwnd = ssthresh + 3*SMSS (here dupthresh*SMSS: the segments that left).
  // "When [RFC3042] is in use, additional data sent in limited transmit MUST
  // NOT be included in this calculation."
  const std::uint32_t flight = a.flight_size();
  ssthresh_ = loss_ssthresh(flight > lt_bytes_ ? flight - lt_bytes_ : 0);
  cwnd_ = std::min(kMaxCwnd, ssthresh_ + dupthresh_ * mss_);
  bytes_acked_ = 0;
  return CcAction::kRetransmit;
}

void NewReno::enter_sack_recovery(std::uint32_t flight_size, Seq32 snd_max) noexcept {
  // RFC 6675 §5 (4.2): ssthresh = FlightSize / 2 (RFC 5681 eq. 4's floor of
  // 2 * SMSS kept); cwnd is PRR's from here on (RFC 6937 §3). "[RFC5681]
  // requires that any segments sent as part of the Limited Transmit
  // mechanism not be counted in FlightSize for the purpose of the above
  // equation", as in on_dup_ack.
  ssthresh_ = loss_ssthresh(flight_size > lt_bytes_ ? flight_size - lt_bytes_ : 0);
  in_recovery_ = true;
  recover_ = snd_max;
  recover_valid_ = true;
  rto_recovery_ = false;
  rto_rexmit_valid_ = false;
  dup_acks_ = 0;
  lt_bytes_ = 0;
  bytes_acked_ = 0;
}

void NewReno::exit_sack_recovery() noexcept {
  // RFC 6937 §3: at the end of recovery, cwnd = ssthresh.
  cwnd_ = std::max(ssthresh_, mss_);
  in_recovery_ = false;
  bytes_acked_ = 0;
}

void NewReno::on_rto(Seq32 snd_una, Seq32 snd_max) noexcept {
  // RFC 5681 §3.1 eq. 4, but "when a TCP sender detects segment loss using
  // the retransmission timer and the given segment has already been
  // retransmitted by way of the retransmission timer at least once, the
  // value of ssthresh is held constant".
  if (!rto_since_ack_) {
    const std::int32_t flight = snd_max - snd_una;
    ssthresh_ = loss_ssthresh(flight > 0 ? static_cast<std::uint32_t>(flight) : 0);
  }
  rto_since_ack_ = true;
  cwnd_ = mss_;      // RFC 5681 §3.1: loss window LW = 1 full-sized segment
  bytes_acked_ = 0;  // RFC 3465 §2.1
  dup_acks_ = 0;
  lt_bytes_ = 0;
  in_recovery_ = false;
  rto_recovery_ = true;
  rto_mark_ = sack_high_valid_ && seq_gt(sack_high_, snd_una) ? sack_high_ : snd_una;
  rto_rexmit_valid_ = false;
  // RFC 6582 §3.2 step 4 (after a retransmit timeout): record the highest
  // sequence number sent in "recover".
  recover_ = snd_max;
  recover_valid_ = true;
}

bool NewReno::on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept {
  // RFC 5681 §4.1: before sending after an idle period longer than the RTO,
  // cwnd = RW = min(IW, cwnd).
  if (now - last_send <= rto) return false;
  cwnd_ = std::min(iw_, cwnd_);
  bytes_acked_ = 0;
  return true;
}

}  // namespace tern
