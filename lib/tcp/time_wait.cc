#include "tcp/time_wait.h"

#include <bit>
#include <cstring>

#include "base/check.h"
#include "wire/tcp.h"

namespace tern {

std::uint64_t hash_four_tuple(const FourTuple& t, std::uint64_t seed) noexcept {
  // Two rounds of a multiply-xorshift mix (the murmur3 finaliser constants):
  // cheap, and every input bit reaches the top bits the index uses.
  auto mix = [](std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  };
  // The remote address, which a peer chooses, goes through the keyed mix
  // whole (both halves, one after the other), so no choice of it collides
  // without the seed. The local address (ours, few values) and the ports
  // join linearly: an IPv4 tuple's upper halves are zero and the low
  // 32 bits of the lower ones are the constant 0x0000ffff, where the ports
  // go. Upper halves that cancel (IPv4, or both ends in one /64) skip
  // their mix: two mixes then, as the IPv4-only tuple took, three otherwise.
  auto half = [](const IpAddr& a, std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, a.bytes().data() + at, sizeof v);
    return v;
  };
  const std::uint64_t ports = (std::uint64_t{t.lport} << 16) | t.rport;
  const std::uint64_t upper = half(t.raddr, 0) ^ half(t.laddr, 0);
  const std::uint64_t h = upper == 0 ? seed : mix(upper ^ seed);
  return mix(mix(h ^ half(t.raddr, 8)) ^ half(t.laddr, 8) ^ (ports + 0x9e3779b97f4a7c15ULL));
}

TimeWaitTable::TimeWaitTable(std::uint32_t capacity, Duration two_msl, std::uint64_t seed)
    : capacity_(capacity), two_msl_(two_msl), seed_(seed) {
  // Load factor <= 1/2 keeps linear-probing chains short.
  const std::uint64_t index_size = std::bit_ceil(std::uint64_t{capacity} * 2 + 2);
  mask_ = static_cast<std::uint32_t>(index_size - 1);
  shift_ = 64U - static_cast<unsigned>(std::countr_zero(index_size));
  nodes_ = std::make_unique<Node[]>(capacity);
  index_ = std::make_unique<std::uint32_t[]>(index_size);
  for (std::uint64_t i = 0; i < index_size; ++i) index_[i] = kNil;
  for (std::uint32_t i = 0; i < capacity; ++i) nodes_[i].next = i + 1 < capacity ? i + 1 : kNil;
  free_ = capacity > 0 ? 0 : kNil;
}

std::uint32_t TimeWaitTable::find_bucket(const FourTuple& t, std::uint64_t tuple_hash) const noexcept {
  for (std::uint32_t b = home(tuple_hash);; b = (b + 1) & mask_) {
    const std::uint32_t n = index_[b];
    if (n == kNil) return kNil;
    if (nodes_[n].rec.tuple == t) return b;
  }
}

void TimeWaitTable::list_unlink(std::uint32_t n) noexcept {
  Node& x = nodes_[n];
  if (x.prev != kNil)
    nodes_[x.prev].next = x.next;
  else
    head_ = x.next;
  if (x.next != kNil)
    nodes_[x.next].prev = x.prev;
  else
    tail_ = x.prev;
  x.prev = x.next = kNil;
}

void TimeWaitTable::list_push_back(std::uint32_t n) noexcept {
  Node& x = nodes_[n];
  // The list is sorted only if `now` never goes back (see the header).
  TERN_CHECK(tail_ == kNil || nodes_[tail_].rec.expiry <= x.rec.expiry);
  x.prev = tail_;
  x.next = kNil;
  if (tail_ != kNil)
    nodes_[tail_].next = n;
  else
    head_ = n;
  tail_ = n;
}

void TimeWaitTable::remove_at_bucket(std::uint32_t b) noexcept {
  const std::uint32_t n = index_[b];
  list_unlink(n);
  nodes_[n].next = free_;
  nodes_[n].bucket = kNil;
  free_ = n;
  --size_;
  // Backward-shift deletion: pull later members of the probe run into the
  // hole unless that would move them before their home bucket.
  std::uint32_t hole = b;
  for (std::uint32_t j = (b + 1) & mask_;; j = (j + 1) & mask_) {
    const std::uint32_t m = index_[j];
    if (m == kNil) break;
    const std::uint32_t h = home(hash(nodes_[m].rec.tuple));
    if (((j - h) & mask_) >= ((j - hole) & mask_)) {
      index_[hole] = m;
      nodes_[m].bucket = hole;
      hole = j;
    }
  }
  index_[hole] = kNil;
}

TwInsert TimeWaitTable::insert(const TimeWaitRecord& r, Instant now, std::uint64_t tuple_hash) noexcept {
  std::uint32_t b = home(tuple_hash);
  for (;; b = (b + 1) & mask_) {
    const std::uint32_t n = index_[b];
    if (n == kNil) break;
    if (nodes_[n].rec.tuple == r.tuple) {
      nodes_[n].rec = r;
      nodes_[n].rec.expiry = now + two_msl_;
      list_unlink(n);
      list_push_back(n);
      return TwInsert::kInserted;
    }
  }
  if (free_ == kNil) return TwInsert::kOverflow;
  const std::uint32_t n = free_;
  free_ = nodes_[n].next;
  nodes_[n].rec = r;
  nodes_[n].rec.expiry = now + two_msl_;
  nodes_[n].bucket = b;
  index_[b] = n;
  list_push_back(n);
  ++size_;
  return TwInsert::kInserted;
}

