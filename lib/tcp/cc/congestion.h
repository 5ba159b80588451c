#pragma once
// The congestion-control interface, as a C++20 concept: the engine (Tcb) is
// a template over its controller, so the hot path makes direct, inlinable
// calls and there is no virtual dispatch (DESIGN.md: "pluggable per
// connection behind a small interface, chosen at compile time on the hot
// path"). A run-time choice per connection (TCP_CONGESTION) is a std::variant
// of controllers visited once per segment.
//
// Controllers are I/O-free: they never read a clock and never send. The
// engine reports events and reads back cwnd; the only thing a controller
// asks for is "retransmit the first unacknowledged segment now"
// (fast retransmit, RFC 5681 §3.2 step 2; NewReno partial ACK, RFC 6582
// §3.2 step 3). Loss recovery state ("recover", the duplicate-ACK count)
// lives in the controller, because NewReno, SACK recovery (RFC 6675) and
// RACK differ exactly there. NewReno and CUBIC share one such recovery core
// (reno_recovery.h) and differ only in window growth and reduction.
#include <concepts>
#include <cstdint>
#include <string_view>

#include "base/instant.h"
#include "tcp/seq.h"

namespace tern {

// One acceptable ACK as the engine saw it (RFC 9293 §3.10.7.4, fifth step).
struct AckSample {
  Seq32 ack;                // SEG.ACK; for a duplicate ACK this equals SND.UNA
  std::uint32_t acked = 0;  // bytes newly acknowledged (SND.UNA advance); 0 for a duplicate
  Seq32 snd_max;            // one past the highest sequence number ever sent
  Instant now;
  // Delay, for controllers that use it (CUBIC's target, HyStart++ rounds):
  // this ACK's RTT sample (RFC 6298 §3 / RFC 7323 §4), zero when it gives
  // none, and the smoothed RTT after it, zero while there is none yet.
  Duration rtt{};
  Duration srtt{};
  // With SACK (RFC 2018): the highest right edge of the blocks this ACK
  // carries above SEG.ACK, when it carries any (D-SACK blocks below SEG.ACK
  // do not count). Data the receiver holds beyond a hole.
  bool sacked = false;
  Seq32 sack_high;
  // RFC 7661 §4.3 / RFC 9438 §4.10's note: whether cwnd was what limited
  // the sender over the last window (the engine's measure, as Linux's
  // tcp_is_cwnd_limited). A sender held back by its application or the
  // peer's window does not grow cwnd it never used.
  bool cwnd_limited = true;
  // RFC 6582 §4.2 (timestamps, no SACK): this ACK of new data echoes the
  // TSval of the last segment it acknowledges, i.e. that segment's arrival
  // moved the receiver's cumulative ACK rather than one sent before it.
  bool echoes_last = false;

  // RFC 5681 §2 FlightSize: data sent but not yet cumulatively acknowledged,
  // after this ACK. Without SACK this is all the information there is.
  constexpr std::uint32_t flight_size() const noexcept {
    const std::int32_t d = snd_max - ack;
    return d > 0 ? static_cast<std::uint32_t>(d) : 0;
  }
};

// What the engine should do after telling the controller about an ACK.
enum class CcAction : std::uint8_t {
  kNone,
  kRetransmit,  // retransmit the segment starting at SND.UNA now
  // RFC 3042 limited transmit: send one new segment (up to SMSS of data never
  // sent before) beyond cwnd if the peer's window allows it, and report it
  // with on_limited_transmit().
  kSendNew,
};

// on_ack:          an ACK that advanced SND.UNA (acked > 0). Growth (slow
//                  start / congestion avoidance) or, in recovery, the
//                  partial / full ACK rules.
// on_dup_ack:      a duplicate ACK in the sense of RFC 5681 §2 (no data, no
//                  window change, SEG.ACK == SND.UNA, data outstanding).
// on_limited_transmit: the engine sent `bytes` of new data for a kSendNew.
// on_rto:          the retransmission timer fired (RFC 5681 §3.1 eq. 4).
// on_idle_restart: called before sending with nothing in flight; restarts
//                  from min(IW, cwnd) when nothing was sent for longer than
//                  one RTO (RFC 5681 §4.1) and returns whether it did. CUBIC
//                  also keeps any idle time out of its clock (RFC 9438 §5.8),
//                  so calling it after shorter gaps too is allowed.
// undo:            the congestion response of the current episode was
//                  spurious: restore the window from before it (RFC 3708,
//                  RFC 4015; Linux's undo_cwnd). False when there is nothing
//                  to restore.
template <class T>
concept CongestionControl = requires(T cc, const T& ccc, const AckSample& a, Seq32 s, Instant now,
                                     Duration d) {
  { cc.on_ack(a) }
  noexcept->std::same_as<CcAction>;
  { cc.on_dup_ack(a) }
  noexcept->std::same_as<CcAction>;
  { cc.on_limited_transmit(std::uint32_t{}) }
  noexcept->std::same_as<void>;
  { cc.on_rto(s, s) }
  noexcept->std::same_as<void>;  // (SND.UNA, SND.MAX)
  { cc.on_idle_restart(now, now, d) }
  noexcept->std::same_as<bool>;  // (now, last send, RTO)
  { cc.undo() }
  noexcept->std::same_as<bool>;
  { ccc.cwnd() }
  noexcept->std::same_as<std::uint32_t>;
  { ccc.ssthresh() }
  noexcept->std::same_as<std::uint32_t>;
  { ccc.in_slow_start() }
  noexcept->std::same_as<bool>;
  { ccc.in_recovery() }
  noexcept->std::same_as<bool>;
  { ccc.name() }
  noexcept->std::same_as<std::string_view>;
};

}  // namespace tern
