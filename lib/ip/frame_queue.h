#pragma once
// Where the IP layer (and later the TCP engine) puts frames to transmit. The
// protocol code never touches a NIC: it appends here, and the runtime drains
// the queue into the port once per loop iteration. A test reads the queue to
// see what the stack "sent".
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "base/mbuf.h"

namespace tern {

class FrameQueue {
 public:
  static constexpr std::uint16_t kCapacity = 256;
  // Called when the queue fills mid-iteration so the runtime can transmit
  // early; without one, a full queue refuses the frame.
  using DrainFn = void (*)(void* ctx, FrameQueue& q);

  FrameQueue() = default;
  FrameQueue(const FrameQueue&) = delete;
  FrameQueue& operator=(const FrameQueue&) = delete;
  ~FrameQueue() { clear(); }

  void set_drain(DrainFn fn, void* ctx) noexcept {
    drain_ = fn;
    ctx_ = ctx;
  }

  // Takes the frame; returns false (and frees it) when there is no room.
  bool push(Mbuf frame) noexcept {
    if (n_ == kCapacity && drain_ != nullptr) drain_(ctx_, *this);
    if (n_ == kCapacity) return false;
    frames_[n_++] = frame.release();
    return true;
  }

  std::uint16_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  rte_mbuf** data() noexcept { return frames_.data(); }

  // Forgets the first `sent` frames (the port took them) and keeps the rest in order.
  void consume(std::uint16_t sent) noexcept {
    for (std::uint16_t i = sent; i < n_; ++i) frames_[i - sent] = frames_[i];
    n_ = static_cast<std::uint16_t>(n_ - sent);
  }
  // Hands out the oldest frame (tests).
  Mbuf pop_front() noexcept {
    if (n_ == 0) return Mbuf{};
    Mbuf m{frames_[0]};
    consume(1);
    return m;
  }
  void clear() noexcept {
    for (std::uint16_t i = 0; i < n_; ++i) rte_pktmbuf_free(frames_[i]);
    n_ = 0;
  }

 private:
  std::array<rte_mbuf*, kCapacity> frames_{};
  std::uint16_t n_ = 0;
  DrainFn drain_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace tern
