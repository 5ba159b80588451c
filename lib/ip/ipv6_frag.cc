// IPv6 fragments (RFC 8200 §4.5): reassembly through FragReassembler
// (lib/ip/ip_frag.h), and fragmentation of what Tern sends. Ipv6Layer's, kept apart from
// ipv6_layer.cc for size.
#include <rte_random.h>

#include <array>
#include <cstring>

#include "ip/ipv6_layer.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

// Fixed-header offsets of the fields a fragment's key is made of (RFC 8200
// §4.5: source, destination, Identification).
constexpr std::size_t kAddrsAt = 8;
constexpr std::size_t kAddrsLen = 32;
constexpr std::size_t kFragIdAt = kIpv6HeaderLen + 4;
constexpr std::size_t kFragOffsetAt = kIpv6HeaderLen + 2;
// More than this many fragments is more than any MTU >= 1280 needs for 65,535 bytes.
constexpr std::size_t kMaxFragmentsOut = 64;

bool same_datagram(const std::byte* a, const std::byte* b) noexcept {
  return std::memcmp(a + kAddrsAt, b + kAddrsAt, kAddrsLen) == 0 &&
         std::memcmp(a + kFragIdAt, b + kFragIdAt, 4) == 0;
}

}  // namespace

void Ipv6Layer::on_fragment(const Ipv6Header& ip, const Ipv6ExtWalk& w, bool link_multicast, Mbuf frame,
                            Instant now, FrameQueue& out) noexcept {
  counters_.inc(Counter::kIp6ReasmReqds);
  // RFC 8200 §4.5 and RFC 7112 §5: a first fragment must hold the whole
  // header chain, else Parameter Problem code 3 (pointer 0) and discard;
  // a firewall cannot judge a packet whose upper-layer header is elsewhere.
  if (w.fragment_offset == 0 &&
      !ipv6_first_fragment_has_chain(ip.packet(), w.upper_protocol, w.upper_offset)) {
    counters_.inc(Counter::kIp6InHdrErrors);
    counters_.drop(Drop::kIp6FragIncompleteChain);
    return send_error({kIcmpv6ParamProblem, kIcmpv6ParamIncompleteChain, 0}, ip.packet(), link_multicast, now,
                      out);
  }
  rte_mbuf* m = frame.get();
  // FragReassembler takes the fragment header right after the fixed header and
  // nothing else. Headers before it (Hop-by-Hop, Destination Options, a
  // Routing header with no segments left) are in every fragment and the
  // walk has processed them; the reassembled packet would keep only the
  // first fragment's (§4.5), and nothing after here reads them. So they are
  // cut out: the Ethernet and fixed headers slide forward over them.
  const std::size_t frag_at = w.upper_offset - kIpv6FragmentHeaderLen;  // from the fixed header
  if (frag_at > kIpv6HeaderLen) {
    const auto cut = static_cast<std::uint16_t>(frag_at - kIpv6HeaderLen);
    auto* base = rte_pktmbuf_mtod(m, std::byte*);
    std::memmove(base + cut, base, kEthernetHeaderLen + kIpv6HeaderLen);
    rte_pktmbuf_adj(m, cut);
    std::byte* fixed = base + cut + kEthernetHeaderLen;
    store_u8(fixed + 6, kIpv6NextFragment);
    store_be16(fixed + 4, static_cast<std::uint16_t>(load_be16(fixed + 4) - cut));
  }
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv6HeaderLen + kIpv6FragmentHeaderLen;
  auto* hdr = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEthernetHeaderLen);
  auto* fh = rte_pktmbuf_mtod_offset(m, rte_ipv6_fragment_ext*, kEthernetHeaderLen + kIpv6HeaderLen);
  Mbuf whole = frags_.add_ipv6(std::move(frame), hdr, fh, now);
  if (!whole) return;  // held for more fragments, or discarded (counted)
  counters_.inc(Counter::kIp6ReasmOKs);
  on_reassembled(std::move(whole), link_multicast, /*steer=*/true, now, out);
}

void Ipv6Layer::on_resteered(Mbuf frame, Instant now, FrameQueue& out) noexcept {
  const bool link_multicast = MacAddr::load(frame.head().data()).is_multicast();
  on_reassembled(std::move(frame), link_multicast, /*steer=*/false, now, out);
}