const TimeWaitRecord* TimeWaitTable::find(const FourTuple& t, std::uint64_t tuple_hash) const noexcept {
  const std::uint32_t b = find_bucket(t, tuple_hash);
  return b == kNil ? nullptr : &nodes_[index_[b]].rec;
}

void TimeWaitTable::erase(const FourTuple& t) noexcept {
  const std::uint32_t b = find_bucket(t);
  if (b != kNil) remove_at_bucket(b);
}

bool TimeWaitTable::restart(const FourTuple& t, Instant now,
                            std::optional<std::uint32_t> ts_recent) noexcept {
  const std::uint32_t b = find_bucket(t);
  if (b == kNil) return false;
  const std::uint32_t n = index_[b];
  nodes_[n].rec.expiry = now + two_msl_;
  if (ts_recent && nodes_[n].rec.ts_enabled) nodes_[n].rec.ts_recent = *ts_recent;
  list_unlink(n);
  list_push_back(n);
  return true;
}

std::size_t TimeWaitTable::expire(Instant now) noexcept {
  std::size_t removed = 0;
  while (head_ != kNil && nodes_[head_].rec.expiry <= now) {
    remove_at_bucket(nodes_[head_].bucket);
    ++removed;
  }
  return removed;
}

TwVerdict TimeWaitTable::classify(const TimeWaitRecord& r, std::uint8_t flags, Seq32 seq,
                                  std::optional<std::uint32_t> tsval, std::uint32_t payload_len) noexcept {
  const bool syn = (flags & kTcpSyn) != 0;
  const bool rst = (flags & kTcpRst) != 0;
  const bool ack = (flags & kTcpAck) != 0;
  const bool fin = (flags & kTcpFin) != 0;
  // RFC 7323 §5.3 PAWS: TSval older than TS.Recent (modular, §5.2). RSTs are
  // exempt (RFC 7323 §5.2: acceptable regardless of their timestamp).
  const bool ts_both = r.ts_enabled && tsval.has_value();
  const bool ts_newer = ts_both && static_cast<std::int32_t>(*tsval - r.ts_recent) > 0;
  const bool paws_reject = ts_both && static_cast<std::int32_t>(*tsval - r.ts_recent) < 0;

  if (rst) {
    // Linux tcp_rfc1337 = 0: an exactly in-sequence RST ends TIME_WAIT;
    // anything else is ignored (RFC 5961 §3.2 acceptability, no challenge
    // ACK: there is no connection left to protect).
    return seq == r.rcv_nxt ? TwVerdict::kRstReceived : TwVerdict::kDrop;
  }
  if (syn && !ack && !fin) {
    // RFC 6191 §2. With timestamps on both incarnations, TSval decides
    // (equal TSval falls back to the sequence number); without them on the
    // old one, a SYN carrying timestamps is honoured since PAWS will guard
    // the new incarnation; otherwise the sequence number must be above
    // RCV.NXT (as Linux, one more than RFC 6191's "last sequence number
    // seen", which is the FIN at RCV.NXT - 1).
    if (ts_newer) return TwVerdict::kAcceptNewSyn;
    if (!r.ts_enabled && tsval.has_value()) return TwVerdict::kAcceptNewSyn;
    if (!paws_reject && seq_gt(seq, r.rcv_nxt)) return TwVerdict::kAcceptNewSyn;
    // RFC 6191 §2 says "silently drop"; RFC 5961 §4 a challenge ACK, which
    // Linux sends (docs/tcp/time_wait.md has the reasons).
    return TwVerdict::kSendAck;
  }
  // Any other SYN (SYN-ACK, SYN+FIN, which is never a new connection: a
  // listener drops it): RFC 9293 §3.10.7.4 fourth step, RFC 5961 §4.2,
  // challenge ACK whatever its sequence number.
  if (syn) return TwVerdict::kSendAck;
  // RFC 7323 §5.3: a PAWS failure is discarded, but still ACKed.
  if (paws_reject) return TwVerdict::kSendAck;
  // First step: the four cases of RFC 9293 §3.10.7.4's acceptability table,
  // RCV.WND being what our ACKs advertise.
  const std::uint32_t wnd = std::uint32_t{r.window} << r.rcv_wscale;
  const std::uint32_t seg_len = payload_len + (fin ? 1U : 0U);
  const auto in_window = [&](Seq32 x) { return seq_in_window(x, r.rcv_nxt, wnd); };
  const bool acceptable = seg_len == 0 ? (wnd == 0 ? seq == r.rcv_nxt : in_window(seq))
                                       : wnd > 0 && (in_window(seq) || in_window(seq + (seg_len - 1)));
  if (!acceptable) {
    // The peer's FIN sits at RCV.NXT - 1: one below RCV.NXT is its
    // retransmission (our last ACK was lost). Linux restarts the timer for
    // it when it carries an ACK, as the eighth step would.
    if (fin && ack && seq_lt(seq, r.rcv_nxt)) return TwVerdict::kAckAndRestart;
    return TwVerdict::kSendAck;
  }
  // Fifth step: "if the ACK bit is off, drop the segment and return".
  if (!ack) return TwVerdict::kDrop;
  // Eighth step, TIME-WAIT STATE: "Remain in the TIME-WAIT state. Restart
  // the 2 MSL time-wait timeout", the FIN acknowledged.
  if (fin) return TwVerdict::kAckAndRestart;
  // A bare ACK at RCV.NXT needs no answer: never ACK an ACK.
  if (seq == r.rcv_nxt && payload_len == 0) return TwVerdict::kDrop;
  // Anything else (text, or an ACK further into the window): the fifth
  // step's TIME-WAIT case acknowledges it, as Linux does.
  return TwVerdict::kSendAck;
}

}  // namespace tern
