#pragma once
// The loss-recovery core every window-based controller here shares, for
// connections without SACK-based recovery: RFC 5681 duplicate-ACK counting,
// fast retransmit and fast recovery, RFC 6582 "recover" and partial ACKs,
// RFC 3042 limited transmit, and the SACK-evidence refinements documented
// in on_dup_ack. What differs between controllers is only how the window
// grows outside recovery and how far it falls on a congestion event: that is
// the Growth policy, a template parameter, so each controller is one class
// with direct calls and no virtual dispatch (congestion.h).
//
//   using NewReno = RenoRecovery<RenoGrowth>;   // newreno.h: RFC 5681 AIMD
//   using Cubic   = RenoRecovery<CubicGrowth>;  // cubic.h: RFC 9438, RFC 9406
//
// The member definitions are below; newreno.cc and cubic.cc instantiate
// them once (newreno.h / cubic.h declare `extern template`).
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string_view>

#include "tcp/cc/congestion.h"

namespace tern {

// Settings of the recovery core (the name predates CUBIC; both use it).
struct NewRenoConfig {
  std::uint32_t mss = 1460;     // SMSS, bytes
  std::uint32_t dupthresh = 3;  // RFC 5681 §3.2; raise it on reordering paths
  std::uint32_t abc_limit = 2;  // RFC 3465 §2.2 L, in SMSS; L = 2 is the RFC's upper bound
  std::uint32_t seed = 0;       // per connection, for randomised choices (BBR's PROBE_BW phase)
};

// cwnd never grows beyond the largest window TCP can advertise (RFC 7323 §2.3).
inline constexpr std::uint32_t kCcMaxCwnd = 1u << 30;
// RFC 5681 §3.1: "initial value of ssthresh SHOULD be set arbitrarily high".
inline constexpr std::uint32_t kCcInitialSsthresh = std::numeric_limits<std::uint32_t>::max();

// The part of the state a growth policy may change, in bytes.
struct CcWindow {
  std::uint32_t cwnd;
  std::uint32_t ssthresh;
  // RFC 5681 §3.1: slow start while cwnd < ssthresh (at equality either may be used).
  constexpr bool in_slow_start() const noexcept { return cwnd < ssthresh; }
};

// RFC 3465 §2.2 slow start step: cwnd += min(N, L*SMSS), here `inc`.
// Stopping at ssthresh (RFC 5681 §3.1 allows either algorithm at equality)
// keeps slow start from overshooting the point where loss was last seen.
constexpr void cc_slow_start(CcWindow& w, std::uint32_t inc) noexcept {
  w.cwnd = std::min({kCcMaxCwnd, w.ssthresh, w.cwnd + inc});
}

// A growth policy. The core calls it only outside fast recovery for ACKs,
// and on each event that sets ssthresh:
//   on_ack(a, w)            an ACK advanced SND.UNA outside recovery: slow
//                           start or congestion avoidance.
//   on_congestion(flight,w) fast retransmit begins; `flight` is RFC 5681
//                           FlightSize less limited-transmit bytes, `w` the
//                           window before the reduction. Returns ssthresh
//                           (the core then inflates cwnd, RFC 5681 §3.2;
//                           in SACK recovery PRR sets cwnd instead).
//   on_recovery_exit()      a full ACK ended fast recovery, or the engine
//                           ended SACK recovery (cwnd already set).
//   on_rto(flight, first,w) the retransmission timer fired; `first` is false
//                           for a backed-off repeat. Returns ssthresh.
//   on_idle(now, last_send, restarted, w)  the engine resumes sending with
//                           nothing in flight; `restarted` when the core
//                           restarted cwnd (idle longer than one RTO).
//   save_prior()            a congestion response is about to begin an
//                           episode: keep what undo_prior() may restore.
//   undo_prior(restore)     the episode was spurious (tcp_undo.cc);
//                           `restore` when cwnd is below the one saved
//                           (RFC 9438 §4.9.2 restores only then).
//   kReducesFromCwnd        SACK recovery reduces from cwnd (true: RFC
//                           9438 §4.6's cwnd * beta) or from min(FlightSize,
//                           cwnd) (RFC 6675 §5 (4.2), RFC 5681 eq. 4).
template <class G>
concept WindowGrowth = requires(G g, const AckSample& a, CcWindow& w, const CcWindow& cw, std::uint32_t n,
                                bool b, Instant t) {
  typename G::Config;
  { G::kName } -> std::convertible_to<std::string_view>;
  { G::kReducesFromCwnd } -> std::convertible_to<bool>;
  { g.on_ack(a, w) }
  noexcept->std::same_as<void>;
  { g.on_congestion(n, cw) }
  noexcept->std::same_as<std::uint32_t>;
  { g.on_recovery_exit() }
  noexcept->std::same_as<void>;
  { g.on_rto(n, b, cw) }
  noexcept->std::same_as<std::uint32_t>;
  { g.on_idle(t, t, b, cw) }
  noexcept->std::same_as<void>;
  { g.save_prior() }
  noexcept->std::same_as<void>;
  { g.undo_prior(b) }
  noexcept->std::same_as<void>;
};

template <WindowGrowth Growth>
class RenoRecovery {
 public:
  using GrowthConfig = typename Growth::Config;
  static constexpr std::uint32_t kMaxCwnd = kCcMaxCwnd;
  static constexpr std::uint32_t kInitialSsthresh = kCcInitialSsthresh;