// The reassembled packet (the fragment header gone, its Next Header in the
// fixed header) goes through the walk again, then to the upper layer as
// any packet. Headers are read from one contiguous copy; transports get
// the chain and offsets into it.
void Ipv6Layer::on_reassembled(Mbuf frame, bool link_multicast, bool steer, Instant now,
                               FrameQueue& out) noexcept {
  rte_mbuf* m = frame.get();
  std::span<const std::byte> bytes = frame.head();
  if (m->nb_segs > 1) {
    const void* p =
        m->pkt_len <= scratch_.size() ? rte_pktmbuf_read(m, 0, m->pkt_len, scratch_.data()) : nullptr;
    if (p == nullptr) {
      counters_.inc(Counter::kIp6InTruncatedPkts);
      return counters_.drop(Drop::kIp6Truncated);
    }
    bytes = {static_cast<const std::byte*>(p), m->pkt_len};
  }
  const MacAddr eth_src = MacAddr::load(bytes.data() + 6);
  auto ip = Ipv6Header::parse(bytes.subspan(kEthernetHeaderLen));
  if (!ip) {
    counters_.inc(Counter::kIp6InTruncatedPkts);
    return counters_.drop(Drop::kIp6Truncated);
  }
  const Ipv6ExtWalk w = walk_ipv6_extensions(*ip);
  // RFC 6980 §5: neighbour discovery never comes in fragments; a host
  // silently ignores one that does.
  if (w.verdict == Ipv6ExtVerdict::kUpperLayer && w.upper_protocol == kIpProtoIcmpv6 &&
      w.upper_offset < ip->packet().size()) {
    const std::uint8_t type = load_u8(ip->packet().data() + w.upper_offset);
    if (type >= kIcmpv6RouterSolicit && type <= kIcmpv6Redirect) {
      counters_.inc(Counter::kIp6InHdrErrors);
      return counters_.drop(Drop::kIp6FragMalformed);
    }
  }
  if (w.verdict == Ipv6ExtVerdict::kUpperLayer && w.upper_protocol == kIpProtoTcp)
    gather_tcp_header(m, kEthernetHeaderLen + w.upper_offset);
  // To the worker that owns the flow, as the datagram would have been
  // steered whole (IpLayer::set_reassembly_steering).
  if (steer && steer_ != nullptr && w.verdict == Ipv6ExtVerdict::kUpperLayer &&
      (w.upper_protocol == kIpProtoTcp || w.upper_protocol == kIpProtoUdp) &&
      ip->packet().size() >= static_cast<std::size_t>(w.upper_offset) + 4) {
    const std::byte* ports = ip->packet().data() + w.upper_offset;
    const ReassembledFlow flow{IpAddr::v6(ip->src().b), IpAddr::v6(ip->dst().b), load_be16(ports),
                               load_be16(ports + 2), w.upper_protocol};
    if (steer_(steer_ctx_, flow, frame)) return;
  }
  dispatch(*ip, w, eth_src, link_multicast, std::move(frame), now, out);
}

void Ipv6Layer::expire_fragments(Instant now, FrameQueue& out) noexcept {
  for (auto batch = frags_.take_expired(now); !batch.empty(); batch = frags_.take_expired(now)) {
    const std::byte* previous = nullptr;
    for (rte_mbuf* f : batch) {
      if (f->data_len < kEthernetHeaderLen + kIpv6HeaderLen + kIpv6FragmentHeaderLen) continue;
      const auto* fixed = rte_pktmbuf_mtod_offset(f, const std::byte*, kEthernetHeaderLen);
      // A batch is one datagram's fragments (checked anyway), the first first.
      if (previous == nullptr || !same_datagram(previous, fixed)) {
        counters_.inc(Counter::kIp6ReasmTimeout);
        counters_.inc(Counter::kIp6ReasmFails);
      }
      previous = fixed;
      // RFC 8200 §4.5: Time Exceeded code 1, quoting the first fragment,
      // only if the first fragment had arrived (through send_error()'s
      // §2.4(e) checks and rate limit).
      if ((load_be16(fixed + kFragOffsetAt) & 0xFFF8) == 0)
        send_error({kIcmpv6TimeExceeded, kIcmpv6ReassemblyTimeExceeded, 0},
                   {fixed, static_cast<std::size_t>(f->data_len - kEthernetHeaderLen)}, false, now, out);
    }
  }
}

// RFC 8200 §4.5 fragmentation at the source: rte_ipv6_fragment_packet cuts
// the payload into indirect mbufs without copying it (as IPv4's
// rte_ipv4_fragment_packet), each fragment's payload a multiple of 8 bytes
// but the last's. It leaves the Identification 0; ours is drawn at random
// per datagram (RFC 7739 §5.3: unpredictable, so an off-path attacker can
// neither guess it to inject fragments nor learn our packet rate from it).
bool Ipv6Layer::fragment_and_send(Mbuf packet, const Ipv6Addr& src, const Ipv6Addr& dst, const Ipv6Addr& hop,
                                  std::uint16_t mtu, Instant now, FrameQueue& out) noexcept {
  const std::uint8_t protocol = load_u8(packet.head().data() + 6);
  if ((packet->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0)
    finish_l4_checksum(packet.get(), kIpv6HeaderLen,
                       ipv6_pseudo_header_sum(src, dst, packet.pkt_len() - kIpv6HeaderLen, protocol),
                       protocol);
  std::array<rte_mbuf*, kMaxFragmentsOut> frags{};
  const int n = indirect_pool_ == nullptr ? -1
                                          : rte_ipv6_fragment_packet(packet.get(), frags.data(),
                                                                     static_cast<std::uint16_t>(frags.size()),
                                                                     mtu, pool_, indirect_pool_);
  if (n <= 0) {
    counters_.inc(Counter::kIp6FragFails);
    counters_.drop(Drop::kIp6TooBig);
    return false;
  }
  counters_.inc(Counter::kIp6FragOKs);
  counters_.inc(Counter::kIp6FragCreates, static_cast<std::uint64_t>(n));
  const auto id = static_cast<std::uint32_t>(rte_rand());
  bool sent = true;
  for (int i = 0; i < n; ++i) {
    Mbuf f{frags[static_cast<std::size_t>(i)]};
    store_be32(f.head_mut().data() + kFragIdAt, id);
    if (f.prepend(kEthernetHeaderLen).empty()) {
      counters_.drop(Drop::kMbufExhausted);
      sent = false;
      continue;
    }
    sent = transmit(std::move(f), dst, hop, now, out) && sent;
  }
  return sent;
}

}  // namespace tern
