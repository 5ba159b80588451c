#pragma once
// The receive side's out-of-order queue: segments that arrived beyond a hole
// wait here, zero-copy in their own mbufs, until the hole fills.
//
// RFC 9293 §3.10.7.4, seventh step: segments beyond RCV.NXT are held "for
// later processing"; duplicates and overlaps are trimmed so every sequence
// number is stored at most once, and data is delivered in order only.
// RFC 2018 §4 asks the receiver to report the blocks it holds, the block with
// the most recently received segment first: sack_blocks() does that.
//
// I/O-free and allocation-free after construction: the entries live in one
// fixed array, sorted by sequence number, sized for `max_segments`. A
// connection holds a handful of out-of-order segments at a time, so a sorted
// array (binary search, one memmove per insert) beats a tree or a list on
// cache misses. Overlap handling never splits an mbuf (which would need an
// indirect pool): the new segment is trimmed at its edges, and queued
// segments it covers entirely are freed and replaced by it.
//
// Assumptions the caller keeps:
//  - payload mbufs hold payload only (headers trimmed) and are exclusively
//    owned (refcnt 1), since trimming moves their data_off / data_len;
//  - the window check (RFC 9293 §3.10.7.4 first step) has already been done,
//    so every sequence number here lies within 2^31 of RCV.NXT and Seq32's
//    modular order is total on them;
//  - after advancing RCV.NXT by itself (in-order data delivered directly),
//    the caller calls pop_in_order(), which also drops queued data that the
//    direct delivery made stale.
// What the queue holds is charged at truesize to the worker's MemAccount (set
// with set_account); prune_above() gives memory back newest-data-first when
// the worker needs it (Linux's tcp_prune_ofo_queue). Pruning reneges on data
// a SACK may have reported, which RFC 2018 §8 allows: the sender keeps it
// until it is cumulatively acknowledged.
// FIN is not queued here: the engine remembers a queued FIN's sequence number
// and acts on it once RCV.NXT reaches it.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/mbuf.h"
#include "base/mem_account.h"
#include "tcp/seq.h"
#include "wire/tcp_options.h"

namespace tern {

// Mbuf chain trimming that, unlike rte_pktmbuf_adj / rte_pktmbuf_trim, may
// cross segment boundaries. Both need n < pkt_len (something must remain).
// Removes the first n bytes; whole leading segments are freed, so the head
// may change: the new head is returned.
rte_mbuf* mbuf_chain_trim_front(rte_mbuf* m, std::uint32_t n) noexcept;
// Removes the last n bytes; whole trailing segments are freed.
void mbuf_chain_trim_back(rte_mbuf* m, std::uint32_t n) noexcept;

class ReassemblyQueue {
 public:
  enum class Insert : std::uint8_t {
    kQueued,     // some new bytes are now held (possibly after trimming)
    kDuplicate,  // nothing new: before RCV.NXT or already queued; freed
    kOverLimit,  // would exceed max_bytes or max_segments; freed, queue unchanged
  };

  // max_bytes bounds the payload held (the part of the receive buffer lent
  // to out-of-order data); max_segments bounds the entries, and so the mbufs
  // pinned, since a flood of 1-byte segments costs mbufs, not bytes.
  // max_segments = 0 makes a queue that refuses everything.
  ReassemblyQueue(std::uint32_t max_bytes, std::uint16_t max_segments);
  ~ReassemblyQueue() { clear(); }
  ReassemblyQueue(const ReassemblyQueue&) = delete;
  ReassemblyQueue& operator=(const ReassemblyQueue&) = delete;
  ReassemblyQueue(ReassemblyQueue&& o) noexcept;
  ReassemblyQueue& operator=(ReassemblyQueue&& o) noexcept;

  // Takes `payload`, the data of a segment starting at `seq`. Bytes before
  // rcv_nxt and bytes already queued are trimmed off; queued segments that the
  // new one covers entirely are replaced by it. Never exceeds the bounds: a
  // segment that would is refused whole (the caller counts the drop).
  Insert insert(Seq32 seq, Mbuf payload, Seq32 rcv_nxt) noexcept;

  // Delivers, in order, every queued segment contiguous with rcv_nxt and
  // advances rcv_nxt past them; returns the bytes delivered. `deliver` is
  // called as deliver(Mbuf) once per segment and must not touch this queue.
  // Queued data that now lies before rcv_nxt (delivered directly by the
  // caller meanwhile) is trimmed or freed, not delivered twice.
  template <class Fn>
  std::uint32_t pop_in_order(Seq32& rcv_nxt, Fn&& deliver) noexcept;

