#pragma once
// The per-connection transmit log (docs/architecture.md "Loss recovery
// (issue 12)", /work/notes/txlog_contract.md): when each outstanding octet
// was last sent, and the delivery snapshot taken then. RACK (RFC 8985 §6)
// needs the first, delivery-rate sampling (draft-cheng-iccrg-delivery-rate-
// estimation §3) the second.
//
// Tern sends in batches: one output() runs at one `now` and processes no ACK
// inside it, so every segment of a batch shares its send time and snapshot.
// The log records batches: a transmission contiguous with the newest record,
// at the same time, with the same flags and snapshot, extends it.
//
// Invariants (what makes it exact and bounded):
//  - records are in time order (oldest first; a ring of kCapacity), and
//    in transmission order (TxRecord::order, which the caller numbers):
//    halves of a split keep their record's order, a merge the later one's;
//  - their ranges are disjoint: a retransmission of [a, b) is carved out of
//    the older records holding it (trimmed, removed, or split in two, the
//    halves keeping their place in time) and appended as a new record. So
//    each octet has exactly one record: its latest transmission, which is
//    what RACK compares (§6.2 "the most recent transmission") and what rate
//    sampling snapshots;
//  - when full, a record merges into one adjacent to it in sequence space
//    and later in time: range = union, sent_us, snapshot and order = the
//    later one's, and the union takes its place. The merged octets look
//    sent later than they were: RACK finds their loss later (never
//    sooner), a rate sample from them spans less time. Merging the two
//    oldest records whatever their ranges (the contract's first wording)
//    could bridge octets retransmitted since, giving them an older send
//    time and RACK a spurious loss; neighbours keep the ranges disjoint;
//  - a merge does not mix RACK-lost (kTxLost) undelivered octets with
//    undelivered octets in flight: the OLDEST record merges into a
//    neighbour whose undelivered octets are in its state (O(1) in sequence
//    order, else a scan for its neighbours, O(n)); when neither is, the
//    oldest pair of neighbours that agree merges instead (a sort by
//    sequence, O(n log n), n = kCapacity; 1.2 % of merges in session
//    28's simulator runs of BBR). Only a log where no two neighbours agree
//    mixes, merging the oldest as before. With no neighbour (the log did
//    not see every octet) the oldest record is forgotten: its octets have
//    no send time, and RACK never marks what it cannot time.
//
// I/O-free, clock-free, allocation-free; the engine lends one to a
// connection while it has data in flight (TcpStack::borrow_tx_log).
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "tcp/sack_scoreboard.h"
#include "tcp/seq.h"

namespace tern {

inline constexpr std::uint8_t kTxRetransmit = 1;  // the range was sent before
inline constexpr std::uint8_t kTxAppLimited = 2;  // Tcb::app_limited != 0 when sent
inline constexpr std::uint8_t kTxLost = 4;        // RACK marked its undelivered octets lost (RFC 8985 §6.2)
// Merged for room: part of its octets left earlier than sent_us says, so
// its delivery proves nothing about what was sent before sent_us.
inline constexpr std::uint8_t kTxMerged = 8;

struct TxRecord {
  Seq32 start, end;                 // [start, end) sent in this batch (FIN counts 1)
  std::uint32_t sent_us = 0;        // worker clock, microseconds (wraps: compare mod 2^32)
  std::uint32_t delivered = 0;      // Tcb::delivered when sent       } draft-cheng
  std::uint32_t delivered_us = 0;   // Tcb::delivered_us when sent  } per-packet
  std::uint32_t first_sent_us = 0;  // Tcb::first_sent_us when sent } state
  // Octets of [start, end) known delivered (below SND.UNA or SACKed); a
  // walk hands the record on when this grows.
  std::uint32_t acked = 0;
  // Tcb::tx_order when sent: transmissions in the order they left, where
  // sent_us ties (every send at one instant, across ACKs handled then).
  std::uint32_t order = 0;
  std::uint8_t flags = 0;

  std::uint32_t len() const noexcept { return static_cast<std::uint32_t>(end - start); }
  bool fully_acked() const noexcept { return acked >= len(); }
};

// a sent after b, modulo 2^32 (RFC 8985 §6.2 RACK_sent_after without the
// sequence tie-break, which the caller adds).
constexpr bool us_after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}
// Transmission order a after b (TxRecord::order), modulo 2^32.
constexpr bool order_after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}

class TxLog {
 public:
  static constexpr std::size_t kCapacity = 256;

