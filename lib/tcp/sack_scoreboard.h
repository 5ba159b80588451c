#pragma once
// The sender's SACK scoreboard: what the peer reported holding above SND.UNA
// (RFC 2018 §3 blocks), and RFC 6675 §4's queries over it (IsLost, SetPipe,
// NextSeg) with the HighRxt / RescueRxt bookkeeping of §5.
//
// I/O-free, clock-free and allocation-free: a fixed array of disjoint,
// non-adjacent, sorted ranges, so a connection's cost is bounded whatever the
// peer sends. Adjacent ranges are merged because IsLost counts
// "discontiguous SACKed sequences": two touching ranges are one. When the
// array is full a range is forgotten, never invented: bytes treated as not
// SACKed are at worst retransmitted again (RFC 2018 §8 already makes SACK
// information advisory), whereas bridging a gap would hide a loss.
//
// Sequence numbers follow SND.UNA / SND.MAX's convention: every edge here is
// one past the last octet. RFC 6675 names octets instead, so its HighRxt and
// RescueRxt are high_rxt() - 1 and rescue_rxt() - 1, and its "S > HighRxt"
// is seq_geq(S, high_rxt()). HighACK, the highest octet cumulatively
// acknowledged, is SND.UNA - 1.
//
// Use from the engine (RFC 6675 §5):
//  - every acceptable ACK: update(SND.UNA after the ACK, SND.MAX, blocks).
//    An ACK that leaves SND.UNA where it was and has newly_sacked > 0 is a
//    "duplicate acknowledgment" in RFC 6675 §2's sense (DupAcks).
//  - entering recovery, after retransmitting the first segment (§5 (4.3)):
//    start_recovery(end of that segment).
//  - while cwnd - pipe() >= SMSS (§5 (C)): next_seg(), send it, on_sent().
//  - on RTO: clear() (see its comment).
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>

#include "tcp/seq.h"
#include "wire/tcp_options.h"

namespace tern {

struct SackRange {
  Seq32 left, right;  // [left, right)
  std::uint32_t len() const noexcept { return static_cast<std::uint32_t>(right - left); }
  constexpr bool operator==(const SackRange&) const noexcept = default;
};

// Why a received SACK block was ignored; one counter each.
enum class SackReject : std::uint8_t {
  kEmpty,         // left >= right (modulo 2^32)
  kTooLong,       // longer than everything outstanding (SND.MAX - SND.UNA)
  kBelowUna,      // left <= SND.UNA and not a D-SACK
  kBeyondSndMax,  // right > SND.MAX: reports data never sent
  kTooMany,       // beyond the 4 blocks an option can carry (RFC 2018 §3)
  kCount,
};

// What one update() learned, for the caller's counters and loss detection.
struct SackUpdate {
  std::uint8_t valid = 0;  // blocks merged into the scoreboard
  // Octets SACKed now that were not before. A range forgotten for lack of
  // room counts again when re-reported: the board did not know it any more.
  std::uint32_t newly_sacked = 0;
  std::uint8_t overflow = 0;  // ranges forgotten (or not stored) for lack of room
  // The cumulative ACK stopped at or inside a SACKed range: the receiver
  // discarded data it had SACKed (RFC 2018 §8). The scoreboard was emptied
  // before this ACK's blocks were merged.
  bool reneged = false;
  // RFC 2883 §4: the first block reports a duplicate segment. Not SACK
  // information; reported for undo / reordering logic, which must check it
  // against what was actually retransmitted.
  bool dsack = false;
  SackRange dsack_range{};
  std::array<std::uint8_t, static_cast<std::size_t>(SackReject::kCount)> rejected{};

  std::uint8_t rejected_for(SackReject r) const noexcept { return rejected[static_cast<std::size_t>(r)]; }
};

// What NextSeg (RFC 6675 §4) says to send next.
struct SackNext {
  enum class Kind : std::uint8_t { kNone, kRetransmit, kNew, kRescue };
  Kind kind = Kind::kNone;
  Seq32 seq;
  std::uint32_t len = 0;  // 1..SMSS unless kNone
  std::uint8_t rule = 0;  // the NextSeg rule that chose it, 1..4
};

class SackScoreboard {
 public:
  // Ranges held in the connection itself; a connection with a transmit log
  // (tx_log.h) keeps up to kLentRanges in the log's room instead (attach).
  static constexpr std::size_t kMaxRanges = 32;
  static constexpr std::size_t kLentRanges = 256;

