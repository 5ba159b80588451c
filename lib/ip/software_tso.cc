#include "ip/software_tso.h"

#include "ip/ip_frag.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

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

}  // namespace tern
