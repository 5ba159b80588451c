#pragma once
// In-order received data waiting for the application: the payload mbufs of
// the segments, headers trimmed, linked into one chain (zero-copy receive,
// DESIGN.md). The application takes the whole chain at once (take()) or
// copies bytes out (read()).
//
// The chain's segment count is bounded (kMaxSegments) because rte_mbuf's
// nb_segs is 16 bits and because a peer sending 1-byte segments would
// otherwise pin one mbuf per byte: a segment that does not fit is dropped
// unacknowledged (TcpRcvQueueFull) and the peer retransmits it once the
// application has read.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/mbuf.h"

namespace tern {

class RecvQueue {
 public:
  static constexpr std::uint32_t kMaxSegments = 4096;

  RecvQueue() noexcept = default;
  ~RecvQueue() { clear(); }
  RecvQueue(const RecvQueue&) = delete;
  RecvQueue& operator=(const RecvQueue&) = delete;

  // Whether a chain of `segs` more mbufs fits.
  bool has_room_for(std::uint32_t segs) const noexcept { return segs_ + segs <= kMaxSegments; }
  // Takes a payload chain (pkt_len > 0). The caller checked has_room_for.
  void push(Mbuf m) noexcept;
  // Everything queued as one chain; empty Mbuf when nothing is queued.
  Mbuf take() noexcept;
  // Copies up to out.size() bytes and frees what was copied. Returns bytes copied.
  std::size_t read(std::span<std::byte> out) noexcept;
  void clear() noexcept;

  std::uint32_t bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return bytes_ == 0; }

 private:
  rte_mbuf* head_ = nullptr;
  rte_mbuf* last_ = nullptr;  // last segment of the chain
  std::uint32_t bytes_ = 0;
  std::uint32_t segs_ = 0;
};

}  // namespace tern
