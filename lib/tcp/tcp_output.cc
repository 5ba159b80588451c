// Building and sending segments: data under the send window, congestion
// window, Nagle and SWS rules (RFC 9293 §3.8.6.2), ACKs, SYNs, RSTs and
// the receive window we advertise.
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "ip/chain_checksum.h"
#include "tcp/tcp_checksum.h"
#include "tcp/tcp_stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

namespace tern {

namespace {

// finish_checksum's software sum, out of line.
[[gnu::noinline]] void sum_checksum(rte_mbuf* m, std::uint16_t l4_off, std::uint32_t pseudo) noexcept {
  auto* th = rte_pktmbuf_mtod_offset(m, std::byte*, l4_off);
  th[16] = th[17] = std::byte{0};
  const std::uint16_t sum = chain_checksum(m, pseudo, l4_off, m->pkt_len - l4_off);
  th[16] = static_cast<std::byte>(sum >> 8);
  th[17] = static_cast<std::byte>(sum & 0xff);
}

// The checksum of the TCP segment `l4_off` bytes into m (after a frame
// prefix, or at its start), `pseudo` its pseudo-header sum, length included.
// Inline: with the port's offload (every ACK on a veth or the in-process
// link) it is three stores, less than the call.
[[gnu::always_inline]] inline void finish_checksum(rte_mbuf* m, std::uint16_t l4_off, std::uint32_t pseudo,
                                                   bool v4, bool offload) noexcept {
  if (offload) {
    auto* th = rte_pktmbuf_mtod_offset(m, std::byte*, l4_off);
    // DPDK's contract for RTE_MBUF_F_TX_TCP_CKSUM: the folded pseudo-header
    // sum in the field, l4_len set (the IP layer sets l2_len and l3_len;
    // for IPv4 also RTE_MBUF_F_TX_IPV4). IPv6 needs RTE_MBUF_F_TX_IPV6 with
    // the L4 flag, set here (the IPv6 header has no checksum to offload).
    store_be16(th + 16, checksum_fold(pseudo));
    m->ol_flags |= v4 ? RTE_MBUF_F_TX_TCP_CKSUM : (RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6);
    m->l4_len = static_cast<std::uint16_t>((std::to_integer<unsigned>(th[12]) >> 4) * 4);
    return;
  }
  sum_checksum(m, l4_off, pseudo);
}

// tso_segsz != 0: a super-segment the port cuts into wire segments of
// that many payload bytes (TcpStackOptions::tso_max).
void fill_checksum(rte_mbuf* m, const FourTuple& t, bool offload, std::uint16_t tso_segsz = 0) noexcept {
  if (tso_segsz != 0) {
    // DPDK's contract for RTE_MBUF_F_TX_TCP_SEG: the pseudo-header sum
    // without the length (each wire segment has its own; rte_ipv4_phdr_cksum
    // leaves it out for TSO), the L4 checksum request, l4_len and
    // tso_segsz; for IPv4 the IP layer adds RTE_MBUF_F_TX_IPV4 and
    // RTE_MBUF_F_TX_IP_CKSUM with l2_len and l3_len; IPv6's version flag is
    // set here, as finish_checksum sets it.
    auto* th = rte_pktmbuf_mtod(m, std::byte*);
    store_be16(th + 16, checksum_fold(tcp_pseudo_header_sum(t.laddr, t.raddr, 0)));
    m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | (t.is_v4() ? 0 : RTE_MBUF_F_TX_IPV6);
    m->l4_len = static_cast<std::uint16_t>((std::to_integer<unsigned>(th[12]) >> 4) * 4);
    m->tso_segsz = tso_segsz;
    return;
  }
  finish_checksum(m, 0, tcp_pseudo_header_sum(t.laddr, t.raddr, m->pkt_len), t.is_v4(), offload);
}

// The window arithmetic below runs for every segment we send and every
// read: these are inline free functions so that window_field and
// window_update_due inline them (the members of the same names wrap them).

// space / truesize with a multiplication by recip = floor(2^32 / truesize):
// a 32-bit division costs some 25 cycles. The reciprocal is rounded down, so
// the estimate is exact or one short.
inline std::uint32_t segments_in(std::uint32_t space, std::uint32_t truesize, std::uint64_t recip) noexcept {
  auto q = static_cast<std::uint32_t>((std::uint64_t{space} * recip) >> 32);
  if (std::uint64_t{q + 1} * truesize <= space) ++q;
  return q;
}

// rcv_window_limit at `level`, for a full segment of `full` truesize.
inline std::uint32_t window_limit(MemLevel level, std::uint32_t rcv_buf, std::uint32_t full) noexcept {
  switch (level) {
    case MemLevel::kNormal:
      break;
    case MemLevel::kPressure:
      return std::min(rcv_buf, 4 * full);
    case MemLevel::kHigh:
      return std::min(rcv_buf, full);  // as rcv_limit
  }
  return rcv_buf;
}

}  // namespace

// Header mbufs for a burst of `segments` taken from the pool in one call:
// rte_pktmbuf_alloc_bulk resets them in one loop, so the cache misses on
// their metadata (mbufs come back from whichever core freed them) overlap
// instead of stalling each segment in turn. What the stash already holds
// goes first (moved to the front); at the end of output() what the burst
// did not use goes back but for kHeaderMbufsKept (release_header_mbufs).
void TcpStack::reserve_header_mbufs(std::uint32_t segments) noexcept {
  if (segments < 2 || hdr_count_ - hdr_next_ >= segments) return;
  grow_header_mbufs(segments);
}

// Out of line: inlined, the move and the mempool get cost output_pass's
// every call registers and code size (rr +21 instructions a transaction).
[[gnu::noinline]] void TcpStack::grow_header_mbufs(std::uint32_t segments) noexcept {
  const std::uint32_t held = hdr_count_ - hdr_next_;
  const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(segments, hdr_stash_.size()));
  if (held != 0 && hdr_next_ != 0) std::copy_n(hdr_stash_.data() + hdr_next_, held, hdr_stash_.data());
  hdr_next_ = 0;
  hdr_count_ = held;
  if (!alloc_header_mbufs(hdr_stash_.data() + held, n - held)) return;  // short: one at a time
  hdr_count_ = n;
  set_header_mbufs_held();
}

