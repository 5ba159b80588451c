#include "runtime/rx_coalesce6.h"

#include <cstring>

#include "ip/chain_checksum.h"
#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

namespace tern {

namespace {

constexpr std::uint32_t kL3Offset = kEthernetHeaderLen;
constexpr std::uint32_t kL4Offset = kEthernetHeaderLen + kIpv6HeaderLen;
// IPv6's Payload Length field: a merged segment's TCP header and data must
// fit it (RFC 8200 §3; a jumbogram, RFC 2675, is not made here).
constexpr std::uint32_t kMaxPayloadLength = 65535;

std::byte* ip_of(rte_mbuf* m) noexcept { return rte_pktmbuf_mtod_offset(m, std::byte*, kL3Offset); }
std::byte* tcp_of(rte_mbuf* m) noexcept { return rte_pktmbuf_mtod_offset(m, std::byte*, kL4Offset); }
std::uint32_t tcp_header_len(const std::byte* tcp) noexcept {
  return static_cast<std::uint32_t>(load_u8(tcp + 12) >> 4) * 4u;
}

// Drops what follows the datagram in its mbuf (Ethernet padding, a trailer):
// inside a chain it would be taken for data.
void trim_to_datagram(rte_mbuf* m, const std::byte* ip) noexcept {
  const std::uint32_t end = kL4Offset + load_be16(ip + 4);
  if (m->data_len > end) (void)rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->data_len - end));
}

}  // namespace

bool RxCoalescer6::candidate(rte_mbuf* m) noexcept {
  if (m->nb_segs != 1) return false;
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  if (len < kL4Offset + kTcpMinHeaderLen) return false;
  const std::byte* eth = rte_pktmbuf_mtod(m, const std::byte*);
  const std::byte* ip = eth + kL3Offset;
  const std::byte* tcp = ip + kIpv6HeaderLen;
  // Version 6 and Next Header TCP: no extension header, whose contents the
  // merge would have to compare (and the walk, ipv6_layer.cc, to check in
  // every segment). ACK alone, as for IPv4 (rx_coalesce.cc).
  if (load_be16(eth + 12) != kEtherTypeIpv6 || (load_u8(ip) >> 4) != 6 || load_u8(ip + 6) != kIpProtoTcp ||
      load_u8(tcp + 13) != kTcpAck || (load_u8(tcp + 12) & 0x0F) != 0)
    return false;
  // Not ECN-CE (the Traffic Class's low two bits, RFC 3168 §5): the merged
  // frame keeps the first segment's, and a CE mark on a later one would be
  // lost (§6.1.3 wants every CE echoed).
  if (((load_u8(ip + 1) >> 4) & 0x03) == 0x03) return false;
  const std::uint32_t payload_len = load_be16(ip + 4);
  const std::uint32_t doff = tcp_header_len(tcp);
  if (kL4Offset + payload_len > len || doff < kTcpMinHeaderLen || doff >= payload_len) return false;
  const std::uint64_t l4_ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (l4_ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
    if (l4_ck != RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN) return false;  // bad, or not computed (NONE): TCP decides
    const std::uint32_t pseudo =
        ipv6_pseudo_header_sum(Ipv6Addr::load(ip + 8), Ipv6Addr::load(ip + 24), payload_len, kIpProtoTcp);
    if (chain_checksum(m, pseudo, kL4Offset, payload_len) != 0) return false;
  }
  // Verified here or by the port: TCP need not sum it again.
  m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv6HeaderLen;
  m->l4_len = doff;
  m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_TCP;
  return true;
}

std::uint16_t RxCoalescer6::merge(rte_mbuf* const* run, std::uint16_t n, rte_mbuf** out,
                                  Counters& counters) noexcept {
  // Each flow has at most one frame open, the one its latest segment went
  // into; a segment that cannot follow it opens the flow's next. Frames come
  // out in the order they were opened, so within a flow in the wire's.
  std::uint16_t produced = 0;
  std::uint16_t open_n = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = run[i];
    const std::byte* ip = ip_of(m);
    const std::byte* tcp = tcp_of(m);
    const std::uint32_t seq = load_be32(tcp + 4);
    const std::uint32_t doff = tcp_header_len(tcp);
    const std::uint32_t data = load_be16(ip + 4) - doff;
    Open* o = nullptr;
    for (std::uint16_t j = 0; j < open_n && o == nullptr; ++j) {
      const std::byte* hip = ip_of(out[open_[j].slot]);
      // The flow: addresses (adjacent in the header) and ports.
      if (std::memcmp(hip + 8, ip + 8, 32) == 0 && std::memcmp(hip + kIpv6HeaderLen, tcp, 4) == 0)
        o = &open_[j];
    }
    if (o != nullptr) {
      rte_mbuf* h = out[o->slot];
      std::byte* hip = ip_of(h);
      std::byte* htcp = tcp_of(h);
      const std::uint32_t merged_len = load_be16(hip + 4) + data;
      // Equivalent but for data and window: the traffic class and flow
      // label (with the version, one word), hop limit, the next byte of
      // the stream, the ACK and the options byte for byte (so TSval and
      // TSecr, RFC 7323 §4.3: TS.Recent stays the first segment's).
      const bool follows =
          o->next_seq == seq && std::memcmp(hip, ip, 4) == 0 && load_u8(hip + 7) == load_u8(ip + 7) &&
          std::memcmp(htcp + 8, tcp + 8, 4) == 0 && tcp_header_len(htcp) == doff &&
          std::memcmp(htcp + kTcpMinHeaderLen, tcp + kTcpMinHeaderLen, doff - kTcpMinHeaderLen) == 0 &&
          merged_len <= kMaxPayloadLength;
      if (follows) {
        if (h->nb_segs == 1) {
          trim_to_datagram(h, hip);
          h->tso_segsz = static_cast<std::uint16_t>(load_be16(hip + 4) - tcp_header_len(htcp));
          h->ol_flags |= RTE_MBUF_F_RX_LRO;
        }
        trim_to_datagram(m, ip);
        // The window is the latest the peer advertised (the last segment's),
        // as the engine would have taken it from the segments one by one
        // (RFC 9293 §3.10.7.4's SND.WL1/WL2 rule: the ACK is the same in
        // all, the last has the highest SEG.SEQ).
        store_be16(htcp + 14, load_be16(tcp + 14));
        store_be16(hip + 4, static_cast<std::uint16_t>(merged_len));
        (void)rte_pktmbuf_adj(m, static_cast<std::uint16_t>(kL4Offset + doff));
        m->nb_segs = 1;
        m->next = nullptr;
        o->last->next = m;
        o->last = m;
        h->nb_segs = static_cast<std::uint16_t>(h->nb_segs + 1);
        h->pkt_len += m->data_len;
        o->next_seq = seq + data;
        counters.inc(Counter::kGroMerged);
        continue;
      }
    } else {
      o = &open_[open_n++];
    }
    *o = Open{produced, m, seq + data};
    out[produced++] = m;
  }
  return produced;
}

}  // namespace tern
