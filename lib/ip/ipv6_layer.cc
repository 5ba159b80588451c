#include "ip/ipv6_layer.h"

#include <algorithm>
#include <cstring>

#include "ip/chain_checksum.h"
#include "ip/ip_layer.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

NeighborCacheConfig cache_config(const NdConfig& nd, std::uint64_t seed) noexcept {
  NeighborCacheConfig c;
  // RFC 4861 §6.3.2: ReachableTime is uniformly 0.5..1.5 times the base, so
  // that nodes do not probe in step. SplitMix64 of the worker's seed.
  Duration reachable = nd.base_reachable_time;
  if (seed != 0) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const std::int64_t permille = 500 + static_cast<std::int64_t>(z % 1001);  // 0.500..1.500
    reachable = Duration::ns(nd.base_reachable_time.count_ns() / 1000 * permille);
  }
  c.reachable_time = reachable;
  c.retrans_timer = nd.retrans_timer;
  c.delay_first_probe = nd.delay_first_probe;
  c.max_multicast_solicit = nd.multicast_solicit;
  c.max_unicast_solicit = nd.unicast_solicit;
  c.cache_size = nd.cache_size;
  c.max_pending = nd.max_pending;
  c.max_pending_per_entry = nd.max_pending_per_neighbor;
  return c;
}

// The drop reason for each way the extension-header walk refuses a packet.
Drop ext_drop(Ipv6ExtReason r) noexcept {
  switch (r) {
    case Ipv6ExtReason::kTruncated:
      return Drop::kIp6ExtTruncated;
    case Ipv6ExtReason::kTooManyHeaders:
      return Drop::kIp6ExtTooMany;
    case Ipv6ExtReason::kHopByHopNotFirst:
      return Drop::kIp6ExtHopByHop;
    case Ipv6ExtReason::kBadOptionLength:
    case Ipv6ExtReason::kTooManyOptions:
    case Ipv6ExtReason::kTooMuchPadding:
      return Drop::kIp6ExtBadOption;
    case Ipv6ExtReason::kUnknownOption:
      return Drop::kIp6ExtUnknownOption;
    case Ipv6ExtReason::kRoutingHeader:
      return Drop::kIp6ExtRouting;
    case Ipv6ExtReason::kBadFragmentLength:
    case Ipv6ExtReason::kFragmentTooLong:
      return Drop::kIp6ExtBadFragment;
    case Ipv6ExtReason::kNone:
      break;
  }
  return Drop::kIp6ExtBadOption;
}

Drop nd_drop(NdReject r) noexcept {
  switch (r) {
    case NdReject::kHopLimit:
      return Drop::kNdBadHopLimit;
    case NdReject::kBadChecksum:
      return Drop::kIcmp6BadChecksum;
    case NdReject::kBadCode:
      return Drop::kNdBadCode;
    case NdReject::kMulticastTarget:
      return Drop::kNdMulticastTarget;
    case NdReject::kUnspecifiedWithSourceLla:
    case NdReject::kUnspecifiedNotSolicitedNode:
    case NdReject::kRouterNotLinkLocal:
      return Drop::kNdBadSource;
    case NdReject::kSolicitedToMulticast:
      return Drop::kNdSolicitedToMulticast;
    case NdReject::kValid:
    case NdReject::kNotNd:
    case NdReject::kTooShort:
    case NdReject::kBadOptionLength:
      break;
  }
  return Drop::kNdMalformed;
}

// A link-layer address option naming a zero, multicast or broadcast MAC is
// bogus, as for ARP (RFC 1812 §3.3.2): nothing is learned from or sent to it.
bool bogus_lla(const NdMessage& nd) noexcept {
  const auto bad = [](const std::optional<MacAddr>& m) { return m && (m->is_zero() || m->is_multicast()); };
  return bad(nd.source_lla()) || bad(nd.target_lla());
}

bool same_low24(const Ipv6Addr& a, const Ipv6Addr& b) noexcept {
  return a.b[13] == b.b[13] && a.b[14] == b.b[14] && a.b[15] == b.b[15];
}

}  // namespace

Ipv6Layer::Ipv6Layer(const Ipv6Settings& s, const IpConfig& ip, const MacAddr& mac, std::uint16_t mtu,
                     Counters& counters, PathMtuCache& pmtus, rte_mempool* pool, rte_mempool* indirect_pool)
    : mac_(mac),
      link_local_(link_local_from_mac(mac)),
      retrans_timer_(s.nd.retrans_timer),
      configured_router_(s.gateway),
      link_mtu_(mtu),
      mtu_(mtu),
      counters_(counters),
      pool_(pool),
      indirect_pool_(indirect_pool),
      nd_(cache_config(s.nd, s.seed), counters),
      frags_(ip, counters,
             {Counter::kIp6ReasmFails, Drop::kIp6FragDiscarded, Drop::kIp6FragEvicted,
              Drop::kIp6FragDuplicate, Drop::kIp6FragTooMany}),
      pmtus_(pmtus) {
  n_addrs_ = std::min(s.addrs.size(), addrs_.size());
  std::copy_n(s.addrs.begin(), n_addrs_, addrs_.begin());
  unresolved_.reserve(s.nd.max_pending);
  // RFC 4862 §5.4: every address is tentative until DAD has run on it.
  dad_left_ = s.nd.dad_transmits;
  for (std::size_t i = 0; i <= n_addrs_; ++i) state_[i].tentative = dad_left_ > 0;
  rs_left_ = s.gateway ? 0 : s.nd.router_solicitations;
  solicits_ = s.solicits;
}

int Ipv6Layer::slot_of(const Ipv6Addr& a) const noexcept {
  if (a == link_local_) return 0;
  for (std::size_t i = 0; i < n_addrs_; ++i)
    if (addrs_[i].addr == a) return static_cast<int>(i + 1);
  return -1;
}

bool Ipv6Layer::is_ours(const Ipv6Addr& a) const noexcept {
  const int slot = slot_of(a);
  return slot >= 0 && usable(slot);
}

