#pragma once
// In-order received data waiting for the application: the payload mbufs of
// the segments, headers trimmed, linked into one chain (zero-copy receive,
// DESIGN.md). The application takes the whole chain at once (take()) or
// copies bytes out (read()).
//
// What the queue holds is charged at truesize (base/mem_account.h) to the
// worker's MemAccount: the engine bounds that charge by the connection's
// rcv_buf, and collapse() copies runs of small segments into full mbufs when
// a peer's tiny segments make the charge far exceed the payload (Linux's
// tcp_collapse). The chain's segment count is bounded too (kMaxSegments),
// because rte_mbuf's nb_segs is 16 bits: a segment that does not fit is
// dropped unacknowledged (TcpRcvQueueFull) and the peer retransmits it once
// the application has read.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/mbuf.h"
#include "base/mem_account.h"

namespace tern {

class RecvQueue {
 public:
  static constexpr std::uint32_t kMaxSegments = 4096;

  RecvQueue() noexcept = default;
  // Frees what is queued and ends its charge; a queue already cleared (a
  // TCB's end: finish clears the send queue, the receive queue is read
  // empty) skips clear()'s call, whose resets a dying queue does not need.
  ~RecvQueue() {
    if (head_ != nullptr || truesize_ != 0) clear();
  }
  RecvQueue(const RecvQueue&) = delete;
  RecvQueue& operator=(const RecvQueue&) = delete;

  // Charges go to `a` from now on (nullptr: none). Set while empty.
  void set_account(MemAccount* a) noexcept { acct_ = a; }

  // Whether a chain of `segs` more mbufs fits.
  bool has_room_for(std::uint32_t segs) const noexcept { return segs_ + segs <= kMaxSegments; }
  // Takes a payload chain (pkt_len > 0). The caller checked has_room_for.
  void push(Mbuf m) noexcept;
  // Everything queued as one chain; empty Mbuf when nothing is queued.
  Mbuf take() noexcept;
  // Copies up to out.size() bytes and frees what was copied. Returns bytes copied.
  std::size_t read(std::span<std::byte> out) noexcept;
  void clear() noexcept;
  // Copies every run of segments less than half full into new full mbufs
  // from `pool` (segments at least half full stay as they are, so each byte
  // is copied about once however often this runs). Stops early, keeping
  // the rest, if the pool runs dry. Returns the mbufs it freed (net).
  std::uint32_t collapse(rte_mempool* pool) noexcept;
  // Whether collapse() could free mbufs: more than one segment less than
  // half full.
  bool collapsible() const noexcept { return small_segs_ > 1; }

  std::uint32_t bytes() const noexcept { return bytes_; }
  std::uint32_t truesize() const noexcept { return truesize_; }
  std::uint32_t segments() const noexcept { return segs_; }
  bool empty() const noexcept { return bytes_ == 0; }
  // Whether take() would hand over a chain (it asks the head, not bytes()).
  bool holds_chain() const noexcept { return head_ != nullptr; }

 private:
  rte_mbuf* head_ = nullptr;
  rte_mbuf* last_ = nullptr;  // last segment of the chain
  std::uint32_t bytes_ = 0;
  std::uint32_t segs_ = 0;
  std::uint32_t truesize_ = 0;
  std::uint32_t small_segs_ = 0;  // segments less than half full
  MemAccount* acct_ = nullptr;

  void charge(std::uint32_t n) noexcept {
    truesize_ += n;
    if (acct_ != nullptr) acct_->charge(n);
  }
  void uncharge(std::uint32_t n) noexcept {
    truesize_ -= n;
    if (acct_ != nullptr) acct_->uncharge(n);
  }
};

}  // namespace tern
