// Segment arrival, RFC 9293 §3.10.7, one function per step. The steps of
// §3.10.7.4 ("other states") are check_sequence (first), check_rst (second),
// check_syn (fourth), check_ack / process_ack (fifth), process_data
// (seventh) and process_fin (eighth), those two in tcp_receive.cc; the third
// (security) and sixth (URG) have nothing to do: Tern keeps no security
// compartments and delivers urgent data inline, skipping the pointer
// (RFC 6093 §4).
#include <rte_mbuf.h>

#include <algorithm>

#include "ip/chain_checksum.h"
#include "tcp/tcp_checksum.h"
#include "tcp/tcp_input_rules.h"
#include "tcp/tcp_stack.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {

namespace {

// Data before RCV.NXT received again, whole or in part, that the peer may
// really have sent: it lies within the largest window we could have offered
// below RCV.NXT (RFC 7323 §2.3), so a sender whose ACKs were lost may still
// be retransmitting it. Notes its D-SACK (RFC 2883 §4) and says so.
bool old_duplicate(Tcb& c, const Segment& s) noexcept {
  if (s.len == 0 || !seq_lt(s.seq, c.rcv_nxt)) return false;
  if (seq_lt(s.seq, c.rcv_nxt - (65535u << c.rcv_wscale))) return false;
  const Seq32 end = s.seq + s.len;
  note_dsack(c, s.seq, seq_lt(end, c.rcv_nxt) ? end : c.rcv_nxt);
  return true;
}

}  // namespace

