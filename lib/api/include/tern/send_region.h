#pragma once
// Public: sending the application's own memory without copying it (a file
// cache, a static response), as sendfile(2) sends the page cache. A
// SendRegion registers [base, base + size) once; wrap() makes a Buffer of
// DPDK external-buffer mbufs (rte_pktmbuf_attach_extbuf) that point into it,
// which send(Buffer&) queues like any other chain: the engine slices it
// into segments by reference and never writes into it (docs/api.md
// "Sending from your own memory").
//
// Every mbuf attached to the region, the wrapped ones and each segment's
// slice of them, holds one reference on the region's
// rte_mbuf_ext_shared_info; the region holds one of its own. The memory
// must stay valid and unchanged while references() is not 0: the stack
// (or a Buffer the application still holds) may read it until then, for a
// retransmission too. Nothing calls back: an application polls
// references() (on_poll) or in_use() before it frees or rewrites the
// memory. The counter lives in a control block apart from the SendRegion,
// freed by whichever drops the last reference (the region's destructor, or
// the last mbuf's free, on whatever lcore frees it), so destroying a
// SendRegion early never leaves an mbuf pointing at a freed counter; the
// memory itself is the application's to keep alive.
//
// Workers may share a region: wrap() takes its references with atomic
// read-modify-writes (DPDK's rte_mbuf_ext_refcnt_update stores without
// one while the count is 1, which is safe for a sole holder only, and the
// region's own reference is shared by every caller of wrap()). The
// destructor must not run while another lcore may still call wrap().
#include <cstddef>
#include <cstdint>
#include <new>

#include "tern/buffer.h"

namespace tern {

class SendRegion {
 public:
  // One mbuf carries at most this many bytes: data_len and buf_len are 16-bit.
  static constexpr std::uint32_t kMaxSegment = UINT16_MAX;
  // wrap() refuses to take the region's count past this. The counter is
  // 16-bit; past 65,535 it would wrap and free the control block while
  // mbufs still point at it. The engine adds one per slice of a wrapped
  // mbuf (ports that gather by DMA send payloads as slices), and refuses
  // a slice that would take the count past SendQueue::kExtRefSliceLimit,
  // as if its pool had run dry, so wraps and slices together stay below
  // the counter's range however many workers share the region.
  static constexpr std::uint16_t kMaxWrapped = 32768;
  // wrap() leaves this fraction of `pool` (1 / kPoolReserveDiv of its
  // mbufs) for the engine's slices of any connection: wrapped mbufs held
  // by slow or zero-window peers must not take every slice mbuf a worker
  // has, which would stop every connection's sending on a port that
  // gathers by DMA.
  static constexpr unsigned kPoolReserveDiv = 4;

  // `iova`: the IO address of `base` where a NIC reads the memory by DMA
  // (the region mapped with rte_extmem_register and rte_dev_dma_map);
  // RTE_BAD_IOVA (the default): the engine then copies the region's bytes
  // into each frame on a port that gathers by DMA (the start-up summary's
  // "TCP payloads sent as slices (DMA gather)") instead of slicing them; a
  // mapped region must be IO-contiguous (IOVA-as-VA mode, or memory that
  // is contiguous in IO space), page-aligned and a whole number of pages
  // long (rte_extmem_register). Allocates the control block: not for the
  // per-packet path.
  SendRegion(const void* base, std::size_t size, rte_iova_t iova = RTE_BAD_IOVA)
      : base_(static_cast<const std::byte*>(base)), size_(size), iova_(iova), ctl_(new Control) {
    ctl_->shinfo.free_cb = &SendRegion::on_last_reference;
    ctl_->shinfo.fcb_opaque = ctl_;
    rte_mbuf_ext_refcnt_set(&ctl_->shinfo, 1);  // the region's own
  }
  // Drops the region's own reference; mbufs still attached keep the
  // control block (not the memory) alive.
  ~SendRegion() {
    if (rte_mbuf_ext_refcnt_update(&ctl_->shinfo, -1) == 0) delete ctl_;
  }
  SendRegion(const SendRegion&) = delete;
  SendRegion& operator=(const SendRegion&) = delete;

