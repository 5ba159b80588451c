#include "ip/ip_layer.h"

#include <rte_ip.h>

#include <cstring>

#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

constexpr std::uint32_t kLimitedBroadcast = 0xFFFFFFFFu;

bool is_martian_source(std::uint32_t ip, std::uint32_t our_broadcast) noexcept {
  const std::uint8_t first = static_cast<std::uint8_t>(ip >> 24);
  // RFC 1122 §3.2.1.3: a datagram from a broadcast, multicast, loopback or
  // "this network" source is silently discarded.
  return ip == 0 || ip == kLimitedBroadcast || ip == our_broadcast || first == 127 || (first & 0xF0) == 0xE0;
}

std::uint32_t mask_of(std::uint8_t len) noexcept { return len == 0 ? 0 : ~std::uint32_t{0} << (32 - len); }

}  // namespace

IpLayer::IpLayer(const IpSettings& s, Counters& counters, rte_mempool* pool, rte_mempool* indirect_pool)
    : s_(s),
      netmask_(mask_of(s.prefix_len)),
      counters_(counters),
      pool_(pool),
      indirect_pool_(indirect_pool),
      arp_(s.arp, counters),
      frags_(s.ip, counters,
             {Counter::kIpReasmFails, Drop::kIpFragDiscarded, Drop::kIpFragEvicted, Drop::kIpFragDuplicate,
              Drop::kIpFragTooMany}),
      pmtus_(s.ip.pmtu_cache_entries, s.ip.pmtu_expires, counters),
      v6_(s.v6, s.ip, s.mac, s.mtu, counters, pmtus_, pool, indirect_pool) {}

IpLayer::~IpLayer() = default;

bool IpLayer::push(Mbuf frame, FrameQueue& out) noexcept {
  // TxPackets/TxBytes are counted by the runtime for what the port accepts.
  if (!out.push(std::move(frame))) {
    counters_.drop(Drop::kTxRingFull);
    return false;
  }
  return true;
}

void IpLayer::on_frame(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kRxPackets);
  counters_.inc(Counter::kRxBytes, frame.pkt_len());
  auto eth = EthernetHeader::parse(frame.head());
  if (!eth) return counters_.drop(Drop::kEthTruncated);
  const MacAddr dst = eth->dst();
  const std::uint16_t type = eth->ether_type();
  if (!(dst == s_.mac) && !dst.is_broadcast() && !(type == kEtherTypeIpv6 && v6_.accepts_mac(dst)))
    return counters_.drop(Drop::kEthNotForUs);
  switch (type) {
    case kEtherTypeArp:
      return on_arp(eth->payload(), /*answer=*/true, now, out);
    case kEtherTypeIpv4:
      return on_ipv4(std::move(frame), now, out);
    case kEtherTypeIpv6:
      if (dst.is_broadcast()) return counters_.drop(Drop::kEthNotForUs);  // IPv6 has no broadcast
      return v6_.on_frame(std::move(frame), now, out);
    default:
      return counters_.drop(Drop::kEthUnknownType);
  }
}

// RFC 826 packet reception, with the RFC 5227 rule that any ARP naming a known
// sender refreshes its entry.
void IpLayer::on_replicated_arp(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  auto eth = EthernetHeader::parse(frame.head());
  if (!eth || eth->ether_type() != kEtherTypeArp) return;
  on_arp(eth->payload(), /*answer=*/false, now, out);
}