// rte_pktmbuf_alloc_bulk's mbufs with mbuf_reset_from's resets (base/mbuf.h).
bool TcpStack::alloc_header_mbufs(rte_mbuf** out, std::uint32_t n) noexcept {
  if (rte_mempool_get_bulk(pool_mp_, reinterpret_cast<void**>(out), n) != 0) return false;
  for (std::uint32_t i = 0; i < n; ++i) mbuf_reset_from(out[i], hdr_rearm_);
  return true;
}

// The end of output(): a burst's unused reservation goes back to the pool
// but for the last kHeaderMbufsKept, which the next calls take; all of it
// once the worker has left its normal level or the pool ran low
// (header_stash_open), so that a stash never holds what the queues, or the
// pool's other takers, are short of.
void TcpStack::release_header_mbufs() noexcept {
  const std::uint32_t held = hdr_count_ - hdr_next_;
  if (held == 0) return;
  const std::uint32_t keep = header_stash_open() ? kHeaderMbufsKept : 0;
  if (held <= keep) return;
  rte_pktmbuf_free_bulk(hdr_stash_.data() + hdr_next_, held - keep);
  hdr_next_ = hdr_count_ - keep;
  set_header_mbufs_held();
}

void TcpStack::flush_header_mbufs() noexcept {
  if (hdr_next_ < hdr_count_) rte_pktmbuf_free_bulk(hdr_stash_.data() + hdr_next_, hdr_count_ - hdr_next_);
  hdr_count_ = hdr_next_ = 0;
  set_header_mbufs_held();
}

// The stash is empty: a batch of kHeaderMbufsKept from the pool in one
// call (one mempool get and one reset loop instead of one allocation per
// segment; the get's fixed cost, some 100 instructions in DPDK 22.11, is
// why the batch is 16 and not 8), the first for this segment. Outside the
// normal level, with the pool low at the last timer pass (pool_low_: a
// batch would take what ARP, ICMP, the RX ring's refill and the other
// connections need) or too short for the batch, one mbuf alone, as before
// the stash.
[[gnu::noinline]] Mbuf TcpStack::refill_header_mbufs() noexcept {
  hdr_count_ = hdr_next_ = 0;
  if (header_stash_open() && alloc_header_mbufs(hdr_stash_.data(), kHeaderMbufsKept)) [[likely]] {
    hdr_count_ = kHeaderMbufsKept;
    hdr_next_ = 1;
    set_header_mbufs_held();
    return Mbuf{hdr_stash_[0]};
  }
  Mbuf m = Mbuf::alloc(pool_mp_);
  if (!m) note_mbuf_exhausted();
  return m;
}

// A stale prefix (its neighbour entry changed or expired) is rebuilt; where
// none can be built (the hop's MAC unknown, an IPv6 neighbour not
// REACHABLE, a sink without prefixes)
// the segment takes the sink's full path, which resolves the hop.
bool TcpStack::refresh_prefix(Tcb& c, Instant now) noexcept {
  c.prefix.len = 0;
  return sink_.frame_prefix(c.tuple, c.prefix, now);  // prefix_fresh asked for prefix_gen_
}

// What c's receive queues may take (truesize) at the worker's memory level
// (docs/architecture.md "Memory model"): the whole rcv_buf, but at the high
// level one full segment, so that a queue already holding data takes no
// more while an empty one still makes progress.
std::uint32_t TcpStack::rcv_limit(const Tcb& c) noexcept {
  if (mem_.level() == MemLevel::kHigh) return std::min(c.rcv_buf, full_seg_truesize_);
  return c.rcv_buf;
}

// What the window may offer room for: as rcv_limit, and under pressure
// four full segments, as Linux clamps rcv_ssthresh to 4 * advmss
// (tcp_clamp_window). Data already in flight inside a window offered earlier
// is still taken (the right edge never moves left).
std::uint32_t TcpStack::rcv_window_limit(const Tcb& c) noexcept {
  return window_limit(mem_.level(), c.rcv_buf, full_seg_truesize_);
}

// The window that `space` bytes of truesize can honour if the peer sends
// full-sized segments (Linux's tcp_win_from_space): whole segments only, as
// a partial one costs a whole mbuf. Smaller segments cost more per byte;
// rcv_make_room collapses them when they do.
std::uint32_t TcpStack::win_from_space(const Tcb& c, std::uint32_t space) const noexcept {
  return segments_in(space, full_seg_truesize_, full_seg_recip_) * c.rcv_mss;
}

std::uint32_t TcpStack::full_segments_in(std::uint32_t space) const noexcept {
  return segments_in(space, full_seg_truesize_, full_seg_recip_);
}

// A SYN's window is never scaled (RFC 7323 §2.2), and the MSS is not yet
// agreed: it offers what rcv_buf can honour at our own MSS.
std::uint16_t TcpStack::syn_window(std::uint32_t rcv_buf, std::uint32_t clamp) const noexcept {
  const std::uint64_t w = std::uint64_t{full_segments_in(rcv_buf)} * mss_for_mtu();
  return static_cast<std::uint16_t>(std::min<std::uint64_t>(w, clamp != 0 ? std::min(clamp, 65535u) : 65535));
}

// Free receive buffer: what the window may offer.
std::uint32_t TcpStack::receive_window(Tcb& c) noexcept {
  const std::uint32_t limit = rcv_window_limit(c), used = rcv_charged(c);
  return used >= limit ? 0 : win_from_space(c, limit - used);
}

