#pragma once
// RFC 8985 §6.2 steps 2 and 3 for one record an ACK delivered: the body of
// TcpStack::rack_on_delivered, in a header so that fast_ack (every ACK of a
// bulk sender, tcp_fast_ack.cc) has an inline copy of its own. There the
// record was never retransmitted (the log is in sequence order) and nothing
// is SACKed (the scoreboard is idle), so that copy (kInOrder) has neither
// the SACK walk nor the retransmission's checks; the call with its six
// arguments cost about 30 instructions of the pure ACK's 90 here. The
// out-of-line rack_on_delivered (tcp_rack.cc) serves the full path.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "tcp/tcp_input_rules.h"
#include "tcp/tcp_stack.h"

namespace tern {

namespace rack_detail {

// RFC 8985 §6.2 RACK_sent_after, ordered by the log's transmission order
// (TxRecord::order) where the RFC compares send times: at one instant the
// sequence tie-break is right within one transmission only, and a resend
// that an ACK triggers after another ACK of the same instant sent new data
// left after that data despite its lower sequence. Within one record the
// octets left in sequence order, so the tie-break stands there.
inline bool sent_after(std::uint32_t o1, Seq32 s1, std::uint32_t o2, Seq32 s2) noexcept {
  return order_after(o1, o2) || (o1 == o2 && seq_gt(s1, s2));
}

inline constexpr std::uint32_t kMaxReordering = 300;  // Linux's tcp_max_reordering

inline std::uint32_t segs_of(std::uint32_t octets, std::uint32_t mss) noexcept {
  return (octets + mss - 1) / std::max<std::uint32_t>(mss, 1);
}

}  // namespace rack_detail

// fack_before: RACK.fack before this ACK (nullptr: nothing delivered yet).
// kInOrder: the caller guarantees r was never retransmitted and nothing is
// SACKed (fast_ack's plain state); tsecr is then unused.
template <bool kInOrder>
[[gnu::always_inline]] inline void TcpStack::rack_delivered(Tcb& c, const TxRecord& r, std::uint32_t now_us,
                                                            const Seq32* fack_before,
                                                            std::optional<std::uint32_t> tsecr,
                                                            Instant now) noexcept {
  const bool rxt = !kInOrder && (r.flags & kTxRetransmit) != 0;
  // The segment's end: a record is a batch, and only part of it may be
  // delivered; its highest delivered octet stands for RFC 8985's
  // Segment.end_seq.
  Seq32 end = seq_gt(c.snd_una, r.start) ? (seq_lt(c.snd_una, r.end) ? c.snd_una : r.end) : r.start;
  if constexpr (!kInOrder) {
    for (const SackRange& s : c.sb.ranges()) {
      if (seq_geq(s.left, r.end)) break;
      if (seq_leq(s.right, r.start)) continue;
      const Seq32 e = seq_lt(s.right, r.end) ? s.right : r.end;
      if (seq_gt(e, end)) end = e;
    }
  }
  // Step 3: delivered below the highest end delivered by an earlier ACK,
  // never retransmitted: the network reordered it.
  if (fack_before != nullptr && !rxt && seq_lt(end, *fack_before)) {
    c.rack_reordering_seen = true;
    const std::uint32_t dist =
        rack_detail::segs_of(static_cast<std::uint32_t>(*fack_before - r.start), c.mss);
    c.reordering = std::min(std::max(c.reordering, dist), rack_detail::kMaxReordering);
  }
  if (!c.rack_valid || seq_gt(end, c.rack_fack)) c.rack_fack = end;
  // Step 2. A merged record's octets may have left before its send time:
  // its delivery would date RACK's segment too late and make segments sent
  // in between look lost, so it does not move RACK.
  if ((r.flags & kTxMerged) != 0) return;
  const std::uint32_t rtt = now_us - r.sent_us;
  if (rxt) {
    // A retransmission's delivery may be the original's (or an earlier
    // resend's). With timestamps the ACK tells where it delivers the
    // octets cumulatively: the receiver echoes the TSval of the segment
    // that moved its left edge (RFC 7323 §4.3), so an echo older than the
    // TSval the retransmission carried answers an earlier transmission.
    // Departure: RFC 8985 applies the check to SACKed octets too, but
    // there the echo is the left edge's, older whichever copy arrived, so
    // every resend SACKed above a hole would be ignored: in the simulator
    // (BBR, 10 ms, 1 %, seeds 1-20) losses were found later and goodput
    // fell 371.6 -> 367.9 Mbit/s, against 371.9 with the check on
    // cumulative deliveries only (bench/loss/README.md, session 27).
    // Else, and within one timestamp tick, a delivery sooner than min_RTT
    // after the resend left is the original's.
    if (tsecr && seq_leq(end, c.snd_una) && ts_older(*tsecr, logged_tsval(c, r.sent_us, now))) return;
    if (rtt < c.rack_min_rtt.us()) return;  // 0 while there is no sample
  } else {
    c.rack_min_rtt.update(rtt, now);
  }
  c.rack_rtt_us = rtt;
  if (!c.rack_valid || rack_detail::sent_after(r.order, end, c.rack_xmit_order, c.rack_end_seq)) {
    c.rack_xmit_us = r.sent_us;
    c.rack_xmit_order = r.order;
    c.rack_end_seq = end;
    c.rack_valid = true;
  }
}

}  // namespace tern
