#include "tcp/sack_scoreboard.h"

#include <algorithm>

#include "base/check.h"

namespace tern {

namespace {

// IsLost's test (RFC 6675 §4) on what lies above an octet: `ranges`
// discontiguous SACKed ranges holding `octets` SACKed octets.
bool lost_given(std::size_t ranges, std::uint64_t octets, std::uint32_t dupthresh,
                std::uint32_t smss) noexcept {
  const std::uint64_t limit = std::uint64_t{dupthresh > 0 ? dupthresh - 1 : 0} * smss;
  return ranges >= dupthresh || octets > limit;
}

// Why [left, right) cannot be SACK information for a window [una, max);
// nullopt when it can.
std::optional<SackReject> check_block(Seq32 left, Seq32 right, Seq32 una, Seq32 max) noexcept {
  if (!seq_lt(left, right)) return SackReject::kEmpty;
  const std::uint32_t outstanding = seq_gt(max, una) ? static_cast<std::uint32_t>(max - una) : 0;
  // Tested before the edges: such a block sticks out at both ends, a sign of
  // a peer (or middlebox) writing sequence numbers from another connection.
  if (static_cast<std::uint32_t>(right - left) > outstanding) return SackReject::kTooLong;
  // RFC 2018 §3: blocks report data "received and queued" beyond the
  // cumulative ACK. A receiver holding the octet at SEG.ACK would have
  // acknowledged it, so left == SND.UNA is as wrong as left < SND.UNA.
  if (!seq_gt(left, una)) return SackReject::kBelowUna;
  if (seq_gt(right, max)) return SackReject::kBeyondSndMax;
  return std::nullopt;
}

}  // namespace

SackUpdate SackScoreboard::update(Seq32 snd_una, Seq32 snd_max, std::span<const SackBlock> blocks) noexcept {
  SackUpdate u;
  // The cumulative ACK supersedes what it covers; SACK state there could
  // only confuse the modular comparisons later.
  std::size_t k = 0;
  while (k < count_ && seq_leq(rs()[k].right, snd_una)) ++k;
  erase(0, k);
  if (count_ > 0 && seq_leq(rs()[0].left, snd_una)) {
    // Ranges are stored only above SND.UNA, so the receiver acknowledged up
    // to, or into, data it had SACKed but no further: it threw that data
    // away (RFC 2018 §8). What else it kept is unknown; forget all of it.
    u.reneged = true;
    count_ = 0;
    sacked_ = 0;
  }
  // Past HighRxt / RescueRxt they mean "undefined" to every rule (see header).
  if (rxt_set_.high && !seq_gt(high_rxt_, snd_una)) rxt_set_.high = false;
  if (rxt_set_.rescue && seq_gt(snd_una, rescue_rxt_)) rxt_set_.rescue = false;

  const std::size_t n = std::min(blocks.size(), kTcpMaxSackBlocks);
  // The parser never yields more; a caller that does is handed junk.
  u.rejected[static_cast<std::size_t>(SackReject::kTooMany)] =
      static_cast<std::uint8_t>(std::min<std::size_t>(blocks.size() - n, 255));
  for (std::size_t i = 0; i < n; ++i) {
    const Seq32 left{blocks[i].left}, right{blocks[i].right};
    std::optional<SackReject> why = check_block(left, right, snd_una, snd_max);
    if (i == 0 && why != SackReject::kEmpty) {
      // RFC 2883 §4: a first block wholly at or below SEG.ACK, or inside the
      // second block, reports a duplicate. A block straddling SEG.ACK is
      // neither (RFC 2883 never sends one) and stays kBelowUna. The second
      // block must be SACK information itself, or any junk block that spans
      // the window would turn a genuine first block into a D-SACK.
      const bool below_ack = seq_leq(right, snd_una);
      bool in_second = false;
      if (!why && n > 1) {
        const Seq32 l2{blocks[1].left}, r2{blocks[1].right};
        in_second = !check_block(l2, r2, snd_una, snd_max) && seq_geq(left, l2) && seq_leq(right, r2);
      }
      if (below_ack || in_second) {
        u.dsack = true;
        u.dsack_range = SackRange{left, right};
        continue;
      }
    }
    if (why) {
      ++u.rejected[static_cast<std::size_t>(*why)];
      continue;
    }
    ++u.valid;
    u.newly_sacked += insert(left, right, u);
  }
  return u;
}

std::uint32_t SackScoreboard::insert(Seq32 left, Seq32 right, SackUpdate& u) noexcept {
  // [i, j): the stored ranges that overlap or touch [left, right).
  std::size_t i = 0;
  while (i < count_ && seq_lt(rs()[i].right, left)) ++i;
  std::size_t j = i;
  std::uint32_t covered = 0;
  while (j < count_ && seq_leq(rs()[j].left, right)) covered += rs()[j++].len();
  const std::uint32_t len = static_cast<std::uint32_t>(right - left);
  if (i == j) {
    if (count_ == capacity()) {
      // Full: drop the highest range, the one furthest from SND.UNA, whose
      // holes are retransmitted last. When that is the new one, keep the board.
      ++u.overflow;
      if (i == count_) return 0;
      erase(count_ - 1, count_);
    }
    std::copy_backward(rs() + i, rs() + count_, rs() + count_ + 1);
    rs()[i] = SackRange{left, right};
    ++count_;
    sacked_ += len;
    return len;
  }
  const SackRange merged{seq_min(left, rs()[i].left), seq_max(right, rs()[j - 1].right)};
  const std::uint32_t grown = merged.len() - covered;
  sacked_ += grown;
  rs()[i] = merged;
  std::copy(rs() + j, rs() + count_, rs() + i + 1);
  count_ -= j - i - 1;
  return grown;
}

void SackScoreboard::erase(std::size_t from, std::size_t to) noexcept {
  TERN_CHECK(from <= to && to <= count_);
  for (std::size_t k = from; k < to; ++k) sacked_ -= rs()[k].len();
  std::copy(rs() + to, rs() + count_, rs() + from);
  count_ -= to - from;
}

void SackScoreboard::clear() noexcept {
  count_ = 0;
  sacked_ = 0;
  rxt_set_.high = false;
  rxt_set_.rescue = false;
}

std::optional<Seq32> SackScoreboard::high_sacked() const noexcept {
  if (count_ == 0) return std::nullopt;
  return rs()[count_ - 1].right;
}

bool SackScoreboard::is_sacked(Seq32 seq) const noexcept {
  for (std::size_t k = 0; k < count_; ++k) {
    if (seq_lt(seq, rs()[k].left)) return false;
    if (seq_lt(seq, rs()[k].right)) return true;
  }
  return false;
}

bool SackScoreboard::is_lost(Seq32 seq, std::uint32_t dupthresh, std::uint32_t smss) const noexcept {
  // Top down: only octets after seq count, and the walk stops at the first
  // range with none.
  const Seq32 above = seq + 1;
  std::size_t ranges = 0;
  std::uint64_t octets = 0;
  for (std::size_t k = count_; k-- > 0;) {
    if (!seq_gt(rs()[k].right, above)) break;
    octets += static_cast<std::uint32_t>(rs()[k].right - seq_max(rs()[k].left, above));
    if (lost_given(++ranges, octets, dupthresh, smss)) return true;
  }
  return false;
}

std::uint32_t SackScoreboard::pipe(Seq32 snd_una, Seq32 high_data, std::uint32_t dupthresh,
                                   std::uint32_t smss) const noexcept {
  if (!seq_lt(snd_una, high_data)) return 0;
  const Seq32 rxt = rxt_floor(snd_una);
  std::uint64_t pipe = 0;
  std::size_t ranges = 0;  // SACKed ranges above the current gap
  std::uint64_t octets = 0;
  Seq32 hi = high_data;
  for (std::size_t k = count_;; --k) {
    // The gap [lo, hi) of unSACKed octets below range k (or below high_data).
    const Seq32 lo = k == 0 ? snd_una : seq_max(rs()[k - 1].right, snd_una);
    if (seq_lt(lo, hi)) {
      if (!lost_given(ranges, octets, dupthresh, smss)) pipe += static_cast<std::uint32_t>(hi - lo);  // (a)
      if (seq_gt(rxt, lo)) pipe += static_cast<std::uint32_t>(seq_min(rxt, hi) - lo);  // (b): S1 <= HighRxt
    }
    if (k == 0 || !seq_gt(rs()[k - 1].left, snd_una)) break;
    ++ranges;
    octets += rs()[k - 1].len();
    hi = rs()[k - 1].left;
  }
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(pipe, UINT32_MAX));
}