// The window field for the next segment, and RCV.ADV moved to match.
// RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): the right edge moves only
// by at least min(buffer / 2, MSS); RFC 9293 §3.8.6 / RFC 7323 §2.4: it never
// moves left, even if the window must then be rounded up to the scale.
// While out-of-order data is held, an ACK that repeats the last ACK number
// repeats its window too: the ACKs a hole produces are then duplicates by
// RFC 5681 §2's definition (same ACK number, same window), which a sender
// without SACK counts to fast-retransmit (RFC 5681 §3.2, RFC 6582). Were
// the application's reads of the data before the hole to open the window
// between them, such a sender would see window updates, not duplicates,
// and every hole would wait for its retransmission timeout. The edge moves
// again with the next ACK number, which the hole's filling earns.
// Inline in send_data_segment (every segment and ACK sent: the call's
// prologue and epilogue were a sixth of its cost); window_field is the
// out-of-line copy for the rarer senders (RSTs, keepalives, probes).
[[gnu::always_inline]] inline std::uint16_t TcpStack::window_field_inline(Tcb& c) noexcept {
  // receive_window(c) and rcv_window_limit(c), inlined.
  const std::uint32_t limit = window_limit(mem_.level(), c.rcv_buf, full_seg_truesize_);
  const std::uint32_t used = rcv_charged(c);
  const std::uint32_t free =
      used >= limit ? 0 : segments_in(limit - used, full_seg_truesize_, full_seg_recip_) * c.rcv_mss;
  const std::int32_t cur_i = c.rcv_adv - c.rcv_nxt;
  const std::uint32_t cur = cur_i > 0 ? static_cast<std::uint32_t>(cur_i) : 0;
  std::uint32_t wnd = cur;
  // SWS step: half the largest window, at most one MSS. win_from_space(limit)
  // is at least one MSS whenever limit holds a full segment, and at least
  // two (the step is one MSS, the usual case) when it holds two.
  const std::uint32_t step = limit >= 2ull * full_seg_truesize_
                                 ? c.rcv_mss
                                 : std::min<std::uint32_t>(win_from_space(c, limit) / 2, c.rcv_mss);
  if (free > cur && free - cur >= step && (c.ooo == nullptr || c.rcv_nxt != c.last_ack_sent)) wnd = free;
  const std::uint32_t max_wnd = max_window(c);  // the scale's reach, within TCP_WINDOW_CLAMP
  wnd = std::min(wnd, max_wnd);
  std::uint32_t field = wnd >> c.rcv_wscale;
  if ((field << c.rcv_wscale) < cur) field = (cur + (1u << c.rcv_wscale) - 1) >> c.rcv_wscale;
  field = std::min<std::uint32_t>(field, 65535);
  const Seq32 edge = c.rcv_nxt + (field << c.rcv_wscale);
  if (seq_gt(edge, c.rcv_adv)) c.rcv_adv = edge;
  return static_cast<std::uint16_t>(field);
}

std::uint16_t TcpStack::window_field(Tcb& c) noexcept { return window_field_inline(c); }

// After the application read: worth an ACK to open the window now? As
// Linux's tcp_cleanup_rbuf: only once the window the peer sees has shrunk to
// half of what it can be, and the update at least doubles it (and moves the
// edge by at least one MSS, RFC 9293 §3.8.6.2.2). In a steady bulk transfer
// the ordinary ACKs carry the window, so this adds no ACKs there; it matters
// when the application drained a (nearly) closed window. The inline
// window_update_due (tcp_stack.h) has ruled out a hole, a FIN and the usual
// case; `cur` is the window the peer sees, `max_field` the most a window
// field can express.
bool TcpStack::window_update_open(Tcb& c, std::uint32_t cur, std::uint32_t max_field) noexcept {
  const std::uint32_t limit = std::min(win_from_space(c, rcv_window_limit(c)), max_field);
  if (2ull * cur > limit) return false;  // decided without receive_window
  const std::uint32_t free = std::min(receive_window(c), limit);
  if (free <= cur) return false;
  return free >= 2ull * cur && free - cur >= std::min<std::uint32_t>(limit / 2, c.rcv_mss);
}

// After a loss the sender is in recovery and every report counts: for the
// first kAcksAfterHole in-order arrivals after a hole fills, each is ACKed
// at once, not once per burst. One ACK for a burst's worth of its
// retransmissions and new data, if lost, leaves the sender a tail probe or
// an RTO; an ACK for each lets it leave recovery and grow its window as on
// a wire without bursts (RFC 5681 §4.2 asks for ACKs at once while a hole
// is open; Linux goes on ACKing at once for a while, its quick-ACK mode).
// Measured: the kernel sending to Tern at 1 % loss went from 2.1 to
// 3.2 Gbit/s (bench/loss/README.md).
void TcpStack::ack_now_or_later(Tcb& c, bool force, Instant now) noexcept {
  if (c.acks_after_hole > 0 && c.ooo == nullptr) {
    --c.acks_after_hole;
    c.ack_now = true;
    c.ack_at_once = true;
    return;
  }
  if (force || c.unacked_segs >= 2) {
    c.ack_now = true;
    c.ack_at_once = c.ack_at_once || force;
    return;
  }
  if (c.quickacks > 0) {
    --c.quickacks;
    c.ack_now = true;
    return;
  }
  if (c.delack_deadline == Instant::max()) {
    c.delack_deadline = now + o_.cfg.delayed_ack;
    arm_timer(c);
  }
}