void IpLayer::on_arp(std::span<const std::byte> payload, bool answer, Instant now, FrameQueue& out) noexcept {
  auto arp = ArpPacket::parse(payload);
  if (!arp) return counters_.drop(Drop::kArpMalformed);
  const std::uint16_t op = arp->op();
  if (op != static_cast<std::uint16_t>(ArpOp::kRequest) && op != static_cast<std::uint16_t>(ArpOp::kReply))
    return counters_.drop(Drop::kArpUnknownOp);
  const bool for_us = arp->target_ip() == s_.addr;
  const std::uint32_t sender = arp->sender_ip();
  const MacAddr sender_mac = arp->sender_mac();
  // A request from a zero, broadcast or multicast sender MAC is bogus (RFC 1812
  // §3.3.2): neither learn from it nor answer it.
  if (sender_mac.is_zero() || sender_mac.is_multicast()) return counters_.drop(Drop::kArpMalformed);
  if (sender != 0 && sender != s_.addr) {
    arp_.learn(sender, sender_mac, /*create=*/for_us, now, [&](Mbuf f, const MacAddr& mac) {
      auto h = f.head_mut();
      write_ethernet(h, mac, s_.mac, kEtherTypeIpv4);
      push(std::move(f), out);
    });
  }
  if (!answer) return;  // a sibling worker received this frame and answers it
  if (op == static_cast<std::uint16_t>(ArpOp::kReply)) {
    counters_.inc(Counter::kArpInReplies);
    return;
  }
  counters_.inc(Counter::kArpInRequests);
  if (!for_us) return counters_.drop(Drop::kArpNotForUs);
  send_arp(static_cast<std::uint16_t>(ArpOp::kReply), sender_mac, sender, sender_mac, out);
}

void IpLayer::send_arp(std::uint16_t op, const MacAddr& tha, std::uint32_t tpa, const MacAddr& eth_dst,
                       FrameQueue& out) noexcept {
  Mbuf m = Mbuf::alloc(pool_);
  if (!m) return counters_.drop(Drop::kMbufExhausted);
  // 60 bytes: the Ethernet minimum without FCS; the tail is zero padding.
  auto b = m.append(60);
  if (b.empty()) return counters_.drop(Drop::kMbufExhausted);
  std::memset(b.data(), 0, b.size());
  write_ethernet(b, eth_dst, s_.mac, kEtherTypeArp);
  write_arp(b.subspan(kEthernetHeaderLen), static_cast<ArpOp>(op), s_.mac, s_.addr, tha, tpa);
  if (push(std::move(m), out))
    counters_.inc(op == static_cast<std::uint16_t>(ArpOp::kReply) ? Counter::kArpOutReplies
                                                                  : Counter::kArpOutRequests);
}

