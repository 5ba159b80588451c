#pragma once
// Mbuf (public, tern/buffer.h) and the stack's own mbuf helpers.
#include <rte_mbuf.h>

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