bool Ipv6Layer::tentative(const Ipv6Addr& a) const noexcept {
  const int slot = slot_of(a);
  return slot >= 0 && state_[slot].tentative;
}

bool Ipv6Layer::duplicate(const Ipv6Addr& a) const noexcept {
  const int slot = slot_of(a);
  return slot >= 0 && state_[slot].duplicate;
}

bool Ipv6Layer::accepts_mac(const MacAddr& dst) const noexcept {
  if (dst.b[0] != 0x33 || dst.b[1] != 0x33) return false;
  if (dst == multicast_mac(Ipv6Addr::all_nodes())) return true;
  if (dst.b[2] != 0xFF) return false;
  const Ipv6Addr probe = [&] {
    Ipv6Addr a{};
    a.b[13] = dst.b[3];
    a.b[14] = dst.b[4];
    a.b[15] = dst.b[5];
    return a;
  }();
  if (same_low24(probe, link_local_)) return true;
  for (std::size_t i = 0; i < n_addrs_; ++i)
    if (same_low24(probe, addrs_[i].addr)) return true;
  return false;
}

bool Ipv6Layer::push(Mbuf frame, FrameQueue& out) noexcept {
  if (!out.push(std::move(frame))) {
    counters_.drop(Drop::kTxRingFull);
    return false;
  }
  return true;
}

// ---- input -------------------------------------------------------------------

void Ipv6Layer::on_frame(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kIp6InReceives);
  rte_mbuf* m = frame.get();
  // As for IPv4: headers are parsed from one segment; a chain is linearised,
  // except one GRO merged (RTE_MBUF_F_RX_LRO, runtime/rx_coalesce6.h): its
  // headers are in the first segment, Next Header is TCP itself (nothing
  // here reads past the fixed header), and each segment is a received
  // frame's own mbuf, charged as it would be unmerged. Its packet is parsed
  // against the chain's length, which its Payload Length spans.
  const bool gro_chain = m->nb_segs > 1 && (m->ol_flags & RTE_MBUF_F_RX_LRO) != 0 &&
                         frame.head().size() >= kEthernetHeaderLen + kIpv6HeaderLen &&
                         load_u8(frame.head().data() + kEthernetHeaderLen + 6) == kIpProtoTcp;
  if (m->nb_segs > 1 && !gro_chain && rte_pktmbuf_linearize(m) != 0) {
    counters_.inc(Counter::kIp6InTruncatedPkts);
    return counters_.drop(Drop::kIp6Truncated);
  }
  const auto head = frame.head();
  const MacAddr eth_dst = MacAddr::load(head.data());
  const MacAddr eth_src = MacAddr::load(head.data() + 6);
  const bool link_multicast = eth_dst.is_multicast();
  auto ip = Ipv6Header::parse(
      gro_chain ? std::span{head.data() + kEthernetHeaderLen, frame.pkt_len() - kEthernetHeaderLen}
                : head.subspan(kEthernetHeaderLen));
  if (!ip) {
    if (ip.error() == ParseError::kBadVersion) {
      counters_.inc(Counter::kIp6InHdrErrors);
      return counters_.drop(Drop::kIp6BadVersion);
    }
    counters_.inc(Counter::kIp6InTruncatedPkts);
    return counters_.drop(Drop::kIp6Truncated);
  }
  const Ipv6Addr src = ip->src();
  const Ipv6Addr dst = ip->dst();
  // RFC 4038 §4.2 and Linux: IPv4-mapped addresses never travel in IPv6
  // headers; accepting them would let a packet pass for an IPv4 peer.
  if (src.is_v4_mapped() || dst.is_v4_mapped()) {
    counters_.inc(Counter::kIp6InHdrErrors);
    return counters_.drop(Drop::kIp6V4Mapped);
  }
  // RFC 4291 §2.7 (multicast is never a source) and §2.5.3 (loopback
  // never leaves a node).
  if (src.is_multicast() || src.is_loopback()) {
    counters_.inc(Counter::kIp6InHdrErrors);
    return counters_.drop(Drop::kIp6BadSource);
  }
  if (dst.is_multicast()) {
    counters_.inc(Counter::kIp6InMcastPkts);
    bool joined = dst == Ipv6Addr::all_nodes();
    if (!joined && dst.is_solicited_node()) {
      joined = same_low24(dst, link_local_);
      for (std::size_t i = 0; i < n_addrs_ && !joined; ++i) joined = same_low24(dst, addrs_[i].addr);
    }
    if (!joined) {
      counters_.inc(Counter::kIp6InAddrErrors);
      return counters_.drop(Drop::kIp6NotForUs);
    }
  } else if (!is_ours(dst)) {
    counters_.inc(Counter::kIp6InAddrErrors);
    return counters_.drop(Drop::kIp6NotForUs);
  }

  const Ipv6ExtWalk w = walk_ipv6_extensions(*ip);
  if (w.verdict == Ipv6ExtVerdict::kFragment)
    return on_fragment(*ip, w, link_multicast, std::move(frame), now, out);
  dispatch(*ip, w, eth_src, link_multicast, std::move(frame), now, out);
}

void Ipv6Layer::dispatch(const Ipv6Header& ip, const Ipv6ExtWalk& w, const MacAddr& eth_src,
                         bool link_multicast, Mbuf frame, Instant now, FrameQueue& out) noexcept {
  switch (w.verdict) {
    case Ipv6ExtVerdict::kUpperLayer:
      return deliver(ip, w, eth_src, link_multicast, std::move(frame), now, out);
    case Ipv6ExtVerdict::kFragment:
      // A reassembled packet with a second fragment header in it.
      counters_.inc(Counter::kIp6InHdrErrors);
      return counters_.drop(Drop::kIp6FragMalformed);
    case Ipv6ExtVerdict::kParamProblem:
      counters_.inc(Counter::kIp6InHdrErrors);
      counters_.drop(ext_drop(w.reason));
      return send_error({kIcmpv6ParamProblem, w.icmp_code, w.icmp_pointer}, ip.packet(), link_multicast, now,
                        out);
    case Ipv6ExtVerdict::kDiscard:
      counters_.inc(w.reason == Ipv6ExtReason::kTruncated ? Counter::kIp6InTruncatedPkts
                                                          : Counter::kIp6InHdrErrors);
      return counters_.drop(ext_drop(w.reason));
  }
}

