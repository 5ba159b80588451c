// The short path for an ACK of new data (RFC 9293 §3.10.7's fifth step, the
// sender's common case): a connection that negotiated SACK, with a transmit
// log in sequence order, nothing SACKed, lost, retransmitted or probed, no
// recovery and no congestion response that could still be undone. There
// process_ack and sack_on_ack would find every one of their questions
// answered "nothing to do" (RFC 6675 recovery, RACK's loss detection and
// reordering window, RFC 3522 / RFC 5682 / RFC 8985 §7.4 undo, partial and
// duplicate ACKs), so fast_ack does only what such an ACK changes: the RTT
// sample, the send queue's acknowledged mbufs, SND.UNA and the window,
// RACK's delivered segment (RFC 8985 §6.2 steps 2 and 3), the delivery
// state, the controller's growth, the retransmission and probe timers and
// the writable event. Any other state takes process_ack (plain_ack_state
// is the gate); tests/unit/tcp/tcp_fast_ack_test.cc checks both give the
// same connection for the same ACKs.
//
// Two callers: header prediction's ACK on an ESTABLISHED connection
// (predicted_segment), and process_ack for the ACK of our SYN or of our
// FIN, which every connection's set-up and teardown take through the full
// path (SYN-RECEIVED, FIN-WAIT-1, CLOSING, LAST-ACK are not predicted).
// The SYN is never in the transmit log (send_syn times it, rtt_timing), so
// its ACK may come without one; a FIN is logged as the octet after the
// data. The ACK must cover the FIN if one is out: data acknowledged below
// a FIN in flight takes the full path, as before.
#include <algorithm>
#include <cassert>
#include <type_traits>

#include "tcp/tcp_rack_delivered.h"
#include "tcp/tcp_stack.h"

