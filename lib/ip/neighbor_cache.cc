#include "ip/neighbor_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/check.h"

namespace tern {

std::string_view neighbor_state_name(NeighborState s) noexcept {
  switch (s) {
    case NeighborState::kIncomplete:
      return "INCOMPLETE";
    case NeighborState::kReachable:
      return "REACHABLE";
    case NeighborState::kStale:
      return "STALE";
    case NeighborState::kDelay:
      return "DELAY";
    case NeighborState::kProbe:
      return "PROBE";
  }
  return "unknown";
}

NeighborCache::NeighborCache(const NeighborCacheConfig& cfg, Counters& counters)
    : cfg_(cfg), counters_(counters) {
  cfg_.cache_size = std::max<std::uint32_t>(1, cfg_.cache_size);
  cfg_.max_pending_per_entry = std::max<std::uint32_t>(1, cfg_.max_pending_per_entry);
  entries_.resize(std::bit_ceil(std::max<std::size_t>(16, 2 * static_cast<std::size_t>(cfg_.cache_size))));
  mask_ = entries_.size() - 1;
  parked_.resize(cfg_.max_pending);
  for (std::size_t i = parked_.size(); i-- > 0;) {
    parked_[i].next = free_parked_;
    free_parked_ = static_cast<std::int32_t>(i);
  }
  timed_.reserve(cfg_.cache_size);
}

NeighborCache::~NeighborCache() {
  for (Parked& p : parked_)
    if (p.frame != nullptr) rte_pktmbuf_free(p.frame);
}

std::size_t NeighborCache::home(const Ipv6Addr& a) const noexcept {
  std::uint64_t hi, lo;
  std::memcpy(&hi, a.b.data(), 8);
  std::memcpy(&lo, a.b.data() + 8, 8);
  // MurmurHash3's finaliser: every input bit reaches the low bits used as
  // the slot (neighbours mostly differ only in the last bytes).
  std::uint64_t h = lo ^ (hi * 0xC2B2AE3D27D4EB4Full);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return static_cast<std::size_t>(h) & mask_;
}

const NeighborCache::Entry* NeighborCache::find(const Ipv6Addr& a) const noexcept {
  for (std::size_t i = home(a), n = 0; n <= mask_; i = (i + 1) & mask_, ++n) {
    const Entry& e = entries_[i];
    if (!e.used) return nullptr;
    if (e.addr == a) return &e;
  }
  return nullptr;
}

NeighborCache::Entry* NeighborCache::find(const Ipv6Addr& a) noexcept {
  return const_cast<Entry*>(static_cast<const NeighborCache*>(this)->find(a));
}

NeighborCache::Entry* NeighborCache::insert(const Ipv6Addr& a, Instant now) noexcept {
  if (used_ >= cfg_.cache_size && !evict_stale(now)) return nullptr;
  for (std::size_t i = home(a);; i = (i + 1) & mask_) {  // the table is never full: 2x cache_size
    Entry& e = entries_[i];
    if (e.used) continue;
    e = Entry{};
    e.addr = a;
    e.used = true;
    ++used_;
    return &e;
  }
}

// A full cache gives up a STALE entry: nobody is sending to it (a send
// would have moved it to DELAY), and it holds no packets.
bool NeighborCache::evict_stale(Instant now) noexcept {
  for (Entry& e : entries_) {
    if (!e.used) continue;
    age(e, now);
    if (e.state == NeighborState::kStale && e.parked == 0) {
      erase(e);
      return true;
    }
  }
  return false;
}

// Backward-shift deletion (Knuth's algorithm R): entries after the hole
// that could live in it move back, so no probe chain is broken and no
// tombstone is needed.
void NeighborCache::erase(Entry& victim) noexcept {
  TERN_CHECK(victim.head < 0);
  if (victim.timed) {
    auto it = std::find(timed_.begin(), timed_.end(), victim.addr);
    if (it != timed_.end()) {
      *it = timed_.back();
      timed_.pop_back();
    }
  }
  std::size_t hole = static_cast<std::size_t>(&victim - entries_.data());
  entries_[hole].used = false;
  --used_;
  ++generation_;
  for (std::size_t j = (hole + 1) & mask_; entries_[j].used; j = (j + 1) & mask_) {
    const std::size_t k = home(entries_[j].addr);
    // Stays if its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (stays) continue;
    entries_[hole] = entries_[j];
    entries_[j].used = false;
    hole = j;
  }
}

void NeighborCache::arm(Entry& e) noexcept {
  if (e.timed) return;
  e.timed = true;
  timed_.push_back(e.addr);  // at most one per entry: capacity reserved
}

void NeighborCache::set_reachable(Entry& e, Instant now) noexcept {
  // Staying REACHABLE (a confirmation, §7.3.1) keeps cached prefixes: they
  // expire at the deadline they were built with and are rebuilt.
  if (e.state != NeighborState::kReachable) ++generation_;
  e.state = NeighborState::kReachable;
  e.deadline = now + cfg_.reachable_time;
}

std::int32_t NeighborCache::pop_parked(Entry& e) noexcept {
  const std::int32_t i = e.head;
  e.head = parked_[static_cast<std::size_t>(i)].next;
  if (e.head < 0) e.tail = -1;
  --e.parked;
  --pending_used_;
  return i;
}

const MacAddr* NeighborCache::lookup_for_send(const Ipv6Addr& addr, Instant now) noexcept {
  Entry* e = find(addr);
  if (e == nullptr || e->state == NeighborState::kIncomplete) return nullptr;
  age(*e, now);
  if (e->state == NeighborState::kStale) {  // §7.3.3: send, and probe later unless confirmed
    e->state = NeighborState::kDelay;
    e->deadline = now + cfg_.delay_first_probe;
    arm(*e);
  }
  return &e->mac;
}

const MacAddr* NeighborCache::lookup_reachable(const Ipv6Addr& addr, Instant now,
                                               Instant& reachable_until) const noexcept {
  const Entry* e = find(addr);
  if (e == nullptr || e->state != NeighborState::kReachable || now >= e->deadline) return nullptr;
  reachable_until = e->deadline;
  return &e->mac;
}

NeighborCache::Park NeighborCache::park(const Ipv6Addr& addr, Mbuf frame, Instant now) noexcept {
  counters_.inc(Counter::kNdCacheMisses);
  Entry* e = find(addr);
  Park result = Park::kQueued;
  if (e == nullptr) {
    if (free_parked_ < 0 || (e = insert(addr, now)) == nullptr) {
      counters_.drop(Drop::kNdQueueFull);
      return Park::kDropped;
    }
    e->state = NeighborState::kIncomplete;
    e->solicits_left =
        static_cast<std::uint8_t>(cfg_.max_multicast_solicit > 0 ? cfg_.max_multicast_solicit - 1 : 0);
    e->deadline = now + cfg_.retrans_timer;
    arm(*e);
    result = Park::kQueuedSendSolicit;
  } else if (e->state != NeighborState::kIncomplete) {
    TERN_CHECK(e->state == NeighborState::kIncomplete);  // lookup_for_send() had a MAC
    counters_.drop(Drop::kNdQueueFull);
    return Park::kDropped;
  }
  std::int32_t slot;
  if (e->parked > 0 && (e->parked >= cfg_.max_pending_per_entry || free_parked_ < 0)) {
    // §7.2.2: the queue overflows, the new packet replaces the oldest.
    slot = pop_parked(*e);
    rte_pktmbuf_free(parked_[static_cast<std::size_t>(slot)].frame);
    counters_.drop(Drop::kNdQueueFull);
  } else if (free_parked_ >= 0) {
    slot = free_parked_;
    free_parked_ = parked_[static_cast<std::size_t>(slot)].next;
  } else {
    counters_.drop(Drop::kNdQueueFull);
    return Park::kDropped;
  }
  Parked& p = parked_[static_cast<std::size_t>(slot)];
  p.frame = frame.release();
  p.next = -1;
  if (e->tail >= 0)
    parked_[static_cast<std::size_t>(e->tail)].next = slot;
  else
    e->head = slot;
  e->tail = slot;
  ++e->parked;
  ++pending_used_;
  return result;
}

void NeighborCache::confirm(const Ipv6Addr& addr, Instant now) noexcept {
  Entry* e = find(addr);
  if (e == nullptr || e->state == NeighborState::kIncomplete) return;
  set_reachable(*e, now);
}

Instant NeighborCache::next_deadline() const noexcept {
  Instant next = Instant::max();
  for (const Ipv6Addr& a : timed_) {
    const Entry* e = find(a);
    if (e == nullptr || !(e->state == NeighborState::kIncomplete || e->state == NeighborState::kDelay ||
                          e->state == NeighborState::kProbe))
      continue;
    next = std::min(next, e->deadline);
  }
  return next;
}

std::optional<NeighborState> NeighborCache::state(const Ipv6Addr& addr, Instant now) const noexcept {
  const Entry* e = find(addr);
  if (e == nullptr) return std::nullopt;
  if (e->state == NeighborState::kReachable && now >= e->deadline) return NeighborState::kStale;
  return e->state;
}

const MacAddr* NeighborCache::cached_mac(const Ipv6Addr& addr) const noexcept {
  const Entry* e = find(addr);
  return e == nullptr || e->state == NeighborState::kIncomplete ? nullptr : &e->mac;
}

std::size_t NeighborCache::pending_frames(const Ipv6Addr& addr) const noexcept {
  const Entry* e = find(addr);
  return e == nullptr ? 0 : e->parked;
}

}  // namespace tern