  // Empty. The inline ranges are left unwritten (see ranges_raw_): a new TCB
  // builds its scoreboard this way instead of copying 256 bytes of them
  // from the stack's prototype (tcb.h, Tcb::sb).
  SackScoreboard() noexcept {}

  // Drops what SND.UNA now covers, then merges `blocks` (as parsed: at most
  // kTcpMaxSackBlocks). For ACKs with SEG.ACK >= SND.UNA only, passing
  // SEG.ACK, which is SND.UNA after it: RFC 2883 §4 requires the D-SACK
  // test against the ACK in the same segment, never against an SND.UNA that
  // a reordered, older ACK lags behind. Older ACKs' blocks are stale anyway.
  SackUpdate update(Seq32 snd_una, Seq32 snd_max, std::span<const SackBlock> blocks) noexcept;

  // Forgets all SACK information and HighRxt / RescueRxt; call it on an RTO.
  // RFC 2018 §8 lets the receiver renege on SACKed data, so after a timeout
  // the sender "MUST ignore prior SACK information in determining which data
  // to retransmit" (§8) and SHOULD turn off the SACKed bits (§5). RFC 6675
  // §5.1 quotes both, notes that keeping SACK state across an RTO has been
  // proposed where reneging is detected robustly, and does not change RFC
  // 2018, so nothing is kept here. Later ACKs rebuild the board, since a
  // receiver repeats the blocks it still holds. (§5.1's other rule, an RTO
  // ends recovery and RecoveryPoint becomes HighData, is the caller's.)
  void clear() noexcept;

  bool empty() const noexcept { return count_ == 0; }
  // Nothing SACKed and no HighRxt / RescueRxt: an update without blocks
  // would change nothing and report nothing.
  bool idle() const noexcept { return count_ == 0 && std::bit_cast<std::uint16_t>(rxt_set_) == 0; }
  std::uint32_t sacked_bytes() const noexcept { return sacked_; }
  std::span<const SackRange> ranges() const noexcept { return {rs(), count_}; }
  std::size_t capacity() const noexcept { return ext_ != nullptr ? ext_cap_ : kMaxRanges; }
  // Holding its ranges in a transmit log's room (attach), not inline.
  bool attached() const noexcept { return ext_ != nullptr; }

  // Hold the ranges in `room` (at least kMaxRanges long) from now on: more
  // holes can be tracked than the kMaxRanges kept inline, so data the
  // receiver SACKed is not forgotten (and resent) when a window holds many
  // holes. detach() moves them back, the lowest kMaxRanges if there are
  // more (the rest forgotten, as on overflow; returned as a count).
  // Inline: a connection's transmit log is lent each time its flight
  // starts from empty and returned when it empties again (tcp_tx_log.cc),
  // twice per request/response transaction, nearly always with nothing
  // SACKed to move.
  void attach(std::span<SackRange> room) noexcept {
    if (ext_ != nullptr || room.size() < kMaxRanges) return;
    if (count_ != 0) std::copy(inline_ranges(), inline_ranges() + count_, room.begin());
    ext_ = room.data();
    ext_cap_ = room.size();
  }
  std::size_t detach() noexcept {
    if (ext_ == nullptr) return 0;
    const std::size_t dropped = count_ > kMaxRanges ? count_ - kMaxRanges : 0;
    if (dropped > 0) erase(kMaxRanges, count_);  // the highest: as an overflow would
    if (count_ != 0) std::copy(ext_, ext_ + count_, inline_ranges());
    ext_ = nullptr;
    ext_cap_ = 0;
    return dropped;
  }
  // One past the highest SACKed octet; nullopt while nothing is SACKed.
  std::optional<Seq32> high_sacked() const noexcept;
  bool is_sacked(Seq32 seq) const noexcept;

  // RFC 6675 §4 IsLost(seq): DupThresh discontiguous SACKed ranges above
  // seq, or more than (DupThresh - 1) * SMSS SACKed octets above it.
  bool is_lost(Seq32 seq, std::uint32_t dupthresh, std::uint32_t smss) const noexcept;

  // RFC 6675 §4 SetPipe over [snd_una, high_data) (high_data = SND.MAX),
  // octet for octet but one step per gap between SACKed ranges: every octet
  // of a gap has the same ranges above it, so IsLost is the same for all.
  std::uint32_t pipe(Seq32 snd_una, Seq32 high_data, std::uint32_t dupthresh,
                     std::uint32_t smss) const noexcept;

