#include "tcp/send_queue.h"

#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/mbuf.h"

namespace tern {

void SendQueue::append(rte_mbuf* m) noexcept {
  while (m != nullptr) {
    rte_mbuf* next = m->next;
    m->next = nullptr;
    m->nb_segs = 1;
    m->pkt_len = m->data_len;
    if (m->data_len == 0) {
      rte_pktmbuf_free_seg(m);
    } else {
      // A SendRegion's mbuf without an IO address: RTE_BAD_IOVA shifted
      // by nothing (rte_pktmbuf_attach_extbuf keeps what it is given).
      if (RTE_MBUF_HAS_EXTBUF(m) && rte_mbuf_iova_get(m) == RTE_BAD_IOVA) unmapped_ext_ = true;
      link_tail(m);
      tail_is_copy_ = false;
    }
    m = next;
  }
}

// append_copy's small write: len (> 0) bytes into one fresh mbuf, which
// the queue's limit has room for, behind a tail that is not a copy.
std::uint32_t SendQueue::append_one_copy(const std::byte* data, std::uint32_t len, rte_mempool* pool,
                                         bool& exhausted) noexcept {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) {
    exhausted = true;
    return 0;
  }
  const auto n = static_cast<std::uint16_t>(len);
  std::memcpy(rte_pktmbuf_append(m, n), data, n);
  link_tail(m);
  tail_is_copy_ = true;
  return len;
}

std::uint32_t SendQueue::append_copy_many(const std::byte* data, std::uint32_t len, std::uint32_t limit,
                                          rte_mempool* pool, bool& exhausted) noexcept {
  std::uint32_t done = 0;
  // Segments already built from the tail keep their own data_len: growing
  // it changes nothing they send. Only a direct mbuf's room is ours (an
  // external buffer, SendRegion's, is the application's memory, read-only
  // to the stack): tail_is_copy_ is set only where a fresh mbuf of `pool`
  // is linked and append(), the one way in for anything else, clears it;
  // the test keeps a future path that forgets from writing into a region.
  if (tail_is_copy_ && tail_ != nullptr && RTE_MBUF_DIRECT(tail_)) {
    const std::uint32_t n = std::min<std::uint32_t>(len, rte_pktmbuf_tailroom(tail_));
    if (n > 0) {
      std::memcpy(rte_pktmbuf_mtod_offset(tail_, std::byte*, tail_->data_len), data, n);
      tail_->data_len = static_cast<std::uint16_t>(tail_->data_len + n);
      tail_->pkt_len = tail_->data_len;
      bytes_ += n;
      done = n;
    }
  }
  const std::uint32_t fresh = sizeof(rte_mbuf) + rte_pktmbuf_data_room_size(pool);  // its truesize
  const std::uint32_t fresh_room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
  // What one fresh mbuf holds (a small write: request/response) goes
  // without the batch's bookkeeping below.
  if (done < len && len - done <= fresh_room && truesize_ + fresh <= limit) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
      exhausted = true;
      return done;
    }
    const auto n = static_cast<std::uint16_t>(len - done);
    std::memcpy(rte_pktmbuf_append(m, n), data + done, n);
    // append(m) for the one fresh mbuf, without its walk: no next, one
    // segment, n > 0 bytes.
    link_tail(m);
    tail_is_copy_ = true;
    return len;
  }
  // The mbufs a large write needs are taken in one call: their resets run
  // in one loop, so the cache misses on their metadata overlap.
  std::array<rte_mbuf*, 32> got;
  std::uint32_t have = 0, next = 0;
  while (done < len && truesize_ + fresh <= limit) {
    if (next == have) {
      const std::uint32_t want =
          std::min<std::uint32_t>({static_cast<std::uint32_t>(got.size()),
                                   (len - done + fresh_room - 1) / fresh_room, (limit - truesize_) / fresh});
      next = 0;
      have = want > 1 && rte_pktmbuf_alloc_bulk(pool, got.data(), want) == 0 ? want : 0;
      if (have == 0) {
        got[0] = rte_pktmbuf_alloc(pool);
        if (got[0] == nullptr) {
          exhausted = true;
          break;
        }
        have = 1;
      }
    }
    rte_mbuf* m = got[next++];
    const std::uint32_t n = std::min<std::uint32_t>(len - done, rte_pktmbuf_tailroom(m));
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(n)), data + done, n);
    link_tail(m);  // append(m) without its walk: fresh, one segment, n > 0 bytes
    tail_is_copy_ = true;
    done += n;
  }
  if (next < have) rte_pktmbuf_free_bulk(got.data() + next, have - next);
  return done;
}

void SendQueue::drop_front_mbufs(std::uint32_t n) noexcept {
  while (n > 0 && head_ != nullptr) {
    const std::uint32_t avail = head_->data_len - head_off_;
    if (n < avail) {
      head_off_ += n;
      bytes_ -= n;
      front_ += n;
      return;
    }
    n -= avail;
    bytes_ -= avail;
    front_ += avail;
    rte_mbuf* next = head_->next;
    if (cursor_ == head_) {
      cursor_ = next;
      cursor_pos_ = front_;
    }
    head_->next = nullptr;
    uncharge(mbuf_seg_truesize(head_));
    rte_pktmbuf_free_seg(head_);
    head_ = next;
    head_off_ = 0;
  }
  if (head_ == nullptr) {
    tail_ = nullptr;
    cursor_ = nullptr;
    tail_is_copy_ = false;
    unmapped_ext_ = false;
  }
}

