#include "tcp/recv_queue.h"

#include <algorithm>
#include <cstring>

namespace tern {

namespace {

// Less than half of the data room used: worth copying into a fuller mbuf.
bool is_small(const rte_mbuf* m) noexcept { return 2u * m->data_len < m->buf_len; }

}  // namespace

void RecvQueue::push(Mbuf m) noexcept {
  rte_mbuf* p = m.release();
  const std::uint32_t len = p->pkt_len;
  const std::uint32_t segs = p->nb_segs;
  if (head_ == nullptr) {
    head_ = p;
  } else {
    last_->next = p;
  }
  bytes_ += len;
  segs_ += segs;
  // One walk down the chain: its last segment, truesize and small segments.
  rte_mbuf* s = p;
  std::uint32_t ts = mbuf_seg_truesize(s), small = is_small(s) ? 1 : 0;
  for (; s->next != nullptr; s = s->next) {
    ts += mbuf_seg_truesize(s->next);
    small += is_small(s->next) ? 1 : 0;
  }
  last_ = s;
  small_segs_ += small;
  charge(ts);
}

Mbuf RecvQueue::take() noexcept {
  if (head_ == nullptr) return Mbuf{};
  head_->pkt_len = bytes_;
  head_->nb_segs = static_cast<std::uint16_t>(segs_);
  Mbuf out{head_};
  uncharge(truesize_);
  head_ = last_ = nullptr;
  bytes_ = segs_ = small_segs_ = 0;
  return out;
}

std::size_t RecvQueue::read(std::span<std::byte> out) noexcept {
  std::size_t done = 0;
  while (head_ != nullptr && done < out.size()) {
    const std::size_t n = std::min<std::size_t>(head_->data_len, out.size() - done);
    std::memcpy(out.data() + done, rte_pktmbuf_mtod(head_, const std::byte*), n);
    done += n;
    bytes_ -= static_cast<std::uint32_t>(n);
    if (is_small(head_)) --small_segs_;
    if (n == head_->data_len) {
      rte_mbuf* next = head_->next;
      head_->next = nullptr;
      uncharge(mbuf_seg_truesize(head_));
      rte_pktmbuf_free_seg(head_);
      head_ = next;
      --segs_;
    } else {
      head_->data_off = static_cast<std::uint16_t>(head_->data_off + n);
      head_->data_len = static_cast<std::uint16_t>(head_->data_len - n);
      if (is_small(head_)) ++small_segs_;
    }
  }
  if (head_ == nullptr) last_ = nullptr;
  return done;
}

void RecvQueue::clear() noexcept {
  free_segment_list(head_);
  uncharge(truesize_);
  head_ = last_ = nullptr;
  bytes_ = segs_ = small_segs_ = 0;
}

std::uint32_t RecvQueue::collapse(rte_mempool* pool) noexcept {
  if (!collapsible()) return 0;
  rte_mbuf* old = head_;
  head_ = last_ = nullptr;
  segs_ = small_segs_ = 0;
  const auto link = [this](rte_mbuf* m) {
    m->next = nullptr;
    if (head_ == nullptr) {
      head_ = m;
    } else {
      last_->next = m;
    }
    last_ = m;
    ++segs_;
    if (is_small(m)) ++small_segs_;
  };
  rte_mbuf* fill = nullptr;  // the full mbuf being filled with small segments' bytes
  std::uint32_t freed = 0, allocated = 0;
  bool dry = false;
  while (old != nullptr) {
    rte_mbuf* m = old;
    old = m->next;
    m->next = nullptr;
    if (dry || !is_small(m)) {
      if (fill != nullptr) link(std::exchange(fill, nullptr));
      link(m);
      continue;
    }
    std::uint32_t off = 0;
    while (off < m->data_len) {
      if (fill == nullptr || rte_pktmbuf_tailroom(fill) == 0) {
        if (fill != nullptr) link(std::exchange(fill, nullptr));
        fill = rte_pktmbuf_alloc(pool);
        if (fill == nullptr) {
          dry = true;
          break;
        }
        ++allocated;
        charge(mbuf_seg_truesize(fill));
      }
      const auto n =
          static_cast<std::uint16_t>(std::min<std::uint32_t>(rte_pktmbuf_tailroom(fill), m->data_len - off));
      std::memcpy(rte_pktmbuf_append(fill, n), rte_pktmbuf_mtod_offset(m, const std::byte*, off), n);
      off += n;
    }
    if (off < m->data_len) {  // the pool ran dry: keep what was not copied
      m->data_off = static_cast<std::uint16_t>(m->data_off + off);
      m->data_len = static_cast<std::uint16_t>(m->data_len - off);
      link(m);
      continue;
    }
    uncharge(mbuf_seg_truesize(m));
    rte_pktmbuf_free_seg(m);
    ++freed;
  }
  if (fill != nullptr) link(fill);
  return freed > allocated ? freed - allocated : 0;
}

}  // namespace tern
