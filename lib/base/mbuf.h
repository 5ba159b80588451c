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

// rte_pktmbuf_free with its common case inline (Mbuf::free, which every
// Mbuf's reset and destructor use), for a frame held by pointer.
inline void free_frame(rte_mbuf* m) noexcept {
  if (m != nullptr) Mbuf::free(m);
}

}  // namespace tern