Seq32 SackScoreboard::lost_edge(Seq32 snd_una, std::uint32_t dupthresh, std::uint32_t smss) const noexcept {
  // Top down, as SetPipe: the gap below range k has ranges k.. above it.
  std::size_t ranges = 0;
  std::uint64_t octets = 0;
  for (std::size_t k = count_; k-- > 0;) {
    if (!seq_gt(rs()[k].left, snd_una)) break;  // no gap below it
    ++ranges;
    octets += rs()[k].len();
    if (lost_given(ranges, octets, dupthresh, smss)) return rs()[k].left;
  }
  return snd_una;
}

std::uint32_t SackScoreboard::unsacked(Seq32 from, Seq32 to) const noexcept {
  if (!seq_lt(from, to)) return 0;
  std::uint32_t n = static_cast<std::uint32_t>(to - from);
  for (std::size_t k = 0; k < count_; ++k) {
    const Seq32 l = seq_max(rs()[k].left, from);
    const Seq32 r = seq_min(rs()[k].right, to);
    if (seq_lt(l, r)) n -= static_cast<std::uint32_t>(r - l);
  }
  return n;
}

SackNext SackScoreboard::next_seg(Seq32 snd_una, Seq32 high_data, std::uint32_t new_data,
                                  std::uint32_t dupthresh, std::uint32_t smss) const noexcept {
  if (smss == 0) return {};
  // Rules (1.a) and (1.b): the first unSACKed octet after HighRxt, if a
  // SACKed range (range k) lies above it. Later candidates cannot be lost if
  // this one is not (fewer ranges above), so rules (1) and (3) share it.
  Seq32 s = rxt_floor(snd_una);
  std::size_t k = 0;
  for (; k < count_ && !seq_gt(rs()[k].left, s); ++k) {
    if (seq_gt(rs()[k].right, s)) s = rs()[k].right;
  }
  SackNext rule3;
  if (k < count_) {
    const std::uint32_t len = std::min(smss, static_cast<std::uint32_t>(rs()[k].left - s));
    std::uint64_t octets = 0;
    for (std::size_t m = k; m < count_; ++m) octets += rs()[m].len();
    if (lost_given(count_ - k, octets, dupthresh, smss)) return {SackNext::Kind::kRetransmit, s, len, 1};
    rule3 = {SackNext::Kind::kRetransmit, s, len, 3};
  }
  if (new_data > 0) return {SackNext::Kind::kNew, high_data, std::min(smss, new_data), 2};
  if (rule3.kind != SackNext::Kind::kNone) return rule3;

  // Rule (4): one rescue per recovery, while HighACK > RescueRxt, i.e.
  // SND.UNA - 1 > rescue_rxt - 1 in this file's one-past convention. It
  // must include the highest unSACKed octet: the top of the highest gap.
  if (!seq_lt(snd_una, high_data)) return {};
  if (rxt_set_.rescue && !seq_gt(snd_una, rescue_rxt_)) return {};
  Seq32 hi = high_data, lo = count_ > 0 ? rs()[count_ - 1].right : snd_una;
  if (!seq_lt(lo, hi) && count_ > 0) {  // the top is SACKed: the gap below the highest range
    hi = rs()[count_ - 1].left;
    lo = count_ > 1 ? rs()[count_ - 2].right : snd_una;
  }
  if (!seq_lt(lo, hi)) return {};
  const std::uint32_t len = std::min(smss, static_cast<std::uint32_t>(hi - lo));
  return {SackNext::Kind::kRescue, hi - len, len, 4};
}

void SackScoreboard::on_sent(const SackNext& s, Seq32 recovery_point) noexcept {
  switch (s.kind) {
    case SackNext::Kind::kRetransmit:
      set_high_rxt(s.seq + s.len);
      break;
    case SackNext::Kind::kRescue:
      set_rescue_rxt(recovery_point);
      break;
    case SackNext::Kind::kNew:
    case SackNext::Kind::kNone:
      break;
  }
}

std::optional<Seq32> SackScoreboard::high_rxt() const noexcept {
  if (!rxt_set_.high) return std::nullopt;
  return high_rxt_;
}

std::optional<Seq32> SackScoreboard::rescue_rxt() const noexcept {
  if (!rxt_set_.rescue) return std::nullopt;
  return rescue_rxt_;
}

}  // namespace tern
