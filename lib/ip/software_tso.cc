#include "ip/software_tso.h"

#include <algorithm>
#include <cstring>

#include "ip/ip_frag.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

namespace tern {

SoftwareTso::SoftwareTso(rte_mempool* direct, rte_mempool* indirect) noexcept {
  ctx_.direct_pool = direct;
  ctx_.indirect_pool = indirect;
  ctx_.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
  ctx_.flag = 0;  // IP IDs count up, as Linux's GSO and TCP's IP layer expect (ip_layer.cc)
}

std::uint16_t SoftwareTso::segment(rte_mbuf* m, rte_mbuf** out, std::uint16_t n) noexcept {
  const auto hdr = static_cast<std::uint32_t>(m->l2_len + m->l3_len + m->l4_len);
  if (n == 0 || m->tso_segsz == 0 || m->l4_len == 0 || rte_pktmbuf_data_len(m) < hdr) {
    rte_pktmbuf_free(m);
    return 0;
  }
  if ((m->ol_flags & RTE_MBUF_F_TX_IPV6) != 0) return segment_ipv6(m, out, n);
  ctx_.gso_size = static_cast<std::uint16_t>(hdr + m->tso_segsz);
  int k = rte_gso_segment(m, &ctx_, out, n);
  if (k < 0) {
    rte_pktmbuf_free(m);
    return 0;
  }
  if (k == 0) {
    out[0] = m;  // one wire segment already: sent as it is
    k = 1;
  } else {
    rte_pktmbuf_free(m);  // each wire frame holds a reference to its part
  }
  for (int i = 0; i < k; ++i) {
    rte_mbuf* f = out[i];
    auto* ip = rte_pktmbuf_mtod_offset(f, std::byte*, f->l2_len);
    store_be16(ip + 10, 0);
    store_be16(ip + 10, internet_checksum({ip, f->l3_len}));
    const std::uint32_t tcp_len = f->pkt_len - f->l2_len - f->l3_len;
    finish_l4_checksum(f, std::size_t{f->l2_len} + f->l3_len,
                       pseudo_header_sum(load_be32(ip + 12), load_be32(ip + 16), kIpProtoTcp,
                                         static_cast<std::uint16_t>(tcp_len)),
                       kIpProtoTcp);
    f->ol_flags &= ~(RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK);
  }
  return static_cast<std::uint16_t>(k);
}

// As a NIC cuts TCP/IPv6 (and rte_gso cuts TCP/IPv4): every wire frame gets
// the headers with its own payload length (RFC 8200 §3) and sequence
// number; PSH and FIN stay on the last frame alone, CWR on the first alone
// (RFC 3168 §6.1.2: one window reduction, announced once).
std::uint16_t SoftwareTso::segment_ipv6(rte_mbuf* m, rte_mbuf** out, std::uint16_t n) noexcept {
  constexpr std::uint8_t kPsh = 0x08, kFin = 0x01, kCwr = 0x80;
  const std::uint32_t l3_off = m->l2_len, l4_off = l3_off + m->l3_len, hdr = l4_off + m->l4_len;
  const std::uint32_t seg = m->tso_segsz;
  const std::uint32_t payload = m->pkt_len > hdr ? m->pkt_len - hdr : 0;
  const std::uint32_t k = payload == 0 ? 1 : (payload + seg - 1) / seg;
  if (k > n || m->l3_len != kIpv6HeaderLen ||
      (k > 1 && rte_pktmbuf_alloc_bulk(ctx_.direct_pool, out, k) != 0)) {
    rte_pktmbuf_free(m);
    return 0;
  }
  if (k == 1) out[0] = m;  // one wire segment already: only its checksum is due
  const auto* head = rte_pktmbuf_mtod(m, const std::byte*);
  const std::uint32_t seq = load_be32(head + l4_off + 4);
  const auto flags = std::to_integer<std::uint8_t>(head[l4_off + 13]);
  for (std::uint32_t i = 0; i < k; ++i) {
    rte_mbuf* f = out[i];
    const std::uint32_t off = i * seg;
    const std::uint32_t part = std::min(seg, payload - off);
    if (k > 1) {
      if (rte_pktmbuf_tailroom(f) < hdr + part) {
        rte_pktmbuf_free_bulk(out, k);
        rte_pktmbuf_free(m);
        return 0;
      }
      auto* d = rte_pktmbuf_mtod(f, std::byte*);
      std::memcpy(d, head, hdr);
      const void* src = rte_pktmbuf_read(m, hdr + off, part, d + hdr);
      if (src != d + hdr) std::memcpy(d + hdr, src, part);
      f->data_len = static_cast<std::uint16_t>(hdr + part);
      f->pkt_len = hdr + part;
      f->l2_len = m->l2_len;
      f->l3_len = m->l3_len;
      f->l4_len = m->l4_len;
      f->ol_flags = m->ol_flags;
      store_be16(d + l3_off + 4, static_cast<std::uint16_t>(m->l4_len + part));
      store_be32(d + l4_off + 4, seq + off);
      std::uint8_t fl = flags;
      if (i + 1 < k) fl = static_cast<std::uint8_t>(fl & ~(kPsh | kFin));
      if (i > 0) fl = static_cast<std::uint8_t>(fl & ~kCwr);
      d[l4_off + 13] = std::byte{fl};
    }
    const auto* ip = rte_pktmbuf_mtod_offset(f, const std::byte*, l3_off);
    Ipv6Addr src, dst;
    std::memcpy(src.b.data(), ip + 8, 16);
    std::memcpy(dst.b.data(), ip + 24, 16);
    const std::uint32_t tcp_len = f->pkt_len - l4_off;
    finish_l4_checksum(f, l4_off, ipv6_pseudo_header_sum(src, dst, tcp_len, kIpProtoTcp), kIpProtoTcp);
    f->ol_flags &= ~(RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK);
  }
  if (k > 1) rte_pktmbuf_free(m);
  return static_cast<std::uint16_t>(k);
}

}  // namespace tern
