// The transmit log (tx_log.h): batches in time order, disjoint ranges,
// bounded by merging the oldest record into its sequence neighbour.
#include "tcp/tx_log.h"

#include <algorithm>

namespace tern {

std::uint32_t TxLog::coverage(Seq32 start, Seq32 end, Seq32 snd_una,
                              std::span<const SackRange> sacked) noexcept {
  std::uint32_t n = 0;
  Seq32 from = start;
  if (seq_lt(start, snd_una)) {
    const Seq32 to = seq_lt(end, snd_una) ? end : snd_una;
    n += static_cast<std::uint32_t>(to - start);
    from = to;
  }
  if (seq_geq(from, end)) return n;
  for (const SackRange& s : sacked) {  // sorted, disjoint
    if (seq_geq(s.left, end)) break;
    if (seq_leq(s.right, from)) continue;
    const Seq32 l = seq_gt(s.left, from) ? s.left : from;
    const Seq32 r = seq_lt(s.right, end) ? s.right : end;
    n += static_cast<std::uint32_t>(r - l);
  }
  return n;
}

void TxLog::record(TxRecord r, Seq32 snd_una, Seq32 snd_max, std::span<const SackRange> sacked) noexcept {
  if (seq_leq(r.end, r.start)) return;
  r.flags = static_cast<std::uint8_t>(r.flags & ~kTxLost);
  if (seq_geq(r.start, snd_max)) {
    r.acked = 0;
    make_room(1);
    append(r);
    return;
  }
  // A retransmission: its octets now belong to this newer record only,
  // which leaves the log out of sequence order.
  seq_ordered_ = false;
  const Seq32 rxt_end = seq_lt(r.end, snd_max) ? r.end : snd_max;
  // Room for what this adds: the retransmission's record, the new part's,
  // and the second half of a record it splits.
  std::size_t need = rxt_end != r.end ? 2 : 1;
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_lt(at(i).start, r.start) && seq_gt(at(i).end, rxt_end)) ++need;
  }
  make_room(need);
  carve(r.start, rxt_end, snd_una, sacked);
  TxRecord x = r;
  x.end = rxt_end;
  x.flags |= kTxRetransmit;
  x.acked = coverage(x.start, x.end, snd_una, sacked);
  append(x);
  if (rxt_end != r.end) {
    TxRecord n = r;
    n.start = rxt_end;
    n.flags = static_cast<std::uint8_t>(n.flags & ~kTxRetransmit);
    n.acked = 0;
    append(n);
  }
}

void TxLog::append(const TxRecord& r) noexcept {
  if (count_ > 0) {
    TxRecord& n = at(count_ - 1);
    if (n.end == r.start && n.sent_us == r.sent_us && n.flags == r.flags && n.delivered == r.delivered &&
        n.delivered_us == r.delivered_us && n.first_sent_us == r.first_sent_us) {
      n.end = r.end;
      n.acked += r.acked;
      return;
    }
  }
  make_room(1);
  recs_[(head_ + count_) % kCapacity] = r;
  ++count_;
}

// Takes [a, b) out of every record: trimmed, removed, or split around it.
void TxLog::carve(Seq32 a, Seq32 b, Seq32 snd_una, std::span<const SackRange> sacked) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    TxRecord& r = at(i);
    if (seq_leq(r.end, a) || seq_leq(b, r.start)) continue;
    if (seq_geq(r.start, a) && seq_leq(r.end, b)) {
      erase_at(i);
      --i;
    } else if (seq_lt(r.start, a) && seq_gt(r.end, b)) {
      TxRecord tail = r;
      tail.start = b;
      r.end = a;
      r.acked = coverage(r.start, r.end, snd_una, sacked);
      tail.acked = coverage(tail.start, tail.end, snd_una, sacked);
      insert_at(i + 1, tail);  // same send time: its place in time order is next to r
      ++i;
    } else if (seq_lt(r.start, a)) {
      r.end = a;
      r.acked = coverage(r.start, r.end, snd_una, sacked);
    } else {
      r.start = b;
      r.acked = coverage(r.start, r.end, snd_una, sacked);
    }
  }
}