void IpLayer::on_ipv4(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kIpInReceives);
  rte_mbuf* m = frame.get();
  // Headers are parsed from the first segment; PMDs here deliver single-segment
  // frames up to the mbuf size, and a chain is linearised when it fits.
  // (Passing a chain up as it is, as a veth passes an skb, was tried for the
  // in-process link: a zero-copy sender's slices cost the receiver a whole
  // mbuf of truesize each, two per segment, and its windows shrank.)
  // A chain merged by GRO (RTE_MBUF_F_RX_LRO, runtime/rx_coalesce.h) goes
  // up whole: its headers are in the first segment, and each segment is a
  // received frame's own mbuf, charged as it would be unmerged.
  if (m->nb_segs > 1 && (m->ol_flags & RTE_MBUF_F_RX_LRO) == 0 && rte_pktmbuf_linearize(m) != 0)
    return counters_.drop(Drop::kIpTruncated);
  auto l3 = frame.head().subspan(kEthernetHeaderLen);
  // A GRO chain's total length spans the chain while its headers sit in the
  // first segment (rx_coalesce.h checked them, IHL 5): the header is parsed
  // against the datagram's length, and nothing here reads past the header.
  if (m->nb_segs > 1 && (m->ol_flags & RTE_MBUF_F_RX_LRO) != 0 && l3.size() >= kIpv4MinHeaderLen)
    l3 = {l3.data(), frame.pkt_len() - kEthernetHeaderLen};
  auto ip = Ipv4Header::parse(l3);
  if (!ip) {
    switch (ip.error()) {
      case ParseError::kBadVersion:
        return counters_.drop(Drop::kIpBadVersion);
      case ParseError::kBadHeaderLength:
        return counters_.drop(Drop::kIpBadHeaderLength);
      case ParseError::kBadTotalLength:
        return counters_.drop(Drop::kIpBadTotalLength);
      case ParseError::kBadOption:
        return counters_.drop(Drop::kIpBadOptions);
      default:
        return counters_.drop(Drop::kIpTruncated);
    }
  }
  const std::uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  const bool hw_checked = s_.rx_ip_checksum_offload && ck != RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
  if (hw_checked ? ck == RTE_MBUF_F_RX_IP_CKSUM_BAD : !ip->checksum_ok())
    return counters_.drop(Drop::kIpBadChecksum);
  if (ip->dst() != s_.addr) return counters_.drop(Drop::kIpNotForUs);
  if (is_martian_source(ip->src(), s_.addr | ~netmask_)) return counters_.drop(Drop::kIpBadSource);

  // Drop Ethernet padding so pkt_len is the datagram and nothing more.
  const std::uint32_t frame_len = kEthernetHeaderLen + ip->total_length();
  if (frame.pkt_len() > frame_len) {
    // Padding (a frame under Ethernet's 60 bytes) sits in the last segment;
    // a chain longer than its datagram in any other way is malformed.
    if (rte_pktmbuf_trim(m, static_cast<std::uint16_t>(frame.pkt_len() - frame_len)) != 0)
      return counters_.drop(Drop::kIpBadTotalLength);
  }

  Ipv4Delivery d{ip->src(), ip->dst(), ip->protocol(),
                 static_cast<std::uint16_t>(kEthernetHeaderLen + ip->header_len()),
                 static_cast<std::uint16_t>(ip->total_length() - ip->header_len())};
  if (!ip->is_fragment()) {
    // TCP, nearly every datagram: handed on here, as deliver() would, but
    // without its call and switch and the frame moved through one more
    // by-value Mbuf (~30 instructions per segment).
    if (d.protocol == kIpProtoTcp && tcp_ != nullptr) [[likely]] {
      counters_.inc(Counter::kIpInDelivers);
      return tcp_->on_ipv4(d, std::move(frame), now, out);
    }
    return deliver(d, std::move(frame), now, out);
  }

  // RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes,
  // and no fragment may extend a datagram past 65535 bytes.
  const std::uint32_t end = ip->fragment_offset_bytes() + d.l4_len;
  if (d.l4_len == 0 || end + ip->header_len() > 65535 || (ip->more_fragments() && d.l4_len % 8 != 0))
    return counters_.drop(Drop::kIpFragMalformed);
  counters_.inc(Counter::kIpReasmReqds);
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = static_cast<std::uint16_t>(ip->header_len());
  auto* hdr = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthernetHeaderLen);
  Mbuf dgram = frags_.add_ipv4(std::move(frame), hdr, now);
  if (!dgram) return;  // held for more fragments, or discarded
  counters_.inc(Counter::kIpReasmOKs);
  const std::uint32_t l4_offset = static_cast<std::uint32_t>(dgram->l2_len) + dgram->l3_len;
  if (dgram.pkt_len() < l4_offset) return counters_.drop(Drop::kIpFragMalformed);
  d.l4_offset = static_cast<std::uint16_t>(l4_offset);
  d.l4_len = static_cast<std::uint16_t>(dgram.pkt_len() - l4_offset);
  if (d.protocol == kIpProtoTcp) gather_tcp_header(dgram.get(), l4_offset);
  if (steer_ != nullptr && steer_reassembled(d, dgram)) return;
  deliver(d, std::move(dgram), now, out);
}

bool IpLayer::steer_reassembled(const Ipv4Delivery& d, Mbuf& dgram) noexcept {
  if ((d.protocol != kIpProtoTcp && d.protocol != kIpProtoUdp) || d.l4_len < 4) return false;
  std::array<std::byte, 4> buf{};
  const auto* ports =
      static_cast<const std::byte*>(rte_pktmbuf_read(dgram.get(), d.l4_offset, 4, buf.data()));
  if (ports == nullptr) return false;
  const ReassembledFlow flow{IpAddr::v4(d.src), IpAddr::v4(d.dst), load_be16(ports), load_be16(ports + 2),
                             d.protocol};
  return steer_(steer_ctx_, flow, dgram);
}