  explicit RenoRecovery(const NewRenoConfig& cfg = {}, const GrowthConfig& gcfg = {}) noexcept
      : mss_(std::max<std::uint32_t>(cfg.mss, 1)),
        dupthresh_(std::max<std::uint32_t>(cfg.dupthresh, 1)),
        iw_(initial_window(mss_)),
        w_{iw_, kInitialSsthresh},
        growth_(mss_, std::max<std::uint32_t>(cfg.abc_limit, 1) * mss_, gcfg) {}

  // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)).
  static constexpr std::uint32_t initial_window(std::uint32_t mss) noexcept {
    const std::uint32_t floor = 2 * mss > 14600 ? 2 * mss : 14600;
    return 10 * mss < floor ? 10 * mss : floor;
  }

  CcAction on_ack(const AckSample& a) noexcept;
  CcAction on_dup_ack(const AckSample& a) noexcept;
  void on_limited_transmit(std::uint32_t bytes) noexcept { lt_bytes_ += bytes; }
  void on_rto(Seq32 snd_una, Seq32 snd_max) noexcept;
  // Acts (and returns true) only after more than one RTO without sending
  // (RFC 5681 §4.1); shorter gaps are passed to the growth policy, which may
  // keep them out of its clock (RFC 9438 §5.8), so the engine may call this
  // whenever it resumes sending with nothing in flight.
  bool on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept;

  // SACK loss recovery (RFC 6675 §5, with PRR, RFC 6937) is driven by the
  // engine (tcp_sack.cc), which decides what to send; the controller only
  // sets ssthresh on entry (the growth policy's reduction), lets PRR set
  // cwnd on every ACK, and stops growing until the engine ends recovery.
  void enter_sack_recovery(std::uint32_t flight_size, Seq32 snd_max) noexcept;
  void set_recovery_cwnd(std::uint32_t cwnd) noexcept { w_.cwnd = std::max(cwnd, mss_); }
  void exit_sack_recovery() noexcept;

  // The congestion response of the current episode was spurious (the
  // engine's undo, tcp_undo.cc: RFC 3708 D-SACK, RFC 3522 Eifel, RFC 5682
  // F-RTO): back to the window before it, as Linux's tcp_undo_cwnd_reduction
  // and RFC 4015 / RFC 9438 §4.9 do. The window saved is the one before the
  // first reduction of the episode: an RTO during recovery, or a backed-off
  // repeat, keeps it. Returns false when nothing was saved (already undone).
  bool undo() noexcept;
  bool can_undo() const noexcept { return prior_valid_; }
  std::uint32_t prior_cwnd() const noexcept { return prior_cwnd_; }
  std::uint32_t prior_ssthresh() const noexcept { return prior_ssthresh_; }

  // Taking over from another controller mid-connection (set_congestion, as
  // Linux's tcp_reinit_congestion_control): its window, and whether the
  // engine is in SACK recovery; the growth policy starts afresh.
  void adopt(std::uint32_t cwnd, std::uint32_t ssthresh, bool in_sack_recovery) noexcept {
    w_.cwnd = std::max(cwnd, mss_);
    w_.ssthresh = ssthresh;
    in_recovery_ = in_sack_recovery;
    prior_valid_ = false;
  }