void TcpStack::receive(const IpAddr& src, const IpAddr& dst, Mbuf frame, std::uint16_t l4_offset,
                       std::uint16_t l4_len, Instant now) noexcept {
  // A segment GRO merged counts as the wire segments it holds (one per mbuf:
  // rx_coalesce.h merges single-segment frames only), as Linux counts a GRO
  // skb's gso_segs in tcpi_segs_in.
  const std::uint16_t wire_segs = (frame->ol_flags & RTE_MBUF_F_RX_LRO) != 0 ? frame->nb_segs : 1;
  counters_.inc(Counter::kInSegs, wire_segs);
  const auto head = frame.head();
  if (head.size() < l4_offset || l4_len < kTcpMinHeaderLen) {
    counters_.inc(Counter::kInErrs);
    counters_.drop(Drop::kTcpMalformed);
    return;
  }
  const auto h =
      TcpHeader::parse(head.subspan(l4_offset, std::min<std::size_t>(l4_len, head.size() - l4_offset)));
  if (!h) {
    counters_.inc(Counter::kInErrs);
    counters_.drop(Drop::kTcpMalformed);
    return;
  }
  // The pseudo-header sum only where the port did not verify the segment.
  const bool rx_good = (frame->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  if (!rx_good && !l4_checksum_ok(frame.get(), tcp_pseudo_header_sum(src, dst, l4_len), l4_offset, l4_len)) {
    counters_.inc(Counter::kInErrs);
    counters_.drop(Drop::kTcpBadChecksum);
    return;
  }
  const auto hlen = static_cast<std::uint32_t>(h->header_len());
  Segment s(FourTuple{dst, src, h->dst_port(), h->src_port()}, Seq32{h->seq()}, Seq32{h->ack()}, h->flags(),
            h->window(), l4_len - hlen, l4_offset + hlen, wire_segs);
  // Parsed in place: a TcpOptions is some 60 bytes, copied once more for
  // every segment otherwise.
  if (hlen > kTcpMinHeaderLen && !parse_tcp_options_into(h->options(), s.opts)) {
    counters_.inc(Counter::kInErrs);
    counters_.drop(Drop::kTcpBadOptions);
    return;
  }
  s.frame = std::move(frame);
  if (s.tuple.rport == 0 || s.tuple.lport == 0) {
    counters_.drop(Drop::kTcpMalformed);
    return;
  }
  input(s, now);
  dispatch();
  // The frame, where input left it (a segment without data: an ACK), freed
  // by free_frame's inline case rather than Mbuf's rte_pktmbuf_free.
  free_frame(s.frame.release());
}

// The connection found last (ConnTable::find_recent) goes on by tail
// calls, header prediction's among them: no frame on a burst's common
// path. Any other tuple is input_lookup's.
void TcpStack::input(Segment& s, Instant now) noexcept {
  if (Tcb* c = table_.find_recent(s.tuple, s.tuple_hash)) return input_tcb(*c, s, now);
  input_lookup(s, now);
}

inline void TcpStack::input_tcb(Tcb& c, Segment& s, Instant now) noexcept {
  c.last_recv = now;
  c.segs_in += s.wire_segs;
  if (c.state == TcpState::kSynSent) return input_syn_sent(c, s, now);
  input_synchronized(c, s, now);
}

[[gnu::noinline]] void TcpStack::input_lookup(Segment& s, Instant now) noexcept {
  if (Tcb* c = table_.find_past_recent(s.tuple, s.tuple_hash)) return input_tcb(*c, s, now);
  if (const TimeWaitRecord* r = tw_.find(s.tuple, s.tuple_hash)) {
    input_time_wait(*r, s, now);
    return;
  }
  if (Listener* l = find_listener(s.tuple)) {
    input_listen(*l, s, now);
    return;
  }
  input_closed(s, now);
}

// RFC 9293 §3.10.7.1: no TCB. Answer anything but a RST with a RST.
void TcpStack::input_closed(Segment& s, Instant now) noexcept {
  if (s.flags.rst()) {
    counters_.drop(Drop::kTcpRstNoSocket);
    return;
  }
  counters_.drop(Drop::kTcpNoSocket);
  reset_reply(s, now);
}

// RFC 9293 §3.10.7.2.
void TcpStack::input_listen(Listener& l, Segment& s, Instant now) noexcept {
  if (s.flags.rst()) {  // first: ignore a RST
    counters_.drop(Drop::kTcpRstNoSocket);
    return;
  }
  if (s.flags.ack()) {  // second: an ACK (maybe a SYN cookie)
    listen_ack(l, s, now);
    return;
  }
  if (s.flags.syn()) {  // third: a SYN
    // SYN+FIN is no way to open a connection (a scanner's probe, RFC 9293
    // §3.10.7.2 leaves the FIN to be processed later): Linux always drops
    // it, FreeBSD by default (net.inet.tcp.drop_synfin).
    if (s.flags.fin()) {
      counters_.drop(Drop::kTcpSynFin);
      return;
    }
    listen_syn(l, s, now);
    return;
  }
  counters_.drop(Drop::kTcpBadFlags);  // fourth: anything else
}

// TIME-WAIT is a compact record (time_wait.h); RFC 9293 §3.10.7.4's rules
// for it are TimeWaitTable::classify.
void TcpStack::input_time_wait(const TimeWaitRecord& r, Segment& s, Instant now) noexcept {
  std::optional<std::uint32_t> tsval;
  if (s.opts.timestamps) tsval = s.opts.timestamps->first;
  switch (TimeWaitTable::classify(r, s.flags.bits, s.seq, tsval, s.len)) {
    case TwVerdict::kAcceptNewSyn: {
      // RFC 6191: a new incarnation. Its ISN starts well above the old
      // connection's sequence space, as Linux does (old snd_nxt + 65535 + 2).
      const Seq32 iss = r.snd_nxt + 65537;
      tw_.erase(s.tuple);
      counters_.inc(Counter::kTCPTimeWaitReuse);
      if (Listener* l = find_listener(s.tuple)) {
        listen_syn(*l, s, now, iss);
      } else {
        input_closed(s, now);
      }
      return;
    }
    case TwVerdict::kAckAndRestart: {
      const FourTuple t = r.tuple;
      const Seq32 seq = r.snd_nxt, ack = r.rcv_nxt;
      const std::uint16_t w = r.window;
      TcpOptions o;
      if (r.ts_enabled) o.timestamps = std::pair{ts_clock(now) + r.ts_offset, tsval.value_or(r.ts_recent)};
      tw_.restart(t, now, tsval);
      send_raw(t, seq, ack, kTcpAck, w, r.ts_enabled ? &o : nullptr, now);
      break;
    }
    case TwVerdict::kSendAck: {
      TcpOptions o;
      if (r.ts_enabled) o.timestamps = std::pair{ts_clock(now) + r.ts_offset, r.ts_recent};
      send_raw(r.tuple, r.snd_nxt, r.rcv_nxt, kTcpAck, r.window, r.ts_enabled ? &o : nullptr, now);
      break;
    }
    case TwVerdict::kRstReceived:
      tw_.erase(s.tuple);
      break;
    case TwVerdict::kDrop:
      break;
  }
  counters_.drop(Drop::kTcpTimeWait);
}

void TcpStack::apply_syn_options(Tcb& c, const TcpOptions& o, Instant now) noexcept {
  const TcpConfig& k = o_.cfg;
  c.ws_ok = k.window_scaling && o.window_scale.has_value();
  if (c.ws_ok) {
    // RFC 7323 §2.3: a shift above 14 is used as 14.
    c.snd_wscale = std::min<std::uint8_t>(*o.window_scale, 14);
    // An active open announced its scale in its SYN (send_syn) and keeps it.
    if (c.state != TcpState::kSynSent) c.rcv_wscale = wscale_to_announce(c);
  } else {
    c.snd_wscale = c.rcv_wscale = 0;
  }
  c.ts_ok = k.timestamps && o.timestamps.has_value();
  if (c.ts_ok) {
    c.ts_recent = o.timestamps->first;
    c.ts_recent_stamp = now;
  }
  c.sack_ok = k.sack && o.sack_permitted;
  // RFC 9293 §3.7.1: without the option the peer takes 536; never below
  // Linux's TCP_MIN_MSS (88), so a hostile tiny MSS cannot make us send
  // one segment per handful of bytes. Timestamps take 12 bytes of each segment.
  // IPv6's default is 1220 (RFC 9293 §3.7.1, RFC 8200 §8.3).
  const bool v4 = c.tuple.is_v4();
  c.peer_mss = std::max<std::uint16_t>(o.mss.value_or(v4 ? 536 : 1220), 88);
  c.mss = path_mss(c);  // the path MTU too, should an ICMP have lowered it already
  c.rcv_mss = static_cast<std::uint16_t>(mss_for_mtu(!v4) - (c.ts_ok ? 12 : 0));
  NewRenoConfig nc = cc_cfg_;
  nc.mss = c.mss;
  nc.seed = c.iss.value();  // BBR's PROBE_BW phases: per connection, reproducible
  c.cc.reset(c.cc.algorithm(), nc);
  set_full_ack_path(c);
}

// RFC 9293 §3.10.7.3.
void TcpStack::input_syn_sent(Tcb& c, Segment& s, Instant now) noexcept {
  bool ack_ok = false;
  if (s.flags.ack()) {  // first: the ACK must cover our SYN and nothing more
    if (seq_leq(s.ack, c.iss) || seq_gt(s.ack, c.snd_max)) {
      counters_.drop(Drop::kTcpBadSynSentAck);
      if (!s.flags.rst()) reset_reply(s, now);
      return;
    }
    ack_ok = true;
  }
  if (s.flags.rst()) {  // second: RST, acceptable only with an acceptable ACK (RFC 5961 §3.2)
    if (!ack_ok) {
      counters_.drop(Drop::kTcpRstIgnored);
      return;
    }
    counters_.inc(Counter::kInRsts);
    counters_.inc(Counter::kAttemptFails);
    finish(c, TcpError::kRefused);
    return;
  }
  if (!s.flags.syn()) {  // fifth: neither SYN nor RST
    counters_.drop(Drop::kTcpBadFlags);
    return;
  }
  // fourth: SYN.
  c.irs = s.seq;
  c.rcv_nxt = s.seq + 1;
  apply_syn_options(c, s.opts, now);
  c.snd_wnd = s.wnd_raw;  // RFC 7323 §2.2: never scaled on a SYN
  c.max_snd_wnd = c.snd_wnd;
  c.snd_wl1 = s.seq;
  c.rcv_adv = c.rcv_nxt + syn_window(c.rcv_buf, c.window_clamp);  // our SYN's window
  if (ack_ok) {
    c.snd_wl2 = s.ack;
    rtt_sample(c, s, now);
    c.snd_una = s.ack;
    to_state(c, TcpState::kEstablished);
    c.retries = 0;
    if (c.syn_retransmitted) c.rto.on_syn_retransmitted_established();
    c.rtx_kind = Tcb::RtxKind::kNone;
    c.rtx_deadline = Instant::max();
    set_idle_timer(c, now);
    post(c, kTcpEvConnected);
    c.ack_now = true;  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    if (c.fin_queued) to_state(c, TcpState::kFinWait1);
    // "If there are other controls or text in the segment, then continue
    // processing at the sixth step": text and a FIN on the SYN-ACK are
    // taken now, within the window our SYN offered.
    if (s.len > 0 || s.flags.fin()) {
      s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpSyn);
      s.seq += 1;
      if (check_sequence(c, s, now)) process_data(c, s, now);
    }
    output(c, now);  // in a burst, the first data on_connected sends carries the ACK
    return;
  }
  // Simultaneous open: SYN-RECEIVED, answer with SYN-ACK <SEQ=ISS><ACK=RCV.NXT>.
  c.snd_wl2 = c.iss;
  to_state(c, TcpState::kSynReceived);
  c.snd_nxt = c.iss;
  send_syn(c, now);
  if (s.len > 0 || s.flags.fin()) hold_syn_text(c, s);
}