// The sibling checked the header and reassembled the datagram (its header
// valid again, l2_len and l3_len set), so only the delivery is left.
void IpLayer::on_resteered(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  rte_mbuf* m = frame.get();
  if (m->data_len < kEthernetHeaderLen) return counters_.drop(Drop::kEthTruncated);
  if (load_be16(frame.head().data() + 12) == kEtherTypeIpv6)
    return v6_.on_resteered(std::move(frame), now, out);
  const std::uint32_t l4_offset = static_cast<std::uint32_t>(m->l2_len) + m->l3_len;
  if (m->l2_len != kEthernetHeaderLen || m->l3_len < kIpv4MinHeaderLen || m->data_len < l4_offset ||
      m->pkt_len < l4_offset)
    return counters_.drop(Drop::kIpFragMalformed);
  const std::byte* l3 = frame.head().data() + kEthernetHeaderLen;
  const Ipv4Delivery d{load_be32(l3 + 12), load_be32(l3 + 16), load_u8(l3 + 9),
                       static_cast<std::uint16_t>(l4_offset),
                       static_cast<std::uint16_t>(m->pkt_len - l4_offset)};
  deliver(d, std::move(frame), now, out);
}

void IpLayer::deliver(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) noexcept {
  switch (d.protocol) {
    case kIpProtoIcmp:
      counters_.inc(Counter::kIpInDelivers);
      return on_icmp(d, std::move(frame), now, out);
    case kIpProtoTcp:
      if (tcp_ == nullptr) return counters_.drop(Drop::kTcpNoStack);
      counters_.inc(Counter::kIpInDelivers);
      return tcp_->on_ipv4(d, std::move(frame), now, out);
    case kIpProtoUdp:
      counters_.inc(Counter::kIpInDelivers);
      if (udp_ == nullptr) return counters_.drop(Drop::kUdpNoListener);
      return udp_->on_ipv4(d, std::move(frame), now, out);
    default:
      return counters_.drop(Drop::kIpUnknownProtocol);
  }
}

void IpLayer::on_icmp(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kIcmpInMsgs);
  std::span<const std::byte> msg;
  rte_mbuf* m = frame.get();
  if (rte_pktmbuf_data_len(m) >= d.l4_offset + d.l4_len) {
    msg = frame.head().subspan(d.l4_offset, d.l4_len);
  } else {  // reassembled chain: gather into scratch
    const void* p = rte_pktmbuf_read(m, d.l4_offset, d.l4_len, scratch_.data());
    if (p == nullptr) return counters_.drop(Drop::kIcmpTruncated);
    msg = {static_cast<const std::byte*>(p), d.l4_len};
  }
  auto icmp = IcmpHeader::parse(msg);
  if (!icmp) return counters_.drop(Drop::kIcmpTruncated);
  if (!icmp->checksum_ok()) return counters_.drop(Drop::kIcmpBadChecksum);
  if (icmp->type() == kIcmpDestUnreachable) {
    counters_.inc(Counter::kIcmpInDestUnreachs);
    return on_dest_unreachable(icmp->body(), icmp->code(), icmp->next_hop_mtu(), now);
  }
  if (icmp->type() != kIcmpEchoRequest) return counters_.drop(Drop::kIcmpUnhandledType);
  counters_.inc(Counter::kIcmpInEchos);

  // Build the reply in fresh mbufs (received headers are never rewritten in
  // place): same identifier, sequence and data (RFC 792), type 0, checksum
  // adjusted for the changed type (RFC 1624).
  Mbuf reply = Mbuf::alloc(pool_);
  if (!reply) return counters_.drop(Drop::kMbufExhausted);
  auto ip_room = reply.append(kIpv4MinHeaderLen);
  if (ip_room.empty() || !append_chain(reply, msg, pool_)) return counters_.drop(Drop::kMbufExhausted);
  auto icmp_out = reply.head_mut().subspan(kIpv4MinHeaderLen, kIcmpHeaderLen);
  const std::uint16_t old_word = static_cast<std::uint16_t>(kIcmpEchoRequest << 8 | icmp->code());
  const std::uint16_t new_word = static_cast<std::uint16_t>(kIcmpEchoReply << 8 | icmp->code());
  icmp_out[0] = std::byte{kIcmpEchoReply};
  std::uint16_t sum = checksum_adjust(icmp->checksum(), old_word, new_word);
  // RFC 1624 eqn 3 gives 0x0000 for a reply that is all zeros but its
  // checksum (id 0, seq 0, zero data); only 0xFFFF verifies there, and 0xFFFF
  // is equally valid whenever eqn 3 yields 0 (see write_icmp_echo_reply()).
  if (sum == 0) sum = 0xFFFF;
  store_be16(icmp_out.data() + 2, sum);
  counters_.inc(Counter::kIcmpOutMsgs);
  counters_.inc(Counter::kIcmpOutEchoReps);
  send_datagram(std::move(reply), d.src, kIpProtoIcmp, d.l4_len, now, out);
}