  const std::byte* data() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  // Mbufs attached to the region now (wrapped ones, the engine's slices of
  // them): 0 once the stack and every Buffer let go of it.
  // Acquire: the lcores' reads of the memory (a frame's copy) that dropped
  // their references happen before the application's next write to it.
  std::uint32_t references() const noexcept {
    return static_cast<std::uint32_t>(__atomic_load_n(&ctl_->shinfo.refcnt, __ATOMIC_ACQUIRE)) - 1u;
  }
  bool in_use() const noexcept { return references() != 0; }

  // [off, off + len) of the region as a chain of external-buffer mbufs
  // taken from `pool`, which must have no data room (WorkerContext::wrap's
  // pool of slice mbufs: an mbuf's charge, sizeof(rte_mbuf) plus its
  // bytes, would hide a data room's unused buffer), each carrying at most
  // `max_segment` bytes (at most kMaxSegment). Each mbuf's buf_len is its
  // own bytes, so it has no headroom or tailroom and is charged, in
  // truesize, sizeof(rte_mbuf) plus its bytes. Empty when len is 0, the
  // range leaves the region, `pool` has a data room, `pool` would keep
  // fewer than 1 / kPoolReserveDiv of its mbufs or ran dry (nothing
  // leaks), or the region's count would pass kMaxWrapped.
  Buffer wrap(rte_mempool* pool, std::size_t off, std::size_t len,
              std::uint32_t max_segment = kMaxSegment) const noexcept {
    if (max_segment == 0 || max_segment > kMaxSegment) max_segment = kMaxSegment;
    if (len == 0 || off > size_ || len > size_ - off) return Buffer{};
    const std::size_t n = (len + max_segment - 1) / max_segment;
    if (n > UINT16_MAX || rte_pktmbuf_data_room_size(pool) != 0 ||
        rte_mempool_avail_count(pool) < n + pool->size / kPoolReserveDiv) {
      return Buffer{};
    }
    // All n references at once, atomically (the header's note on sharing).
    std::uint16_t cur = __atomic_load_n(&ctl_->shinfo.refcnt, __ATOMIC_RELAXED);
    do {
      if (cur + n > kMaxWrapped) return Buffer{};
    } while (!__atomic_compare_exchange_n(&ctl_->shinfo.refcnt, &cur, static_cast<std::uint16_t>(cur + n),
                                          true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    Buffer head;
    rte_mbuf* last = nullptr;
    std::size_t attached = 0;
    for (std::size_t done = 0; done < len;) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) {
        // The references not attached go back here, the attached ones with
        // head's mbufs; the region's own keeps the count above 0.
        __atomic_fetch_sub(&ctl_->shinfo.refcnt, static_cast<std::uint16_t>(n - attached), __ATOMIC_ACQ_REL);
        return Buffer{};
      }
      const auto take = static_cast<std::uint16_t>(len - done < max_segment ? len - done : max_segment);
      ++attached;  // from here m's free drops one
      rte_pktmbuf_attach_extbuf(m, const_cast<std::byte*>(base_ + off + done),  // never written
                                iova_ == RTE_BAD_IOVA ? RTE_BAD_IOVA : iova_ + off + done, take,
                                &ctl_->shinfo);
      m->data_len = take;
      m->pkt_len = take;
      if (last == nullptr) {
        head.reset(m);
      } else {
        last->next = m;
        head->nb_segs = static_cast<std::uint16_t>(head->nb_segs + 1);
        head->pkt_len += take;
      }
      last = m;
      done += take;
    }
    return head;
  }

 private:
  struct Control {
    rte_mbuf_ext_shared_info shinfo{};
  };
  // DPDK's free callback: the count reached 0 on an mbuf's free, after
  // the region itself let go.
  static void on_last_reference(void* /*addr*/, void* opaque) noexcept {
    delete static_cast<Control*>(opaque);
  }

  const std::byte* base_;
  std::size_t size_;
  rte_iova_t iova_;
  Control* ctl_;
};

}  // namespace tern
