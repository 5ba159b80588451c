#pragma once
// A connection's send buffer: every byte from SND.UNA to the last byte the
// application queued, held zero-copy in the application's own mbufs
// (DESIGN.md "Zero-copy send").
//
// The queued mbufs are flattened into one singly linked list through their
// `next` pointers, so an ACK frees exactly the mbufs it covers, one at a
// time, without touching the rest. Segments are built from slices: slice()
// attaches an indirect mbuf to each queued mbuf the range touches and trims
// it to the range, so the original data is never copied and stays in the
// queue (for retransmission) until it is acknowledged. A queued mbuf can
// thus be referenced by several segments still in a NIC ring; the refcount
// keeps it alive until the last one is transmitted.
//
// The same queue serves retransmission (offset 0 = SND.UNA) and new data
// (offset SND.NXT - SND.UNA): a SACK scoreboard or RACK only need other
// offsets, never another layout.
//
// The queued mbufs are charged at truesize to the worker's MemAccount (set
// with set_account), so a peer that never reads cannot make the
// application's data pin more of the pool than the engine allows. A cursor remembers where the last slice
// ended, so sending a window's worth of data in order walks the list once.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/mem_account.h"

namespace tern {

class SendQueue {
 public:
  SendQueue() noexcept = default;
  // Frees what is queued and ends its charge; a queue already cleared (a
  // TCB's end: finish clears the send queue, the receive queue is read
  // empty) skips clear()'s call, whose resets a dying queue does not need.
  ~SendQueue() {
    if (head_ != nullptr || truesize_ != 0) clear();
  }
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Charges go to `a` from now on (nullptr: none). Set while empty.
  void set_account(MemAccount* a) noexcept { acct_ = a; }

  // Takes ownership of the chain `m` (pkt_len bytes); empty segments are
  // freed. Any refcount and any indirect / external buffer is fine: each
  // is charged sizeof(rte_mbuf) plus its buf_len (an external buffer
  // wrapped by SendRegion::wrap: its own bytes, not the region's), sliced
  // by reference (rte_pktmbuf_attach takes a reference on an external
  // buffer's shared info) and never written to.
  void append(rte_mbuf* m) noexcept;
  // Copies as much of [data, data + len) as fits while the queue's truesize
  // stays within `limit`: first into the tailroom of the last mbuf if an
  // earlier append_copy allocated it (free: its truesize is already
  // charged, so many small writes do not cost an mbuf each, as Linux's
  // tcp_sendmsg fills its tail skb), then into fresh mbufs from `pool`.
  // Returns the bytes taken; `exhausted` is set when `pool` ran out.
  // A small write with no copy at the tail to fill (request/response: the
  // last ACK emptied the queue) takes append_one_copy, out of line without
  // the frame of the general case's batch of mbufs.
  std::uint32_t append_copy(const std::byte* data, std::uint32_t len, std::uint32_t limit, rte_mempool* pool,
                            bool& exhausted) noexcept {
    const std::uint32_t room = rte_pktmbuf_data_room_size(pool);
    if ((!tail_is_copy_ || tail_ == nullptr) && len > 0 && len <= room - RTE_PKTMBUF_HEADROOM &&
        truesize_ + sizeof(rte_mbuf) + room <= limit)
      return append_one_copy(data, len, pool, exhausted);
    return append_copy_many(data, len, limit, pool, exhausted);
  }
  // Frees the first n bytes (acknowledged). n <= bytes(). Inline where the
  // head mbuf keeps some of its bytes (no mbuf to free: most ACKs of a
  // queue filled by copies, whose mbufs hold more than a segment).
  void drop_front(std::uint32_t n) noexcept {
    if (head_ != nullptr && n < head_->data_len - head_off_) {
      head_off_ += n;
      bytes_ -= n;
      front_ += n;
      return;
    }
    drop_front_mbufs(n);
  }
  // drop_front for a pure ACK whose frame `frame` is done with (fast_ack
  // for header prediction): where it frees an mbuf whole, the last such
  // one goes back to its pool in one put together with the frame, when both
  // are what rte_mbuf_raw_free takes as they are (direct, refcnt 1, one
  // segment) and share a pool. True when the frame went back so (the
  // caller lets go of it); false leaves it to the caller. The queue's
  // charge ends as in drop_front.
  bool drop_front(std::uint32_t n, rte_mbuf* frame) noexcept {
    if (head_ != nullptr && n < head_->data_len - head_off_) {
      head_off_ += n;
      bytes_ -= n;
      front_ += n;
      return false;
    }
    return drop_front_mbufs_with(n, frame);
  }
  // A new chain of indirect mbufs covering [off, off + len) of the queue,
  // len > 0 and off + len <= bytes(); nullptr if `pool` ran out (nothing
  // leaks), or if a slice would take an external buffer's 16-bit reference
  // count (SendRegion's) past kExtRefSliceLimit: refused as a dry pool is,
  // and tried again once ACKs free slices, where a wrapped count would
  // free the region's control block under the mbufs still using it.
  // The chain's head is the first slice; pkt_len = len.
  rte_mbuf* slice(std::uint32_t off, std::uint32_t len, rte_mempool* pool) noexcept;
  // Copies [off, off + len) of the queue to `out` (same preconditions as
  // slice): a small segment's payload goes into its header mbuf instead of
  // indirect slices, whose attach and detach cost two atomic reference
  // count updates each.
  // Inline where the head mbuf holds the whole range (a small write sent
  // at once: one mbuf queued, its bytes from the start); the cursor, a
  // hint for find(), is then left where it was.
  void copy_out(std::uint32_t off, std::uint32_t len, std::byte* out) noexcept {
    if (head_ != nullptr && off + len <= head_->data_len - head_off_) {
      std::memcpy(out, rte_pktmbuf_mtod_offset(head_, const std::byte*, head_off_ + off), len);
      return;
    }
    copy_out_walk(off, len, out);
  }
  void clear() noexcept;