// RFC 9293 §3.10.7.3, a SYN without ACK in SYN-SENT: "If there are other
// controls or text in the segment, queue them for processing after the
// ESTABLISHED state has been reached". The text waits in the reassembly
// queue as data beyond a hole would (RCV.NXT stays, nothing is
// acknowledged), a FIN as ooo_fin; release_syn_text takes both once
// check_ack has completed the handshake. Whatever cannot be held (no
// reassembly queue free) the peer sends again.
void TcpStack::hold_syn_text(Tcb& c, Segment& s) noexcept {
  const Seq32 text = s.seq + 1;
  const std::int32_t wnd = c.rcv_adv - c.rcv_nxt;  // what our SYN-ACK offered
  if (wnd <= 0) return;
  bool fin = s.flags.fin();
  if (s.len > static_cast<std::uint32_t>(wnd)) {
    s.len = static_cast<std::uint32_t>(wnd);
    fin = false;
  }
  if (s.len > 0 && adopt_foreign(s.frame) && borrow_ooo(c)) {
    Mbuf m = std::move(s.frame);
    m.reset(mbuf_chain_trim_front(m.release(), s.payload_off));
    if (m.pkt_len() > s.len) mbuf_chain_trim_back(m.get(), m.pkt_len() - s.len);
    (void)c.ooo->insert(text, std::move(m), c.rcv_nxt);
    if (c.ooo->empty()) return_ooo(c);
  }
  if (fin) {
    c.ooo_fin = true;
    c.ooo_fin_seq = text + s.len;
  }
}

// ESTABLISHED after a simultaneous open: deliver the text and FIN that
// hold_syn_text kept from the peer's SYN.
void TcpStack::release_syn_text(Tcb& c, Instant now) noexcept {
  if (c.ooo != nullptr && !c.ooo->empty()) {
    const std::uint32_t n = c.ooo->pop_in_order(c.rcv_nxt, [&](Mbuf part) { c.rcvq.push(std::move(part)); });
    if (c.ooo->empty()) return_ooo(c);
    if (n > 0) {
      c.bytes_received += n;
      post(c, kTcpEvReadable);
      c.ack_now = true;
    }
  }
  if (c.ooo_fin && c.ooo_fin_seq == c.rcv_nxt) {
    c.ooo_fin = false;
    process_fin(c, now);
  }
}

// RFC 9293 §3.10.7.4: SYN-RECEIVED and every synchronized state.
void TcpStack::input_synchronized(Tcb& c, Segment& s, Instant now) noexcept {
  // Before any retransmission this segment may prompt (fast retransmit,
  // partial ACK) is cut: the destination's path MTU (RFC 8201 §5.2).
  // follow_path_mtu's test inline, its call out of line (input_new_path_mtu)
  // so that the common case jumps on without a frame.
  if (path_mtu_moved(c, now)) [[unlikely]]
    return input_new_path_mtu(c, s, now);
  predicted_segment(c, s, now);  // header prediction, or input_full
}

[[gnu::noinline]] void TcpStack::input_new_path_mtu(Tcb& c, Segment& s, Instant now) noexcept {
  adopt_path_mtu(c, now);
  predicted_segment(c, s, now);
}