void Ipv6Layer::deliver(const Ipv6Header& ip, const Ipv6ExtWalk& w, const MacAddr& eth_src,
                        bool link_multicast, Mbuf frame, Instant now, FrameQueue& out) noexcept {
  const std::uint16_t offset = w.upper_offset;
  switch (w.upper_protocol) {
    case kIpProtoIcmpv6:
      counters_.inc(Counter::kIp6InDelivers);
      return on_icmpv6(ip, ip.packet().subspan(offset), eth_src, link_multicast, now, out);
    case kIpProtoTcp:
    case kIpProtoUdp: {
      // Transports get unicast from a unicast source only.
      if (ip.dst().is_multicast()) {
        counters_.inc(Counter::kIp6InAddrErrors);
        return counters_.drop(Drop::kIp6NotForUs);
      }
      if (ip.src().is_unspecified()) {
        counters_.inc(Counter::kIp6InHdrErrors);
        return counters_.drop(Drop::kIp6BadSource);
      }
      const Ipv6Delivery d{ip.src(), ip.dst(), w.upper_protocol,
                           static_cast<std::uint16_t>(kEthernetHeaderLen + offset),
                           static_cast<std::uint16_t>(kIpv6HeaderLen + ip.payload_length() - offset)};
      if (w.upper_protocol == kIpProtoUdp) {
        counters_.inc(Counter::kIp6InDelivers);
        if (udp_ == nullptr) return counters_.drop(Drop::kUdpNoListener);
        return udp_->on_ipv6(d, std::move(frame), now, out);
      }
      if (transport_ == nullptr) return counters_.drop(Drop::kTcpNoStack);
      counters_.inc(Counter::kIp6InDelivers);
      return transport_->on_ipv6(d, std::move(frame), now, out);
    }
    case kIpv6NextNone:
      return counters_.drop(Drop::kIp6NoNextHeader);
    default:
      // RFC 8200 §4: an unrecognised Next Header is answered with Parameter
      // Problem code 1 pointing at it.
      counters_.inc(Counter::kIp6InUnknownProtos);
      counters_.drop(Drop::kIp6UnknownNextHeader);
      return send_error({kIcmpv6ParamProblem, kIcmpv6ParamUnknownNextHeader, w.next_header_pointer},
                        ip.packet(), link_multicast, now, out);
  }
}

void Ipv6Layer::on_icmpv6(const Ipv6Header& ip, std::span<const std::byte> msg, const MacAddr& eth_src,
                          bool link_multicast, Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kIcmp6InMsgs);
  auto icmp = Icmpv6Header::parse(msg);
  if (!icmp) {
    counters_.inc(Counter::kIcmp6InErrors);
    return counters_.drop(Drop::kIcmp6Truncated);
  }
  const std::uint8_t type = icmp->type();
  if (type >= kIcmpv6RouterSolicit && type <= kIcmpv6NeighborAdvert) return on_nd(ip, msg, eth_src, now, out);
  if (!icmp->checksum_ok(ip.src(), ip.dst())) {
    counters_.inc(Counter::kIcmp6InErrors);
    counters_.inc(Counter::kIcmp6InCsumErrors);
    return counters_.drop(Drop::kIcmp6BadChecksum);
  }
  (void)link_multicast;
  switch (type) {
    case kIcmpv6EchoRequest:
      counters_.inc(Counter::kIcmp6InEchos);
      return on_echo_request(ip, *icmp, now, out);
    case kIcmpv6EchoReply:
      counters_.inc(Counter::kIcmp6InEchoReplies);
      return counters_.drop(Drop::kIcmp6UnhandledType);
    case kIcmpv6DestUnreachable:
      counters_.inc(Counter::kIcmp6InDestUnreachs);
      return on_error_message(*icmp, now);
    case kIcmpv6PacketTooBig:
      counters_.inc(Counter::kIcmp6InPktTooBigs);
      return on_error_message(*icmp, now);
    case kIcmpv6TimeExceeded:
      counters_.inc(Counter::kIcmp6InTimeExcds);
      return on_error_message(*icmp, now);
    case kIcmpv6ParamProblem:
      counters_.inc(Counter::kIcmp6InParmProblems);
      return on_error_message(*icmp, now);
    default:
      return counters_.drop(Drop::kIcmp6UnhandledType);
  }
}

// RFC 4443 §4.2: identifier, sequence number and data echoed; to a
// multicast request the reply comes from a unicast address of ours.
void Ipv6Layer::on_echo_request(const Ipv6Header& ip, const Icmpv6Header& icmp, Instant now,
                                FrameQueue& out) noexcept {
  if (ip.src().is_unspecified()) return counters_.drop(Drop::kIp6BadSource);
  const Ipv6Addr src = ip.dst().is_multicast() ? source_for(ip.src()) : ip.dst();
  const auto msg = icmp.message();
  Mbuf reply = Mbuf::alloc(pool_);
  if (!reply) return counters_.drop(Drop::kMbufExhausted);
  if (msg.size() <= rte_pktmbuf_tailroom(reply.get())) {
    if (reply.append(static_cast<std::uint16_t>(msg.size())).size() != msg.size())
      return counters_.drop(Drop::kMbufExhausted);
    auto body = reply.head_mut();
    std::memcpy(body.data(), msg.data(), msg.size());
    auto copy = Icmpv6Header::parse(body);
    if (!copy || write_icmpv6_echo_reply(body, *copy, src, ip.src()) == 0)
      return counters_.drop(Drop::kIcmp6Truncated);
  } else {
    // A big ping (reassembled): the reply is copied onto a chain and its
    // checksum summed over the chain; send_packet() fragments it.
    if (!append_chain(reply, msg, pool_)) return counters_.drop(Drop::kMbufExhausted);
    auto* head = rte_pktmbuf_mtod(reply.get(), std::byte*);
    store_u8(head, kIcmpv6EchoReply);
    store_u8(head + 1, 0);
    store_be16(head + 2, 0);
    const auto len = static_cast<std::uint32_t>(msg.size());
    store_be16(head + 2, chain_checksum(reply.get(),
                                        ipv6_pseudo_header_sum(src, ip.src(), len, kIpProtoIcmpv6), 0, len));
  }
  if (send_packet(std::move(reply), src, ip.src(), kIpProtoIcmpv6, hop_limit_, now, out)) {
    counters_.inc(Counter::kIcmp6OutMsgs);
    counters_.inc(Counter::kIcmp6OutEchoReplies);
  }
}