  // The queue holds an external buffer without an IO address (a
  // SendRegion made without one): a port that gathers by DMA must not be
  // given slices of it, so the segment's bytes are copied instead
  // (TcpStack::attach_payload). Set by append(), cleared when the queue
  // empties.
  bool holds_unmapped_external() const noexcept { return unmapped_ext_; }
  static constexpr std::uint16_t kExtRefSliceLimit = 65000;

  std::uint32_t bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return bytes_ == 0; }
  std::uint32_t truesize() const noexcept { return truesize_; }

 private:
  void uncharge(std::uint32_t n) noexcept {
    truesize_ -= n;
    if (acct_ != nullptr) acct_->uncharge(n);
  }
  // Links one single-segment mbuf of data_len > 0 at the tail, counted and
  // charged: append's step per mbuf, and a small write's whole append_copy.
  void link_tail(rte_mbuf* m) noexcept {
    bytes_ += m->data_len;
    const std::uint32_t ts = mbuf_seg_truesize(m);
    truesize_ += ts;
    if (acct_ != nullptr) acct_->charge(ts);
    if (tail_ == nullptr) {
      head_ = tail_ = m;
      head_off_ = 0;
    } else {
      tail_->next = m;
      tail_ = m;
    }
  }

  rte_mbuf* head_ = nullptr;
  rte_mbuf* tail_ = nullptr;
  std::uint32_t head_off_ = 0;  // bytes of head_ already acknowledged
  std::uint32_t bytes_ = 0;     // from head_ + head_off_ to the end
  // Byte positions are absolute (since the queue was created), so the cursor
  // survives drop_front: front_ is the position of the first queued byte,
  // cursor_pos_ that of the first byte of cursor_.
  std::uint64_t front_ = 0;
  rte_mbuf* cursor_ = nullptr;
  std::uint64_t cursor_pos_ = 0;
  std::uint32_t truesize_ = 0;
  MemAccount* acct_ = nullptr;
  // tail_ was allocated by append_copy: its tailroom is ours to fill. Never
  // set for the application's mbufs, which may be shared with it.
  void drop_front_mbufs(std::uint32_t n) noexcept;
  bool drop_front_mbufs_with(std::uint32_t n, rte_mbuf* frame) noexcept;
  rte_mbuf* find(std::uint64_t want, std::uint64_t& pos) const noexcept;
  void copy_out_walk(std::uint32_t off, std::uint32_t len, std::byte* out) noexcept;
  std::uint32_t append_one_copy(const std::byte* data, std::uint32_t len, rte_mempool* pool,
                                bool& exhausted) noexcept;
  std::uint32_t append_copy_many(const std::byte* data, std::uint32_t len, std::uint32_t limit,
                                 rte_mempool* pool, bool& exhausted) noexcept;
  bool tail_is_copy_ = false;
  bool unmapped_ext_ = false;  // holds_unmapped_external()
};

}  // namespace tern