// §3.10.7.4's steps in full, where header prediction has its doubts.
void TcpStack::input_full(Tcb& c, Segment& s, Instant now) noexcept {
  // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again
  // (what Linux does for a request socket) rather than challenge it.
  if (c.state == TcpState::kSynReceived && s.flags.syn() && !s.flags.ack() && !s.flags.rst() &&
      s.seq == c.irs) {
    if (!c.cookie_born) {
      counters_.inc(Counter::kRetransSegs);
      c.snd_nxt = c.iss;
      send_syn(c, now);
    }
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 8): in SYN-RECEIVED the peer's
  // SYN-ACK repeats its SYN, which lies just before RCV.NXT, and acknowledges
  // ours. Its ACK is what completes the handshake, so take it as a plain ACK
  // (Linux's tcp_validate_incoming makes the same exception).
  if (c.state == TcpState::kSynReceived && c.listener == nullptr && s.flags.syn() && s.flags.ack() &&
      !s.flags.rst() && s.seq + 1 == c.rcv_nxt && s.ack == c.snd_nxt && s.len == 0) {
    s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpSyn);
    s.seq = c.rcv_nxt;
  }
  // RFC 5961 §4.2: a SYN in a synchronized state (or SYN-RECEIVED, past the
  // two cases above) gets a challenge ACK whatever its sequence number, so
  // an out-of-window SYN too goes through the challenge ACK's rate limits.
  if (s.flags.syn() && !s.flags.rst()) {
    check_syn(c, s, now);
    return;
  }
  c.dsack_len = 0;  // RFC 2883 §4: a D-SACK reports the most recent segment only
  // RFC 7323 §5.3 R1: PAWS before the sequence check. RFC 2883 §4.3: the
  // ACK it still asks for carries the D-SACK of a duplicate.
  if (c.ts_ok && s.opts.timestamps && !s.flags.rst() && ts_older(s.opts.timestamps->first, c.ts_recent) &&
      now - c.ts_recent_stamp < Duration::s(24 * 24 * 3600)) {
    counters_.drop(Drop::kTcpPawsRejected);
    ack_unacceptable(c, now, old_duplicate(c, s));
    return;
  }
  if (!check_sequence(c, s, now)) return;
  if (!check_rst(c, s, now)) return;
  if (!check_syn(c, s, now)) return;
  if (!check_ack(c, s, now)) return;
  if (c.removed) return;
  process_data(c, s, now);
  if (c.removed) return;
  output(c, now);
}

// First step: is the segment acceptable (the four cases of the table in
// §3.10.7.4)? Trims it to the window when it is.
bool TcpStack::check_sequence(Tcb& c, Segment& s, Instant now) noexcept {
  const std::int32_t adv = c.rcv_adv - c.rcv_nxt;
  const std::uint32_t wnd = adv > 0 ? static_cast<std::uint32_t>(adv) : 0;
  const std::uint32_t seg_len = s.seg_len();
  bool ok;
  if (seg_len == 0) {
    // RCV.NXT =< SEG.SEQ =< RCV.NXT+RCV.WND: the right edge included, as
    // Linux (tcp_sequence) and the BSDs take it, where §3.10.7.4's table
    // says "<". A peer that filled our window exactly, part of it lost, ACKs
    // from SEG.SEQ = the edge; dropping those ACKs hides its window from us
    // for good while it keeps sending to the edge (with wnd = 0 this is
    // the table's SEG.SEQ = RCV.NXT).
    ok = seq_leq(c.rcv_nxt, s.seq) && seq_leq(s.seq, c.rcv_nxt + wnd);
  } else if (wnd == 0) {
    ok = false;
    // "Special allowance should be made to accept valid ACKs, URGs, and RSTs"
    // when the window is zero: keep the control part of an in-sequence
    // segment (a zero-window probe) and drop its data.
    if (s.seq == c.rcv_nxt && !s.flags.syn()) {
      s.len = 0;
      s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpFin);
      ok = true;
      c.ack_now = true;
    }
  } else {
    ok = seq_in_window(s.seq, c.rcv_nxt, wnd) || seq_in_window(s.seq + (seg_len - 1), c.rcv_nxt, wnd);
  }
  if (!ok) {
    if (s.flags.rst()) {
      counters_.drop(Drop::kTcpRstIgnored);
      return false;
    }
    // RFC 9293: "send an acknowledgment ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
    // A duplicate (already received) is reported with a D-SACK (RFC 2883 §4).
    counters_.drop(Drop::kTcpOutOfWindow);
    if (s.len > 0 && seq_leq(s.seq + s.len, c.rcv_nxt)) counters_.inc(Counter::kTCPDSACKDupData);
    ack_unacceptable(c, now, old_duplicate(c, s));
    return false;
  }
  // RFC 7323 §4.3: the timestamp of a segment that covers the left edge of
  // the window (revised rule: SEG.SEQ =< Last.ACK.sent) becomes TS.Recent,
  // but only once check_ack found its ACK acceptable, as Linux
  // (FLAG_UPDATE_TS_RECENT): else one blind in-window segment acknowledging
  // data never sent, with a far-future TSval, would make every later
  // segment fail PAWS.
  s.ts_recent_due = c.ts_ok && s.opts.timestamps && seq_leq(s.seq, c.last_ack_sent) &&
                    !ts_older(s.opts.timestamps->first, c.ts_recent);
  // Trim what lies before RCV.NXT (a SYN there is consumed first) ...
  if (seq_lt(s.seq, c.rcv_nxt)) {
    std::uint32_t cut = static_cast<std::uint32_t>(c.rcv_nxt - s.seq);
    if (s.flags.syn()) {
      s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpSyn);
      --cut;
      s.seq += 1;
    }
    const std::uint32_t data_cut = std::min(cut, s.len);
    if (data_cut > 0) note_dsack(c, s.seq, s.seq + data_cut);  // RFC 2883 §4.2: a duplicate subsegment
    s.payload_off += data_cut;
    s.len -= data_cut;
    s.seq += data_cut;
    if (cut > data_cut) {  // the FIN was already received too
      s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpFin);
    }
    c.ack_now = true;  // partly duplicate: tell the peer where we are
  }
  // ... and what lies beyond the right edge (a FIN there goes too).
  if (wnd > 0 && s.len > 0) {
    const std::int32_t room = (c.rcv_nxt + wnd) - s.seq;
    if (room >= 0 && s.len > static_cast<std::uint32_t>(room)) {
      s.len = static_cast<std::uint32_t>(room);
      s.flags.bits = static_cast<std::uint8_t>(s.flags.bits & ~kTcpFin);
      c.ack_now = true;
    }
  }
  return true;
}

