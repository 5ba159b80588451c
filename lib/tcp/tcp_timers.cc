// Timers (DESIGN.md "Timers"): each TCB is one node on the worker's wheel,
// armed for its earliest deadline; when it fires, every timer of that TCB
// whose deadline has passed runs. The retransmission, persist and keepalive
// timers are mutually exclusive (data in flight / zero window / idle), so
// they share one deadline and a kind.
#include <rte_mempool.h>

#include <algorithm>
#include <array>

#include "base/log.h"
#include "tcp/tcp_stack.h"

namespace tern {

void TcpStack::arm_timer(Tcb& c) noexcept {
  if (c.removed) return;
  // Called several times per segment: pairwise minima, no initializer_list.
  const Instant a = c.rtx_deadline < c.delack_deadline ? c.rtx_deadline : c.delack_deadline;
  const Instant b = c.tlp_deadline < c.rack_deadline ? c.tlp_deadline : c.rack_deadline;
  const Instant ab = a < b ? a : b;
  const Instant d = ab < c.linger_deadline ? ab : c.linger_deadline;
  // Nothing left to run: the node stays where it is (a lazy cancel). In
  // request/response every flight empties and the next request re-arms
  // the retransmission timer; unlinking and re-filing the node each time
  // (a division for the slot) cost more than the early wake-up it saves:
  // when the node fires, on_tcb_timer finds nothing due and re-arms from
  // the deadlines above, which are the truth. A later deadline is one
  // store (TimerWheel::arm); only an earlier one moves the node. The TCB
  // leaves the wheel when it is freed (finish, free_tcb).
  if (d != Instant::max()) wheel_.arm(c, d);
}

void TcpStack::on_timer(Instant now) noexcept {
  mbuf_exhausted_noted_ = false;
  // A busy-polling worker calls this on every loop iteration: between the
  // wheel's ticks, with nothing on its due list, no TIME_WAIT record expired
  // and no paced segment due, there is nothing to do (the memory relief
  // check waits for the next tick too).
  if (now < pace_earliest_ && !wheel_.work_at(now) && now < tw_.next_expiry()) return;
  on_pacing(now);
  relieve_memory(now);
  wheel_.advance(now, [&](TimerNode& n) { on_tcb_timer(timer_owner<Tcb>(n), now); });
  tw_.expire(now);
  // The account counts its own entries into pressure (one writer, no
  // atomics); the counter mirrors it for telemetry once per tick.
  counters_.events[static_cast<std::size_t>(Counter::kTCPMemoryPressures)] = mem_.entered_pressure();
  dispatch();
}

void TcpStack::on_tcb_timer(Tcb& c, Instant now) noexcept {
  if (c.removed) return;
  follow_path_mtu(c, now);  // what the timers resend is cut to the path (RFC 8201 §5.2)
  if (c.linger_deadline <= now) {
    // tcp_fin_timeout: an orphan in FIN-WAIT-2 waited long enough for the
    // peer's FIN. Linux closes it silently.
    c.linger_deadline = Instant::max();
    if (c.state == TcpState::kFinWait2) {
      counters_.inc(Counter::kTCPFinWait2Timeout);
      finish(c, TcpError::kNone);
      return;
    }
  }
  if (c.delack_deadline <= now) {
    c.delack_deadline = Instant::max();
    counters_.inc(Counter::kDelayedACKs);
    c.ack_now = true;
    output(c, now);
    if (c.removed) return;
  }
  if (c.rack_deadline <= now) {
    c.rack_deadline = Instant::max();
    rack_on_timer(c, now);  // RFC 8985 §6.3
    if (c.removed) return;
  }
  if (c.tlp_deadline <= now) {
    c.tlp_deadline = Instant::max();
    on_probe_timeout(c, now);
    if (c.removed) return;
  }
  if (c.rtx_deadline <= now) {
    c.rtx_deadline = Instant::max();
    switch (c.rtx_kind) {
      case Tcb::RtxKind::kRetransmit:
        on_rtx_timeout(c, now);
        break;
      case Tcb::RtxKind::kPersist:
        on_persist_timeout(c, now);
        break;
      case Tcb::RtxKind::kKeepalive:
        on_keepalive_timeout(c, now);
        break;
      case Tcb::RtxKind::kNone:
        break;
    }
    if (c.removed) return;
  }
  arm_timer(c);
}

// The last resort (docs/architecture.md "Memory model"): when the pool is
// nearly dry despite the budget (header mbufs and clones in flight, a
// budget set too high, thousands of connections each holding the one
// segment an empty queue may always take),
// abort the connections holding the most, orphans and zero-window
// connections before any other, so that the RX ring can always refill and a
// RST or a new SYN still gets in. One scan keeps the kReliefBatch worst
// holders and aborts as many of them as it takes to bring the pool back to
// twice its floor; checked every millisecond.
void TcpStack::relieve_memory(Instant now) noexcept {
  if (now < next_relief_check_) return;
  next_relief_check_ = now + Duration::ms(1);
  // The header stash (kHeaderMbufsKept mbufs at most) is the first to go
  // back: outside the normal level, whatever the floor (none at 0).
  if (!mem_.surely_normal()) flush_header_mbufs();
  const std::uint32_t floor = mem_.limits().min_free_mbufs;
  if (floor == 0) {
    pool_low_ = false;
    return;
  }
  // And when the pool nears its floor, before its count is judged, so that
  // no connection is aborted for mbufs the stack itself holds. Nearing: a
  // batch would leave less than the floor free. Until the next pass finds
  // the pool above that again, pool_low_ keeps the stash from taking one
  // (the charges alone may still say normal: what the TX ring, clones and
  // parked frames hold is charged to no queue).
  unsigned free_mbufs = rte_mempool_avail_count(pool_mp_);
  if (free_mbufs < floor + kHeaderMbufsKept && header_mbufs_held() != 0) {
    flush_header_mbufs();
    free_mbufs = rte_mempool_avail_count(pool_mp_);
  }
  pool_low_ = free_mbufs < floor + kHeaderMbufsKept;
  if (free_mbufs >= floor) return;
  struct Victim {
    std::uint64_t score;
    Tcb* tcb;
  };
  std::array<Victim, kReliefBatch> worst;  // [0, n) by score, highest first
  std::size_t n = 0;
  table_.for_each([&](const FourTuple&, Tcb* t) {
    const std::uint64_t held = held_truesize(*t);
    if (held == 0) return;
    const bool stuck = t->app_closed || (t->snd_wnd == 0 && !t->sndq.empty());
    const std::uint64_t score = held + (stuck ? std::uint64_t{1} << 40 : 0);
    if (n == worst.size() && score <= worst[n - 1].score) return;
    std::size_t i = n < worst.size() ? n++ : n - 1;
    for (; i > 0 && worst[i - 1].score < score; --i) worst[i] = worst[i - 1];
    worst[i] = Victim{score, t};
  });
  const std::uint64_t want = std::uint64_t{2 * floor - free_mbufs} * full_seg_truesize_;
  std::uint64_t freed = 0;
  for (std::size_t i = 0; i < n && freed < want; ++i) {
    freed += held_truesize(*worst[i].tcb);
    abort_on_memory(*worst[i].tcb, now, "mbuf pool nearly dry");
  }
}

// Linux's tcp_out_of_resources, extended from orphans to zero-window
// connections: at the high level, a connection whose timer finds its send
// data still refused (a zero window through a whole probe interval, or an
// orphan still retransmitting) holds memory nothing will release soon.
// Abort it now rather than wait for the pool to run dry.
bool TcpStack::abort_if_out_of_memory(Tcb& c, Instant now) noexcept {
  if (c.sndq.empty() || mem_.level() != MemLevel::kHigh) return false;
  abort_on_memory(c, now, "memory at its high level");
  return true;
}

void TcpStack::abort_on_memory(Tcb& c, Instant now, const char* why) noexcept {
  counters_.inc(Counter::kTCPAbortOnMemory);
  // One line a second: under attack this can run thousands of times.
  if (now - last_relief_log_ >= Duration::s(1) || counters_.get(Counter::kTCPAbortOnMemory) == 1) {
    last_relief_log_ = now;
    TERN_LOG(WARNING, "%s (%u mbufs free): aborting %s:%u -> port %u, holding %u bytes%s (%lu so far)\n", why,
             rte_mempool_avail_count(pool_mp_), c.tuple.raddr.to_string().c_str(), c.tuple.rport,
             c.tuple.lport, static_cast<unsigned>(held_truesize(c)),
             c.app_closed ? " (orphaned)" : (c.snd_wnd == 0 ? " (zero window)" : ""),
             static_cast<unsigned long>(counters_.get(Counter::kTCPAbortOnMemory)));
  }
  if (synchronized(c.state)) send_rst_for(c, now);
  finish(c, TcpError::kAborted);
}

// RFC 6298 §5.4-5.7 and RFC 5681 §3.1: retransmit the earliest unacknowledged
// segment, back off, collapse cwnd; give up after the configured count.
void TcpStack::on_rtx_timeout(Tcb& c, Instant now) noexcept {
  c.rtx_kind = Tcb::RtxKind::kNone;
  if (c.retries < 255) ++c.retries;  // a long user timeout outlasts 255 timeouts
  if (c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived) {
    const bool active = c.state == TcpState::kSynSent;
    const std::uint32_t limit = active ? o_.cfg.syn_retries : o_.cfg.synack_retries;
    if (c.retries > limit || c.cookie_born) {
      if (active) {
        counters_.inc(Counter::kAttemptFails);
        counters_.inc(Counter::kTCPTimeouts);
        finish(c, TcpError::kTimedOut);
      } else {
        finish(c, TcpError::kNone);  // a half-open child just goes away
      }
      return;
    }
    c.rto.on_timeout();
    c.syn_retransmitted = true;
    c.rtt_timing = false;
    counters_.inc(Counter::kTCPSynRetrans);
    counters_.inc(Counter::kRetransSegs);
    c.snd_nxt = c.iss;
    send_syn(c, now);
    return;
  }
  counters_.inc(Counter::kTCPTimeouts);
  if (c.app_closed && abort_if_out_of_memory(c, now)) return;
  // With a user timeout (RFC 5482) time alone decides, as in Linux, where
  // it replaces tcp_retries2 for orphans too; the timer was clamped to
  // fire when it runs out (rtx_deadline_at). Otherwise R2 (RFC 9293
  // §3.8.3) as a count; an orphan gives up sooner (tcp_orphan_retries):
  // nobody waits for it.
  const bool expired =
      c.user_timeout != Duration{}
          ? now - c.unacked_since >= c.user_timeout
          : c.retries > (c.app_closed ? std::min(o_.cfg.retries, o_.cfg.orphan_retries) : o_.cfg.retries);
  if (expired) {
    counters_.inc(Counter::kTCPAbortOnTimeout);
    send_rst_for(c, now);
    finish(c, TcpError::kTimedOut);
    return;
  }
  c.rto.on_timeout();
  undo_on_rto(c);  // tcp_undo.cc
  c.cc.on_rto(c.snd_una, c.snd_max);
  const std::uint32_t before = static_cast<std::uint32_t>(counters_.get(Counter::kOutSegs));
  if (rack_active(c)) {
    rack_on_rto(c, now);  // RFC 8985 §6.3: only what is lost goes again
  } else {
    go_back_on_rto(c, now);
  }
  if (static_cast<std::uint32_t>(counters_.get(Counter::kOutSegs)) == before && c.snd_max != c.snd_una) {
    // Nothing could be sent (mbufs exhausted): try again after the RTO.
    c.rtx_kind = Tcb::RtxKind::kRetransmit;
    c.rtx_deadline = rtx_deadline_at(c, now);
  }
}

// Without RACK (no SACK, or no transmit log for this flight): go-back-N.
void TcpStack::go_back_on_rto(Tcb& c, Instant now) noexcept {
  c.lost_segs += (static_cast<std::uint32_t>(c.snd_max - c.snd_una) + c.mss - 1) / c.mss;
  if (c.sack_ok) {
    // RFC 2018 §8: after a timeout, SACK information received before it is
    // ignored in choosing what to resend (the receiver may have reneged);
    // RFC 6675 §5.1: recovery ends, RecoveryPoint = HighData, and no new
    // recovery starts until SND.UNA reaches it.
    c.sb.clear();
    c.sack_recovery = false;
    c.sack_dupacks = 0;
    c.recovery_point = c.snd_max;
    c.recovery_hold = true;
    c.hold_rexmit_valid = false;
  }
  // Go back: everything from SND.UNA is sent again as the window allows.
  c.snd_nxt = c.snd_una;
  c.rtt_timing = false;
  output(c, now);
}

// The PTO (below), once schedule_probe's conditions hold; restart_rtx_plain's too.
[[gnu::always_inline]] inline void TcpStack::set_probe_deadline(Tcb& c, Instant now) noexcept {
  Duration pto = std::max(c.rto.srtt() * 2, o_.cfg.tlp_min);
  if (static_cast<std::uint32_t>(c.snd_max - c.snd_una) <= c.mss) pto = pto + kWorstDelayedAck;
  if (now + pto < c.rtx_deadline) c.tlp_deadline = now + pto;
}

// RFC 8985 §7.2: the probe timeout, PTO = 2 * SRTT (plus the worst-case
// delayed ACK when a single segment is out, whose ACK the peer may hold),
// at least [tcp] tlp_min_ms, and only when it comes before the RTO. The
// floor: with a sub-millisecond SRTT, 2 * SRTT is shorter than a
// receiver's ACK batching (GRO, interrupt coalescing) and every pause in
// it would draw a probe. 2 ms by default, two ticks of the timer wheel, as
// Linux adds two jiffies (TCP_TIMEOUT_MIN); the original TLP draft's 10 ms
// made every lost ACK of a fast path cost 10 ms. Where SACK was
// negotiated (the probe's ACK must be able to say what is missing), with an
// RTT sample, and not while a probe is already out or after a timeout
// (§5.1's hold: go-back-N is under way). Unlike RFC 8985, which probes only
// outside recovery, the probe is also armed in SACK recovery: when the one
// ACK that covers the last flight of a recovery is lost, nothing else
// would ever arrive, and the RTO (200 ms at least) would cost a thousand
// round trips of a fast path.
void TcpStack::schedule_probe(Tcb& c, Instant now) noexcept {
  c.tlp_deadline = Instant::max();
  if (!c.sack_ok || c.tlp_outstanding || c.recovery_hold || c.snd_max == c.snd_una ||
      c.rtx_kind != Tcb::RtxKind::kRetransmit || !c.rto.has_sample())
    return;
  set_probe_deadline(c, now);
}

// RFC 8985 §7.3: send one segment to draw an ACK that tells what is lost:
// new data if the window admits some (it also gets the transfer moving),
// else the last segment again. cwnd is not checked (the probe is one
// segment, sent instead of waiting for the RTO), and the RTO restarts from
// the probe. Departure, [tcp] tlp_new_segments (default 2): new data goes
// as two full segments where two are waiting. The ACK clock died because
// the ACK of the flight's end was lost as often as its data; the receiver
// then holds everything sent before the probe, and one new segment alone
// is what RFC 5681 §4.2 lets it hold for its delayed-ACK timer (Linux 40
// ms, others up to 500 ms), which §7.2 adds to the PTO only when the
// flight was one segment. Two full segments draw the ACK at once.
void TcpStack::on_probe_timeout(Tcb& c, Instant now) noexcept {
  if (!synchronized(c.state) || c.snd_max == c.snd_una || c.rtx_kind != Tcb::RtxKind::kRetransmit) return;
  const std::uint32_t outstanding = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  const std::uint32_t queued = c.sndq.bytes();
  const std::uint32_t unsent = queued > outstanding ? queued - outstanding : 0;
  const std::uint32_t wnd_room = c.snd_wnd > outstanding ? c.snd_wnd - outstanding : 0;
  bool sent = false;
  bool rexmit = false;  // RFC 8985 §7.4.1 TLPRxtOut
  std::uint32_t len = std::min({unsent, wnd_room, static_cast<std::uint32_t>(c.mss)});
  if (c.sack_recovery) {
    // In recovery the SACK blocks already describe the tail; what a silent
    // PTO most likely means is that our retransmission of the first hole
    // (or the ACK that covered it) was lost, and new data sent after it
    // cannot reveal that when the send buffer is all in flight. Resend the
    // hole at SND.UNA: what the RTO would do, one RTO sooner, without
    // collapsing cwnd; its ACK ends the stall either way.
    len = sack_retransmit_head(c, now);
    sent = len > 0;
  } else if (len > 0 && c.snd_nxt == c.snd_max && !c.fin_sent) {
    sent = send_data_segment(c, c.snd_max, len, false, now);
    if (sent) {
      c.snd_nxt = c.snd_max + len;
      c.snd_max = c.snd_nxt;
      const std::uint32_t mss = c.mss;
      if (o_.cfg.tlp_new_segments > 1 && len == mss && unsent - len >= mss && wnd_room - len >= mss &&
          send_data_segment(c, c.snd_max, mss, false, now)) {
        c.snd_nxt = c.snd_max + mss;
        c.snd_max = c.snd_nxt;
        len += mss;
      }
    }
  } else {
    // The highest segment again: its ACK (with SACK blocks, or a D-SACK)
    // reports the state of the whole flight.
    len = std::min<std::uint32_t>(c.mss, std::min(queued, outstanding));
    const Seq32 data_end = c.snd_una + std::min(queued, outstanding);
    const bool fin = c.fin_sent && outstanding > queued;
    if (len > 0 || fin) sent = rexmit = send_data_segment(c, data_end - len, len, fin, now);
  }
  if (!sent) return;
  counters_.inc(Counter::kTCPLossProbes);
  c.tlp_rxt_out = rexmit;  // §7.4 accounting: tcp_undo.cc
  c.tlp_high = c.snd_max;
  if (c.sack_recovery) c.prr_out += len;
  c.tlp_outstanding = true;
  c.rtx_deadline = rtx_deadline_at(c, now);
  arm_timer(c);
}

// RFC 9293 §3.8.6.1: probe a zero window. The probe is Linux's: a bare ACK
// with SEQ = SND.UNA - 1, which the peer must answer with its window.
void TcpStack::on_persist_timeout(Tcb& c, Instant now) noexcept {
  c.rtx_kind = Tcb::RtxKind::kNone;
  if (c.sndq.empty() || !synchronized(c.state)) return;
  const std::uint32_t off = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  if (c.snd_wnd != 0) {
    // A small window that SWS avoidance would wait on: send what fits now.
    const std::uint32_t avail = c.sndq.bytes() > off ? c.sndq.bytes() - off : 0;
    const std::uint32_t len = std::min({avail, c.snd_wnd, static_cast<std::uint32_t>(c.mss)});
    if (len > 0 && send_data_segment(c, c.snd_nxt, len, false, now)) {
      c.snd_nxt += len;
      if (seq_gt(c.snd_nxt, c.snd_max)) c.snd_max = c.snd_nxt;
    }
    output(c, now);
    return;
  }
  if (abort_if_out_of_memory(c, now)) return;
  // A peer that keeps its window shut (a client that never reads) would
  // hold our send queue for ever: give up after persist_probes probes or
  // persist_timeout, or once the connection's user timeout has passed
  // since the window shut, whether the probes are answered or not (Linux's
  // tcp_probe_timer; the timer was clamped to it in set_idle_timer).
  const TcpConfig& k = o_.cfg;
  const std::uint32_t probes = c.app_closed ? std::min(k.persist_probes, k.orphan_retries) : k.persist_probes;
  const Duration shut = now - c.persist_since;
  if (c.persist_backoff >= probes || (k.persist_timeout != Duration{} && shut >= k.persist_timeout) ||
      (c.user_timeout != Duration{} && shut >= c.user_timeout)) {
    counters_.inc(Counter::kTCPPersistGiveUp);
    counters_.inc(Counter::kTCPAbortOnTimeout);
    send_rst_for(c, now);
    finish(c, TcpError::kTimedOut);
    return;
  }
  counters_.inc(Counter::kTCPWinProbe);
  send_raw(c.tuple, c.snd_una - 1, c.rcv_nxt, kTcpAck, window_field(c), nullptr, now);
  if (c.persist_backoff < 255) ++c.persist_backoff;
  set_idle_timer(c, now);
}

// Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): after `idle` without any
// segment from the peer, probe every `interval`; give up after `probes`.
void TcpStack::on_keepalive_timeout(Tcb& c, Instant now) noexcept {
  c.rtx_kind = Tcb::RtxKind::kNone;
  if (!c.keepalive || !synchronized(c.state)) return;
  // A probe answered since the last one (about one interval ago) clears the
  // count, as Linux resets icsk_probes_out on any ACK; this matters when
  // keepalive_interval exceeds keepalive_idle + RTT, so the connection looks
  // idle again by now: else a peer that answers every probe is reset, while
  // RFC 1122 §4.2.3.6 drops a connection only when the peer is unreachable.
  if (c.retries > 0 && now - c.last_recv <= c.ka_interval) c.retries = 0;
  const Instant idle_end = c.last_recv + c.ka_idle;
  if (now < idle_end) {  // heard from the peer since: wait out a full idle period
    c.retries = 0;
    set_idle_timer(c, now);
    return;
  }
  // Probes answered reset last_recv, so `retries` counts unanswered ones.
  // tcp(7): a user timeout overrides the probe count: once at least one
  // probe went unanswered and the peer has been silent for the user
  // timeout, the connection is aborted (Linux's tcp_keepalive_timer, which
  // checks it as each probe falls due, as here).
  const bool expired = c.user_timeout != Duration{} ? c.retries > 0 && now - c.last_recv >= c.user_timeout
                                                    : c.retries >= c.ka_probes;
  if (expired) {
    counters_.inc(Counter::kTCPAbortOnTimeout);
    send_rst_for(c, now);
    finish(c, TcpError::kTimedOut);
    return;
  }
  ++c.retries;
  counters_.inc(Counter::kTCPKeepAlive);
  send_raw(c.tuple, c.snd_una - 1, c.rcv_nxt, kTcpAck, window_field(c), nullptr, now);
  c.rtx_kind = Tcb::RtxKind::kKeepalive;
  c.rtx_deadline = now + c.ka_interval;
}

// RFC 6298 §5.1: sending data starts the timer (start_rtx_if_stopped, when
// it is not running already).
void TcpStack::start_rtx(Tcb& c, Instant now, bool arm) noexcept {
  c.rtx_kind = Tcb::RtxKind::kRetransmit;
  c.rtx_deadline = rtx_deadline_at(c, now);
  if (arm) arm_timer(c);
}

// The retransmission timer's next expiry: one RTO from now, but no later
// than the moment the user timeout runs out, so that the connection is
// aborted then rather than at the next backed-off RTO (Linux's
// tcp_clamp_rto_to_user_timeout). It does not apply to the handshake
// (syn_retries, synack_retries), as in Linux.
Instant TcpStack::rtx_deadline_at(const Tcb& c, Instant now) const noexcept {
  const Instant rto = now + c.rto.rto();
  if (c.user_timeout == Duration{} || !synchronized(c.state)) return rto;
  const Instant end = c.unacked_since + c.user_timeout;
  return end < rto ? std::max(end, now) : rto;
}

// Called whenever SND.UNA moves: the retransmission timer runs while
// anything is in flight (RFC 6298 §5.2, 5.3), otherwise the idle timers.
// Flattened: rtx_deadline_at, schedule_probe and arm_timer (set_idle_timer
// and its arm_timer on the idle branch) inline here, where the probe's
// checks that the lines before it answer fold away; every ACK of new data
// comes here, and the four calls cost a pure ACK about 30 instructions.
[[gnu::flatten]] void TcpStack::restart_rtx(Tcb& c, Instant now) noexcept {
  c.tlp_outstanding = false;  // the ACK reported progress: the probe episode is over
  if (c.snd_max != c.snd_una) {
    c.unacked_since = now;  // progress: the user timeout counts from here
    c.rtx_kind = Tcb::RtxKind::kRetransmit;
    c.rtx_deadline = rtx_deadline_at(c, now);
    schedule_probe(c, now);
    arm_timer(c);
    return;
  }
  c.tlp_deadline = Instant::max();
  c.retries = 0;
  set_idle_timer(c, now);
}

// restart_rtx for fast_ack's ACK of logged data (tcp_fast_ack.cc), where the
// plain state has answered some of its questions: SACK is in use and no
// timeout's hold is on (of schedule_probe's tests only the RTT sample is
// left to ask: the rest are what the lines before it set), and RACK's
// deadline has just been cleared (RFC 8985 §6.2 step 5 found nothing), so
// the wheel's minimum leaves it out. The same deadlines as restart_rtx;
// tests/unit/tcp/tcp_fast_ack_test.cc compares the two paths' timers.
[[gnu::flatten]] void TcpStack::restart_rtx_plain(Tcb& c, Instant now) noexcept {
  c.tlp_outstanding = false;
  if (c.snd_max == c.snd_una) [[unlikely]] {
    c.tlp_deadline = Instant::max();
    c.retries = 0;
    set_idle_timer(c, now);
    return;
  }
  c.unacked_since = now;
  c.rtx_kind = Tcb::RtxKind::kRetransmit;
  c.rtx_deadline = rtx_deadline_at(c, now);
  c.tlp_deadline = Instant::max();
  if (c.rto.has_sample()) set_probe_deadline(c, now);
  if (c.removed) return;
  // arm_timer's minimum without rack_deadline (Instant::max()).
  const Instant a = c.rtx_deadline < c.delack_deadline ? c.rtx_deadline : c.delack_deadline;
  const Instant b = c.tlp_deadline < c.linger_deadline ? c.tlp_deadline : c.linger_deadline;
  const Instant d = a < b ? a : b;
  if (d != Instant::max()) wheel_.arm(c, d);
}

void TcpStack::set_idle_timer(Tcb& c, Instant now) noexcept {
  if (!c.sndq.empty() && c.snd_wnd == 0 && synchronized(c.state)) {
    // Zero window with data waiting: the persist timer, backed off like the
    // RTO and capped at rto_max.
    Duration d = c.rto.rto();
    for (std::uint8_t i = 0; i < c.persist_backoff && d < o_.cfg.rto_max; ++i) d = d * 2;
    if (c.persist_backoff == 0) c.persist_since = now;  // a new episode (reset when the window moves)
    c.rtx_kind = Tcb::RtxKind::kPersist;
    c.rtx_deadline = now + std::min(d, o_.cfg.rto_max);
    // The user timeout ends the episode on time, not at the next backed-off
    // probe (Linux's tcp_clamp_probe0_to_user_timeout).
    if (c.user_timeout != Duration{}) {
      c.rtx_deadline = std::min(c.rtx_deadline, std::max(c.persist_since + c.user_timeout, now));
    }
  } else if (c.keepalive && synchronized(c.state)) {
    c.rtx_kind = Tcb::RtxKind::kKeepalive;
    c.rtx_deadline = c.retries == 0 ? c.last_recv + c.ka_idle : now + c.ka_interval;
    if (c.rtx_deadline <= now) c.rtx_deadline = now + c.ka_interval;
  } else {
    // Stopped: nothing for the wheel (arm_timer's lazy cancel).
    c.rtx_kind = Tcb::RtxKind::kNone;
    c.rtx_deadline = Instant::max();
    return;
  }
  arm_timer(c);
}

// RFC 9293 §3.10.7.4: TIME-WAIT is held for 2MSL in the compact table; the
// TCB itself goes now.
void TcpStack::enter_time_wait(Tcb& c, Instant now) noexcept {
  // The ACK of the peer's FIN, deferred to the end of the burst, goes now:
  // the record that replaces the TCB would not send it.
  if (c.in_ack_list) {
    ack_unlink(c);
    if (c.ack_now) send_ack(c, now);
  }
  to_state(c, TcpState::kTimeWait);
  if (o_.cfg.max_time_wait == 0) {
    counters_.inc(Counter::kTCPTimeWaitOverflow);
  } else {
    TimeWaitRecord r;
    r.tuple = c.tuple;
    r.rcv_nxt = c.rcv_nxt;
    r.snd_nxt = c.snd_nxt;
    r.ts_recent = c.ts_recent;
    r.ts_offset = c.ts_offset;
    r.ts_enabled = c.ts_ok;
    r.rcv_wscale = c.rcv_wscale;
    r.window = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(std::min(receive_window(c), max_window(c)) >> c.rcv_wscale, 65535));
    // The table is keyed like the connection table; remove the TCB first
    // so a SYN arriving right after finds the record.
    if (tw_.insert(r, now, c.tuple_hash) == TwInsert::kOverflow) counters_.inc(Counter::kTCPTimeWaitOverflow);
  }
  finish(c, TcpError::kNone);
}

}  // namespace tern
