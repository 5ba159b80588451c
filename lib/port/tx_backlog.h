#pragma once
// Frames a wrapping port (ImpairedPort, GsoPort) took from the worker but
// its inner port refused, its ring full: kept in order and offered first
// on the next call, so that a full ring pushes back on the worker as the
// bare port does instead of turning into losses nobody configured.
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "port/port.h"

namespace tern {

template <std::uint16_t N>
class TxBacklog {
 public:
  TxBacklog() = default;
  TxBacklog(const TxBacklog&) = delete;
  TxBacklog& operator=(const TxBacklog&) = delete;
  ~TxBacklog() {
    if (len_ != 0) rte_pktmbuf_free_bulk(frames_.data() + head_, len_);
  }

  // Hands what is kept to `inner`; true when nothing is left.
  bool flush(Port& inner, std::uint16_t queue) noexcept {
    if (len_ == 0) return true;
    const std::uint16_t sent = inner.tx_burst(queue, frames_.data() + head_, len_);
    head_ = static_cast<std::uint16_t>(head_ + sent);
    len_ = static_cast<std::uint16_t>(len_ - sent);
    if (len_ == 0) head_ = 0;
    return len_ == 0;
  }
  // Keeps pkts[0..n) after what is kept; only after a flush that emptied it
  // (so at most N in all).
  void keep(rte_mbuf* const* pkts, std::uint16_t n) noexcept {
    for (std::uint16_t i = 0; i < n && len_ < N; ++i) frames_[len_++] = pkts[i];
  }

 private:
  std::array<rte_mbuf*, N> frames_{};
  std::uint16_t head_ = 0;
  std::uint16_t len_ = 0;
};

}  // namespace tern
