// ICMP Destination Unreachable for TCP (RFC 1122 §4.2.3.9, RFC 5927), and
// the ICMPv6 errors (RFC 4443) under the same rules (on_icmpv6_error), with
// Linux's choices where the RFCs leave room (tcp_v4_err):
//  - the quoted segment must be one we could have sent and not yet had
//    acknowledged, SND.UNA =< SEG.SEQ =< SND.MAX, or the message is ignored
//    (RFC 5927 §4.1, in the spirit of RFC 5961's window checks): a blind
//    attacker must guess the sequence space to abort a connection;
//  - in SYN_SENT any unreachable but Fragmentation Needed ends the attempt,
//    so connect() fails at once rather than after every SYN retransmission:
//    protocol and port unreachable (RFC 1122 §4.2.3.9's hard errors) as
//    refused, the rest as unreachable. Aborting on the soft ones too (net,
//    host: RFC 1122 says MUST NOT) is RFC 5461's widely deployed change;
//  - in every other state they are all soft errors: net and host unreachable
//    because routing may recover within the retransmission timeout (RFC 1122
//    §4.2.3.9), protocol and port unreachable too, as RFC 5927 §7 advises
//    against blind connection resets (Linux without IP_RECVERR). Counted and
//    otherwise ignored;
//  - Fragmentation Needed and ICMPv6 Packet Too Big drive Path MTU
//    Discovery (RFC 1191, RFC 8201): path_mtu_report below.
#include <algorithm>

#include "ip/ip_layer.h"
#include "ip/pmtu_cache.h"
#include "tcp/tcp_stack.h"
#include "wire/bytes.h"
#include "wire/icmp.h"
#include "wire/icmpv6.h"

