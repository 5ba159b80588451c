#include "port/link_pair.h"

#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tern {
namespace {

rte_ring* make_ring(std::uint32_t size) {
  // Ring names are global to the EAL; a process-wide sequence keeps them unique.
  static std::atomic<unsigned> seq{0};
  std::string name = "tern_link_" + std::to_string(seq.fetch_add(1));
  rte_ring* r = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (r == nullptr) throw std::runtime_error("link pair: cannot create ring " + name);
  return r;
}

// The most wire segments one TSO frame is cut into here: 64 KiB at a
// segment size of 536 (RFC 9293 §3.7.1's default MSS) is 123.
constexpr std::uint32_t kMaxLroSegments = 128;

// Whether the chain already has the layout a receiving NIC's LRO builds:
// the headers and the first wire segment's payload in the first mbuf, then
// one direct mbuf per further segment (TCP's copying mode builds this). An
// indirect slice of the sender's queue would cost the receiver a whole mbuf
// of truesize for a part of a segment (docs/fast_path.md "Tried and not
// kept"), so it is copied.
bool lro_layout(const rte_mbuf* m, std::uint32_t hdr, std::uint32_t seg) noexcept {
  std::uint32_t left = m->pkt_len - hdr;
  std::uint32_t want_hdr = hdr;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
    const std::uint32_t part = std::min(seg, left);
    if (part == 0 || !RTE_MBUF_DIRECT(s) || s->data_len != want_hdr + part) return false;
    left -= part;
    want_hdr = 0;
  }
  return left == 0;
}

// Copies m into out[0..n) laid out as lro_layout wants.
void copy_as_lro(const rte_mbuf* m, std::uint32_t hdr, std::uint32_t seg, rte_mbuf* const* out,
                 std::uint32_t n) noexcept {
  std::uint32_t off = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t len = std::min(m->pkt_len - off, (i == 0 ? hdr : 0) + seg);
    auto* dst = rte_pktmbuf_mtod(out[i], char*);
    const void* src = rte_pktmbuf_read(m, off, len, dst);
    if (src != dst) std::memcpy(dst, src, len);
    out[i]->data_len = static_cast<std::uint16_t>(len);
    out[i]->pkt_len = len;
    out[i]->next = i + 1 < n ? out[i + 1] : nullptr;
    off += len;
  }
  out[0]->nb_segs = static_cast<std::uint16_t>(n);
  out[0]->pkt_len = m->pkt_len;
  out[0]->l2_len = m->l2_len;
  out[0]->l3_len = m->l3_len;
  out[0]->l4_len = m->l4_len;
  out[0]->tso_segsz = m->tso_segsz;
  out[0]->ol_flags = m->ol_flags;
}

}  // namespace

void link_tso_to_lro(rte_mbuf*& m) noexcept {
  const std::uint64_t tx_flags = m->ol_flags;
  const auto hdr = static_cast<std::uint32_t>(m->l2_len + m->l3_len + m->l4_len);
  const std::uint32_t seg = m->tso_segsz;
  // Left unmarked (the receiver linearises it, or fails to and drops it):
  // what no NIC would cut either.
  const auto unmarked = [&] { m->ol_flags = tx_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK; };
  if (seg == 0 || m->l4_len == 0 || m->pkt_len <= hdr || rte_pktmbuf_data_len(m) < hdr) return unmarked();
  if (!lro_layout(m, hdr, seg)) {
    const std::uint32_t n = (m->pkt_len - hdr + seg - 1) / seg;
    std::array<rte_mbuf*, kMaxLroSegments> out;
    if (n > out.size() || rte_pktmbuf_alloc_bulk(m->pool, out.data(), n) != 0) return unmarked();
    if (rte_pktmbuf_tailroom(out[0]) < hdr + seg) {
      rte_pktmbuf_free_bulk(out.data(), n);
      return unmarked();
    }
    copy_as_lro(m, hdr, seg, out.data(), n);
    rte_pktmbuf_free(m);
    m = out[0];
  }
  // TSO implies both checksums (DPDK: RTE_MBUF_F_TX_TCP_SEG with
  // RTE_MBUF_F_TX_TCP_CKSUM, and for IPv4 RTE_MBUF_F_TX_IP_CKSUM): good by
  // construction, as offer_checksum_offload's frames.
  m->ol_flags = (tx_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK) | RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_IP_CKSUM_GOOD |
                RTE_MBUF_F_RX_L4_CKSUM_GOOD;
}

LinkPort::~LinkPort() {
  for (rte_ring* r : rx_) {
    if (r == nullptr) continue;
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
  }
}

std::uint16_t LinkPort::rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  return static_cast<std::uint16_t>(
      rte_ring_sc_dequeue_burst(rx_[queue], reinterpret_cast<void**>(pkts), n, nullptr));
}

void LinkPort::offer_checksum_offload() noexcept {
  offload_ = true;
  info_.rx_ip_checksum_offload = info_.rx_l4_checksum_offload = true;
  info_.tx_ip_checksum_offload = info_.tx_l4_checksum_offload = true;
}

void LinkPort::offer_tso() noexcept {
  offer_checksum_offload();
  tso_ = true;
  info_.tx_tso = true;
}

std::uint16_t LinkPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  if (offload_) {
    // The "NIC" of a link in one process: what the sender left to it is
    // good by construction; the receiver learns so from the RX flags.
    for (std::uint16_t i = 0; i < n; ++i) {
      if (tso_ && (pkts[i]->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0) {
        link_tso_to_lro(pkts[i]);  // may replace the frame: the caller's array holds the new one
        continue;
      }
      link_checksum_offload_to_rx(pkts[i]);
    }
  }
  return static_cast<std::uint16_t>(
      rte_ring_sp_enqueue_burst(tx_[queue], reinterpret_cast<void* const*>(pkts), n, nullptr));
}

unsigned LinkPort::pending_rx() const noexcept {
  unsigned total = 0;
  for (rte_ring* r : rx_)
    if (r != nullptr) total += rte_ring_count(r);
  return total;
}

std::pair<std::unique_ptr<LinkPort>, std::unique_ptr<LinkPort>> make_link_pair(std::uint16_t queues,
                                                                               std::uint32_t ring_size,
                                                                               std::uint16_t mtu) {
  if (queues == 0 || queues > 16) throw std::runtime_error("link pair: queues must be 1..16");
  std::unique_ptr<LinkPort> a{new LinkPort}, b{new LinkPort};
  for (std::uint16_t q = 0; q < queues; ++q) {
    a->rx_[q] = make_ring(ring_size);
    b->rx_[q] = make_ring(ring_size);
    a->tx_[q] = b->rx_[q];
    b->tx_[q] = a->rx_[q];
  }
  int i = 1;
  for (LinkPort* p : {a.get(), b.get()}) {
    p->info_.name = "link" + std::to_string(i);
    p->info_.mac = MacAddr{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i)}};
    p->info_.mtu = mtu;
    p->info_.queues = queues;
    // Software steering: like tap and af_packet, the link does not hash flows.
    p->info_.steering = Steering::kSoftware;
    ++i;
  }
  return {std::move(a), std::move(b)};
}

}  // namespace tern