// RFC 4443 §2.4(d): an error goes to the upper layer that sent the packet
// it quotes; RFC 5927 §4.1: believe only what quotes our own address.
void Ipv6Layer::on_error_message(const Icmpv6Header& icmp, Instant now) noexcept {
  auto q = parse_quoted_ipv6(icmp.body());
  if (!q || !is_ours(q->src) || q->rest.size() < 8) return counters_.drop(Drop::kIcmp6BadQuote);
  // RFC 8201 §4: a Packet Too Big about a UDP datagram of ours lowers the
  // path MTU to its destination (floored at 1280, so a forged one costs at
  // most fragments of 1280: §6), which later datagrams are cut to. TCP
  // checks the quoted sequence number first (RFC 5927 §4.1) and lowers it
  // itself.
  if (icmp.type() == kIcmpv6PacketTooBig && q->next_header == kIpProtoUdp) {
    const IpAddr dst = IpAddr::v6(q->dst.b);
    pmtus_.lower(dst, floored_pmtu(dst, icmp.pointer()), mtu_, now);
    return;
  }
  if (q->next_header != kIpProtoTcp) return counters_.drop(Drop::kIcmp6ErrorNotTcp);
  if (transport_ == nullptr) return counters_.drop(Drop::kTcpNoStack);
  Icmpv6Report r;
  r.type = icmp.type();
  r.code = icmp.code();
  r.param = icmp.pointer();  // the same four bytes hold Packet Too Big's MTU
  r.src = q->src;
  r.dst = q->dst;
  r.protocol = q->next_header;
  r.quote = q->rest;
  transport_->on_icmpv6_error(r, now);
}

// ---- neighbour discovery ---------------------------------------------------------

void Ipv6Layer::on_nd(const Ipv6Header& ip, std::span<const std::byte> msg, const MacAddr& eth_src,
                      Instant now, FrameQueue& out) noexcept {
  const NdReject why = validate_nd(ip, msg);
  if (why != NdReject::kValid) {
    counters_.inc(Counter::kIcmp6InErrors);
    if (why == NdReject::kBadChecksum) counters_.inc(Counter::kIcmp6InCsumErrors);
    return counters_.drop(nd_drop(why));
  }
  auto nd = NdMessage::parse(msg);
  if (!nd) return counters_.drop(Drop::kNdMalformed);  // validate_nd() parsed it already
  if (bogus_lla(*nd) || eth_src.is_multicast() || eth_src.is_zero()) {
    counters_.inc(Counter::kIcmp6InErrors);
    return counters_.drop(Drop::kNdBadLinkAddress);
  }
  auto release = [&](Mbuf f, const MacAddr& mac) {
    write_ethernet(f.head_mut(), mac, mac_, kEtherTypeIpv6);
    push(std::move(f), out);
  };
  switch (nd->type()) {
    case kIcmpv6RouterSolicit:
      counters_.inc(Counter::kIcmp6InRouterSolicits);
      return counters_.drop(Drop::kNdRouterSolicit);  // RFC 4861 §6.2.6 is for routers
    case kIcmpv6RouterAdvert:
      counters_.inc(Counter::kIcmp6InRouterAdvertisements);
      return on_router_advert(ip, *nd, false, now, out);
    case kIcmpv6NeighborSolicit:
      counters_.inc(Counter::kIcmp6InNeighborSolicits);
      return on_neighbor_solicit(ip, *nd, eth_src, now, out);
    default: {
      counters_.inc(Counter::kIcmp6InNeighborAdvertisements);
      const Ipv6Addr target = nd->target();
      // Someone else claims one of our addresses: during DAD it is a
      // duplicate (RFC 4862 §5.4.4); after, counted for the operator.
      if (const int slot = slot_of(target); slot >= 0) {
        if (state_[slot].tentative) dad_failed(slot);
        return counters_.drop(Drop::kNdDuplicateAddress);
      }
      NeighborAdvert na;
      na.target_lla = nd->target_lla();
      na.solicited = nd->solicited_flag();
      na.override_ = nd->override_flag();
      nd_.on_advert(target, na, now, release);
      return;
    }
  }
}