  void clear() noexcept {
    head_ = 0;
    count_ = 0;
    merges_ = 0;
    order_.seq_ordered = true;
    order_.lost_marked = false;
  }
  // True while no retransmission was logged since the log was lent: the
  // records are then in sequence order as well as in time order, so those
  // an ACK covers are the oldest ones and a walk stops at the first above
  // SND.UNA (what keeps a pure ACK's work independent of the flight's size).
  bool seq_ordered() const noexcept { return order_.seq_ordered; }
  // RACK marked a record kTxLost since the log was lent (it may have been
  // delivered or retransmitted since): when false, no record holds the flag
  // and RACK's NextSeg has nothing to look for.
  void note_lost() noexcept { order_.lost_marked = true; }
  bool may_hold_lost() const noexcept { return order_.lost_marked; }
  // seq_ordered() && !may_hold_lost(), as a fresh log has them, with one
  // compare (fast_ack's plain state asks on every ACK; issue 16).
  bool ordered_without_lost() const noexcept {
    return std::bit_cast<std::uint16_t>(order_) == std::bit_cast<std::uint16_t>(Order{});
  }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  // 0 = oldest.
  const TxRecord& at(std::size_t i) const noexcept { return recs_[(head_ + i) % kCapacity]; }
  TxRecord& at(std::size_t i) noexcept { return recs_[(head_ + i) % kCapacity]; }
  const TxRecord& newest() const noexcept { return at(count_ - 1); }
  // Records merged (or forgotten) for lack of room since the log was lent.
  std::uint32_t merges() const noexcept { return merges_; }
  // Room the borrower's SACK scoreboard keeps its ranges in while the log
  // is lent (SackScoreboard::attach): a window with many holes keeps what
  // the receiver SACKed beyond the kMaxRanges a connection holds inline.
  std::span<SackRange> sack_room() noexcept { return sack_room_; }

  // A transmission of [r.start, r.end) with r's time, snapshot and flags
  // (r.acked is ignored). Octets below snd_max are a retransmission: they
  // are carved out of the records holding them, whose `acked` is then
  // recounted against snd_una and `sacked` (the scoreboard's ranges). A
  // transmission straddling snd_max is logged as two records.
  // New data (r.start at SND.MAX, every segment of a request/response or a
  // bulk sender's new segments) is decided inline: one record appended, or
  // merged into the newest; a retransmission takes record_retransmission.
  void record(TxRecord r, Seq32 snd_una, Seq32 snd_max, std::span<const SackRange> sacked) noexcept {
    if (seq_leq(r.end, r.start)) return;
    r.flags = static_cast<std::uint8_t>(r.flags & ~kTxLost);
    if (seq_geq(r.start, snd_max)) [[likely]] {
      r.acked = 0;
      make_room(1);
      append(r);
      return;
    }
    record_retransmission(r, snd_una, snd_max, sacked);
  }
  // record() for new data the caller knows to be new (r.start at or above
  // SND.MAX) and not empty, without kTxLost: the engine's every send of new
  // data (tcp_tx_log.cc), which then need not find the scoreboard's ranges
  // that only a retransmission reads.
  void record_new(TxRecord r) noexcept {
    r.acked = 0;
    make_room(1);
    append(r);
  }

