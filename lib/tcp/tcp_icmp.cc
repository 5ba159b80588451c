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
//  - Fragmentation Needed belongs to Path MTU Discovery (RFC 1191), which
//    Tern does not do: counted and ignored.
#include "ip/ip_layer.h"
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

void TcpStack::on_icmp_unreachable(const IcmpUnreachable& u, Instant /*now*/) noexcept {
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
    counters_.drop(Drop::kTcpIcmpFragNeeded);
    return;
  }
  unreachable(*c, error_for(u.code));
}

// ICMPv6 (RFC 4443) with the same rules: the quoted segment in SND.UNA..
// SND.MAX (RFC 5927 §4.1), Destination Unreachable ending only an attempt
// in SYN_SENT (Port Unreachable as refused, like ICMP's; administratively
// prohibited, no route, beyond scope and address unreachable as
// unreachable), a soft error otherwise. Packet Too Big is Path MTU
// Discovery (RFC 8201), not done yet: counted as FragNeeded is. Time
// Exceeded and Parameter Problem are soft errors (Linux: only reported).
void TcpStack::on_icmpv6_error(std::uint8_t type, std::uint8_t code, const IpAddr& src, const IpAddr& dst,
                               std::span<const std::byte> quote, Instant /*now*/) noexcept {
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
    counters_.drop(Drop::kTcpIcmpFragNeeded);
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

}  // namespace tern