void Ipv6Layer::on_replicated_nd(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  const auto head = frame.head();
  if (head.size() < kEthernetHeaderLen) return;
  auto ip = Ipv6Header::parse(head.subspan(kEthernetHeaderLen));
  if (!ip || ip->next_header() != kIpProtoIcmpv6) return;
  const auto msg = ip->payload();
  if (validate_nd(*ip, msg) != NdReject::kValid) return;  // the answering worker counted it
  auto nd = NdMessage::parse(msg);
  if (!nd || bogus_lla(*nd)) return;
  auto release = [&](Mbuf f, const MacAddr& mac) {
    write_ethernet(f.head_mut(), mac, mac_, kEtherTypeIpv6);
    push(std::move(f), out);
  };
  switch (nd->type()) {
    case kIcmpv6NeighborAdvert: {
      if (const int slot = slot_of(nd->target()); slot >= 0) {
        // Every worker runs DAD on its own copy of our addresses; the
        // answering worker counted the duplicate.
        if (state_[slot].tentative) state_[slot] = {.tentative = false, .duplicate = true};
        return;
      }
      NeighborAdvert na;
      na.target_lla = nd->target_lla();
      na.solicited = nd->solicited_flag();
      na.override_ = nd->override_flag();
      return nd_.on_advert(nd->target(), na, now, release);
    }
    case kIcmpv6NeighborSolicit:
      if (const int slot = slot_of(nd->target());
          slot >= 0 && state_[slot].tentative && ip->src().is_unspecified()) {
        state_[slot] = {.tentative = false, .duplicate = true};  // another node's DAD probe
        return;
      }
      // Only an NS for one of our addresses creates an entry (§7.2.3).
      if (is_ours(nd->target()) && !ip->src().is_unspecified())
        if (const std::optional<MacAddr> sll = nd->source_lla())
          nd_.on_source_lla(ip->src(), *sll, now, release);
      return;
    case kIcmpv6RouterAdvert:
      return on_router_advert(*ip, *nd, true, now, out);
    default:
      return;
  }
}

// RFC 4861 §7.2.3 and §7.2.4.
void Ipv6Layer::on_neighbor_solicit(const Ipv6Header& ip, const NdMessage& nd, const MacAddr& eth_src,
                                    Instant now, FrameQueue& out) noexcept {
  const Ipv6Addr target = nd.target();
  const Ipv6Addr src = ip.src();
  const int slot = slot_of(target);
  if (slot >= 0 && state_[slot].tentative) {
    // RFC 4862 §5.4.3: another node's DAD probe for the same address means
    // a duplicate; a resolution attempt is not answered yet.
    if (!src.is_unspecified()) return counters_.drop(Drop::kNdTentative);
    dad_failed(slot);
    return counters_.drop(Drop::kNdDuplicateAddress);
  }
  if (slot < 0 || !usable(slot)) return counters_.drop(Drop::kNdNotForUs);
  const std::optional<MacAddr> sll = nd.source_lla();
  NaFlags flags;
  flags.override_ = true;  // we answer for our own unicast addresses, never as a proxy or anycast
  Ipv6Addr to = src;
  MacAddr to_mac = sll.value_or(eth_src);
  if (src.is_unspecified()) {
    // Duplicate address detection by another node (RFC 4862 §5.4.3): our
    // address is not tentative, so defend it to all nodes, unsolicited.
    to = Ipv6Addr::all_nodes();
    to_mac = multicast_mac(to);
  } else {
    flags.solicited = true;
    if (sll) {
      nd_.on_source_lla(src, *sll, now, [&](Mbuf f, const MacAddr& mac) {
        write_ethernet(f.head_mut(), mac, mac_, kEtherTypeIpv6);
        push(std::move(f), out);
      });
    }
  }
  Mbuf m = new_message(kNdNeighborAdvertLen + kNdOptLlaLen);
  if (!m) return;
  if (write_neighbor_advert(m.head_mut(), target, flags, mac_, target, to) == 0) return;
  send_to_mac(std::move(m), target, to, to_mac, out);
  counters_.inc(Counter::kIcmp6OutMsgs);
  counters_.inc(Counter::kIcmp6OutNeighborAdvertisements);
}

// RFC 4861 §6.3.4, for a host with one default router.
void Ipv6Layer::on_router_advert(const Ipv6Header& ip, const NdMessage& nd, bool replicated, Instant now,
                                 FrameQueue& out) noexcept {
  const Ipv6Addr src = ip.src();
  rs_left_ = 0;  // RFC 4861 §6.3.7: a valid RA ends solicitation
  if (const auto sll = nd.source_lla()) {
    nd_.on_source_lla(src, *sll, now, [&](Mbuf f, const MacAddr& mac) {
      write_ethernet(f.head_mut(), mac, mac_, kEtherTypeIpv6);
      push(std::move(f), out);
    });
  }
  if (nd.cur_hop_limit() != 0) hop_limit_ = nd.cur_hop_limit();
  // §6.3.4: an MTU option below the minimum or above the link's is ignored.
  // A lower one reaches the open connections through the path MTU cache's
  // generation (their MSS follows, RFC 8201 §5.2), as a lowered estimate
  // does; a higher one only new connections and expiring estimates take.
  if (const auto mtu = nd.mtu(); mtu && *mtu >= kIpv6MinMtu && *mtu <= link_mtu_) {
    if (*mtu < mtu_) pmtus_.link_mtu_lowered();
    mtu_ = static_cast<std::uint16_t>(*mtu);
  }
  const std::uint16_t lifetime = nd.router_lifetime_s();
  if (lifetime > 0) {
    learned_router_ = src;
    learned_router_until_ = now + Duration::s(lifetime);
  } else if (learned_router_ == src) {
    learned_router_.reset();  // lifetime 0: no longer a default router
  }
  // §6.3.4: prefixes with the L flag are on the link for their valid
  // lifetime. (The A flag's addresses, SLAAC, are not formed.)
  nd.for_each_prefix([&](const NdPrefixInfo& p) {
    if (!p.on_link) return;
    if (onlink_.on_prefix(p.prefix, p.prefix_len, p.valid_lifetime_s, now) == OnLinkPrefixes::Update::kFull &&
        !replicated)
      counters_.inc(Counter::kNdPrefixListFull);
  });
  // The hop limit, MTU, default router or on-link prefixes may have
  // changed: frame prefixes built before are rebuilt (RAs are rare).
  nd_.invalidate_prefixes();
}

void Ipv6Layer::send_solicit(const Ipv6Addr& target, const MacAddr* unicast_mac, FrameQueue& out) noexcept {
  Mbuf m = new_message(kNdNeighborSolicitLen + kNdOptLlaLen);
  if (!m) return;
  const Ipv6Addr src = source_for(target);
  const Ipv6Addr dst = unicast_mac != nullptr ? target : solicited_node(target);
  if (write_neighbor_solicit(m.head_mut(), target, mac_, src, dst) == 0) return;
  send_to_mac(std::move(m), src, dst, unicast_mac != nullptr ? *unicast_mac : multicast_mac(dst), out);
  counters_.inc(Counter::kIcmp6OutMsgs);
  counters_.inc(Counter::kIcmp6OutNeighborSolicits);
}