  std::uint32_t cwnd() const noexcept { return w_.cwnd; }
  std::uint32_t ssthresh() const noexcept { return w_.ssthresh; }
  bool in_slow_start() const noexcept { return w_.in_slow_start(); }
  bool in_recovery() const noexcept { return in_recovery_; }
  std::uint32_t dup_acks() const noexcept { return dup_acks_; }
  std::string_view name() const noexcept { return Growth::kName; }
  const Growth& growth() const noexcept { return growth_; }

 private:
  void note_sack(const AckSample& a) noexcept;
  CcAction on_recovery_ack(const AckSample& a) noexcept;
  void save_prior() noexcept {
    prior_cwnd_ = w_.cwnd;
    prior_ssthresh_ = w_.ssthresh;
    prior_valid_ = true;
    growth_.save_prior();
  }

  std::uint32_t mss_;
  std::uint32_t dupthresh_;
  std::uint32_t iw_;
  CcWindow w_;
  Growth growth_;
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
  // RFC 6582 §4.2: the last ACK that advanced SND.UNA echoed the TSval of
  // the last segment it acknowledged (AckSample::echoes_last).
  bool last_ack_echoed_ = false;
  Seq32 rto_mark_;
  Seq32 rto_rexmit_ack_;
  bool rto_rexmit_valid_ = false;
  bool prior_valid_ = false;  // prior_* hold the window before this episode's reduction
  std::uint32_t prior_cwnd_ = 0;
  std::uint32_t prior_ssthresh_ = 0;
};

template <WindowGrowth Growth>
void RenoRecovery<Growth>::note_sack(const AckSample& a) noexcept {
  if (sack_high_valid_ && seq_leq(sack_high_, a.ack)) sack_high_valid_ = false;
  if (a.sacked && (!sack_high_valid_ || seq_gt(a.sack_high, sack_high_))) {
    sack_high_ = a.sack_high;
    sack_high_valid_ = true;
  }
}

template <WindowGrowth Growth>
CcAction RenoRecovery<Growth>::on_ack(const AckSample& a) noexcept {
  dup_acks_ = 0;
  lt_bytes_ = 0;
  rto_since_ack_ = false;
  last_ack_echoed_ = a.echoes_last;
  note_sack(a);
  if (in_recovery_) return on_recovery_ack(a);
  // Once SND.UNA is past "recover", RFC 6582 §3.2 step 1's test always
  // passes; forget it so the modular comparison cannot wrap later.
  if (recover_valid_ && seq_gt(a.ack, recover_)) {
    recover_valid_ = false;
    rto_recovery_ = false;
    rto_rexmit_valid_ = false;
  }
  if (a.cwnd_limited) growth_.on_ack(a, w_);
  return CcAction::kNone;
}

template <WindowGrowth Growth>
CcAction RenoRecovery<Growth>::on_recovery_ack(const AckSample& a) noexcept {
  if (seq_geq(a.ack, recover_)) {
    // RFC 6582 §3.2 step 3, full acknowledgment, option (1):
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). Avoids a burst
    // when little is outstanding; option (2), cwnd = ssthresh, would not.
    w_.cwnd = std::min(w_.ssthresh, std::max(a.flight_size(), mss_) + mss_);
    in_recovery_ = false;
    growth_.on_recovery_exit();
    return CcAction::kNone;
  }
  // RFC 6582 §3.2 step 3, partial acknowledgment: retransmit the first
  // unacknowledged segment, deflate cwnd by the amount acknowledged, add back
  // one SMSS if that was at least SMSS, and stay in fast recovery.
  w_.cwnd = w_.cwnd > a.acked ? w_.cwnd - a.acked : 0;
  if (a.acked >= mss_) w_.cwnd += mss_;
  w_.cwnd = std::max(w_.cwnd, mss_);
  return CcAction::kRetransmit;
}