// The ACK RFC 9293 §3.10.7.4 asks for in answer to an unacceptable segment,
// at most once per invalid_ratelimit per connection (Linux's
// tcp_oow_rate_limited): otherwise every blind segment at a known 4-tuple
// would earn an ACK, and two ends that disagree could trade ACKs for ever.
// A duplicate of data received (old_duplicate) is answered every time, as
// Linux answers data: a data segment is no part of an ACK loop, and its
// ACK carries the D-SACK (RFC 2883 §4) the sender needs to see that its
// retransmission was spurious.
void TcpStack::ack_unacceptable(Tcb& c, Instant now, bool duplicate) noexcept {
  if (!duplicate && !oow_ack_allowed(c, now)) {
    counters_.inc(Counter::kTCPACKSkippedInvalid);
    return;
  }
  c.ack_now = true;
  output(c, now);
}

bool TcpStack::oow_ack_allowed(Tcb& c, Instant now) noexcept {
  const Duration gap = o_.cfg.invalid_ratelimit;
  if (gap != Duration{} && c.oow_acked && now - c.last_oow_ack < gap) return false;
  c.oow_acked = true;
  c.last_oow_ack = now;
  return true;
}

// Second step, with RFC 5961 §3.2: only a RST at exactly RCV.NXT resets;
// one elsewhere in the window gets a challenge ACK.
bool TcpStack::check_rst(Tcb& c, Segment& s, Instant now) noexcept {
  if (!s.flags.rst()) return true;
  if (s.seq != c.rcv_nxt) {
    counters_.drop(Drop::kTcpRstIgnored);
    send_challenge_ack(c, now);
    return false;
  }
  counters_.inc(Counter::kInRsts);
  switch (c.state) {
    case TcpState::kSynReceived:
      if (c.listener != nullptr) {  // passive open: back to LISTEN, i.e. forget the child
        finish(c, TcpError::kNone);
      } else {  // active (simultaneous) open: refused
        counters_.inc(Counter::kAttemptFails);
        finish(c, TcpError::kRefused);
      }
      break;
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
      counters_.inc(Counter::kEstabResets);
      finish(c, TcpError::kReset);
      break;
    default:
      // CLOSING, LAST-ACK: RFC 9293 only says to delete the TCB; Linux and
      // the BSDs report ECONNRESET to an application that still holds it,
      // as in every state past SYN-SENT.
      finish(c, TcpError::kReset);
      break;
  }
  return false;
}

// Fourth step, RFC 5961 §4: any SYN in a synchronized state (and in
// SYN-RECEIVED, other than the retransmitted one handled earlier) gets a
// challenge ACK and is dropped.
bool TcpStack::check_syn(Tcb& c, Segment& s, Instant now) noexcept {
  if (!s.flags.syn()) return true;
  counters_.drop(Drop::kTcpSynChallenged);
  send_challenge_ack(c, now);
  return false;
}

// Fifth step: the ACK field.
bool TcpStack::check_ack(Tcb& c, Segment& s, Instant now) noexcept {
  if (!s.flags.ack()) {
    counters_.drop(Drop::kTcpBadFlags);
    return false;
  }
  if (c.state == TcpState::kSynReceived) {
    if (!seq_lt(c.snd_una, s.ack) || seq_gt(s.ack, c.snd_max)) {
      counters_.drop(Drop::kTcpAckUnsent);
      reset_reply(s, now);
      return false;
    }
    if (!child_established(c, now)) {
      // Accept queue full: forget this ACK; the SYN-ACK timer or the
      // client's next segment tries again (a cookie child is dropped whole).
      return false;
    }
    const bool simultaneous = c.state == TcpState::kSynReceived;
    if (simultaneous) {  // our own connect() completes
      to_state(c, TcpState::kEstablished);
      post(c, kTcpEvConnected);
    }
    c.snd_wnd = static_cast<std::uint32_t>(s.wnd_raw) << c.snd_wscale;
    c.snd_wl1 = s.seq;
    c.snd_wl2 = s.ack;
    if (c.syn_retransmitted) c.rto.on_syn_retransmitted_established();
    c.retries = 0;
    if (c.fin_queued) to_state(c, TcpState::kFinWait1);
    if (simultaneous) release_syn_text(c, now);  // RFC 9293 §3.10.7.3
  }
  // RFC 9293: an ACK for something not yet sent: ACK, drop.
  if (seq_gt(s.ack, c.snd_max)) {
    counters_.drop(Drop::kTcpAckUnsent);
    ack_unacceptable(c, now);
    return false;
  }
  // RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is not
  // acceptable either (blind data injection needs a plausible ACK).
  if (seq_lt(s.ack, c.snd_una - std::max<std::uint32_t>(c.max_snd_wnd, 1))) {
    counters_.drop(Drop::kTcpAckTooOld);
    send_challenge_ack(c, now);
    return false;
  }
  if (s.ts_recent_due) {  // check_sequence: RFC 7323 §4.3, the ACK now known good
    c.ts_recent = s.opts.timestamps->first;
    c.ts_recent_stamp = now;
  }
  process_ack(c, s, now);
  return !c.removed;
}