void Ipv6Layer::start(Instant now, FrameQueue& out) noexcept {
  started_ = true;
  if (dad_left_ > 0) {
    dad_running_ = true;
    --dad_left_;
    send_dad_probes(out);
    dad_deadline_ = now + retrans_timer_;
  } else {
    rs_deadline_ = now;  // RFC 4861 §6.3.7's random delay is left out: tests stay exact
  }
}

// RFC 4862 §5.4.2: an NS from :: for each tentative address, to its
// solicited-node group, without a source link-layer address.
void Ipv6Layer::send_dad_probes(FrameQueue& out) noexcept {
  if (!solicits_) return;  // worker 0 probes for the port (Ipv6Settings::solicits)
  for (std::size_t slot = 0; slot <= n_addrs_; ++slot) {
    if (!state_[slot].tentative) continue;
    const Ipv6Addr target = slot == 0 ? link_local_ : addrs_[slot - 1].addr;
    Mbuf m = new_message(kNdNeighborSolicitLen);
    if (!m) return;
    const Ipv6Addr dst = solicited_node(target);
    if (write_neighbor_solicit(m.head_mut(), target, std::nullopt, Ipv6Addr{}, dst) == 0) return;
    send_to_mac(std::move(m), Ipv6Addr{}, dst, multicast_mac(dst), out);
    counters_.inc(Counter::kIcmp6OutMsgs);
    counters_.inc(Counter::kIcmp6OutNeighborSolicits);
  }
}

void Ipv6Layer::dad_failed(int slot) noexcept {
  state_[slot].tentative = false;
  state_[slot].duplicate = true;
  counters_.inc(Counter::kNdDadFailed);
}

// RFC 4861 §6.3.7: to all-routers, from the link-local address with its
// link-layer address, or from :: without one while that is not usable.
void Ipv6Layer::send_router_solicit(FrameQueue& out) noexcept {
  if (!solicits_) return;  // worker 0 solicits for the port (Ipv6Settings::solicits)
  const bool from_ll = usable(0);
  Mbuf m = new_message(kNdRouterSolicitLen + (from_ll ? kNdOptLlaLen : 0));
  if (!m) return;
  const Ipv6Addr src = from_ll ? link_local_ : Ipv6Addr{};
  const Ipv6Addr dst = Ipv6Addr::all_routers();
  if (write_router_solicit(m.head_mut(), from_ll ? std::optional<MacAddr>(mac_) : std::nullopt, src, dst) ==
      0)
    return;
  send_to_mac(std::move(m), src, dst, multicast_mac(dst), out);
  counters_.inc(Counter::kIcmp6OutMsgs);
  counters_.inc(Counter::kIcmp6OutRouterSolicits);
}

void Ipv6Layer::on_timer(Instant now, FrameQueue& out) noexcept {
  if (!started_) start(now, out);
  expire_fragments(now, out);
  if (dad_running_ && now >= dad_deadline_) {
    if (dad_left_ > 0) {
      --dad_left_;
      send_dad_probes(out);
      dad_deadline_ = now + retrans_timer_;
    } else {
      // RetransTimer after the last probe and nobody objected: ours.
      dad_running_ = false;
      for (std::size_t slot = 0; slot <= n_addrs_; ++slot) state_[slot].tentative = false;
      rs_deadline_ = now;
    }
  }
  if (rs_left_ > 0 && !dad_running_ && now >= rs_deadline_) {
    --rs_left_;
    send_router_solicit(out);
    rs_deadline_ = now + Duration::s(4);  // RTR_SOLICITATION_INTERVAL
  }
  if (nd_.next_deadline() > now) return;
  nd_.on_timer(
      now, [&](const Ipv6Addr& a, const MacAddr* mac) { send_solicit(a, mac, out); },
      [&](Mbuf f) {
        if (unresolved_.size() < unresolved_.capacity()) unresolved_.push_back(f.release());
      });
  for (rte_mbuf* m : unresolved_) unresolved(Mbuf{m}, now);
  unresolved_.clear();
}

// RFC 4861 §7.2.2: Address Unreachable for each packet that waited in vain.
// The packets are our own, so the error goes to our transport, as Linux's
// ndisc failure reaches the socket.
void Ipv6Layer::unresolved(Mbuf frame, Instant now) noexcept {
  const auto head = frame.head();
  if (head.size() < kEthernetHeaderLen + kIpv6HeaderLen + 8) return;
  const std::byte* ip = head.data() + kEthernetHeaderLen;
  Icmpv6Report r;
  r.type = kIcmpv6DestUnreachable;
  r.code = kIcmpv6AddressUnreachable;
  r.src = Ipv6Addr::load(ip + 8);
  r.dst = Ipv6Addr::load(ip + 24);
  r.protocol = load_u8(ip + 6);
  r.quote = head.subspan(kEthernetHeaderLen + kIpv6HeaderLen);
  r.local = true;
  counters_.inc(Counter::kIcmp6OutDestUnreachs);
  if (r.protocol == kIpProtoTcp && transport_ != nullptr) transport_->on_icmpv6_error(r, now);
}

// ---- output ----------------------------------------------------------------------

Ipv6Addr Ipv6Layer::source_for(const Ipv6Addr& dst) const noexcept {
  const bool link_scope = dst.is_link_local() || (dst.is_multicast() && (dst.b[1] & 0x0F) <= 2);
  if (link_scope || n_addrs_ == 0) return link_local_;
  std::size_t best = 0;
  int best_len = -1;
  bool any = false;
  for (std::size_t i = 0; i < n_addrs_; ++i) {
    if (!usable(static_cast<int>(i + 1))) continue;  // RFC 4862 §5.4: not while tentative
    if (!any || (dst.in_prefix(addrs_[i].addr, addrs_[i].len) && addrs_[i].len > best_len)) {
      if (dst.in_prefix(addrs_[i].addr, addrs_[i].len)) best_len = addrs_[i].len;
      best = i;
      any = true;
    }
  }
  return any ? addrs_[best].addr : link_local_;
}

