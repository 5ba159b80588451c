// The transmit log (tx_log.h): batches in time order, disjoint ranges,
// bounded by merging sequence neighbours whose undelivered octets agree
// (RACK-lost or not), the oldest record first.
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

// record()'s retransmission: r.start below snd_max, r not empty, kTxLost cleared.
void TxLog::record_retransmission(TxRecord r, Seq32 snd_una, Seq32 snd_max,
                                  std::span<const SackRange> sacked) noexcept {
  // A retransmission: its octets now belong to this newer record only,
  // which leaves the log out of sequence order.
  order_.seq_ordered = false;
  const Seq32 rxt_end = seq_lt(r.end, snd_max) ? r.end : snd_max;
  // Room for what this adds: the retransmission's record, the new part's,
  // and the second half of a record it splits. Counted again after each
  // record freed: a merge can join the records on both sides of an edge
  // of [r.start, rxt_end) into one that then needs splitting.
  const std::size_t base = rxt_end != r.end ? 2 : 1;
  for (;;) {
    std::size_t need = base;
    for (std::size_t i = 0; i < count_; ++i) {
      if (seq_lt(at(i).start, r.start) && seq_gt(at(i).end, rxt_end)) ++need;
    }
    if (count_ == 0 || count_ + need <= kCapacity) break;
    free_one(kNone);
  }
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
    // Record i stays (it may absorb an older neighbour, which only widens
    // it around `at`); i follows it past the record freed.
    const std::size_t gone = free_one(i);
    if (gone == kNone) return false;
    if (gone < i) --i;
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

void TxLog::restore_forgotten(Seq32 start, Seq32 end, std::uint32_t sent_us, Seq32 snd_una,
                              std::span<const SackRange> sacked) noexcept {
  if (seq_leq(end, start)) return;
  make_room(1);
  // The forgotten record was the oldest: the next oldest's send state is
  // the latest it can have had (its delivery rate is then no higher).
  TxRecord r;
  if (count_ > 0) {
    r = at(0);
  } else {
    r.sent_us = r.first_sent_us = sent_us;
  }
  r.start = start;
  r.end = end;
  r.flags = kTxRetransmit | kTxLost | kTxMerged;
  r.acked = coverage(start, end, snd_una, sacked);
  insert_at(0, r);  // every other record lies above it: sequence order holds
  order_.lost_marked = true;
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

// The union of a and b would not mix lost and in-flight undelivered octets.
bool agree(const TxRecord& a, const TxRecord& b) noexcept {
  const Undelivered ua = undelivered(a), ub = undelivered(b);
  return ua.lost + ub.lost == 0 || ua.in_flight + ub.in_flight == 0;
}

bool adjacent(const TxRecord& a, const TxRecord& b) noexcept { return a.end == b.start || b.end == a.start; }

}  // namespace

// Merges record `older` into its sequence neighbour `later` (later in time):
// range = union, send time, snapshot and order = later's, which keeps time
// order when the union takes later's place. kTxLost says every undelivered
// octet of a record is lost, so the union says it when most of its
// undelivered octets were (exact when the two agree; a tie is lost).
void TxLog::merge(std::size_t older, std::size_t later) noexcept {
  const TxRecord o = at(older);
  TxRecord& n = at(later);
  const Undelivered uo = undelivered(o), un = undelivered(n);
  const std::uint32_t lost = uo.lost + un.lost, in_flight = uo.in_flight + un.in_flight;
  if (n.start == o.end) {
    n.start = o.start;
  } else {
    n.end = o.end;
  }
  n.acked += o.acked;
  const bool union_lost = lost > 0 && lost >= in_flight;
  n.flags = static_cast<std::uint8_t>((n.flags & ~kTxLost) | kTxMerged | (union_lost ? kTxLost : 0));
  if (older == 0) {
    head_ = (head_ + 1) % kCapacity;
    --count_;
  } else {
    erase_at(older);
  }
  ++merges_;
}

// Frees one record, never record `keep` (kNone: any); returns the index
// (in time order) the freed record had, kNone if none could go.
//
// 1. The oldest record merges into a sequence neighbour whose undelivered
//    octets are in the same state (RACK-lost or not), the older one in
//    time if both are; with no neighbour (the log did not see every octet)
//    it is forgotten. O(1) in sequence order, where the neighbour can only
//    be the next record; else a scan, O(n).
// 2. Else the oldest pair of sequence neighbours that agree (the one whose
//    older record is oldest, then the one whose later record is) merges,
//    the older into the later: sorting the records by sequence finds the
//    neighbours, O(n log n) with n = kCapacity, and removing a record
//    from the middle is O(n).
// 3. Else (no two neighbours in the log agree: lost and in-flight records
//    alternate throughout) the oldest merges into the neighbour for which
//    fewer octets are misstated.
//
// Mixing states misstates octets. Lost octets merged as in flight cost
// most: RACK marks them lost again once the union's later time has passed,
// so their retransmission waits and they are counted again as newly lost
// (BBR's loss input, Tcb::lost_segs; bench/loss/README.md, sessions 26 and
// 28). In-flight octets merged as lost cost a needless retransmission.
// Either way the merged octets look sent later than they were, so RACK
// finds their loss later, never sooner.
std::size_t TxLog::free_one(std::size_t keep) noexcept {
  if (count_ == 0) return kNone;
  if (keep != 0) {
    const TxRecord& o = at(0);
    const std::size_t scan = order_.seq_ordered ? std::min<std::size_t>(count_, 2) : count_;
    int neighbours = 0;
    for (std::size_t j = 1; j < scan && neighbours < 2; ++j) {
      if (!adjacent(o, at(j))) continue;
      ++neighbours;
      if (agree(o, at(j))) {
        merge(0, j);
        return 0;
      }
    }
    if (neighbours == 0) {  // its octets keep no send time: RACK never marks them
      head_ = (head_ + 1) % kCapacity;
      --count_;
      ++merges_;
      return 0;
    }
  }
  static_assert(kCapacity <= 256, "by_seq holds indices as bytes");
  std::array<std::uint8_t, kCapacity> by_seq;
  for (std::size_t i = 0; i < count_; ++i) by_seq[i] = static_cast<std::uint8_t>(i);
  // Every record lies between SND.UNA and SND.MAX, less than 2^31 apart,
  // where seq_lt is a strict order.
  std::sort(by_seq.begin(), by_seq.begin() + static_cast<std::ptrdiff_t>(count_),
            [this](std::uint8_t a, std::uint8_t b) { return seq_lt(at(a).start, at(b).start); });
  std::size_t older = kNone, later = kNone;
  for (std::size_t k = 0; k + 1 < count_; ++k) {
    const std::size_t a = by_seq[k], b = by_seq[k + 1];
    if (at(a).end != at(b).start || !agree(at(a), at(b))) continue;
    const std::size_t lo = std::min(a, b), hi = std::max(a, b);
    if (lo == keep) continue;
    if (older == kNone || lo < older || (lo == older && hi < later)) {
      older = lo;
      later = hi;
    }
  }
  if (older != kNone) {
    merge(older, later);
    return older;
  }
  if (keep == 0) return kNone;
  const TxRecord& o = at(0);
  const Undelivered uo = undelivered(o);
  std::size_t pick = kNone;
  std::uint32_t pick_misstated = 0;
  int neighbours = 0;
  for (std::size_t j = 1; j < count_ && neighbours < 2; ++j) {
    if (!adjacent(o, at(j))) continue;
    ++neighbours;
    const Undelivered un = undelivered(at(j));
    const std::uint32_t misstated = std::min(uo.lost + un.lost, uo.in_flight + un.in_flight);
    if (pick == kNone || misstated < pick_misstated) {
      pick = j;
      pick_misstated = misstated;
    }
  }
  merge(0, pick);  // step 1 forgot the oldest if it had no neighbour
  return 0;
}

void TxLog::release(Seq32 snd_una) noexcept {
  while (count_ > 0 && seq_leq(at(0).end, snd_una)) {
    head_ = (head_ + 1) % kCapacity;
    --count_;
  }
  if (order_.seq_ordered) return;  // the rest lie above the oldest, which reaches past snd_una
  std::size_t w = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_leq(at(i).end, snd_una)) continue;
    if (w != i) at(w) = at(i);
    ++w;
  }
  count_ = w;
}

}  // namespace tern
