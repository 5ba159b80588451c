#pragma once
// Per-worker TIME_WAIT table (DESIGN.md "TCP engine", BEHAVIOURS.md
// "Teardown"): a compact record per closed connection instead of a full TCB,
// held for 2MSL (RFC 9293 §3.3.2, §3.10.7.4), capped like Linux
// tcp_max_tw_buckets, with RFC 6191 reuse for a new SYN. No I/O, no clock:
// callers pass `now`. See docs/tcp/time_wait.md.
//
// Storage, all allocated in the constructor and never again:
//  - a pool of `capacity` records, threaded on one doubly linked list in
//    expiry order. Every entry lives exactly 2MSL from its last (re)start and
//    `now` never goes back, so appending at the tail keeps the list sorted:
//    insert, restart and erase are O(1), expire(now) is O(expired). A hashed
//    timer wheel would buy nothing here since every deadline is now + 2MSL.
//  - an open-addressing index (linear probing, backward-shift deletion, load
//    factor <= 1/2) from FourTuple to pool slot. No tombstones, so long
//    insert/erase churn never degrades lookups.
//
// Single-threaded, like everything a worker owns.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "base/instant.h"
#include "tcp/seq.h"
#include "tern/ip_addr.h"

namespace tern {

// The family test and the IPv4 address for the per-segment path: the
// ::ffff:0:0/96 prefix as two words compared with constants (two loads),
// and one load, where IpAddr's constexpr is_v4() / v4_host() walk the bytes
// one at a time. (A memcmp against a static array compiled to the same two
// compares at -O2 but to loads of the array under link-time optimisation.)
inline bool addr_is_v4(const IpAddr& a) noexcept {
  constexpr auto kMappedTail = std::bit_cast<std::uint32_t>(std::array<std::uint8_t, 4>{0, 0, 0xFF, 0xFF});
  std::uint64_t head;  // bytes 0-7: zero
  std::uint32_t tail;  // bytes 8-11: 00 00 FF FF
  std::memcpy(&head, a.bytes().data(), sizeof head);
  std::memcpy(&tail, a.bytes().data() + sizeof head, sizeof tail);
  return head == 0 && tail == kMappedTail;
}
// Host order; `a` must be IPv4 (unchecked).
inline std::uint32_t addr_v4_host(const IpAddr& a) noexcept {
  const std::uint8_t* b = a.bytes().data() + 12;
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

// A connection's ends, either family: one 16-byte address per side (an IPv4
// address as ::ffff:a.b.c.d, tern/ip_addr.h), ports in host order. Both
// addresses are of the same family. 36 bytes, no padding.
struct FourTuple {
  IpAddr laddr;
  IpAddr raddr;
  std::uint16_t lport = 0;
  std::uint16_t rport = 0;

  // An IPv4 tuple from host-order addresses.
  static constexpr FourTuple v4(std::uint32_t laddr, std::uint32_t raddr, std::uint16_t lport,
                                std::uint16_t rport) noexcept {
    return FourTuple{IpAddr::v4(laddr), IpAddr::v4(raddr), lport, rport};
  }
  bool is_v4() const noexcept { return addr_is_v4(laddr); }

  bool operator==(const FourTuple& o) const noexcept {
    // Word compares without a branch or a call: the tables compare a key on
    // every lookup (a 36-byte memcmp is a libc call).
    auto word = [](const FourTuple& t, std::size_t at) {
      std::uint64_t v;
      std::memcpy(&v, reinterpret_cast<const unsigned char*>(&t) + at, sizeof v);
      return v;
    };
    auto tail = [](const FourTuple& t) {
      std::uint32_t v;
      std::memcpy(&v, reinterpret_cast<const unsigned char*>(&t) + 32, sizeof v);
      return v;
    };
    return ((word(*this, 0) ^ word(o, 0)) | (word(*this, 8) ^ word(o, 8)) | (word(*this, 16) ^ word(o, 16)) |
            (word(*this, 24) ^ word(o, 24)) | (tail(*this) ^ tail(o))) == 0;
  }
};
static_assert(sizeof(FourTuple) == 36, "FourTuple must have no padding (memcmp equality, hashing)");

// A 64-bit mix of the tuple keyed by `seed`; the index uses its top bits.
std::uint64_t hash_four_tuple(const FourTuple& t, std::uint64_t seed) noexcept;

struct TimeWaitRecord {
  FourTuple tuple;
  Seq32 rcv_nxt;  // after the peer's FIN
  Seq32 snd_nxt;  // after our FIN: the ACK we send carries seq = snd_nxt
  // RFC 7323 §4.3 TS.Recent, valid when ts_enabled.
  std::uint32_t ts_recent = 0;
  // Added to the local clock for our TSval (RFC 7323 §5.4 per-connection offset).
  std::uint32_t ts_offset = 0;
  // Set by the table: last (re)start + 2MSL. The value passed to insert is ignored.
  Instant expiry;
  std::uint16_t window = 0;  // window field of the ACKs we send, already scaled
  bool ts_enabled = false;
  std::uint8_t rcv_wscale = 0;  // RCV.WND = window << rcv_wscale (the first step's acceptability test)
};

enum class TwInsert : std::uint8_t {
  kInserted,  // also when the tuple was already present: record replaced, timer restarted
  kOverflow,  // table full (Linux TCPTimeWaitOverflow): the caller skips TIME_WAIT
};

enum class TwVerdict : std::uint8_t {
  // RFC 6191 §2: a SYN that is provably not an old duplicate (newer TSval, or
  // higher sequence number). The caller erases the record and processes the
  // SYN as if sent to a listener.
  kAcceptNewSyn,
  // A FIN, acceptable (RFC 9293 §3.10.7.4 eighth step, TIME-WAIT STATE) or
  // the peer's retransmitted one just below RCV.NXT (our ACK of it was
  // lost): ACK it and restart the 2MSL timeout. The caller calls restart().
  kAckAndRestart,
  // Send <SEQ=snd_nxt><ACK=rcv_nxt><CTL=ACK>: to an unacceptable (old or
  // out-of-window) segment (RFC 9293 §3.10.7.4 first step), one rejected by
  // PAWS (RFC 7323 §5.3), and as the challenge ACK to any SYN that does not
  // open a new incarnation (RFC 5961 §4; docs/tcp/time_wait.md). Rate
  // limiting is the caller's job.
  kSendAck,
  // An RST with SEG.SEQ == RCV.NXT: the caller erases the record. This is
  // Linux's default (tcp_rfc1337 = 0); RFC 1337 §3 recommends ignoring RSTs
  // in TIME-WAIT, but the exact-sequence requirement (as RFC 5961 §3.2 asks
  // of synchronized states) already makes blind assassination as hard as a
  // blind reset of an established connection.
  kRstReceived,
  // Nothing to do: an out-of-window RST, an acceptable segment without ACK
  // (RFC 9293 §3.10.7.4 fifth step), or a bare ACK at RCV.NXT (never ACK an
  // ACK: two TIME_WAITs after a simultaneous close would otherwise
  // ping-pong forever).
  kDrop,
};

class TimeWaitTable {
 public:
  // `capacity` records at most (tcp_max_tw_buckets). `seed` keys the index
  // hash; workers pass a random one so remote peers cannot aim collisions.
  TimeWaitTable(std::uint32_t capacity, Duration two_msl, std::uint64_t seed = 0);
  TimeWaitTable(const TimeWaitTable&) = delete;
  TimeWaitTable& operator=(const TimeWaitTable&) = delete;

  // Inserts (or replaces) the record for r.tuple with expiry now + 2MSL.
  // `now` must not go back across calls (insert, restart, expire).
  TwInsert insert(const TimeWaitRecord& r, Instant now) noexcept { return insert(r, now, hash(r.tuple)); }
  const TimeWaitRecord* find(const FourTuple& t) const noexcept { return find(t, hash(t)); }
  // The same with the tuple's hash (`hash` below) already computed: a caller
  // that also looks the tuple up elsewhere under the same seed (TcpStack's
  // connection table) hashes it once.
  TwInsert insert(const TimeWaitRecord& r, Instant now, std::uint64_t tuple_hash) noexcept;
  const TimeWaitRecord* find(const FourTuple& t, std::uint64_t tuple_hash) const noexcept;
  std::uint64_t hash(const FourTuple& t) const noexcept { return hash_four_tuple(t, seed_); }
  void erase(const FourTuple& t) noexcept;
  // Sets expiry to now + 2MSL (after kAckAndRestart). If `ts_recent` is given
  // (the segment passed PAWS), TS.Recent is updated too. False if absent.
  bool restart(const FourTuple& t, Instant now,
               std::optional<std::uint32_t> ts_recent = std::nullopt) noexcept;
  // Removes every record with expiry <= now; returns how many. O(removed).
  std::size_t expire(Instant now) noexcept;
  // The earliest expiry, or Instant::max() when empty (for the worker's timer).
  Instant next_expiry() const noexcept { return head_ == kNil ? Instant::max() : nodes_[head_].rec.expiry; }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  Duration two_msl() const noexcept { return two_msl_; }

  // What to do with a segment for r.tuple. `flags` are the kTcp* bits of
  // lib/wire/tcp.h; `tsval` is the segment's TSval if it had a timestamp
  // option; `payload_len` its data bytes.
  static TwVerdict classify(const TimeWaitRecord& r, std::uint8_t flags, Seq32 seq,
                            std::optional<std::uint32_t> tsval, std::uint32_t payload_len = 0) noexcept;

 private:
  static constexpr std::uint32_t kNil = UINT32_MAX;

  struct Node {
    TimeWaitRecord rec;
    std::uint32_t prev = kNil;  // expiry list, or free list (next only)
    std::uint32_t next = kNil;
    std::uint32_t bucket = kNil;  // where the index points at this node
  };

  std::uint32_t home(std::uint64_t tuple_hash) const noexcept {
    return static_cast<std::uint32_t>(tuple_hash >> shift_);
  }
  // Index bucket holding t, or kNil.
  std::uint32_t find_bucket(const FourTuple& t) const noexcept { return find_bucket(t, hash(t)); }
  std::uint32_t find_bucket(const FourTuple& t, std::uint64_t tuple_hash) const noexcept;
  void remove_at_bucket(std::uint32_t b) noexcept;
  void list_unlink(std::uint32_t n) noexcept;
  void list_push_back(std::uint32_t n) noexcept;

  std::uint32_t capacity_;
  Duration two_msl_;
  std::uint64_t seed_;
  std::uint32_t mask_ = 0;  // index size - 1
  unsigned shift_ = 0;      // 64 - log2(index size)
  std::unique_ptr<Node[]> nodes_;
  std::unique_ptr<std::uint32_t[]> index_;  // node number or kNil
  std::uint32_t free_ = kNil;
  std::uint32_t head_ = kNil;  // earliest expiry
  std::uint32_t tail_ = kNil;
  std::size_t size_ = 0;
};

}  // namespace tern