std::optional<Ipv6Addr> Ipv6Layer::default_router(Instant now) const noexcept {
  if (configured_router_) return configured_router_;
  if (learned_router_ && now < learned_router_until_) return learned_router_;
  return std::nullopt;
}

std::optional<Ipv6Addr> Ipv6Layer::next_hop(const Ipv6Addr& dst, Instant now) const noexcept {
  if (dst.is_link_local() || dst.is_multicast()) return dst;
  for (std::size_t i = 0; i < n_addrs_; ++i)
    if (dst.in_prefix(addrs_[i].addr, addrs_[i].len)) return dst;
  if (onlink_.on_link(dst, now)) return dst;
  return default_router(now);
}

Mbuf Ipv6Layer::new_message(std::size_t len) noexcept {
  Mbuf m = Mbuf::alloc(pool_);
  if (!m || rte_pktmbuf_headroom(m.get()) < kHeadroom || len > rte_pktmbuf_tailroom(m.get())) {
    counters_.drop(m ? Drop::kIp6TooBig : Drop::kMbufExhausted);
    return Mbuf{};
  }
  if (m.append(static_cast<std::uint16_t>(len)).size() != len) {
    counters_.drop(Drop::kMbufExhausted);
    return Mbuf{};
  }
  return m;
}

bool Ipv6Layer::send_from(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol,
                          Instant now, FrameQueue& out) noexcept {
  if (dst.is_unspecified() || dst.is_v4_mapped() || dst.is_loopback()) {
    counters_.inc(Counter::kIp6OutNoRoutes);
    counters_.drop(Drop::kIp6NoRoute);
    return false;
  }
  return send_packet(std::move(l4), src, dst, protocol, hop_limit_, now, out);
}

