#include "tcp/reassembly.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "base/check.h"

namespace tern {

rte_mbuf* mbuf_chain_trim_front(rte_mbuf* m, std::uint32_t n) noexcept {
  TERN_CHECK(n < rte_pktmbuf_pkt_len(m));
  // Free whole leading segments; the next one inherits the chain's totals,
  // which DPDK keeps in the first segment only.
  while (n > 0 && n >= m->data_len && m->next != nullptr) {
    rte_mbuf* next = m->next;
    next->pkt_len = m->pkt_len - m->data_len;
    next->nb_segs = static_cast<std::uint16_t>(m->nb_segs - 1);
    n -= m->data_len;
    m->next = nullptr;
    m->nb_segs = 1;
    rte_pktmbuf_free_seg(m);
    m = next;
  }
  if (n > 0) rte_pktmbuf_adj(m, static_cast<std::uint16_t>(n));  // n < data_len here
  return m;
}

void mbuf_chain_trim_back(rte_mbuf* m, std::uint32_t n) noexcept {
  TERN_CHECK(n < rte_pktmbuf_pkt_len(m));
  const std::uint32_t keep = m->pkt_len - n;
  rte_mbuf* s = m;
  std::uint32_t before = 0;  // bytes in the segments ahead of s
  std::uint16_t segs = 1;
  while (before + s->data_len < keep) {
    before += s->data_len;
    s = s->next;
    ++segs;
  }
  s->data_len = static_cast<std::uint16_t>(keep - before);
  if (s->next != nullptr) {
    rte_pktmbuf_free(s->next);  // frees the rest of the chain
    s->next = nullptr;
  }
  m->nb_segs = segs;
  m->pkt_len = keep;
}

ReassemblyQueue::ReassemblyQueue(std::uint32_t max_bytes, std::uint16_t max_segments)
    : entries_(std::make_unique<Entry[]>(max_segments)), max_bytes_(max_bytes), max_segments_(max_segments) {}

ReassemblyQueue::ReassemblyQueue(ReassemblyQueue&& o) noexcept
    : entries_(std::move(o.entries_)),
      count_(std::exchange(o.count_, 0)),
      bytes_(std::exchange(o.bytes_, 0)),
      max_bytes_(std::exchange(o.max_bytes_, 0)),
      max_segments_(std::exchange(o.max_segments_, 0)),
      clock_(o.clock_),
      truesize_(std::exchange(o.truesize_, 0)),
      acct_(o.acct_) {}

ReassemblyQueue& ReassemblyQueue::operator=(ReassemblyQueue&& o) noexcept {
  if (this != &o) {
    clear();
    entries_ = std::move(o.entries_);
    count_ = std::exchange(o.count_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
    max_bytes_ = std::exchange(o.max_bytes_, 0);
    max_segments_ = std::exchange(o.max_segments_, 0);
    clock_ = o.clock_;
    truesize_ = std::exchange(o.truesize_, 0);
    acct_ = o.acct_;
  }
  return *this;
}

void ReassemblyQueue::clear() noexcept {
  for (std::size_t i = 0; i < count_; ++i) rte_pktmbuf_free(entries_[i].m);
  count_ = 0;
  bytes_ = 0;
  uncharge(truesize_);
}

std::uint32_t ReassemblyQueue::prune_above(Seq32 floor, std::uint32_t want) noexcept {
  std::uint32_t freed = 0, segs = 0;
  while (count_ > 0 && freed < want && seq_gt(entries_[count_ - 1].seq, floor)) {
    const Entry& e = entries_[--count_];
    bytes_ -= e.len;
    freed += e.truesize;
    uncharge(e.truesize);
    rte_pktmbuf_free(e.m);
    ++segs;
  }
  return segs;
}

void ReassemblyQueue::erase_front(std::size_t n) noexcept {
  if (n == 0) return;
  std::memmove(&entries_[0], &entries_[n], (count_ - n) * sizeof(Entry));
  count_ -= n;
}

ReassemblyQueue::Insert ReassemblyQueue::insert(Seq32 seq, Mbuf payload, Seq32 rcv_nxt) noexcept {
  const std::uint32_t stamp = ++clock_;
  const std::uint32_t len = payload ? payload.pkt_len() : 0;
  Seq32 end = seq + len;
  // RFC 9293 §3.10.7.4: data before RCV.NXT was delivered already.
  if (len == 0 || seq_leq(end, rcv_nxt)) return Insert::kDuplicate;
  std::uint32_t head_trim = 0;
  if (seq_lt(seq, rcv_nxt)) {
    head_trim = static_cast<std::uint32_t>(rcv_nxt - seq);
    seq = rcv_nxt;
  }

  // Entries are sorted and disjoint, so their ends are sorted too: find the
  // first entry ending after seq, the first that can overlap. The common
  // cases (appending past the last entry, empty queue) skip the search.
  Entry* const first = entries_.get();
  Entry* const last = first + count_;
  std::size_t lo = count_;
  if (count_ > 0 && seq_lt(seq, last[-1].end())) {
    lo = static_cast<std::size_t>(
        std::partition_point(first, last, [seq](const Entry& e) { return seq_leq(e.end(), seq); }) - first);
  }

  // Left overlap, possibly across several abutting entries: trim our front.
  const std::size_t touched = lo;
  while (lo < count_ && seq_leq(entries_[lo].seq, seq)) {
    if (seq_geq(entries_[lo].end(), end)) {
      // Entirely held already. It still is the segment that triggered this
      // ACK, so the blocks holding it move to the front (RFC 2018 §4).
      for (std::size_t j = touched; j <= lo; ++j) entries_[j].stamp = stamp;
      return Insert::kDuplicate;
    }
    head_trim += static_cast<std::uint32_t>(entries_[lo].end() - seq);
    seq = entries_[lo].end();
    ++lo;
  }
  // Entries inside [seq, end) are replaced by this segment: each byte is then
  // held once without splitting any mbuf.
  std::size_t hi = lo;
  std::uint32_t covered_bytes = 0;
  while (hi < count_ && seq_leq(entries_[hi].end(), end)) covered_bytes += entries_[hi++].len;
  // Right overlap: the next entry starts inside us (and after seq, since the
  // left loop stopped): trim our tail.
  std::uint32_t tail_trim = 0;
  if (hi < count_ && seq_lt(entries_[hi].seq, end)) {
    tail_trim = static_cast<std::uint32_t>(end - entries_[hi].seq);
    end = entries_[hi].seq;
  }
  const auto new_len = static_cast<std::uint32_t>(end - seq);
  TERN_CHECK(new_len > 0 && new_len == len - head_trim - tail_trim);

  // The bounds hold after the change, or nothing changes.
  const std::size_t new_count = count_ - (hi - lo) + 1;
  const std::uint64_t new_bytes = std::uint64_t{bytes_} - covered_bytes + new_len;
  if (new_count > max_segments_ || new_bytes > max_bytes_) return Insert::kOverLimit;

  rte_mbuf* m = payload.release();
  if (head_trim > 0) m = mbuf_chain_trim_front(m, head_trim);
  if (tail_trim > 0) mbuf_chain_trim_back(m, tail_trim);
  std::uint32_t covered_truesize = 0;
  for (std::size_t j = lo; j < hi; ++j) {
    covered_truesize += entries_[j].truesize;
    rte_pktmbuf_free(entries_[j].m);
  }
  uncharge(covered_truesize);
  const std::uint32_t ts = mbuf_truesize(m);
  truesize_ += ts;
  if (acct_ != nullptr) acct_->charge(ts);
  // Replace entries [lo, hi) by one: shift the tail by 1 - (hi - lo).
  if (hi - lo != 1) std::memmove(&entries_[lo + 1], &entries_[hi], (count_ - hi) * sizeof(Entry));
  entries_[lo] = Entry{seq, new_len, m, stamp, ts};
  count_ = new_count;
  bytes_ = static_cast<std::uint32_t>(new_bytes);
  return Insert::kQueued;
}

bool ReassemblyQueue::first_held(Seq32 seq, Seq32 end, Seq32* left, Seq32* right) const noexcept {
  if (count_ == 0 || !seq_lt(seq, end)) return false;
  const Entry* const first = entries_.get();
  const Entry* const last = first + count_;
  const Entry* e = std::partition_point(first, last, [seq](const Entry& x) { return seq_leq(x.end(), seq); });
  if (e == last || !seq_lt(e->seq, end)) return false;
  *left = seq_gt(e->seq, seq) ? e->seq : seq;
  Seq32 r = e->end();
  for (++e; e != last && e->seq == r && seq_lt(r, end); ++e) r = e->end();
  *right = seq_lt(r, end) ? r : end;
  return true;
}

std::uint8_t ReassemblyQueue::sack_blocks(std::span<SackBlock, kTcpMaxSackBlocks> out,
                                          std::size_t max_blocks) const noexcept {
  struct Block {
    Seq32 left, right;
    std::uint32_t stamp;
  };
  // Keep the k most recent runs, most recent first: at most 4, so an
  // insertion into a tiny array beats sorting all runs. Stamps compare by
  // modular distance from the current clock, so wrap-around keeps the order.
  const std::size_t k = std::min(max_blocks, out.size());
  if (k == 0) return 0;
  std::array<Block, kTcpMaxSackBlocks> best{};
  std::size_t n = 0;
  const auto age = [this](std::uint32_t stamp) { return clock_ - stamp; };
  const auto offer = [&](const Block& b) {
    std::size_t pos = n;
    while (pos > 0 && age(best[pos - 1].stamp) > age(b.stamp)) --pos;
    if (pos >= k) return;
    const std::size_t last = std::min(n, k - 1);
    for (std::size_t j = last; j > pos; --j) best[j] = best[j - 1];
    best[pos] = b;
    if (n < k) ++n;
  };
  for (std::size_t i = 0; i < count_;) {
    Block b{entries_[i].seq, entries_[i].end(), entries_[i].stamp};
    // Abutting entries form one block: the peer sees contiguous bytes.
    for (++i; i < count_ && entries_[i].seq == b.right; ++i) {
      b.right = entries_[i].end();
      if (age(entries_[i].stamp) < age(b.stamp)) b.stamp = entries_[i].stamp;
    }
    offer(b);
  }
  for (std::size_t j = 0; j < n; ++j) out[j] = SackBlock{best[j].left.value(), best[j].right.value()};
  return static_cast<std::uint8_t>(n);
}

}  // namespace tern