namespace tern {

namespace {

// RFC 1122 §4.2.3.9 names protocol and port unreachable as the hard errors a
// peer host sends; Linux reports them as ENOPROTOOPT and ECONNREFUSED. Both
// mean the host is there and will not take the connection.
TcpError error_for(std::uint8_t code) noexcept {
  if (code == kIcmpPortUnreachable || code == kIcmpProtocolUnreachable) return TcpError::kRefused;
  return TcpError::kUnreachable;  // net, host, unknown, isolated, prohibited, TOS, precedence
}

}  // namespace

void TcpStack::on_icmp_unreachable(const IcmpUnreachable& u, Instant now) noexcept {
  // Our side is the quoted source (RFC 792: the quote is our own datagram).
  Tcb* c = table_.find(FourTuple::v4(u.src, u.dst, u.sport, u.dport));
  if (c == nullptr) {  // also TIME_WAIT: nothing left to tell
    counters_.drop(Drop::kTcpIcmpNoSocket);
    return;
  }
  const Seq32 seq{u.seq};
  if (seq_lt(seq, c->snd_una) || seq_gt(seq, c->snd_max)) {
    counters_.drop(Drop::kTcpIcmpOutOfWindow);
    return;
  }
  if (u.code == kIcmpFragNeeded) {
    path_mtu_report(*c, u.mtu, now);
    return;
  }
  unreachable(*c, error_for(u.code));
}

// ICMPv6 (RFC 4443) with the same rules: the quoted segment in SND.UNA..
// SND.MAX (RFC 5927 §4.1), Destination Unreachable ending only an attempt
// in SYN_SENT (Port Unreachable as refused, like ICMP's; administratively
// prohibited, no route, beyond scope and address unreachable as
// unreachable), a soft error otherwise. Packet Too Big is Path MTU
// Discovery (RFC 8201), as Fragmentation Needed is for IPv4. Time
// Exceeded and Parameter Problem are soft errors (Linux: only reported).
void TcpStack::on_icmpv6_error(std::uint8_t type, std::uint8_t code, std::uint32_t param, const IpAddr& src,
                               const IpAddr& dst, std::span<const std::byte> quote, Instant now) noexcept {
  if (quote.size() < 8) {
    counters_.drop(Drop::kTcpIcmpNoSocket);
    return;
  }
  const FourTuple t{src, dst, load_be16(quote.data()), load_be16(quote.data() + 2)};
  Tcb* c = table_.find(t);
  if (c == nullptr) {
    counters_.drop(Drop::kTcpIcmpNoSocket);
    return;
  }
  const Seq32 seq{load_be32(quote.data() + 4)};
  if (seq_lt(seq, c->snd_una) || seq_gt(seq, c->snd_max)) {
    counters_.drop(Drop::kTcpIcmpOutOfWindow);
    return;
  }
  if (type == kIcmpv6PacketTooBig) {
    path_mtu_report(*c, param, now);
    return;
  }
  if (type != kIcmpv6DestUnreachable) {
    counters_.drop(Drop::kTcpIcmpSoftError);
    return;
  }
  unreachable(*c, code == kIcmpv6PortUnreachable ? TcpError::kRefused : TcpError::kUnreachable);
}

void TcpStack::unreachable(Tcb& c, TcpError e) noexcept {
  if (c.state != TcpState::kSynSent) {
    counters_.drop(Drop::kTcpIcmpSoftError);
    return;
  }
  counters_.inc(Counter::kAttemptFails);
  finish(c, e);
  dispatch();
}

// RFC 1191 §6.1 / RFC 8201 §5.2: a report that passed the window check
// (RFC 5927 §4.1) lowers the path MTU, never raises it (a report at or above
// the current estimate, and so above the link MTU, is stale or forged:
// ignored), floored per family. Only a synchronized connection acts on it:
// a SYN or SYN-ACK is far below any MTU (Linux ignores reports for a
// request socket too); TIME_WAIT has no TCB. The estimate goes to the
// sink's per-destination cache too (RFC 8201 §5.2), where the next
// connection to the peer starts from it (floors: lib/ip/pmtu_cache.h).
void TcpStack::path_mtu_report(Tcb& c, std::uint32_t mtu, Instant now) noexcept {
  mtu = floored_pmtu(c.tuple.raddr, mtu);
  if (!synchronized(c.state) || mtu >= c.pmtu) {
    counters_.drop(Drop::kTcpIcmpFragNeeded);
    return;
  }
  c.pmtu = static_cast<std::uint16_t>(mtu);
  sink_.path_mtu_lowered(c.tuple.raddr, c.pmtu, now);
  counters_.inc(Counter::kTCPPMTUUpdates);
  // Read back what the destination keeps now (its generation moved for
  // this very report): c's estimate expires with it (RFC 8201 §4). A sink
  // that kept nothing leaves c its own estimate for good.
  const PathMtu kept = sink_.path_mtu(c.tuple.raddr, now);
  c.pmtu_generation = *pmtu_generation_;
  const bool kept_ours = kept.mtu != 0 && kept.mtu <= c.pmtu;
  c.pmtu_expires = kept_ours ? kept.expires : Instant::max();
  if (kept_ours) c.pmtu = kept.mtu;  // lower still, should another report have gone below ours
  const std::uint16_t mss = path_mss(c);
  if (mss >= c.mss) return;  // the peer's MSS already kept segments below it
  c.mss = mss;
  retransmit_too_big(c, now);
  dispatch();
}

// RFC 8201 §5.2 ("all packetization layer connections ... to that
// destination") and RFC 1191 §6.3: an open connection follows its
// destination's estimate, as Linux's tcp_current_mss re-reads the route's
// MTU before each send; follow_path_mtu calls this only when the sink's
// generation moved (some destination's estimate went down) or c's own
// estimate expired, so a connection pays one lookup per decrease anywhere
// in the worker, not one per segment.
//  - Lower (another connection's report, or one about a UDP datagram, RFC
//    8201 §5.2): c takes it and its expiry (TCPPMTUAdopted). Data c sent at
//    the old size crossed the same path and was dropped there as well: it
//    goes again at once without a congestion response, as for c's own
//    report (retransmit_too_big), when the flight is longer than the new
//    MSS (a shorter one cannot hold a segment too big). c's own report
//    about those segments, when it comes, is not lower and is ignored.
//  - Expired (RFC 8201 §4, RFC 1191 §6.3: "the PMTU estimate ... may be
//    increased" after the timer): c goes back to what the destination has
//    now, the link MTU unless relearned (TCPPMTURestored when it rises). A
//    higher value before c's own deadline (the cache evicted the entry, or
//    keeps none) changes nothing: c keeps what it learned until it expires.
// The MSS follows on a synchronized connection; before that the handshake
// computes it from c.pmtu (apply_syn_options).
void TcpStack::adopt_path_mtu(Tcb& c, Instant now) noexcept {
  c.pmtu_generation = *pmtu_generation_;
  const PathMtu p = sink_.path_mtu(c.tuple.raddr, now);
  const bool learned = p.mtu != 0 && p.mtu < o_.mtu;
  const std::uint16_t path = learned ? p.mtu : o_.mtu;
  if (path < c.pmtu) {
    c.pmtu = path;
    c.pmtu_expires = p.expires;
    counters_.inc(Counter::kTCPPMTUAdopted);
  } else if (c.pmtu_expires <= now) {
    if (path > c.pmtu) counters_.inc(Counter::kTCPPMTURestored);
    c.pmtu = path;
    c.pmtu_expires = learned ? p.expires : Instant::max();
  } else {
    return;
  }
  if (!synchronized(c.state)) return;
  const std::uint16_t mss = path_mss(c);
  if (mss == c.mss) return;
  const bool lowered = mss < c.mss;
  c.mss = mss;
  if (lowered && static_cast<std::uint32_t>(c.snd_max - c.snd_una) > mss) retransmit_too_big(c, now);
}

// RFC 1191 §6.5 / RFC 8201 §5.4: what left larger than the new MSS was
// dropped on the path and goes again at once, cut to the new size, without
// treating it as congestion: no cwnd or ssthresh change, no undo episode,
// no RTO backoff (Linux: tcp_simple_retransmit). The send queue holds bytes,
// not segments, so every transmission is cut at the current c.mss anyway.
//  - With RACK (SACK and a transmit log), the log's records not yet
//    delivered and longer than the new MSS are marked lost, and RACK's
//    loss-driven sending (sack_send: NextSeg, with pipe less the lost
//    octets) resends them, as after a timeout (RFC 6675 §5.1's hold until
//    SND.UNA reaches SND.MAX of now). A record is one batch, which may hold
//    several segments: one no longer than the new MSS held only segments
//    that fit; a longer one may hold a few short segments too, resent
//    needlessly.
//  - Otherwise go back: SND.NXT = SND.UNA and output() sends again from
//    there, skipping what the peer SACKed. Not in RFC 6675 recovery without
//    a log: the scoreboard's NextSeg already resends holes at the new MSS,
//    and the rest is found lost by it or by the timer.
void TcpStack::retransmit_too_big(Tcb& c, Instant now) noexcept {
  if (c.snd_una == c.snd_max) return;  // nothing in flight: output() cuts at the new MSS
  if (rack_active(c)) {
    TxLog& l = *c.txlog;
    bool marked = false;
    for (std::size_t i = 0; i < l.size(); ++i) {
      TxRecord& r = l.at(i);
      if (r.fully_acked() || (r.flags & kTxLost) != 0 || r.len() <= c.mss) continue;
      r.flags |= kTxLost;
      l.note_lost();
      c.lost_segs += (r.len() - r.acked + c.mss - 1) / c.mss;
      marked = true;
    }
    if (!marked) return;
    if (!c.sack_recovery && !c.recovery_hold) {
      c.recovery_point = c.snd_max;
      c.recovery_hold = true;
      c.hold_rexmit_valid = false;
      c.head_rxt_valid = false;
    }
    c.rtt_timing = false;
    rack_retransmit_first_lost(c, now);
    sack_send(c, now);
    return;
  }
  if (c.sack_recovery) return;
  c.snd_nxt = c.snd_una;
  c.rtt_timing = false;
  // Data was in flight until now: output() must not take SND.NXT = SND.UNA
  // for a restart after idle (RFC 5681 §4.1, CUBIC's epoch shift).
  c.last_send = now;
  output(c, now);
}

}  // namespace tern