// With TSO (TcpStackOptions::tso_max) new data goes in super-segments of
// whole MSS, which the port cuts at tso_segsz = MSS, every part with the
// same headers (the same TSval too: RFC 7323 §3 lets segments sent at
// once share one); the tail of a write short of an MSS goes on its own,
// through Nagle's and SWS's checks as before. Not for what is sent again
// (a retransmission is one MSS at most, never more than what was lost), not
// with the FIN (it belongs to the last wire segment alone). IPv4 and IPv6
// alike (IPv6's 16-bit payload length holds kTsoMaxPayload and the TCP
// header, as IPv4's total length does). SACK blocks never ride in a full
// segment (send_data_segment: they must fit the MSS), so a super-segment
// carries none either, as its parts would not have. Under
// pacing at most one send quantum (BBR's 1 ms of data at the pacing rate,
// at least two segments), as Linux's tcp_tso_autosize sizes a TSO frame by
// the pacing rate: a super-segment never outruns the pacing budget by more
// than the burst pacing already allows (pace_hold).
std::uint32_t TcpStack::send_size(const Tcb& c, bool fin_pending) const noexcept {
  const std::uint32_t mss = c.mss;
  if (mss == 0 || o_.tso_max < 2u * mss || fin_pending || c.snd_nxt != c.snd_max) return mss;
  std::uint32_t most = std::min(o_.tso_max, TcpStackOptions::kTsoMaxPayload);
  if (may_pace(c) && pacing_rate(c) != 0) most = std::min(most, pacing_quantum(c));
  return std::max<std::uint32_t>(most / mss, 1) * mss;
}

void TcpStack::output(Tcb& c, Instant now) noexcept {
  if (c.removed) return;
  follow_path_mtu(c, now);  // RFC 8201 §5.2: the destination's path MTU, as it is now
  output_on_path(c, now);
}

// output() once c follows the path MTU as it is at `now`: header
// prediction's, whose segment asked follow_path_mtu on arrival
// (input_synchronized). Nothing between can move the sink's generation (an
// ICMP report or a router advertisement does, on the IP layer's own input),
// and c's estimate expires at the same `now`, so a second check finds
// nothing to do.
void TcpStack::output_on_path(Tcb& c, Instant now) noexcept {
  const bool can_send_data = c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait ||
                             c.state == TcpState::kFinWait1 || c.state == TcpState::kClosing ||
                             c.state == TcpState::kLastAck;
  if (can_send_data && c.snd_nxt == c.snd_max && !c.sack_recovery && !c.recovery_hold &&
      static_cast<std::uint32_t>(c.snd_max - c.snd_una) >= c.sndq.bytes() && (!c.fin_queued || c.fin_sent)) {
    // Everything queued is out (the FIN too, if any) and nothing is to be
    // sent again: the call an ACK or a read makes most often. Only what the
    // full pass below would still do with nothing to send.
    if (c.cc.wants_rate_samples()) rate_note_app_limited(c);
    if (c.ack_now) send_or_defer_ack(c, now);
    return;
  }
  output_pass(c, can_send_data, now);
}