namespace tern {

namespace {

// What process_ack's and sack_on_ack's branches test, all of them off:
// TcbAckGate's flags (no SACK recovery, no hold after a timeout, no head
// retransmission, no RACK D-SACK round, nothing to undo, no retransmitted
// probe out; SACK negotiated and a controller that takes no rate sample,
// full_ack_path: BBR samples the delivery rate on every ACK, rate_on_ack)
// and the rest here. The flags are one word: fast_ack tests it whole for
// header prediction's ACKs (with fin_sent, which selects the body), so only
// kEnds tests it here, without fin_sent. A log in sequence order without
// RACK marks means no retransmission and no loss since the flight began
// (TxLog::seq_ordered, may_hold_lost); an idle scoreboard, nothing SACKed
// and no HighRxt. SND.NXT = SND.MAX: no go-back-N under way after a
// timeout. Without a log only the SYN or a bare FIN may be outstanding
// (kEnds; tx_log_on_send lends none to either): data sent while the pool
// was dry has no send times to walk, and its ACK takes the full path.
template <bool kEnds>
bool plain_ack_state(const Tcb& c) noexcept {
  const bool log_ok = c.txlog != nullptr ? c.txlog->ordered_without_lost()
                                         : kEnds && c.snd_max == c.snd_una + 1 &&
                                               (c.snd_una == c.iss || (c.fin_sent && c.sndq.bytes() == 0));
  // The derived flag against what it stands for (non-NDEBUG builds): a
  // writer of sack_ok or the controller that does not keep it fails here.
  assert(c.full_ack_path == full_ack_path_due(c));
  const bool flags_off = !kEnds || (ack_gate_word(c) & ~kAckGateFinSent) == 0;
  return flags_off && log_ok && c.sb.idle() && c.snd_nxt == c.snd_max;
}

}  // namespace

// SND.UNA < SEG.ACK =< SND.MAX, no SACK block, PAWS passed: from
// predicted_segment on an ESTABLISHED connection, or from process_ack when
// the ACK covers our SYN or FIN. The order is process_ack's where it
// matters: cwnd use is judged on the flight before SND.UNA moves, the log
// is walked after, and the timers restart from the RTO the sample gave.
// False, having done nothing, when the connection is not in the plain
// state or a FIN of ours stays unacknowledged.
bool TcpStack::fast_ack(Tcb& c, Segment& s, Instant now) noexcept {
  // One body, compiled twice: without the SYN's and FIN's accounting
  // (kEnds false) for header prediction's ACKs, so that their path is what
  // it was before the ends came here.
  const auto body = [&](auto ends) __attribute__((always_inline)) {
    constexpr bool kEnds = decltype(ends)::value;
    if (!plain_ack_state<kEnds>(c)) return false;
    const std::uint32_t acked = static_cast<std::uint32_t>(s.ack - c.snd_una);
    // Our SYN and FIN each take a sequence number and no octet of the
    // queue (process_ack's accounting).
    std::uint32_t data = acked;
    bool fin_acked = false;
    if constexpr (kEnds) {
      const std::uint32_t syn = c.snd_una == c.iss ? 1u : 0u;
      if (c.fin_sent) {
        fin_acked = fin_outstanding(c) && s.ack == c.snd_una + (syn + c.sndq.bytes() + 1);
        if (!fin_acked) return false;
      }
      data = acked - syn - (fin_acked ? 1u : 0u);
    }
    counters_.inc(Counter::kTCPFastAcks);
    if (!kEnds && s.len == 0) {
      // Header prediction's pure ACK (predicted_segment, the only caller
      // that takes this path: process_ack comes here for its SYN or FIN):
      // its frame is done with (the headers were parsed into s), so the
      // mbuf the ACK frees whole goes back with it in one mempool put
      // instead of two (issue 16); receive() then finds no frame to free.
      if (c.sndq.drop_front(std::min(data, c.sndq.bytes()), s.frame.get())) (void)s.frame.release();
    } else {
      c.sndq.drop_front(std::min(data, c.sndq.bytes()));
    }
    c.bytes_acked += data;
    AckSample sample{s.ack, acked, c.snd_max, now};
    sample.cwnd_limited = note_cwnd_use(c);
    c.snd_una = s.ack;
    confirm_first_hop(c, now);
    c.retries = 0;
    c.persist_backoff = 0;
    update_window(c, s);

    // draft-cheng-iccrg-delivery-rate-estimation §3.3 and RFC 8985 §6.2
    // steps 2 and 3 (tx_log_on_ack without blocks): in sequence order the
    // records this ACK delivers are the oldest, the last of them the newest
    // sent, whose send time gives the RTT (logged_rtt's choice). Without a
    // log (the SYN's ACK, a bare FIN's) the handshake's or the FIN's own
    // timing gives it.
    const std::uint32_t now_us = clock_us(now);
    c.delivered += acked;
    c.delivered_us = now_us;
    LoggedRtt logged;
    const bool logged_flight = !kEnds || c.txlog != nullptr;
    if (logged_flight) {
      // Inline (RACK's body too, tcp_rack_delivered.h). The walk is the one
      // for a log in sequence order, which the plain state checked: with
      // on_cumulative_ack's fallback to on_ack (never taken here) the
      // visitor had a second call site, the walk more registers to keep,
      // and 5 instructions more per ACK.
      const auto delivered = [&](const TxRecord& r, std::uint32_t) __attribute__((always_inline)) {
        // RACK.fack before this ACK (step 3), read in place: in sequence
        // order each record's delivered end lies above every end visited
        // before it, so it is below RACK.fack as it stands exactly when it
        // is below RACK.fack before the walk, which then has not moved (and
        // RACK.valid set by an earlier record only adds a test that fails).
        // A copy taken before the walk cost a stack slot and a pointer to
        // it: 11 instructions per ACK. (<true>: never a retransmission.)
        rack_delivered<true>(c, r, now_us, c.rack_valid ? &c.rack_fack : nullptr, std::nullopt, now);
        c.first_sent_us = r.sent_us;  // in time order: the last visited is the latest sent
        logged = record_rtt(r, now);
      };
      c.txlog->on_cumulative_ack_ordered(c.snd_una, delivered);  // plain_ack_state: seq_ordered()
      if (c.snd_una == c.snd_max) return_tx_log(c);
    }

    sample.rtt = take_rtt_sample(c, s, logged, now);  // CUBIC's clock and HyStart++'s rounds
    sample.srtt = c.rto.srtt();
    c.sack_dupacks = 0;  // RFC 6675 §5: a cumulative ACK resets DupAcks
    c.cc.on_ack(sample);
    // RACK's step 5 finds nothing with nothing SACKed and the log in
    // sequence order (rack_detect_loss): no reordering timer. Without a
    // log RACK is not active and leaves its deadline alone.
    if constexpr (!kEnds) {
      c.rack_deadline = Instant::max();
      restart_rtx_plain(c, now);  // the plain state's answers taken as read
    } else {
      if (logged_flight) c.rack_deadline = Instant::max();
      restart_rtx(c, now);
    }
    if (writable_due(c)) {
      c.writable_wanted = false;
      post(c, kTcpEvWritable);
    }
    if (fin_acked) on_fin_acked(c, now);
    return true;
  };
  // Header prediction's ACK with no FIN of ours out and every gate flag
  // off (one word: TcbAckGate); the SYN's or FIN's ACK, or a flag set (the
  // kEnds body tests them again and declines), the other body.
  if (c.snd_una != c.iss && ack_gate_word(c) == 0) return body(std::false_type{});
  return body(std::true_type{});
}

}  // namespace tern
