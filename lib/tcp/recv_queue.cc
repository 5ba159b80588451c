#include "tcp/recv_queue.h"

#include <cstring>

namespace tern {

void RecvQueue::push(Mbuf m) noexcept {
  rte_mbuf* p = m.release();
  const std::uint32_t len = p->pkt_len;
  const std::uint32_t segs = p->nb_segs;
  if (head_ == nullptr) {
    head_ = p;
  } else {
    last_->next = p;
  }
  last_ = rte_pktmbuf_lastseg(p);
  bytes_ += len;
  segs_ += segs;
}

Mbuf RecvQueue::take() noexcept {
  if (head_ == nullptr) return Mbuf{};
  head_->pkt_len = bytes_;
  head_->nb_segs = static_cast<std::uint16_t>(segs_);
  Mbuf out{head_};
  head_ = last_ = nullptr;
  bytes_ = segs_ = 0;
  return out;
}

std::size_t RecvQueue::read(std::span<std::byte> out) noexcept {
  std::size_t done = 0;
  while (head_ != nullptr && done < out.size()) {
    const std::size_t n = std::min<std::size_t>(head_->data_len, out.size() - done);
    std::memcpy(out.data() + done, rte_pktmbuf_mtod(head_, const std::byte*), n);
    done += n;
    bytes_ -= static_cast<std::uint32_t>(n);
    if (n == head_->data_len) {
      rte_mbuf* next = head_->next;
      head_->next = nullptr;
      rte_pktmbuf_free_seg(head_);
      head_ = next;
      --segs_;
    } else {
      head_->data_off = static_cast<std::uint16_t>(head_->data_off + n);
      head_->data_len = static_cast<std::uint16_t>(head_->data_len - n);
    }
  }
  if (head_ == nullptr) last_ = nullptr;
  return done;
}

void RecvQueue::clear() noexcept {
  free_segment_list(head_);
  head_ = last_ = nullptr;
  bytes_ = segs_ = 0;
}

}  // namespace tern