// output()'s full pass, out of line so that the early return above pays
// none of its prologue (callee-saved registers, stack frame): ~15
// instructions per ACK and per read.
void TcpStack::output_pass(Tcb& c, bool can_send_data, Instant now) noexcept {
  if (can_send_data) {
    // RFC 5681 §4.1: restart from the initial window after an idle RTO;
    // shorter pauses the controller may keep off its clock (CUBIC, RFC 9438
    // §5.8), so it hears of every restart from an empty pipe with data to
    // send (once: the send that follows moves last_send).
    if (c.snd_nxt == c.snd_una && !c.sndq.empty() && c.snd_wnd > 0 && now != c.last_send)
      c.cc.on_idle_restart(now, c.last_send, c.rto.rto());
    if (c.sack_recovery || (c.recovery_hold && rack_active(c))) {
      // RFC 6675 §5 (C): in SACK recovery NextSeg chooses every segment;
      // RACK's after a timeout too (RFC 8985 §6.3: lost segments first).
      sack_send(c, now);
      if (c.ack_now) send_or_defer_ack(c, now);
      return;
    }
    const bool fin_pending =
        c.fin_queued && c.state != TcpState::kEstablished && c.state != TcpState::kCloseWait;
    const Seq32 max_before = c.snd_max;
    const Seq32 nxt_before = c.snd_nxt;
    const bool rtx_was_running = c.rtx_kind == Tcb::RtxKind::kRetransmit;
    bool paced = false;
    {
      // The burst this call may send, its header mbufs taken in one go.
      const std::uint32_t off = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
      const std::uint32_t avail = off < c.sndq.bytes() ? c.sndq.bytes() - off : 0;
      const std::uint32_t wnd = std::min(c.snd_wnd, c.cc.cwnd());
      const std::uint32_t usable = wnd > c.flight() ? wnd - c.flight() : 0;
      reserve_header_mbufs(std::min(avail, usable) / std::max<std::uint32_t>(c.mss, 1));
    }
    for (;;) {
      const std::uint32_t off = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
      const std::uint32_t queued = c.sndq.bytes();
      const std::uint32_t avail = off < queued ? queued - off : 0;
      const std::uint32_t wnd = std::min(c.snd_wnd, c.cc.cwnd());
      const std::uint32_t in_flight = c.flight();
      const std::uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
      std::uint32_t len = std::min(avail, usable);
      if (len > c.mss) {
        // More than one segment's worth: one MSS, or a super-segment of
        // whole MSS (the rest goes on its own).
        len = std::min(len, send_size(c, fin_pending));
        len -= len % c.mss;
      }
      if (len > 0 && c.sack_ok && seq_lt(c.snd_nxt, c.snd_max) && !c.sb.empty()) {
        // Going back after a timeout: skip what the peer SACKed since.
        const Seq32 was = c.snd_nxt;
        const std::uint32_t n = sack_skip(c, len);
        if (c.snd_nxt != was) continue;
        len = n;
      }
      // The FIN goes with (or after) the last byte, and only once (snd_nxt
      // beyond the data means it is in flight).
      const bool fin_here = fin_pending && off + len == queued && off <= queued &&
                            (len > 0 || usable > 0 || c.snd_wnd == 0 || in_flight == 0);
      const bool fin_in_flight = fin_pending && off > queued;
      const bool fin = fin_here && !fin_in_flight;
      if (len == 0 && !fin) {
        if (avail > 0 && usable == 0 && in_flight == 0 && c.rtx_kind != Tcb::RtxKind::kPersist) {
          set_idle_timer(c, now);  // zero window: start probing (persist timer)
        }
        break;
      }
      const bool retransmission = seq_lt(c.snd_nxt, c.snd_max);
      if (len < c.mss && !fin && !retransmission) {
        // Sender SWS avoidance and Nagle (RFC 9293 §3.8.6.2.1, RFC 896): a
        // short segment only when it empties the queue and nothing is in
        // flight (or Nagle is off), never while corked.
        const bool empties = len == avail;
        const bool half_window = c.max_snd_wnd > 0 && len >= c.max_snd_wnd / 2 && !c.cork;
        if (!half_window && (c.cork || !empties || (!c.nodelay && in_flight > 0))) {
          // Held back by the peer's small window with nothing in flight:
          // nothing would ever clock it out, so the persist timer acts as
          // §3.8.6.2.1's override timeout.
          if (in_flight == 0 && len < avail && c.rtx_kind != Tcb::RtxKind::kPersist) {
            c.rtx_kind = Tcb::RtxKind::kPersist;
            c.rtx_deadline = now + c.rto.rto();
            arm_timer(c);
          }
          break;
        }
      }
      if (may_pace(c) &&
          pace_hold(c, now, c.snd_max == max_before && c.snd_nxt == nxt_before)) {  // tcp_pacing.cc
        paced = true;
        break;
      }
      // The retransmission timer a first segment starts is armed below,
      // once, with the probe's deadline: one arm_timer per pass, the same
      // wheel state as arming for the RTO and then for the earlier PTO.
      if (!send_data_segment(c, c.snd_nxt, len, fin, now, false)) break;
      c.snd_nxt += len + (fin ? 1u : 0u);
      if (seq_gt(c.snd_nxt, c.snd_max)) c.snd_max = c.snd_nxt;
      if (fin) {
        c.fin_sent = true;
        break;
      }
      // This segment took all the queue held past SND.NXT, or all the
      // window allowed (sending moves neither SND.WND nor cwnd, and the
      // flight grew by len), and no FIN waits: the next round would find
      // len 0 and stop with nothing else to do (its persist check needs an
      // empty flight, and this one is not). Stopping here saves that
      // round, once per pass (in request/response, per segment).
      if (!fin_pending && (len == avail || len == usable)) break;
    }
    if (!paced && c.cc.wants_rate_samples()) rate_note_app_limited(c);
    if (c.snd_max != max_before) {
      // RFC 8985 §7.2: new data sent, the probe timeout restarts.
      schedule_probe(c, now);
      arm_timer(c);
    } else if (!rtx_was_running && c.rtx_kind == Tcb::RtxKind::kRetransmit) {
      arm_timer(c);  // RFC 6298 §5.1: only data sent again started it
    }
  }
  if (c.ack_now) send_or_defer_ack(c, now);
  release_header_mbufs();
}

// RFC 9293 §3.8.6.3 and RFC 1122 §4.2.3.2 let an ACK be delayed; in a
// burst this delays it by microseconds, to the end of the poll, never past
// the next segment sent (which carries it and clears ack_now). A
// connection freed before then leaves the list (free_tcb); one that turns
// into a TIME_WAIT record sends it first (enter_time_wait).
// Not while a hole is open: RFC 5681 §4.2 asks for an immediate ACK of
// every segment that arrives out of order or fills all or part of a gap,
// and RFC 2883 of every duplicate (Linux's __tcp_ack_snd_check sends at once
// while its out-of-order queue holds data). One ACK for a burst's worth of
// them would leave the sender a single, losable report of its losses.
void TcpStack::send_or_defer_ack(Tcb& c, Instant now) noexcept {
  if (!burst_ || c.ooo != nullptr || c.ack_at_once || c.dsack_len != 0) return send_ack(c, now);
  if (c.in_ack_list) return;
  c.in_ack_list = true;
  c.ack_link = ack_head_;
  ack_head_ = &c;
}

void TcpStack::send_deferred_acks(Instant now) noexcept {
  Tcb* t = std::exchange(ack_head_, nullptr);
  while (t != nullptr) {
    Tcb& c = *t;
    t = c.ack_link;
    c.ack_link = nullptr;
    c.in_ack_list = false;
    // Answered already by a segment sent since (ack_now cleared), or past
    // answering (reset, closed).
    if (c.ack_now && !c.removed && synchronized(c.state)) send_ack(c, now);
  }
}

// The SACK blocks of an outgoing segment, at most max_blocks. RFC 2883 §4:
// a pending D-SACK comes first, in this one segment only; then RFC 2018 §4's
// blocks, the most recently received first, which puts the block holding
// an out-of-order duplicate second, as §4 asks (the duplicate refreshed it).
std::uint8_t TcpStack::sack_option(Tcb& c, std::array<SackBlock, kTcpMaxSackBlocks>& out,
                                   std::size_t max_blocks) noexcept {
  std::size_t n = 0;
  if (c.dsack_len != 0) {
    out[n++] = SackBlock{c.dsack_left.value(), (c.dsack_left + c.dsack_len).value()};
    counters_.inc(seq_lt(c.dsack_left, c.rcv_nxt) ? Counter::kTCPDSACKOldSent : Counter::kTCPDSACKOfoSent);
    c.dsack_len = 0;
  }
  if (n < max_blocks && c.ooo != nullptr && !c.ooo->empty()) {
    std::array<SackBlock, kTcpMaxSackBlocks> held{};
    const std::uint8_t k = c.ooo->sack_blocks(held, max_blocks - n);
    for (std::uint8_t i = 0; i < k; ++i) out[n++] = held[i];
  }
  return static_cast<std::uint8_t>(n);
}