// RFC 792: a Destination Unreachable quotes "the internet header plus the
// first 64 bits of the original data datagram" that could not be delivered;
// for TCP those 64 bits are the ports and the sequence number, all the
// transport needs to find the connection (RFC 1122 §3.2.2.1, §4.2.3.9).
// The quote is our own datagram, so it may be cut short anywhere after
// that, and its total length field describes the original, not the quote.
void IpLayer::on_dest_unreachable(std::span<const std::byte> quote, std::uint8_t code, std::uint16_t mtu,
                                  Instant now) noexcept {
  // RFC 1812 §5.2.7.1 defines codes 0 to 15; anything above has no meaning to act on.
  if (code > kIcmpMaxUnreachableCode) return counters_.drop(Drop::kIcmpUnhandledType);
  if (quote.size() < kIpv4MinHeaderLen) return counters_.drop(Drop::kIcmpBadQuote);
  const std::uint8_t vihl = load_u8(quote.data());
  const std::size_t ihl = static_cast<std::size_t>(vihl & 0x0F) * 4;
  if ((vihl >> 4) != 4 || ihl < kIpv4MinHeaderLen || quote.size() < ihl + 8)
    return counters_.drop(Drop::kIcmpBadQuote);
  // Only a first fragment (offset 0) carries the transport header, and only
  // datagrams from our address can be about our connections (RFC 5927 §4.1:
  // check what can be checked before believing an ICMP error).
  const bool later_fragment = (load_be16(quote.data() + 6) & 0x1FFF) != 0;
  if (later_fragment || load_be32(quote.data() + 12) != s_.addr) return counters_.drop(Drop::kIcmpBadQuote);
  // RFC 1191 §6.3: Fragmentation Needed about a UDP datagram of ours (sent
  // with DF: it fitted the estimate) lowers the path MTU to its destination,
  // floored at 552 (a forged report costs fragments of 552 at worst), which
  // later datagrams are cut to. TCP checks the quoted sequence number first
  // (RFC 5927 §4.1) and lowers it itself.
  if (code == kIcmpFragNeeded && load_u8(quote.data() + 9) == kIpProtoUdp) {
    lower_path_mtu(IpAddr::v4(load_be32(quote.data() + 16)), mtu, now);
    return;
  }
  if (load_u8(quote.data() + 9) != kIpProtoTcp) return counters_.drop(Drop::kIcmpUnreachNotTcp);
  if (tcp_ == nullptr) return counters_.drop(Drop::kTcpNoStack);
  const std::byte* l4 = quote.data() + ihl;
  IcmpUnreachable u;
  u.src = s_.addr;
  u.dst = load_be32(quote.data() + 16);
  u.sport = load_be16(l4);
  u.dport = load_be16(l4 + 2);
  u.seq = load_be32(l4 + 4);
  u.code = code;
  u.mtu = mtu;
  tcp_->on_icmp_unreachable(u, now);
}

std::optional<std::uint32_t> IpLayer::next_hop(std::uint32_t dst) const noexcept {
  if (on_link(dst)) return dst;
  return s_.gateway;
}