  // Writes up to min(out.size(), max_blocks) SACK blocks (RFC 2018 §3: left
  // edge, right edge one past the last byte) for the contiguous runs held,
  // and returns how many. RFC 2018 §4: the first block holds the most
  // recently received segment; the others follow, most recently received
  // first, which repeats the most recent blocks as the RFC asks. A duplicate
  // of queued data counts as received too: it triggered this ACK. Pass
  // max_blocks = 3 when the timestamp option shares the 40 option bytes.
  // Call after pop_in_order, so that no block lies below rcv_nxt.
  std::uint8_t sack_blocks(std::span<SackBlock, kTcpMaxSackBlocks> out,
                           std::size_t max_blocks = kTcpMaxSackBlocks) const noexcept;

  // The first run of [seq, end) already held (abutting entries form one
  // run), as [*left, *right); false when none of it is. RFC 2883 §4 reports
  // that run, the first duplicate contiguous sequence, in a D-SACK block.
  bool first_held(Seq32 seq, Seq32 end, Seq32* left, Seq32* right) const noexcept;

  // Charges go to `a` from now on (nullptr: none). Set while empty.
  void set_account(MemAccount* a) noexcept { acct_ = a; }
  // Frees queued segments from the highest sequence number down, only those
  // starting after `floor`, until at least `want` bytes of truesize are
  // freed or none is left to free. Returns the segments freed.
  std::uint32_t prune_above(Seq32 floor, std::uint32_t want) noexcept;

  bool empty() const noexcept { return count_ == 0; }
  std::uint32_t bytes() const noexcept { return bytes_; }
  std::uint32_t truesize() const noexcept { return truesize_; }
  std::size_t segments() const noexcept { return count_; }
  std::uint32_t max_bytes() const noexcept { return max_bytes_; }
  std::uint16_t max_segments() const noexcept { return max_segments_; }
  // One past the last byte held (meaningful only when not empty): RFC 9293's
  // highest sequence number received, which RFC 2018 §4 and RFC 6675 want.
  Seq32 highest() const noexcept { return entries_[count_ - 1].end(); }

  // Frees everything queued (connection closed or reset).
  void clear() noexcept;

 private:
  struct Entry {
    Seq32 seq;
    std::uint32_t len;
    rte_mbuf* m;
    std::uint32_t stamp;  // arrival order, for RFC 2018 §4 block order
    std::uint32_t truesize;
    Seq32 end() const noexcept { return seq + len; }
  };

  // Drops entries [0, n) from the array; their mbufs are already gone.
  void erase_front(std::size_t n) noexcept;

  std::unique_ptr<Entry[]> entries_;
  std::size_t count_ = 0;
  std::uint32_t bytes_ = 0;
  std::uint32_t max_bytes_;
  std::uint16_t max_segments_;
  std::uint32_t clock_ = 0;  // insert() calls so far; wraps harmlessly after 2^32
  std::uint32_t truesize_ = 0;
  MemAccount* acct_ = nullptr;

  void uncharge(std::uint32_t n) noexcept {
    truesize_ -= n;
    if (acct_ != nullptr) acct_->uncharge(n);
  }
};

template <class Fn>
std::uint32_t ReassemblyQueue::pop_in_order(Seq32& rcv_nxt, Fn&& deliver) noexcept {
  std::uint32_t delivered = 0;
  std::size_t i = 0;
  for (; i < count_; ++i) {
    Entry& e = entries_[i];
    if (seq_gt(e.seq, rcv_nxt)) break;  // a hole remains before this one
    const auto stale = static_cast<std::uint32_t>(rcv_nxt - e.seq);
    bytes_ -= e.len;
    uncharge(e.truesize);  // the receive queue charges what it takes
    if (stale >= e.len) {  // all of it already delivered by the caller
      rte_pktmbuf_free(e.m);
      continue;
    }
    rte_mbuf* m = stale == 0 ? e.m : mbuf_chain_trim_front(e.m, stale);
    const std::uint32_t n = e.len - stale;
    rcv_nxt += n;
    delivered += n;
    deliver(Mbuf{m});
  }
  erase_front(i);
  return delivered;
}

}  // namespace tern