// Drops the write ends (mark_write_end) up to `end`: whether one lay in
// (seq, end], i.e. this segment carries the end of a write.
bool TcpStack::take_psh_marks(Tcb& c, Seq32 seq, Seq32 end) noexcept {
  std::uint8_t n = 0;
  bool hit = false;
  while (n < c.psh_count && seq_leq(c.psh_marks[n], end)) hit |= seq_gt(c.psh_marks[n++], seq);
  if (n == 0) return false;
  std::copy(c.psh_marks.begin() + n, c.psh_marks.begin() + c.psh_count, c.psh_marks.begin());
  c.psh_count = static_cast<std::uint8_t>(c.psh_count - n);
  return hit;
}

bool TcpStack::attach_payload(Tcb& c, rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept {
  const std::uint32_t first = std::min<std::uint32_t>(len, c.mss);
  // An external buffer without an IO address (SendRegion) is never handed
  // to a port as a slice: a NIC gathering by DMA would read RTE_BAD_IOVA.
  const bool must_copy = c.sndq.holds_unmapped_external();
  if ((len <= o_.tx_copy_max || must_copy) && rte_pktmbuf_tailroom(m) >= first) {
    // Copied, up to tx_copy_max (TcpStackOptions): into the header mbuf,
    // and for a super-segment each further MSS into an mbuf of its own,
    // the layout a receiving NIC's LRO builds (the in-process link hands it
    // over as it is, LinkPort::offer_tso). The chain is linked here, not
    // with rte_pktmbuf_chain, which walks it to its end every time.
    c.sndq.copy_out(off, first,
                    reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(first))));
    rte_mbuf* tail = m;
    for (std::uint32_t done = first; done < len;) {
      const std::uint32_t part = std::min<std::uint32_t>(len - done, c.mss);
      Mbuf piece = new_header_mbuf();
      if (!piece) return false;  // counted by new_header_mbuf
      if (rte_pktmbuf_tailroom(piece.get()) < part) {
        note_mbuf_exhausted();
        return false;
      }
      c.sndq.copy_out(off + done, part, piece.append(static_cast<std::uint16_t>(part)).data());
      tail->next = piece.release();
      tail = tail->next;
      ++m->nb_segs;
      m->pkt_len += part;
      done += part;
    }
    return true;
  }
  rte_mbuf* payload = must_copy ? nullptr : c.sndq.slice(off, len, clone_mp_);
  if (payload == nullptr) {
    note_mbuf_exhausted();
    return false;
  }
  if (rte_pktmbuf_chain(m, payload) != 0) {
    rte_pktmbuf_free(payload);
    note_mbuf_exhausted();
    return false;
  }
  return true;
}

bool TcpStack::send_data_segment(Tcb& c, Seq32 seq, std::uint32_t len, bool fin, Instant now,
                                 bool arm_rtx) noexcept {
  return send_segment_inline(c, seq, len, fin, now, arm_rtx);
}