template <WindowGrowth Growth>
CcAction RenoRecovery<Growth>::on_dup_ack(const AckSample& a) noexcept {
  // Evidence is judged against what was known before this ACK.
  const bool sack_beyond_mark = rto_recovery_ && a.sacked && seq_gt(a.sack_high, rto_mark_);
  note_sack(a);
  if (in_recovery_) {
    // RFC 5681 §3.2 step 4 / RFC 6582 §3.2 step 2: each further duplicate
    // means a segment left the network; inflate so new data can go out.
    w_.cwnd = std::min(kMaxCwnd, w_.cwnd + mss_);
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
  // and ssthresh must not be reduced twice. Without SACK a sender cannot
  // tell those from duplicates caused by a loss of data sent after
  // "recover" (RFC 6582 §4). With SACK it can: a block reaching past
  // "recover" shows the receiver holds data sent after the last reduction
  // began while the data at SEG.ACK is missing, a new loss (Linux likewise
  // holds the old state after recovery only for peers without SACK). So a
  // duplicate with that evidence enters, even past the dupthresh-th: else
  // losing the first segment sent after "recover" always cost an RTO.
  const bool sack_beyond_recover = recover_valid_ && a.sacked && seq_gt(a.sack_high, recover_);
  // RFC 6582 §4.2, the timestamp heuristic (Gurtov and Floyd), after a
  // timeout: when the duplicates do not cover more than "recover" but the
  // last non-duplicate ACK echoed the timestamp of the last segment it
  // acknowledged, they indicate a lost segment: enter fast retransmit.
  // That ACK was drawn by the resend it acknowledges last, not by data the
  // receiver already held, so the resends are arriving in turn and these
  // duplicates come from one lost (or overtaken), not from resends of data
  // the receiver had. Otherwise the careful variant holds (§3.2 step 1).
  // Without it every such loss cost another timeout: a receiver that keeps
  // few out-of-order segments (the simulator's seed 520) needs much resent,
  // and any resend lost meant a timeout.
  const bool resend_lost = rto_recovery_ && last_ack_echoed_ && dup_acks_ == dupthresh_;
  if ((recover_valid_ && seq_leq(a.ack, recover_) && !sack_beyond_recover && !resend_lost) ||
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
  save_prior();  // a new episode (the engine's undo_begin, tcp_undo.cc)
  recover_ = a.snd_max;
  recover_valid_ = true;
  in_recovery_ = true;
  // RFC 5681 §3.2 steps 2-3: the growth policy sets ssthresh from FlightSize
  // (RFC 5681: max(FlightSize/2, 2*SMSS)); cwnd = ssthresh + 3*SMSS (here
  // dupthresh*SMSS: the segments that left). "When [RFC3042] is in use,
  // additional data sent in limited transmit MUST NOT be included in this
  // calculation."
  std::uint32_t flight = a.flight_size();
  // After a timeout SND.MAX stays where it was while go-back-N resends
  // from SND.UNA, so SND.MAX - SEG.ACK counts data no longer in the
  // network; what went since is within cwnd (slow start from the loss
  // window), so the reduction starts from that (as Linux's Reno, which
  // halves cwnd).
  if (resend_lost) flight = std::min(flight, w_.cwnd);
  w_.ssthresh = growth_.on_congestion(flight > lt_bytes_ ? flight - lt_bytes_ : 0, w_);
  w_.cwnd = std::min(kMaxCwnd, w_.ssthresh + dupthresh_ * mss_);
  return CcAction::kRetransmit;
}

template <WindowGrowth Growth>
void RenoRecovery<Growth>::enter_sack_recovery(std::uint32_t flight_size, Seq32 snd_max) noexcept {
  // RFC 6675 §5 (4.2): ssthresh as at fast retransmit (RFC 5681 eq. 4 for
  // NewReno, floor 2 * SMSS); cwnd is PRR's from here on (RFC 6937 §3).
  // "[RFC5681] requires that any segments sent as part of the Limited
  // Transmit mechanism not be counted in FlightSize for the purpose of the
  // above equation", as in on_dup_ack.
  save_prior();
  //
  // And never more than cwnd. With SACK, SND.MAX - SND.UNA also counts data
  // the receiver already holds (SACKed, so not in the network): when a loss
  // is found soon after the last recovery ended, FlightSize holds much of the
  // data sent during that recovery and is well above the window PRR let out,
  // and flight * beta exceeded the cwnd in use. Recovery after recovery
  // then raised ssthresh instead of lowering it: in the simulator CUBIC ran
  // at 38 times the Mathis bound at 1 % loss (tcp_sim_goodput). Linux bases
  // ssthresh on cwnd; RFC 9438 §4.6 allows it, and FlightSize stays the
  // measure where it is smaller (cwnd grown while unused) for a policy
  // that follows RFC 5681. CUBIC reduces from cwnd itself (RFC 9438 §4.6,
  // Linux): the engine keeps an unused cwnd from growing (RFC 7661, the
  // measure §4.6 asks of that choice), and FlightSize at the ACK that finds
  // a loss under-reads the window in use, since that ACK has just taken
  // its segments out of flight: a receiver that acknowledges three
  // segments at a time made a window of 6 look like 3, and ssthresh 2.
  const std::uint32_t fs = flight_size > lt_bytes_ ? flight_size - lt_bytes_ : 0;
  w_.ssthresh = growth_.on_congestion(Growth::kReducesFromCwnd ? w_.cwnd : std::min(fs, w_.cwnd), w_);
  in_recovery_ = true;
  recover_ = snd_max;
  recover_valid_ = true;
  rto_recovery_ = false;
  rto_rexmit_valid_ = false;
  dup_acks_ = 0;
  lt_bytes_ = 0;
}

template <WindowGrowth Growth>
void RenoRecovery<Growth>::exit_sack_recovery() noexcept {
  // RFC 6937 §3: at the end of recovery, cwnd = ssthresh.
  w_.cwnd = std::max(w_.ssthresh, mss_);
  in_recovery_ = false;
  growth_.on_recovery_exit();
}

template <WindowGrowth Growth>
void RenoRecovery<Growth>::on_rto(Seq32 snd_una, Seq32 snd_max) noexcept {
  // RFC 5681 §3.1 eq. 4, but "when a TCP sender detects segment loss using
  // the retransmission timer and the given segment has already been
  // retransmitted by way of the retransmission timer at least once, the
  // value of ssthresh is held constant": the policy sees `first` false.
  const std::int32_t flight = snd_max - snd_una;
  // A new episode unless this timeout continues one: fired in recovery
  // (Linux keeps the window from before the recovery, tcp_enter_loss) or
  // backed off with no ACK since. The engine's undo_on_rto mirrors this.
  if (!in_recovery_ && !rto_since_ack_) save_prior();
  w_.ssthresh = growth_.on_rto(flight > 0 ? static_cast<std::uint32_t>(flight) : 0, !rto_since_ack_, w_);
  rto_since_ack_ = true;
  w_.cwnd = mss_;  // RFC 5681 §3.1: loss window LW = 1 full-sized segment
  dup_acks_ = 0;
  lt_bytes_ = 0;
  in_recovery_ = false;
  rto_recovery_ = true;
  last_ack_echoed_ = false;  // §4.2 judges the ACKs of the resends, not those before the timeout
  rto_mark_ = sack_high_valid_ && seq_gt(sack_high_, snd_una) ? sack_high_ : snd_una;
  rto_rexmit_valid_ = false;
  // RFC 6582 §3.2 step 4 (after a retransmit timeout): record the highest
  // sequence number sent in "recover".
  recover_ = snd_max;
  recover_valid_ = true;
}

template <WindowGrowth Growth>
bool RenoRecovery<Growth>::undo() noexcept {
  if (!prior_valid_) return false;
  // RFC 9438 §4.9.2: restore "if the current cwnd is lower than prior_cwnd";
  // past it (a late verdict) the current state stands.
  growth_.undo_prior(in_recovery_ || w_.cwnd < prior_cwnd_);
  // Linux's undo_cwnd: cwnd = max(cwnd, prior), ssthresh = max(ssthresh,
  // prior) (RFC 4015 §2 restores ssthresh likewise). In recovery cwnd is
  // NewReno's inflated window or PRR's pipe + sndcnt, not one the path
  // carried: the prior window replaces it.
  w_.cwnd = in_recovery_ ? prior_cwnd_ : std::max(w_.cwnd, prior_cwnd_);
  w_.ssthresh = std::max(w_.ssthresh, prior_ssthresh_);
  prior_valid_ = false;
  in_recovery_ = false;
  rto_since_ack_ = false;
  rto_recovery_ = false;
  rto_rexmit_valid_ = false;
  dup_acks_ = 0;
  lt_bytes_ = 0;
  return true;
}

template <WindowGrowth Growth>
bool RenoRecovery<Growth>::on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept {
  // RFC 5681 §4.1: before sending after an idle period longer than the RTO,
  // cwnd = RW = min(IW, cwnd).
  const bool restart = now - last_send > rto;
  if (restart) w_.cwnd = std::min(iw_, w_.cwnd);
  growth_.on_idle(now, last_send, restart, w_);
  return restart;
}

}  // namespace tern