  // On an ACK, after SND.UNA and the scoreboard moved: every record whose
  // delivered octets grew (below snd_una, or SACKed by `sacked`), oldest
  // first, goes to visit(const TxRecord&, std::uint32_t newly_acked_octets).
  // Only records that may have changed are recounted: those reaching below
  // snd_una, and those overlapping one of `blocks` (the ACK's own blocks:
  // octets newly SACKed lie in them). Records wholly below snd_una are then
  // released.
  template <class Visit>
  void on_ack(Seq32 snd_una, std::span<const SackRange> sacked, std::span<const SackRange> blocks,
              Visit&& visit) noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      TxRecord& r = at(i);
      // In sequence order, with no block to look for, nothing past the
      // first record at or above SND.UNA has changed.
      if (order_.seq_ordered && blocks.empty() && !seq_lt(r.start, snd_una)) break;
      if (r.fully_acked()) continue;
      bool touched = seq_lt(r.start, snd_una);
      for (const SackRange& b : blocks)
        touched = touched || (seq_lt(b.left, r.end) && seq_lt(r.start, b.right));
      if (!touched) continue;
      const std::uint32_t was = r.acked;
      recount(r, snd_una, sacked);
      if (r.acked > was) visit(static_cast<const TxRecord&>(r), r.acked - was);
    }
    release(snd_una);
  }

  // on_ack(snd_una, {}, {}, visit) for a cumulative ACK with nothing
  // SACKed, in one pass and inline (every ACK of a bulk sender):
  // in sequence order the records it delivers are the oldest, each's
  // delivered octets are those below snd_una, and the ones it covers
  // whole leave from the front. The same visits, counts and records left
  // as on_ack; out of sequence order it is on_ack.
  template <class Visit>
  void on_cumulative_ack(Seq32 snd_una, Visit&& visit) noexcept {
    if (!order_.seq_ordered) [[unlikely]] {
      on_ack(snd_una, {}, {}, visit);
      return;
    }
    on_cumulative_ack_ordered(snd_una, visit);
  }
  // on_cumulative_ack's walk, for a log the caller knows is in sequence
  // order (seq_ordered(): fast_ack's plain state checked it). Without
  // on_ack's fallback beside it the visitor has one call site, and the
  // walk keeps fewer registers (fast_ack: 5 instructions per ACK).
  template <class Visit>
  void on_cumulative_ack_ordered(Seq32 snd_una, Visit&& visit) noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      TxRecord& r = at(i);
      if (!seq_lt(r.start, snd_una)) break;
      if (r.fully_acked()) continue;
      const std::uint32_t was = r.acked;
      r.acked =
          static_cast<std::uint32_t>((seq_lt(r.end, snd_una) ? r.end : snd_una) - r.start);  // coverage()
      if (r.acked > was) visit(static_cast<const TxRecord&>(r), r.acked - was);
    }
    while (count_ > 0 && seq_leq(at(0).end, snd_una)) {  // release(): in sequence order, a prefix
      head_ = (head_ + 1) % kCapacity;
      --count_;
    }
  }

  // Splits record i at `at` (strictly inside it) into two records of the
  // same send time, the lower first. When the log is full a record other
  // than i is freed first (free_one) and `i` follows record i, which may
  // have absorbed an older neighbour; false if none could go.
  bool split(std::size_t& i, Seq32 at, Seq32 snd_una, std::span<const SackRange> sacked) noexcept;

  // Puts back, as the oldest record, octets [start, end) the log forgot
  // (free_one's oldest record, when no neighbour could absorb it) that a
  // timeout finds at SND.UNA: marked lost, retransmitted and merged (their
  // send time, before the oldest record's or else `sent_us`, is unknown: no
  // RTT sample may come of them), so RACK's NextSeg resends all of them,
  // not one segment per timeout. If room has to be made, another record
  // may be forgotten instead.
  void restore_forgotten(Seq32 start, Seq32 end, std::uint32_t sent_us, Seq32 snd_una,
                         std::span<const SackRange> sacked) noexcept;

  // Recounts every record's delivered octets: after the receiver reneged
  // (RFC 2018 §8) octets counted as SACKed may be missing again.
  void recount_all(Seq32 snd_una, std::span<const SackRange> sacked) noexcept {
    for (std::size_t i = 0; i < count_; ++i) recount(at(i), snd_una, sacked);
  }

  // Drops the records wholly below snd_una (the oldest are usually first,
  // but a retransmission can leave an old record above a newer one).
  void release(Seq32 snd_una) noexcept;

  // The octets of r known delivered: below snd_una, or in `sacked`.
  static std::uint32_t coverage(Seq32 start, Seq32 end, Seq32 snd_una,
                                std::span<const SackRange> sacked) noexcept;

 private:
  void recount(TxRecord& r, Seq32 snd_una, std::span<const SackRange> sacked) noexcept {
    r.acked = coverage(r.start, r.end, snd_una, sacked);
  }
  // Inline, as record()'s common case is: a new record, or the newest
  // extended when r continues it with the same send time and snapshot.
  void append(const TxRecord& r) noexcept {
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
  void record_retransmission(TxRecord r, Seq32 snd_una, Seq32 snd_max,
                             std::span<const SackRange> sacked) noexcept;
  void carve(Seq32 a, Seq32 b, Seq32 snd_una, std::span<const SackRange> sacked) noexcept;
  void erase_at(std::size_t i) noexcept;
  void insert_at(std::size_t i, const TxRecord& r) noexcept;  // before the record now at i
  // Inline: every send asks, and the log is seldom full (a call per ask
  // was some 30 instructions of a request/response transaction).
  void make_room(std::size_t need) noexcept {
    while (count_ > 0 && count_ + need > kCapacity) [[unlikely]] free_one(kNone);
  }
  // Frees one record other than `keep` by a merge (or forgets the oldest);
  // returns the index the freed record had, kNone if none could go.
  std::size_t free_one(std::size_t keep) noexcept;
  void merge(std::size_t older, std::size_t later) noexcept;
  static constexpr std::size_t kNone = kCapacity;

  std::array<TxRecord, kCapacity> recs_{};
  std::array<SackRange, SackScoreboard::kLentRanges> sack_room_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint32_t merges_ = 0;
  // seq_ordered() and may_hold_lost() side by side, one 16-bit word for
  // fast_ack's gate (ordered_without_lost).
  struct Order {
    bool seq_ordered = true;
    bool lost_marked = false;
  };
  Order order_;
};

}  // namespace tern