bool IpLayer::send_datagram(Mbuf dgram, std::uint32_t dst, std::uint8_t protocol, std::uint16_t l4_len,
                            Instant now, FrameQueue& out) noexcept {
  const auto hop = next_hop(dst);
  if (!hop) {
    counters_.drop(Drop::kIpNoRoute);
    return false;
  }
  const std::uint32_t ip_len = kIpv4MinHeaderLen + l4_len;
  // A TCP super-segment the port cuts into wire segments (TSO,
  // TcpStackOptions::tso_max) is longer than the MTU by design: each wire
  // segment fits, none is fragmented. The port gives each its own IP ID,
  // counting up from this one (as Linux's and DPDK's GSO do), so the next
  // datagram's ID follows the last wire segment's.
  const bool tso = (dgram->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0 && dgram->tso_segsz != 0;
  // What is not TCP is cut to the path MTU learned for the destination (RFC
  // 1191 §6.3); TCP segments are cut to their connection's own estimate,
  // and one that learned nothing yet sends them whole with DF (the path
  // answers Fragmentation Needed, and it learns).
  const std::uint16_t mtu = protocol == kIpProtoTcp ? s_.mtu : pmtus_.get(IpAddr::v4(dst), s_.mtu, now);
  const bool fits = tso || ip_len <= mtu;
  Ipv4Fields f = ipv4_fields(dst, protocol, /*dont_fragment=*/fits);
  f.id = next_ip_id_;
  next_ip_id_ = static_cast<std::uint16_t>(
      next_ip_id_ + (tso ? (l4_len - dgram->l4_len + dgram->tso_segsz - 1u) / dgram->tso_segsz : 1u));
  f.payload_len = l4_len;
  counters_.inc(Counter::kIpOutRequests);
  const bool l4_offload = (dgram->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0;
  if (fits) {
    // TSO implies the IPv4 header checksum offload too (DPDK: each wire
    // segment's header is the port's to sum).
    const bool offload = s_.tx_ip_checksum_offload || tso;
    write_ipv4(dgram.head_mut(), f, /*fill_checksum=*/!offload);
    if (offload) dgram->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    if (offload || l4_offload) {
      // DPDK's contract for either offload: the header lengths, and the
      // IP version flag with an L4 checksum request.
      dgram->ol_flags |= RTE_MBUF_F_TX_IPV4;
      dgram->l2_len = kEthernetHeaderLen;
      dgram->l3_len = kIpv4MinHeaderLen;
    }
    if (dgram.prepend(kEthernetHeaderLen).empty()) {
      counters_.drop(Drop::kMbufExhausted);
      return false;
    }
    transmit(std::move(dgram), *hop, now, out);
    return true;
  }
  // Fragments leave with their checksums done here: no NIC sums an L4
  // datagram it sees in pieces.
  if (l4_offload)
    finish_l4_checksum(dgram.get(), kIpv4MinHeaderLen, pseudo_header_sum(f.src, f.dst, protocol, l4_len),
                       protocol);
  write_ipv4(dgram.head_mut(), f, /*fill_checksum=*/true);
  return fragment_and_transmit(std::move(dgram), *hop, mtu, now, out);
}

// RFC 791 §3.2 fragmentation of our own oversize datagrams (a large ping
// reply); DPDK cuts the payload into indirect mbufs without copying it.
bool IpLayer::fragment_and_transmit(Mbuf dgram, std::uint32_t hop, std::uint16_t mtu, Instant now,
                                    FrameQueue& out) noexcept {
  if (indirect_pool_ == nullptr) {
    counters_.drop(Drop::kIpReplyTooBig);
    return false;
  }
  std::array<rte_mbuf*, 64> frags{};
  const int n = rte_ipv4_fragment_packet(dgram.get(), frags.data(), static_cast<std::uint16_t>(frags.size()),
                                         mtu, pool_, indirect_pool_);
  if (n < 0) {
    counters_.drop(Drop::kIpReplyTooBig);
    return false;
  }
  for (int i = 0; i < n; ++i) {
    Mbuf f{frags[static_cast<std::size_t>(i)]};
    auto hdr = f.head_mut();
    store_be16(hdr.data() + 10, 0);
    store_be16(hdr.data() + 10, internet_checksum(hdr.first(kIpv4MinHeaderLen)));
    if (f.prepend(kEthernetHeaderLen).empty()) {
      counters_.drop(Drop::kMbufExhausted);
      continue;
    }
    transmit(std::move(f), hop, now, out);
  }
  return n > 0;
}

void IpLayer::transmit(Mbuf frame, std::uint32_t hop, Instant now, FrameQueue& out) noexcept {
  if (const MacAddr* mac = arp_.lookup(hop, now)) {
    write_ethernet(frame.head_mut(), *mac, s_.mac, kEtherTypeIpv4);
    push(std::move(frame), out);
    return;
  }
  if (arp_.park(hop, std::move(frame), now) == ArpTable::Park::kQueuedSendRequest)
    send_arp(static_cast<std::uint16_t>(ArpOp::kRequest), MacAddr{}, hop, MacAddr::broadcast(), out);
}

bool IpLayer::send(Mbuf l4, std::uint32_t dst, std::uint8_t protocol, Instant now, FrameQueue& out) noexcept {
  const std::uint32_t l4_len = l4.pkt_len();
  if (l4_len + kIpv4MinHeaderLen > 65535 || l4.prepend(kIpv4MinHeaderLen).empty()) {
    counters_.drop(Drop::kMbufExhausted);
    return false;
  }
  return send_datagram(std::move(l4), dst, protocol, static_cast<std::uint16_t>(l4_len), now, out);
}

bool IpLayer::build_prefix(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol, FramePrefix& p,
                           Instant now) const noexcept {
  if (src != s_.addr) return false;
  const auto hop = next_hop(dst);
  if (!hop) return false;
  Instant fresh_until;
  const MacAddr* mac = arp_.lookup(*hop, now, fresh_until);
  if (mac == nullptr) return false;
  const std::span<std::byte> b{p.bytes};
  write_ethernet(b, *mac, s_.mac, kEtherTypeIpv4);
  // As send_datagram() writes a datagram that fits: DF, the default TTL;
  // total length and ID are send_prefixed()'s, left 0 in the sum.
  const Ipv4Fields f = ipv4_fields(dst, protocol, /*dont_fragment=*/true);
  const std::span<std::byte> ip = b.subspan(kEthernetHeaderLen, kIpv4MinHeaderLen);
  write_ipv4(ip, f, /*fill_checksum=*/false);
  store_be16(ip.data() + 2, 0);
  p.l3_sum = checksum_partial(ip);
  p.l4_pseudo_sum = pseudo_header_sum(s_.addr, dst, protocol, 0);
  p.len = static_cast<std::uint8_t>(kEthernetHeaderLen + kIpv4MinHeaderLen);
  p.max_l3_len = s_.mtu;
  p.ipv6 = false;
  p.generation = *arp_.generation();
  p.generation_of = arp_.generation();
  p.valid_until = fresh_until;
  return true;
}

void IpLayer::send_prefixed(Mbuf frame, const FramePrefix& p, FrameQueue& out) noexcept {
  std::byte* ip = frame.head_mut().data() + kEthernetHeaderLen;
  const auto total = static_cast<std::uint16_t>(frame.pkt_len() - kEthernetHeaderLen);
  const std::uint16_t id = next_ip_id_++;
  store_be16(ip + 2, total);
  store_be16(ip + 4, id);
  counters_.inc(Counter::kIpOutRequests);
  if (s_.tx_ip_checksum_offload) {
    frame->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  } else {
    // The fixed words' sum plus the two that change: the same one's
    // complement sum a full pass over the header gives (RFC 1071 §2).
    store_be16(ip + 10, checksum_finish(p.l3_sum + total + id));
  }
  if (s_.tx_ip_checksum_offload || (frame->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0) {
    frame->ol_flags |= RTE_MBUF_F_TX_IPV4;  // as send_datagram()
    frame->l2_len = kEthernetHeaderLen;
    frame->l3_len = kIpv4MinHeaderLen;
  }
  push(std::move(frame), out);
}

void IpLayer::on_timer(Instant now, FrameQueue& out) noexcept {
  // Sweep so an abandoned datagram's mbufs return within the timeout, one
  // expired datagram a batch. The sweep looks at the oldest entries only:
  // O(1) when nothing expired.
  while (!frags_.take_expired(now).empty()) counters_.inc(Counter::kIpReasmFails);
  arp_.on_timer(now, [&](std::uint32_t ip) {
    send_arp(static_cast<std::uint16_t>(ArpOp::kRequest), MacAddr{}, ip, MacAddr::broadcast(), out);
  });
  v6_.on_timer(now, out);
}

}  // namespace tern