// The round trip of the newest batch this ACK newly delivers cumulatively
// (RACK's RTT, RFC 8985 §6.2 step 2, for SRTT as well), from the send time
// the transmit log kept, in microseconds: the millisecond TSecr clock
// rounds a fast path's RTT to 0 or 1 ms, which leaves SRTT, the probe
// timeout and HyStart++ blind. Why the newest, not the octet at SND.UNA
// as Linux's SRTT takes (it keeps the oldest for SRTT, the newest for its
// controllers' RTT): a receiver that ACKs when its reader drains the queue
// (Linux, once per 8-9 segments here) or an ACK lost on the way holds the
// oldest octets for as long as the next ACK takes; their "RTT" was 5-20 ms
// over a 100-300 us path 300 times in 5 s at 1 % loss, SRTT swung between
// 50 us and 4 ms, and every tail then waited 2 * SRTT for its probe. Timed
// from the newest, Tern's sender went 1.16 -> 1.97 Gbit/s at 1 % loss over
// net_af_packet (bench/loss/README.md, session 20). Karn (RFC 6298 §3):
// no sample when that batch is a retransmission (`withheld`); a record
// merged for room carries a later time than its oldest octets had, so it
// is not timed either (TSecr may time it: rtt_sample).
TcpStack::LoggedRtt TcpStack::logged_rtt(const Tcb& c, Seq32 ack, Instant now) const noexcept {
  if (c.txlog == nullptr) {
    // A bare FIN has no record (tx_log_on_send). Sent once, its own timing
    // (rtt_timing) gives the sample; sent again (Karn stopped the timing),
    // its ACK gets the verdict its record would have given: withheld, with
    // the resend's time.
    if (lone_fin_timed(c) && !c.rtt_timing) return {.withheld = true, .rxt_sent_us = clock_us(c.rtt_start)};
    return {};
  }
  const TxLog& l = *c.txlog;
  const TxRecord* newest = nullptr;
  for (std::size_t i = 0; i < l.size(); ++i) {
    const TxRecord& r = l.at(i);
    if (!seq_lt(r.start, ack)) {
      if (l.seq_ordered()) break;  // in sequence order: so are all after it
      continue;
    }
    if (!seq_lt(c.snd_una, r.end) || r.fully_acked()) continue;  // not delivered by this ACK
    if (newest == nullptr || order_after(r.order, newest->order)) newest = &r;
  }
  if (newest == nullptr) return {};
  return record_rtt(*newest, now);
}

// RFC 6582 §4.2 compares the echo with the timestamp of the last segment
// the ACK acknowledges: the TSval of the latest transmission of the octet
// below SEG.ACK, which the log's record of it gives (every segment of a
// batch carries the batch's TSval). A merged record's send time is not
// every octet's: no verdict, as without a log.
bool TcpStack::echoes_last_acked(const Tcb& c, const Segment& s, Instant now) const noexcept {
  if (!s.opts.timestamps) return false;
  if (c.txlog == nullptr) {
    // A bare FIN's latest transmission, as its record would give it.
    return lone_fin_timed(c) && s.ack == c.snd_max &&
           s.opts.timestamps->second == logged_tsval(c, clock_us(c.rtt_start), now);
  }
  const TxLog& l = *c.txlog;
  const Seq32 last = s.ack - 1;
  for (std::size_t i = 0; i < l.size(); ++i) {
    const TxRecord& r = l.at(i);
    if (seq_leq(r.start, last) && seq_lt(last, r.end)) {
      if ((r.flags & kTxMerged) != 0) return false;
      const std::uint32_t age_us = clock_us(now) - r.sent_us;
      return s.opts.timestamps->second == ts_val(c, now - Duration::us(age_us));
    }
    if (l.seq_ordered() && seq_gt(r.start, last)) break;  // in sequence order: so are all after it
  }
  return false;
}

Duration TcpStack::rtt_sample(Tcb& c, const Segment& s, Instant now) noexcept {
  return take_rtt_sample(c, s, logged_rtt(c, s.ack, now), now);
}