  // One past the highest octet IsLost marks: the top of the highest gap
  // with enough SACKed above it (every lower unSACKed octet is lost too,
  // having at least as much above it); snd_una when none is. The lost set
  // grows upwards as ranges arrive, so octets between two successive edges
  // that are not SACKed are what an ACK newly marked lost (BBR's loss
  // input, tcp_sack.cc, where RACK is not running).
  Seq32 lost_edge(Seq32 snd_una, std::uint32_t dupthresh, std::uint32_t smss) const noexcept;
  // Octets of [from, to) not SACKed.
  std::uint32_t unsacked(Seq32 from, Seq32 to) const noexcept;

  // RFC 6675 §4 NextSeg. new_data: octets never sent that the send buffer
  // holds and the peer's window admits (rule 2). Retransmissions stop at the
  // next SACKed range; none is longer than smss. Call only in recovery: rule
  // (4) presumes it. Const: report what was sent with on_sent().
  SackNext next_seg(Seq32 snd_una, Seq32 high_data, std::uint32_t new_data, std::uint32_t dupthresh,
                    std::uint32_t smss) const noexcept;

  // RFC 6675 §5 (4.3): after the first retransmission of a recovery, HighRxt
  // and RescueRxt both cover it, so neither rule (1) nor a premature rescue
  // sends it again.
  void start_recovery(Seq32 first_rxt_end) noexcept {
    set_high_rxt(first_rxt_end);
    set_rescue_rxt(first_rxt_end);
  }
  // RFC 6675 §5 (C.2) and NextSeg (4): a retransmission moves HighRxt; a
  // rescue moves RescueRxt to RecoveryPoint (SND.MAX when recovery began)
  // and leaves HighRxt alone.
  void on_sent(const SackNext& s, Seq32 recovery_point) noexcept;

  // Undefined (nullopt) until set, and again once SND.UNA has passed them,
  // which means the same to every rule and keeps stale values from being
  // compared 2^31 later.
  std::optional<Seq32> high_rxt() const noexcept;
  std::optional<Seq32> rescue_rxt() const noexcept;
  void set_high_rxt(Seq32 s) noexcept {
    high_rxt_ = s;
    rxt_set_.high = true;
  }
  void set_rescue_rxt(Seq32 s) noexcept {
    rescue_rxt_ = s;
    rxt_set_.rescue = true;
  }

 private:
  // Adds [left, right) (within the window); returns the octets it added.
  std::uint32_t insert(Seq32 left, Seq32 right, SackUpdate& u) noexcept;
  void erase(std::size_t from, std::size_t to) noexcept;
  Seq32 rxt_floor(Seq32 snd_una) const noexcept {
    return rxt_set_.high && seq_gt(high_rxt_, snd_una) ? high_rxt_ : snd_una;
  }

  // The inline ranges as SackRange objects: the bytes of ranges_raw_
  // implicitly create them (C++20 [intro.object]/13; SackRange is an
  // implicit-lifetime aggregate), and std::launder gives the pointer to
  // them. No code: it only tells the compiler what the storage holds.
  SackRange* inline_ranges() noexcept { return std::launder(reinterpret_cast<SackRange*>(ranges_raw_)); }
  const SackRange* inline_ranges() const noexcept {
    return std::launder(reinterpret_cast<const SackRange*>(ranges_raw_));
  }
  SackRange* rs() noexcept { return ext_ != nullptr ? ext_ : inline_ranges(); }
  const SackRange* rs() const noexcept { return ext_ != nullptr ? ext_ : inline_ranges(); }

  // The scalars first, together (38 bytes), ahead of the ranges: an ACK's
  // idle() and ranges() read only them. Whether they fall in one cache line
  // depends on the TCB's slot (the pool's slots are not 64-byte aligned).
  SackRange* ext_ = nullptr;  // attach()'s room; nullptr: the inline ranges
  std::size_t ext_cap_ = 0;
  std::size_t count_ = 0;
  std::uint32_t sacked_ = 0;
  Seq32 high_rxt_;
  Seq32 rescue_rxt_;
  // HighRxt and RescueRxt set, one 16-bit word for idle() (issue 16).
  struct RxtSet {
    bool high = false;
    bool rescue = false;
  };
  RxtSet rxt_set_;
  // Only the first count_ hold a value, and only while not attached:
  // every range is written before it is read, so none is written at
  // construction. Raw bytes rather than an array of SackRange, whose
  // Seq32 members would be zeroed, or a union member whose lifetime
  // never begins (reading through it would be undefined).
  alignas(SackRange) std::byte ranges_raw_[kMaxRanges * sizeof(SackRange)];
};

}  // namespace tern