bool Ipv6Layer::send_packet(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol,
                            std::uint8_t hop_limit, Instant now, FrameQueue& out) noexcept {
  const std::uint32_t l4_len = l4.pkt_len();
  if (l4_len > 65535) {  // no jumbograms (RFC 2675)
    counters_.drop(Drop::kIp6TooBig);
    return false;
  }
  const auto hop = next_hop(dst, now);
  if (!hop) {
    counters_.inc(Counter::kIp6OutNoRoutes);
    counters_.drop(Drop::kIp6NoRoute);
    return false;
  }
  if (l4.prepend(kIpv6HeaderLen).empty()) {
    counters_.drop(Drop::kMbufExhausted);
    return false;
  }
  Ipv6Fields f{};
  f.src = src;
  f.dst = dst;
  f.next_header = protocol;
  f.hop_limit = hop_limit;
  f.payload_len = static_cast<std::uint16_t>(l4_len);
  write_ipv6(l4.head_mut(), f);
  counters_.inc(Counter::kIp6OutRequests);
  // What is not TCP is cut to the path MTU learned for the destination (RFC
  // 8201 §5.2); TCP segments are cut to their connection's own estimate
  // and so fit it (a connection that learned nothing yet sends them whole:
  // the path answers Packet Too Big, and it learns).
  const std::uint16_t mtu = protocol == kIpProtoTcp ? mtu_ : pmtus_.get(IpAddr::v6(dst.b), mtu_, now);
  // A TCP super-segment the port cuts into wire segments (TSO,
  // TcpStackOptions::tso_max) is longer than the MTU by design: each wire
  // segment fits (tso_segsz is the connection's MSS).
  const bool tso = (l4->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0 && l4->tso_segsz != 0;
  if (!tso && kIpv6HeaderLen + l4_len > mtu)
    return fragment_and_send(std::move(l4), src, dst, *hop, mtu, now, out);
  if ((l4->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0) {
    // DPDK's contract for an L4 checksum offload: the version flag and the
    // header lengths; the transport has put the pseudo-header sum in place.
    l4->ol_flags |= RTE_MBUF_F_TX_IPV6;
    l4->l2_len = kEthernetHeaderLen;
    l4->l3_len = kIpv6HeaderLen;
  }
  if (l4.prepend(kEthernetHeaderLen).empty()) {
    counters_.drop(Drop::kMbufExhausted);
    return false;
  }
  return transmit(std::move(l4), dst, *hop, now, out);
}

bool Ipv6Layer::build_prefix(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol, FramePrefix& p,
                             Instant now) const noexcept {
  if (dst.is_unspecified() || dst.is_v4_mapped() || dst.is_loopback() || dst.is_multicast() || !is_ours(src))
    return false;
  // The route's own lifetime, where it has one (next_hop()'s order): an
  // on-link prefix or a default router learned from Router Advertisements.
  Instant route_until = Instant::max();
  bool on_our_prefix = dst.is_link_local();
  for (std::size_t i = 0; i < n_addrs_ && !on_our_prefix; ++i)
    on_our_prefix = dst.in_prefix(addrs_[i].addr, addrs_[i].len);
  if (!on_our_prefix) {
    if (onlink_.on_link(dst, now)) {
      route_until = onlink_.on_link_until(dst, now);
    } else if (!configured_router_) {
      route_until = learned_router_until_;
    }
  }
  const auto hop = next_hop(dst, now);
  if (!hop) return false;
  Instant reachable_until;
  const MacAddr* mac = nd_.lookup_reachable(*hop, now, reachable_until);
  if (mac == nullptr) return false;
  const std::span<std::byte> b{p.bytes};
  write_ethernet(b, *mac, mac_, kEtherTypeIpv6);
  // As send_packet() writes it; the payload length is send_prefixed()'s.
  Ipv6Fields f{};
  f.src = src;
  f.dst = dst;
  f.next_header = protocol;
  f.hop_limit = hop_limit_;
  write_ipv6(b.subspan(kEthernetHeaderLen, kIpv6HeaderLen), f);
  p.ipv6 = true;
  p.l3_sum = 0;
  p.l4_pseudo_sum = ipv6_pseudo_header_sum(src, dst, 0, protocol);
  p.len = static_cast<std::uint8_t>(kEthernetHeaderLen + kIpv6HeaderLen);
  p.max_l3_len = mtu_;  // as send_packet() cuts TCP: to the link's (or RA's) MTU
  p.generation = *nd_.generation();
  p.generation_of = nd_.generation();
  p.valid_until = std::min(reachable_until, route_until);
  return true;
}

bool Ipv6Layer::send_prefixed(Mbuf frame, const FramePrefix& p, FrameQueue& out) noexcept {
  std::byte* ip = frame.head_mut().data() + kEthernetHeaderLen;
  store_be16(ip + 4, static_cast<std::uint16_t>(frame.pkt_len() - p.len));
  counters_.inc(Counter::kIp6OutRequests);
  if ((frame->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0) {  // as send_packet()
    frame->ol_flags |= RTE_MBUF_F_TX_IPV6;
    frame->l2_len = kEthernetHeaderLen;
    frame->l3_len = kIpv6HeaderLen;
  }
  return push(std::move(frame), out);
}

bool Ipv6Layer::transmit(Mbuf frame, const Ipv6Addr& dst, const Ipv6Addr& hop, Instant now,
                         FrameQueue& out) noexcept {
  if (dst.is_multicast()) {
    write_ethernet(frame.head_mut(), multicast_mac(dst), mac_, kEtherTypeIpv6);
    return push(std::move(frame), out);
  }
  if (const MacAddr* mac = nd_.lookup_for_send(hop, now)) {
    write_ethernet(frame.head_mut(), *mac, mac_, kEtherTypeIpv6);
    return push(std::move(frame), out);
  }
  switch (nd_.park(hop, std::move(frame), now)) {
    case NeighborCache::Park::kQueuedSendSolicit:
      send_solicit(hop, nullptr, out);
      return true;
    case NeighborCache::Park::kQueued:
      return true;
    case NeighborCache::Park::kDropped:
      break;
  }
  return false;
}

void Ipv6Layer::send_to_mac(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, const MacAddr& mac,
                            FrameQueue& out) noexcept {
  const std::uint32_t l4_len = l4.pkt_len();
  if (l4.prepend(kIpv6HeaderLen).empty()) return counters_.drop(Drop::kMbufExhausted);
  Ipv6Fields f{};
  f.src = src;
  f.dst = dst;
  f.next_header = kIpProtoIcmpv6;
  f.hop_limit = kNdHopLimit;
  f.payload_len = static_cast<std::uint16_t>(l4_len);
  write_ipv6(l4.head_mut(), f);
  if (l4.prepend(kEthernetHeaderLen).empty()) return counters_.drop(Drop::kMbufExhausted);
  write_ethernet(l4.head_mut(), mac, mac_, kEtherTypeIpv6);
  counters_.inc(Counter::kIp6OutRequests);
  push(std::move(l4), out);
}

bool Ipv6Layer::rate_allows(Instant now) noexcept {
  constexpr std::int64_t kPerToken = 1'000'000'000 / kErrorsPerSecond;
  const std::int64_t elapsed = (now - error_refill_).count_ns();
  if (elapsed >= kPerToken) {
    const std::int64_t n = elapsed / kPerToken;
    if (n >= kErrorBurst - error_tokens_) {
      error_tokens_ = kErrorBurst;
      error_refill_ = now;
    } else {
      error_tokens_ += static_cast<std::uint32_t>(n);
      error_refill_ = error_refill_ + Duration::ns(n * kPerToken);
    }
  }
  if (error_tokens_ == 0) return false;
  --error_tokens_;
  return true;
}

void Ipv6Layer::send_error(const Icmpv6Error& e, std::span<const std::byte> invoking, bool link_multicast,
                           Instant now, FrameQueue& out) noexcept {
  if (invoking.size() < kIpv6HeaderLen) return;
  Icmpv6Invoking inv;
  inv.src = Ipv6Addr::load(invoking.data() + 8);
  inv.dst = Ipv6Addr::load(invoking.data() + 24);
  inv.link_multicast = link_multicast;
  // The quoted packet's own ICMPv6 type, when ICMPv6 follows the header
  // directly (an error about an error must not be sent, §2.4(e)).
  if (load_u8(invoking.data() + 6) == kIpProtoIcmpv6 && invoking.size() > kIpv6HeaderLen) {
    const std::uint8_t type = load_u8(invoking.data() + kIpv6HeaderLen);
    inv.is_icmpv6_error = type < 128;
    inv.is_redirect = type == kIcmpv6Redirect;
  }
  if (!icmpv6_error_allowed(e, inv)) return;
  if (!rate_allows(now)) return counters_.inc(Counter::kIcmpOutRateLimitGlobal);
  const Ipv6Addr src = !inv.dst.is_multicast() && is_ours(inv.dst) ? inv.dst : source_for(inv.src);
  const std::size_t quote = std::min(invoking.size(), kIcmpv6MaxQuote);
  Mbuf m = new_message(kIcmpv6HeaderLen + quote);
  if (!m) return;
  if (write_icmpv6_error(m.head_mut(), e, invoking, src, inv.src) == 0) return;
  if (!send_packet(std::move(m), src, inv.src, kIpProtoIcmpv6, hop_limit_, now, out)) return;
  counters_.inc(Counter::kIcmp6OutMsgs);
  if (e.type == kIcmpv6ParamProblem) counters_.inc(Counter::kIcmp6OutParmProblems);
  if (e.type == kIcmpv6DestUnreachable) counters_.inc(Counter::kIcmp6OutDestUnreachs);
}

}  // namespace tern