// send_data_segment's body, inline in it and in send_ack: the bare ACK's
// copy is compiled with len 0 and no FIN, so its payload, PSH, TSO,
// retransmission and timer branches fold away (the ACK a receiver sends
// for every second segment).
[[gnu::always_inline]] inline bool TcpStack::send_segment_inline(Tcb& c, Seq32 seq, std::uint32_t len,
                                                                 bool fin, Instant now,
                                                                 bool arm_rtx) noexcept {
  Mbuf m = new_header_mbuf();
  if (!m) return false;
  // Only a segment that reports a hole or a duplicate carries SACK blocks;
  // every other one has the timestamps option alone, or no option, which
  // write_tcp_ts writes in place.
  const bool sack_blocks = c.sack_ok && (c.dsack_len != 0 || (c.ooo != nullptr && !c.ooo->empty()));
  const std::uint32_t tsval = c.ts_ok ? ts_val(c, now) : 0;
  std::array<std::byte, kTcpMaxOptionsLen> opt;  // written (write_tcp_options) and read only with SACK blocks
  std::size_t olen = c.ts_ok ? kTcpTimestampsOptionLen : 0;
  if (sack_blocks) {
    TcpOptions o;
    if (c.ts_ok) o.timestamps = std::pair{tsval, c.ts_recent};
    // RFC 6691 / RFC 9293 §3.7.1: data plus options must fit the MSS (c.mss
    // already leaves room for timestamps). The SACK option takes 4 + 8n bytes
    // in our layout; a fuller segment carries fewer blocks (RFC 2018 §3),
    // else it would exceed the MTU and IPv4 would drop it (IpReplyTooBig).
    const std::uint32_t room = len < c.mss ? c.mss - len : 0;
    const std::size_t fit = room >= 12 ? (room - 4) / 8 : 0;
    const std::size_t max_blocks = std::min<std::size_t>(c.ts_ok ? 3 : 4, fit);
    if (max_blocks > 0) o.sack_count = sack_option(c, o.sack, max_blocks);
    olen = write_tcp_options(opt, o);
  }
  const auto hlen = static_cast<std::uint16_t>(kTcpMinHeaderLen + olen);
  // A super-segment (send_size) is cut by the port: it counts as the wire
  // segments it becomes, as Linux counts an skb's gso_segs in OutSegs.
  const bool tso = len > c.mss;
  // The connection's frame prefix (Ethernet + IP header, built once:
  // lib/ip/frame_prefix.h) goes in front, so the IP layer only fills in
  // the datagram's length (IPv4: and ID and checksum); a super-segment, or a segment
  // the prefix's MTU would not carry whole, takes the full path.
  const std::uint16_t pre =
      !tso && prefix_fresh(c, now) && c.prefix.len - kEthernetHeaderLen + hlen + len <= c.prefix.max_l3_len
          ? c.prefix.len
          : 0;
  auto h = m.append(static_cast<std::uint16_t>(pre + hlen));
  // A fixed-size copy of the whole array (write_tcp overwrites what an
  // IPv4 prefix does not use): an IPv4 prefix and the shortest TCP header
  // are as long as it, an IPv6 prefix is.
  static_assert(kEthernetHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen >= FramePrefix::kMaxLen);
  if (pre != 0) std::memcpy(h.data(), c.prefix.bytes.data(), FramePrefix::kMaxLen);
  std::uint8_t flags = kTcpAck;
  if (fin) flags |= kTcpFin;
  const std::uint32_t off = static_cast<std::uint32_t>(seq - c.snd_una);
  if (len > 0 && off + len == c.sndq.bytes()) flags |= kTcpPsh;
  if (c.psh_count != 0 && len > 0 && take_psh_marks(c, seq, seq + len)) flags |= kTcpPsh;
  TcpFields f{c.tuple.lport, c.tuple.rport, seq.value(), c.rcv_nxt.value(), flags, window_field_inline(c)};
  if (sack_blocks) {
    write_tcp(h.subspan(pre), f, std::span<const std::byte>{opt.data(), olen});
  } else {
    write_tcp_ts(h.data() + pre, f, c.ts_ok, tsval, c.ts_recent);
  }
  if (len > 0 && !attach_payload(c, m.get(), off, len)) return false;
  const std::uint32_t wire_segs = tso ? (len + c.mss - 1) / c.mss : 1;
  if (tso) {
    fill_checksum(m.get(), c.tuple, o_.tx_checksum_offload, c.mss);
  } else {
    // The addresses' sum is the prefix's, or the connection's own
    // (Tcb::l4_pseudo_sum, the same value): only the length is added.
    const std::uint32_t l4_len = m->pkt_len - pre;
    finish_checksum(m.get(), pre, (pre != 0 ? c.prefix.l4_pseudo_sum : c.l4_pseudo_sum) + l4_len,
                    pre != 0 ? !c.prefix.ipv6 : c.tuple.is_v4(), o_.tx_checksum_offload);
  }
  const bool retransmission = (len > 0 || fin) && seq_lt(seq, c.snd_max);
  counters_.inc(Counter::kOutSegs, wire_segs);
  c.segs_out += wire_segs;
  if (retransmission) {
    counters_.inc(Counter::kRetransSegs);
    c.rtt_timing = false;          // Karn: no sample while a retransmission is outstanding
    undo_note_retransmit(c, now);  // tcp_undo.cc
  } else if (len > 0 && !c.rtt_timing && !c.ts_ok) {
    c.rtt_timing = true;
    c.rtt_seq = seq + len - 1;
    c.rtt_start = now;
  }
  c.last_ack_sent = c.rcv_nxt;
  c.unacked_segs = 0;
  c.ack_now = c.dsack_len != 0;  // a D-SACK with no room here goes in a bare ACK at once
  c.ack_at_once = false;
  // A stopped timer needs no wheel work: the node, if early, fires, finds
  // nothing due and re-arms (arm_timer's lazy cancel).
  c.delack_deadline = Instant::max();
  if (len > 0 || fin) {
    c.last_send = now;
    if (c.snd_max == c.snd_una) c.unacked_since = now;  // nothing was waiting: the user timeout starts
    start_rtx_if_stopped(c, now, arm_rtx);
    if (synchronized(c.state)) tx_log_on_send(c, seq, len + (fin ? 1u : 0u), now);
    if (may_pace(c)) pace_sent(c, len, now);
  }
  if (pre != 0) {
    sink_.send_prefixed(std::move(m), c.prefix, now);
  } else {
    send_to_sink(std::move(m), c.tuple, now);
  }
  return true;
}

// A bare ACK carries SND.MAX, not SND.NXT: after a timeout rewinds SND.NXT
// (go-back-N), the peer may already hold data past it, and SEG.SEQ < RCV.NXT
// makes a zero-length segment unacceptable (RFC 9293 §3.10.7.4), so the
// ACK would be dropped unread and answered by an ACK: two rewound ends then
// trade ACKs that neither processes. 4.4BSD tcp_output does the same.
// A bare ACK carries SND.MAX (after a timeout rewound SND.NXT, the peer may
// already hold everything up to SND.MAX; an older SEQ could fall below its
// window), but never beyond the right edge of the window the peer offered:
// a peer that shrank its window (Linux under memory pressure drops data it
// had room for) would find SND.MAX out of window and drop the ACK with the
// window update in it, and both ends would wait for each other's window for
// good. RFC 9293 §3.10.7.4 makes only SEG.SEQ = RCV.NXT acceptable in a zero
// window; Linux's tcp_acceptable_seq() makes the same choice.
void TcpStack::send_ack(Tcb& c, Instant now) noexcept {
  const Seq32 edge = c.snd_una + c.snd_wnd;
  send_segment_inline(c, seq_gt(c.snd_max, edge) ? edge : c.snd_max, 0, false, now, true);
}

void TcpStack::send_challenge_ack(Tcb& c, Instant now) noexcept {
  if (!challenge_ack_allowed(c, now)) {
    counters_.inc(Counter::kTCPChallengeACKSkipped);
    return;
  }
  counters_.inc(Counter::kTCPChallengeACK);
  send_ack(c, now);
}

// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), sent or resent, with our options.
void TcpStack::send_syn(Tcb& c, Instant now) noexcept {
  const bool active = c.state == TcpState::kSynSent;
  const TcpConfig& k = o_.cfg;
  TcpOptions o;
  o.mss = mss_for(c.tuple);
  // The scale is chosen once, with the first SYN: a retransmission, and
  // apply_syn_options on the answer, keep it though the buffer or the
  // window clamp changed since (the peer may hold the first SYN's).
  if (active && !c.syn_retransmitted) c.rcv_wscale = k.window_scaling ? wscale_to_announce(c) : 0;
  if (active ? k.window_scaling : c.ws_ok) o.window_scale = c.rcv_wscale;
  if (active ? k.timestamps : c.ts_ok) o.timestamps = std::pair{ts_val(c, now), active ? 0u : c.ts_recent};
  o.sack_permitted = active ? k.sack : c.sack_ok;
  const std::uint16_t win = syn_window(c.rcv_buf, c.window_clamp);
  Mbuf m = new_header_mbuf();
  if (!m) return;
  // The options straight into the frame, after room for the longest
  // header, and the unused room trimmed: no buffer to zero and copy.
  auto h = m.append(static_cast<std::uint16_t>(kTcpMaxHeaderLen));
  if (h.empty()) return;  // a fresh header mbuf always has the room
  const std::size_t olen = write_tcp_options(h.subspan(kTcpMinHeaderLen), o);
  rte_pktmbuf_trim(m.get(), static_cast<std::uint16_t>(kTcpMaxHeaderLen - kTcpMinHeaderLen - olen));
  const std::uint8_t flags = active ? kTcpSyn : (kTcpSyn | kTcpAck);
  TcpFields f{c.tuple.lport, c.tuple.rport, c.iss.value(), active ? 0u : c.rcv_nxt.value(), flags, win};
  write_tcp_fixed(h.data(), f, kTcpMinHeaderLen + olen);
  // The connection's pseudo-header sum (init_tcb_from_config) plus the
  // length, as send_data_segment's: the addresses are not summed again.
  finish_checksum(m.get(), 0, c.l4_pseudo_sum + m.get()->pkt_len, c.tuple.is_v4(), o_.tx_checksum_offload);
  counters_.inc(Counter::kOutSegs);
  ++c.segs_out;
  c.snd_nxt = c.iss + 1;
  if (seq_gt(c.snd_nxt, c.snd_max)) c.snd_max = c.snd_nxt;
  if (!active) c.rcv_adv = c.rcv_nxt + win;
  c.last_ack_sent = c.rcv_nxt;
  c.last_send = now;
  if (!c.syn_retransmitted) {
    // Timed in microseconds with timestamps too: the handshake's is the
    // first sample, and TSecr's millisecond ticks make a LAN's 0 (Linux
    // times the SYN-ACK from its own send stamp likewise).
    c.rtt_timing = true;
    c.rtt_seq = c.iss;
    c.rtt_start = now;
  }
  start_rtx_if_stopped(c, now);
  send_to_sink(std::move(m), c.tuple, now);
}

// RFC 9293 §3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST>; with ACK and, once
// negotiated, the timestamp option (RFC 7323 §3.2: "SHOULD" be in every
// segment, RSTs included), as Linux's tcp_send_active_reset sends `R.`.
// SEQ as a bare ACK's (send_ack): after a timeout rewound SND.NXT the
// peer's RCV.NXT may lie beyond it, and a RST must hit RCV.NXT exactly
// (RFC 5961 §3.2).
void TcpStack::send_rst_for(Tcb& c, Instant now) noexcept {
  counters_.inc(Counter::kOutRsts);
  const Seq32 edge = c.snd_una + c.snd_wnd;
  const Seq32 seq = seq_gt(c.snd_max, edge) ? edge : c.snd_max;
  TcpOptions o;
  if (c.ts_ok) o.timestamps = std::pair{ts_val(c, now), c.ts_recent};
  send_raw(c.tuple, seq, c.rcv_nxt, kTcpRst | kTcpAck, window_field(c), c.ts_ok ? &o : nullptr, now);
}

// RFC 9293 §3.10.7.1: if the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
// <CTL=RST,ACK>; if on, <SEQ=SEG.ACK><CTL=RST>. Never in answer to a RST.
void TcpStack::reset_reply(const Segment& s, Instant now) noexcept {
  if (s.flags.rst()) return;
  counters_.inc(Counter::kOutRsts);
  if (s.flags.ack()) {
    send_raw(s.tuple, s.ack, Seq32{0}, kTcpRst, 0, nullptr, now);
  } else {
    send_raw(s.tuple, Seq32{0}, s.seq + s.seg_len(), kTcpRst | kTcpAck, 0, nullptr, now);
  }
}

void TcpStack::send_raw(const FourTuple& t, Seq32 seq, Seq32 ack, std::uint8_t flags, std::uint16_t window,
                        const TcpOptions* opts, Instant now) noexcept {
  Mbuf m = new_header_mbuf();
  if (!m) return;
  std::array<std::byte, kTcpMaxOptionsLen> opt{};
  const std::size_t olen = opts != nullptr ? write_tcp_options(opt, *opts) : 0;
  auto h = m.append(static_cast<std::uint16_t>(kTcpMinHeaderLen + olen));
  TcpFields f{t.lport, t.rport, seq.value(), ack.value(), flags, window};
  write_tcp(h, f, std::span<const std::byte>{opt.data(), olen});
  fill_checksum(m.get(), t, o_.tx_checksum_offload);
  counters_.inc(Counter::kOutSegs);
  send_to_sink(std::move(m), t, now);
}

void TcpStack::send_to_sink(Mbuf m, const FourTuple& t, Instant now) noexcept {
  if (t.is_v4()) {
    sink_.send_segment(std::move(m), addr_v4_host(t.laddr), addr_v4_host(t.raddr), now);
  } else {
    sink_.send_segment6(std::move(m), t.laddr, t.raddr, now);
  }
}

}  // namespace tern