// take_rtt_sample's other cases (tcp_stack.h has the log's sample).
Duration TcpStack::take_rtt_sample_unlogged(Tcb& c, const Segment& s, const LoggedRtt& logged,
                                            Instant now) noexcept {
  // The newest batch delivered was a retransmission: Karn's rule (RFC 6298
  // §3), and TSecr is not asked either. RFC 7323 §4.1 lets TSecr time a
  // retransmission, but its millisecond clock gives 0 or 1 ms on a
  // sub-millisecond path, and after a spurious timeout (the data had
  // arrived, its ACKs were lost) the receiver echoes the original's TSval
  // (RFC 7323 §4.3: a duplicate does not update TS.Recent), which times the
  // lost ACKs and the whole RTO: 200 ms and more into SRTT, and 2 * SRTT
  // into every probe timeout after it. At 3 % loss over net_af_packet 613
  // of 8,200 samples in 5 s came this way (an instrumented build), 580 of
  // them 0 and the rest 19 ms on average, over a path of about 150 us
  // (bench/loss/README.md, session 21). Without a log (its pool dry) TSecr
  // still times everything.
  //
  // Unless TSecr tells which transmission the ACK answers (RFC 8985 §6.2
  // step 2's timestamp check): an echo of the TSval the retransmission
  // carried, or a later one, cannot be the original's, so the
  // retransmission's own send time gives an exact sample (and, below the
  // minimum RTT seen, it is the original's after all: the same millisecond
  // tick). Without it a connection whose every ACK after a timeout delivers
  // retransmitted data never samples, and its backoff (RFC 6298 §5.5),
  // which only a valid sample ends (§5.7, Karn), doubles from one timeout
  // to the next while data flows: a receiver that holds few out-of-order
  // segments turned a 5 MB transfer into 60 timeouts and half an hour
  // (the simulator's seed 520 with 4 MiB send buffers).
  if (logged.withheld) {
    c.rtt_timing = false;
    if (!c.ts_ok || !s.opts.timestamps) return Duration{};
    const std::uint32_t age_us = clock_us(now) - logged.rxt_sent_us;
    const std::uint32_t rxt_tsval = logged_tsval(c, logged.rxt_sent_us, now);
    const bool echoes_rxt = static_cast<std::int32_t>(s.opts.timestamps->second - rxt_tsval) >= 0;
    if (!echoes_rxt || age_us >= 0x7fffffffu || age_us < c.rack_min_rtt.us()) return Duration{};
    c.rto.on_rtt_sample(Duration::us(age_us));
    return Duration::us(age_us);
  }
  // A segment timed from its send (the handshake's, or data without
  // timestamps), never retransmitted since (Karn): microseconds, exact.
  if (c.rtt_timing && seq_gt(s.ack, c.rtt_seq)) {
    c.rto.on_rtt_sample(now - c.rtt_start);
    c.rtt_timing = false;
    return now - c.rtt_start;
  }
  // RFC 7323 §4.1: with timestamps every ACK that advances the window gives
  // a sample from TSecr, retransmission or not (RFC 6298 §3 via Karn's note).
  if (c.ts_ok && s.opts.timestamps && s.opts.timestamps->second != 0) {
    const std::uint32_t ticks = ts_val(c, now) - s.opts.timestamps->second;
    c.rtt_timing = false;
    if (ticks >= 0x7fffffffu) return Duration{};
    c.rto.on_rtt_sample(Duration::ms(ticks));
    return Duration::ms(ticks);
  }
  return Duration{};
}

namespace {

// RFC 2018 §3 blocks above SEG.ACK and within what was sent: their highest
// right edge. A D-SACK block (RFC 2883 §4) at or below SEG.ACK is skipped.
void sack_summary(const Tcb& c, const Segment& s, AckSample& sample) noexcept {
  if (!c.sack_ok) return;
  for (const SackBlock& b : s.opts.sack_blocks()) {
    const Seq32 left{b.left}, right{b.right};
    if (!seq_gt(left, s.ack) || !seq_lt(left, right) || seq_gt(right, c.snd_max)) continue;
    if (!sample.sacked || seq_gt(right, sample.sack_high)) sample.sack_high = right;
    sample.sacked = true;
  }
}

}  // namespace

