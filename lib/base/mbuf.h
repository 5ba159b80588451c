#pragma once
// Mbuf (public, tern/buffer.h) and the stack's own mbuf helpers.
#include <rte_mbuf.h>

#include "tern/buffer.h"

namespace tern {

// Frees a list of mbufs linked through `next`, one segment at a time. The
// TCP queues link many packets into one list whose head does not describe
// the whole (nb_segs, pkt_len), so rte_pktmbuf_free would be wrong there.
inline void free_segment_list(rte_mbuf* m) noexcept {
  while (m != nullptr) {
    rte_mbuf* next = m->next;
    m->next = nullptr;
    rte_pktmbuf_free_seg(m);
    m = next;
  }
}

// rte_pktmbuf_free, with its common case inline: a direct, unshared mbuf
// with no next segment (a received ACK's frame) goes straight back to its
// pool's per-lcore cache, as rte_pktmbuf_prefree_seg then rte_mbuf_raw_free
// would do with it; any other chain takes DPDK's out-of-line walk. The
// mbuf must go back as rte_mbuf_raw_alloc hands it out (refcnt 1, one
// segment, no next), so a head whose nb_segs disagrees takes the walk too.
inline void free_frame(rte_mbuf* m) noexcept {
  if (m == nullptr) return;
  if (m->next == nullptr && m->nb_segs == 1 && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m))
      [[likely]] {
    rte_mbuf_raw_free(m);
    return;
  }
  rte_pktmbuf_free(m);
}

}  // namespace tern
