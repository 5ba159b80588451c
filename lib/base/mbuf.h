#pragma once
// Mbuf (public, tern/buffer.h) and the stack's own mbuf helpers.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tern/buffer.h"

namespace tern {

// Frees a list of mbufs linked through `next`, one segment at a time. The
// TCP queues link many packets into one list whose head does not describe
// the whole (nb_segs, pkt_len), so rte_pktmbuf_free would be wrong there.
// The loop, out of line (rte_pktmbuf_free_seg inlines into it); m != nullptr.
[[gnu::noinline]] inline void free_segment_chain(rte_mbuf* m) noexcept {
  do {
    rte_mbuf* next = m->next;
    m->next = nullptr;
    rte_pktmbuf_free_seg(m);
    m = next;
  } while (m != nullptr);
}
// The empty list's test inline: a connection clears its queues twice at its
// end (TcpStack::finish, then the TCB's destructor), nearly always empty,
// and the out-of-line loop's entry alone (six pushes, a frame) was 19
// instructions a call, 76 per connection (issue 16).
[[gnu::always_inline]] inline void free_segment_list(rte_mbuf* m) noexcept {
  if (m != nullptr) free_segment_chain(m);
}

// rte_pktmbuf_alloc's resets (rte_pktmbuf_reset, a reference count of 1)
// in fewer stores, for mbufs of a pool whose every mbuf has the pool's data
// room as its buffer (rte_pktmbuf_pool_create's): data_off, refcnt, nb_segs
// and port, adjacent, take one 8-byte store of a template that
// rte_pktmbuf_reset itself wrote (mbuf_rearm_template), as a PMD rearms its
// RX descriptors' mbufs; the other fields are the ones rte_pktmbuf_reset
// clears. The reset's own min(RTE_PKTMBUF_HEADROOM, buf_len) and four
// 2-byte stores were a third of a header mbuf's allocation (issue 16).
static_assert(offsetof(rte_mbuf, refcnt) == offsetof(rte_mbuf, data_off) + 2 &&
              offsetof(rte_mbuf, nb_segs) == offsetof(rte_mbuf, data_off) + 4 &&
              offsetof(rte_mbuf, port) == offsetof(rte_mbuf, data_off) + 6);
inline std::uint64_t mbuf_rearm_template(rte_mempool* mp) noexcept {
  rte_mbuf m{};
  m.buf_len = rte_pktmbuf_data_room_size(mp);
  rte_pktmbuf_reset(&m);
  rte_mbuf_refcnt_set(&m, 1);
  std::uint64_t v;
  std::memcpy(&v, &m.data_off, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void mbuf_reset_from(rte_mbuf* m, std::uint64_t rearm) noexcept {
  m->next = nullptr;
  std::memcpy(&m->data_off, &rearm, sizeof rearm);
  m->ol_flags &= RTE_MBUF_F_EXTERNAL;
  m->packet_type = 0;
  m->pkt_len = 0;
  m->data_len = 0;
  m->vlan_tci = 0;
  m->tx_offload = 0;
  m->vlan_tci_outer = 0;
}

// What rte_mbuf_raw_free takes back as it is (rte_pktmbuf_free_seg's
// common case, without its resets): a direct, unshared single segment.
inline bool mbuf_raw_freeable(const rte_mbuf* m) noexcept {
  return m->next == nullptr && m->nb_segs == 1 && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m);
}

// rte_pktmbuf_free with its common case inline (Mbuf::free, which every
// Mbuf's reset and destructor use), for a frame held by pointer.
inline void free_frame(rte_mbuf* m) noexcept {
  if (m != nullptr) Mbuf::free(m);
}

}  // namespace tern