void TcpStack::process_ack(Tcb& c, Segment& s, Instant now) noexcept {
  if (seq_gt(s.ack, c.snd_una)) {
    // New data acknowledged (SND.UNA < SEG.ACK =< SND.MAX). The ACK of our
    // SYN or FIN, which every connection's set-up and teardown bring here,
    // takes the short path when nothing is lost, SACKed or to be undone
    // (tcp_fast_ack.cc; header prediction sends the others there).
    if ((c.snd_una == c.iss || c.fin_sent) && o_.fast_ack && s.opts.sack_count == 0 && fast_ack(c, s, now))
      return;
    std::uint32_t acked = static_cast<std::uint32_t>(s.ack - c.snd_una);
    const Duration rtt = rtt_sample(c, s, now);
    std::uint32_t data = acked;
    if (c.snd_una == c.iss) --data;  // our SYN (SYN-RECEIVED -> ESTABLISHED)
    bool fin_acked = false;
    if (fin_outstanding(c) &&
        s.ack == c.snd_una + (static_cast<std::uint32_t>(c.snd_una == c.iss) + c.sndq.bytes() + 1)) {
      fin_acked = true;
      --data;
    }
    c.sndq.drop_front(std::min(data, c.sndq.bytes()));
    c.bytes_acked += data;
    AckSample sample{s.ack, acked, c.snd_max, now};
    sample.cwnd_limited = note_cwnd_use(c);
    sample.rtt = rtt;  // CUBIC's clock and HyStart++'s rounds (cc/cubic.h)
    sample.srtt = c.rto.srtt();
    sack_summary(c, s, sample);
    // Without SACK the recovery core decides on duplicates after a timeout
    // by RFC 6582 §4.2's timestamp heuristic (reno_recovery.h).
    if (!c.sack_ok && c.ts_ok) sample.echoes_last = echoes_last_acked(c, s, now);
    // With SACK, tcp_sack.cc runs recovery and asks the controller itself.
    const CcAction a = c.sack_ok ? CcAction::kNone : c.cc.on_ack(sample);
    c.snd_una = s.ack;
    confirm_first_hop(c, now);
    if (seq_lt(c.snd_nxt, c.snd_una)) c.snd_nxt = c.snd_una;
    c.retries = 0;
    c.persist_backoff = 0;
    update_window(c, s);
    restart_rtx(c, now);
    if (c.sack_ok) {
      sack_on_ack(c, s, acked, sample, false, now);
    } else {
      tx_log_on_ack(c, acked, {}, ack_tsecr(c, s), now);
      if (c.cc.wants_rate_samples())  // BBR; without SACK no ACK marks a loss (the core resends)
        rate_on_ack(c, acked, 0, c.flight(), c.flight() + acked, rtt, now);
      undo_on_ack(c, s, acked, nullptr, false, a == CcAction::kRetransmit, now);  // tcp_undo.cc
    }
    if (a == CcAction::kRetransmit) {  // RFC 6582 §3.2 step 3: partial ACK
      counters_.inc(Counter::kTCPPartialAckRetrans);
      const std::uint32_t len = std::min<std::uint32_t>(c.mss, c.sndq.bytes());
      if (len > 0) send_data_segment(c, c.snd_una, len, false, now);
    }
    if (writable_due(c)) {
      c.writable_wanted = false;
      post(c, kTcpEvWritable);
    }
    if (fin_acked) on_fin_acked(c, now);
    return;
  }
  // SEG.ACK =< SND.UNA: old or duplicate. RFC 5681 §2's duplicate ACK: no
  // data, no SYN/FIN, same window, data outstanding, SEG.ACK == SND.UNA.
  const std::uint32_t wnd = static_cast<std::uint32_t>(s.wnd_raw) << c.snd_wscale;
  const bool dup =
      s.ack == c.snd_una && s.len == 0 && !s.flags.fin() && wnd == c.snd_wnd && c.snd_max != c.snd_una;
  if (c.sack_ok) {
    // RFC 6675 §2: with SACK, a duplicate is an ACK at SND.UNA whose blocks
    // report new data, whatever its window or payload: sack_on_ack decides.
    const std::uint32_t old_wnd = c.snd_wnd;
    update_window(c, s);
    if (s.ack == c.snd_una && c.snd_max != c.snd_una) {
      AckSample sample{s.ack, 0, c.snd_max, now};
      sack_summary(c, s, sample);
      sack_on_ack(c, s, 0, sample, dup, now);
    } else if (s.ack == c.snd_una && (s.opts.sack_count > 0 || c.tlp_rxt_out)) {
      // Nothing outstanding: a late D-SACK, or the duplicate ACK a loss
      // probe draws from a peer that sends none (tcp_undo.cc).
      undo_on_idle_ack(c, s, s.len == 0 && !s.flags.fin() && wnd == old_wnd, now);
    }
    return;
  }
  if (dup) {
    undo_on_ack(c, s, 0, nullptr, true, false, now);  // F-RTO (tcp_undo.cc)
    AckSample sample{s.ack, 0, c.snd_max, now};
    sack_summary(c, s, sample);
    const bool was_in_recovery = c.cc.in_recovery();
    const CcAction a = c.cc.on_dup_ack(sample);
    if (a == CcAction::kRetransmit) {  // RFC 5681 §3.2 step 2: fast retransmit
      if (!was_in_recovery && c.cc.in_recovery()) undo_begin(c, false);
      counters_.inc(Counter::kTCPFastRetrans);
      const std::uint32_t len = std::min<std::uint32_t>(c.mss, c.sndq.bytes());
      if (len > 0) {
        c.rtt_timing = false;
        send_data_segment(c, c.snd_una, len, false, now);
      }
    } else if (a == CcAction::kSendNew) {
      limited_transmit(c, now);
    }
  }
  update_window(c, s);
}

// Our FIN acknowledged (RFC 9293 §3.10.7.4, fifth step): FIN-WAIT-1 goes
// to FIN-WAIT-2, CLOSING to TIME-WAIT, LAST-ACK to CLOSED.
void TcpStack::on_fin_acked(Tcb& c, Instant now) noexcept {
  switch (c.state) {
    case TcpState::kFinWait1:
      to_state(c, TcpState::kFinWait2);
      if (c.app_closed) {  // an orphan: do not wait for the peer forever (tcp_fin_timeout)
        c.linger_deadline = now + o_.cfg.fin_timeout;
        arm_timer(c);
      }
      break;
    case TcpState::kClosing:
      enter_time_wait(c, now);
      break;
    case TcpState::kLastAck:
      finish(c, TcpError::kNone);
      break;
    default:
      break;
  }
}

// RFC 3042 §2 limited transmit: one new segment "if the receiver's
// advertised window allows" and new data is available; cwnd is left alone.
// Only data never sent: after a timeout rewound SND.NXT, output() owns the
// go-back.
void TcpStack::limited_transmit(Tcb& c, Instant now) noexcept {
  if (c.snd_nxt != c.snd_max) return;
  const std::uint32_t off = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  const std::uint32_t unsent = c.sndq.bytes() > off ? c.sndq.bytes() - off : 0;
  const std::uint32_t room = c.snd_wnd > c.flight() ? c.snd_wnd - c.flight() : 0;
  const std::uint32_t len = std::min({unsent, room, static_cast<std::uint32_t>(c.mss)});
  // Less than SMSS only when it empties the queue (sender SWS, RFC 9293 §3.8.6.2.1).
  if (len > 0 && (len == c.mss || len == unsent) && send_data_segment(c, c.snd_nxt, len, false, now)) {
    c.snd_nxt += len;
    c.snd_max = c.snd_nxt;
    c.cc.on_limited_transmit(len);
  }
}

// update_window's rare case (tcp_stack.h): the window reopened (or grew past
// the SWS threshold) while the persist timer ran: stop probing; output()
// sends at once.
void TcpStack::stop_persist(Tcb& c) noexcept {
  c.rtx_kind = Tcb::RtxKind::kNone;
  c.rtx_deadline = Instant::max();
  c.persist_backoff = 0;
  arm_timer(c);
}

}  // namespace tern