// drop_front_mbufs, but the last mbuf freed whole, where raw-freeable,
// goes back with `frame` in one put.
bool SendQueue::drop_front_mbufs_with(std::uint32_t n, rte_mbuf* frame) noexcept {
  rte_mbuf* held = nullptr;
  while (n > 0 && head_ != nullptr) {
    const std::uint32_t avail = head_->data_len - head_off_;
    if (n < avail) {
      head_off_ += n;
      bytes_ -= n;
      front_ += n;
      break;
    }
    n -= avail;
    bytes_ -= avail;
    front_ += avail;
    rte_mbuf* m = head_;
    head_ = m->next;
    head_off_ = 0;
    if (cursor_ == m) {
      cursor_ = head_;
      cursor_pos_ = front_;
    }
    m->next = nullptr;
    uncharge(mbuf_seg_truesize(m));
    if (!mbuf_raw_freeable(m)) {
      rte_pktmbuf_free_seg(m);
      continue;
    }
    if (held != nullptr) rte_mbuf_raw_free(held);
    held = m;
  }
  if (head_ == nullptr) {
    tail_ = nullptr;
    cursor_ = nullptr;
    tail_is_copy_ = false;
    unmapped_ext_ = false;
  }
  if (held == nullptr) return false;
  if (frame != nullptr && mbuf_raw_freeable(frame) && frame->pool == held->pool) {
    void* both[2] = {held, frame};
    rte_mempool_put_bulk(held->pool, both, 2);
    return true;
  }
  rte_mbuf_raw_free(held);
  return false;
}

// The queue's mbuf holding stream position `want` (>= front_), and the
// position of its first byte; from the cursor when it is not past `want`.
rte_mbuf* SendQueue::find(std::uint64_t want, std::uint64_t& pos) const noexcept {
  rte_mbuf* m = head_;
  pos = front_ - head_off_;
  if (cursor_ != nullptr && cursor_pos_ <= want && cursor_pos_ >= pos) {
    m = cursor_;
    pos = cursor_pos_;
  }
  while (pos + m->data_len <= want) {
    pos += m->data_len;
    m = m->next;
  }
  return m;
}

void SendQueue::copy_out_walk(std::uint32_t off, std::uint32_t len, std::byte* out) noexcept {
  if (len == 0 || off + len > bytes_ || head_ == nullptr) return;
  const std::uint64_t want = front_ + off;
  std::uint64_t pos = 0;
  rte_mbuf* m = find(want, pos);
  std::uint32_t in_off = static_cast<std::uint32_t>(want - pos);
  for (;;) {
    const std::uint32_t take = std::min<std::uint32_t>(m->data_len - in_off, len);
    std::memcpy(out, rte_pktmbuf_mtod_offset(m, const std::byte*, in_off), take);
    out += take;
    len -= take;
    cursor_ = m;
    cursor_pos_ = pos;
    if (len == 0) return;
    pos += m->data_len;
    m = m->next;
    in_off = 0;
  }
}

rte_mbuf* SendQueue::slice(std::uint32_t off, std::uint32_t len, rte_mempool* pool) noexcept {
  if (len == 0 || off + len > bytes_ || head_ == nullptr) return nullptr;
  const std::uint64_t want = front_ + off;
  std::uint64_t pos = 0;
  rte_mbuf* m = find(want, pos);
  rte_mbuf* first = nullptr;
  rte_mbuf* last = nullptr;
  std::uint32_t in_off = static_cast<std::uint32_t>(want - pos);
  std::uint32_t left = len;
  for (;;) {
    const std::uint32_t take = m->data_len - in_off < left ? m->data_len - in_off : left;
    rte_mbuf* mi = RTE_MBUF_HAS_EXTBUF(m) && rte_mbuf_ext_refcnt_read(m->shinfo) >= kExtRefSliceLimit
                       ? nullptr
                       : rte_pktmbuf_alloc(pool);
    if (mi == nullptr) {
      rte_pktmbuf_free(first);
      return nullptr;
    }
    rte_pktmbuf_attach(mi, m);
    mi->data_off = static_cast<std::uint16_t>(mi->data_off + in_off);
    mi->data_len = static_cast<std::uint16_t>(take);
    mi->pkt_len = take;
    if (first == nullptr) {
      first = mi;
    } else {
      last->next = mi;
      first->nb_segs++;
      first->pkt_len += take;
    }
    last = mi;
    left -= take;
    cursor_ = m;
    cursor_pos_ = pos;
    if (left == 0) break;
    pos += m->data_len;
    m = m->next;
    in_off = 0;
  }
  return first;
}

void SendQueue::clear() noexcept {
  free_segment_list(head_);
  uncharge(truesize_);
  front_ += bytes_;
  head_ = tail_ = cursor_ = nullptr;
  tail_is_copy_ = false;
  unmapped_ext_ = false;
  head_off_ = 0;
  bytes_ = 0;
}

}  // namespace tern
