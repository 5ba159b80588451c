#pragma once
// Per-worker ARP view (RFC 826). Fixed capacity, allocated once at start-up:
// open addressing over IPv4 addresses, plus a bounded pool of packets parked
// while their next hop is being resolved. Nothing here allocates per packet.
#include <cstdint>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "config/config.h"
#include "wire/ethernet.h"

namespace tern {

class ArpTable {
 public:
  ArpTable(const ArpConfig& cfg, Counters& counters);
  ~ArpTable();
  ArpTable(const ArpTable&) = delete;
  ArpTable& operator=(const ArpTable&) = delete;

  // The MAC for `ip` if it is known and fresh.
  const MacAddr* lookup(std::uint32_t ip, Instant now) const noexcept;
  // The same, and until when it stays fresh (for a cached frame prefix,
  // lib/ip/frame_prefix.h).
  const MacAddr* lookup(std::uint32_t ip, Instant now, Instant& fresh_until) const noexcept;
  // Bumped whenever an entry's MAC or state changes: what was looked up
  // before may be wrong now (FramePrefix::generation).
  const std::uint32_t* generation() const noexcept { return &generation_; }

  enum class Park : std::uint8_t {
    kQueuedSendRequest,  // first packet for this hop: caller sends an ARP request now
    kQueued,             // a request is already outstanding
    kDropped,            // pending pool or table full (counted)
  };
  // Keeps `frame` (Ethernet header still to be filled) until `ip` resolves.
  Park park(std::uint32_t ip, Mbuf frame, Instant now) noexcept;

  // Records ip -> mac (RFC 826 "merge"); when `create` is false only an
  // existing entry is updated. Frames parked for `ip` are handed to `release`.
  template <class Release>
  void learn(std::uint32_t ip, const MacAddr& mac, bool create, Instant now, Release&& release) noexcept;

  // Hops whose request should be retransmitted now get `resend(ip)`; hops that
  // ran out of retries drop their parked frames (ArpUnresolved).
  template <class Resend>
  void on_timer(Instant now, Resend&& resend) noexcept;

  std::size_t pending_frames() const noexcept { return pending_used_; }

  // Whether a request for `ip` went out and no reply came (yet, or ever,
  // while its retries lasted): for an application to say why a connection
  // attempt was never answered.
  bool unanswered(std::uint32_t ip) const noexcept;

 private:
  // Entries are never deleted (a linear-probing table cannot drop a slot
  // without breaking probe chains); a stale or failed entry is reused when its
  // address is needed again, like Linux's STALE and FAILED neighbour states.
  enum class State : std::uint8_t { kFree, kIncomplete, kReachable, kFailed };
  struct Entry {
    std::uint32_t ip = 0;
    State state = State::kFree;
    std::uint8_t retries_left = 0;
    MacAddr mac{};
    Instant expires{};       // kReachable: stale after this; kIncomplete: next retry
    std::int32_t head = -1;  // parked frames, FIFO through Parked::next
    std::int32_t tail = -1;
  };
  struct Parked {
    rte_mbuf* frame = nullptr;
    std::int32_t next = -1;
  };

  Entry* find(std::uint32_t ip) noexcept;
  const Entry* find(std::uint32_t ip) const noexcept;
  Entry* find_or_insert(std::uint32_t ip, Instant now) noexcept;
  void drop_parked(Entry& e, Drop reason) noexcept;
  template <class Fn>
  void drain_parked(Entry& e, Fn&& fn) noexcept;

  ArpConfig cfg_;
  Counters& counters_;
  std::vector<Entry> entries_;  // size: power of two >= 2 * cache_size
  std::size_t mask_ = 0;
  std::size_t used_ = 0;
  std::vector<Parked> parked_;
  std::int32_t free_parked_ = -1;
  std::size_t pending_used_ = 0;
  std::vector<std::uint32_t> incomplete_;  // ips with an outstanding request
  std::uint32_t generation_ = 0;
};

// ---- templates -------------------------------------------------------------

template <class Fn>
void ArpTable::drain_parked(Entry& e, Fn&& fn) noexcept {
  for (std::int32_t i = e.head; i >= 0;) {
    Parked& p = parked_[static_cast<std::size_t>(i)];
    std::int32_t next = p.next;
    fn(Mbuf{p.frame});
    p.frame = nullptr;
    p.next = free_parked_;
    free_parked_ = i;
    --pending_used_;
    i = next;
  }
  e.head = e.tail = -1;
}

template <class Release>
void ArpTable::learn(std::uint32_t ip, const MacAddr& mac, bool create, Instant now,
                     Release&& release) noexcept {
  Entry* e = create ? find_or_insert(ip, now) : find(ip);
  if (e == nullptr) return;
  if (e->state == State::kIncomplete) counters_.inc(Counter::kArpResolved);
  // A refresh of the same MAC keeps cached prefixes; they expire with the
  // entry they were built from (FramePrefix::valid_until) and are rebuilt.
  if (e->state != State::kReachable || e->mac != mac) ++generation_;
  e->state = State::kReachable;
  e->mac = mac;
  e->expires = now + cfg_.entry_ttl;
  std::erase(incomplete_, ip);
  drain_parked(*e, [&](Mbuf f) { release(std::move(f), mac); });
}

template <class Resend>
void ArpTable::on_timer(Instant now, Resend&& resend) noexcept {
  for (std::size_t i = 0; i < incomplete_.size();) {
    Entry* e = find(incomplete_[i]);
    if (e == nullptr || e->state != State::kIncomplete) {
      incomplete_[i] = incomplete_.back();
      incomplete_.pop_back();
      continue;
    }
    if (now >= e->expires) {
      if (e->retries_left == 0) {
        drop_parked(*e, Drop::kArpUnresolved);
        counters_.inc(Counter::kArpExpired);
        e->state = State::kFailed;
        incomplete_[i] = incomplete_.back();
        incomplete_.pop_back();
        continue;
      }
      --e->retries_left;
      e->expires = now + cfg_.retry_interval;
      resend(e->ip);
    }
    ++i;
  }
}

}  // namespace tern