bool TxLog::split(std::size_t& i, Seq32 at, Seq32 snd_una, std::span<const SackRange> sacked) noexcept {
  if (i >= count_) return false;
  if (count_ == kCapacity) {
    if (i == 0) return false;
    make_room(1);  // pops the oldest record: i moves down by one
    --i;
  }
  TxRecord& r = this->at(i);
  if (seq_leq(at, r.start) || seq_geq(at, r.end)) return false;
  TxRecord upper = r;
  upper.start = at;
  r.end = at;
  r.acked = coverage(r.start, r.end, snd_una, sacked);
  upper.acked = coverage(upper.start, upper.end, snd_una, sacked);
  insert_at(i + 1, upper);
  return true;
}

void TxLog::erase_at(std::size_t i) noexcept {
  for (std::size_t j = i; j + 1 < count_; ++j) at(j) = at(j + 1);
  --count_;
}

void TxLog::insert_at(std::size_t i, const TxRecord& r) noexcept {
  // record() made room for every split it foresaw; one it could not (a
  // merge made for room created it) loses the half: octets without a
  // record have no send time, and RACK does not mark what it cannot time.
  if (count_ == kCapacity) return;
  ++count_;
  for (std::size_t j = count_ - 1; j > i; --j) at(j) = at(j - 1);
  at(i) = r;
}

namespace {

// Undelivered octets of a record that are RACK-lost, and that are not.
struct Undelivered {
  std::uint32_t lost = 0, in_flight = 0;
};
Undelivered undelivered(const TxRecord& r) noexcept {
  const std::uint32_t u = r.fully_acked() ? 0 : r.len() - r.acked;
  return (r.flags & kTxLost) != 0 ? Undelivered{u, 0} : Undelivered{0, u};
}

}  // namespace

// Merges the oldest record into one of its sequence neighbours (each is
// later in time, so the merge only delays what RACK concludes), or forgets
// it when it has none, until `need` records fit.
//
// kTxLost says every undelivered octet of a record is lost; a union can
// only say it of all its octets or of none. It says what most of them are
// (lost on a tie), and the neighbour for which fewer octets are misstated
// is taken (the older one in time on a tie). Misstating lost octets as in
// flight is the costlier error: RACK marks them lost again once the
// neighbour's time has passed, so their retransmission waits and they are
// counted again as newly lost (BBR's loss input, Tcb::lost_segs). With the
// neighbour's flag alone (before session 26), a full log in a long recovery
// merged a RACK-lost record into the retransmission just carved out of it
// or into SACKed data at every send, and BBR's cwnd fell to its floor
// hundreds of times (bench/loss/README.md, session 26). Misstating octets
// in flight as lost costs at most a needless retransmission of them.
void TxLog::make_room(std::size_t need) noexcept {
  while (count_ > 0 && count_ + need > kCapacity) {
    const TxRecord o = at(0);
    const Undelivered uo = undelivered(o);
    std::size_t pick = 0;  // none
    std::uint32_t pick_misstated = 0;
    bool pick_lost = false;
    int neighbours = 0;
    for (std::size_t j = 1; j < count_ && neighbours < 2; ++j) {
      const TxRecord& n = at(j);
      if (n.start != o.end && n.end != o.start) continue;
      ++neighbours;
      const Undelivered un = undelivered(n);
      const std::uint32_t lost = uo.lost + un.lost, in_flight = uo.in_flight + un.in_flight;
      const std::uint32_t misstated = std::min(lost, in_flight);
      if (pick == 0 || misstated < pick_misstated) {
        pick = j;
        pick_misstated = misstated;
        pick_lost = lost > 0 && lost >= in_flight;
      }
    }
    if (pick != 0) {
      TxRecord& n = at(pick);
      if (n.start == o.end) {
        n.start = o.start;
      } else {
        n.end = o.end;
      }
      n.acked += o.acked;
      n.flags = static_cast<std::uint8_t>((n.flags & ~kTxLost) | kTxMerged | (pick_lost ? kTxLost : 0));
    }
    head_ = (head_ + 1) % kCapacity;
    --count_;
    ++merges_;
  }
}

void TxLog::release(Seq32 snd_una) noexcept {
  while (count_ > 0 && seq_leq(at(0).end, snd_una)) {
    head_ = (head_ + 1) % kCapacity;
    --count_;
  }
  if (seq_ordered_) return;  // the rest lie above the oldest, which reaches past snd_una
  std::size_t w = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_leq(at(i).end, snd_una)) continue;
    if (w != i) at(w) = at(i);
    ++w;
  }
  count_ = w;
}

}  // namespace tern
