#include "ip/arp_table.h"

#include <bit>

namespace tern {
namespace {

std::size_t slot_of(std::uint32_t ip, std::size_t mask) noexcept {
  // Fibonacci hashing spreads the low-entropy host part of subnet addresses.
  return static_cast<std::size_t>((ip * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

}  // namespace

ArpTable::ArpTable(const ArpConfig& cfg, Counters& counters) : cfg_(cfg), counters_(counters) {
  entries_.resize(std::bit_ceil(std::max<std::size_t>(16, 2 * static_cast<std::size_t>(cfg.cache_size))));
  mask_ = entries_.size() - 1;
  parked_.resize(cfg.max_pending);
  for (std::size_t i = parked_.size(); i-- > 0;) {
    parked_[i].next = free_parked_;
    free_parked_ = static_cast<std::int32_t>(i);
  }
  incomplete_.reserve(cfg.cache_size);
}

ArpTable::~ArpTable() {
  for (Parked& p : parked_)
    if (p.frame != nullptr) rte_pktmbuf_free(p.frame);
}

const ArpTable::Entry* ArpTable::find(std::uint32_t ip) const noexcept {
  for (std::size_t i = slot_of(ip, mask_), n = 0; n <= mask_; i = (i + 1) & mask_, ++n) {
    const Entry& e = entries_[i];
    if (e.state == State::kFree) return nullptr;
    if (e.ip == ip) return &e;
  }
  return nullptr;
}

ArpTable::Entry* ArpTable::find(std::uint32_t ip) noexcept {
  return const_cast<Entry*>(static_cast<const ArpTable*>(this)->find(ip));
}

ArpTable::Entry* ArpTable::find_or_insert(std::uint32_t ip, Instant now) noexcept {
  for (std::size_t i = slot_of(ip, mask_), n = 0; n <= mask_; i = (i + 1) & mask_, ++n) {
    Entry& e = entries_[i];
    if (e.state != State::kFree && e.ip == ip) return &e;
    if (e.state == State::kFree) {
      if (used_ >= cfg_.cache_size) return nullptr;
      ++used_;
      e = Entry{};
      e.ip = ip;
      e.state = State::kFailed;  // caller decides the real state
      e.expires = now;
      return &e;
    }
  }
  return nullptr;
}

const MacAddr* ArpTable::lookup(std::uint32_t ip, Instant now) const noexcept {
  const Entry* e = find(ip);
  if (e == nullptr || e->state != State::kReachable || now >= e->expires) return nullptr;
  return &e->mac;
}

const MacAddr* ArpTable::lookup(std::uint32_t ip, Instant now, Instant& fresh_until) const noexcept {
  const Entry* e = find(ip);
  if (e == nullptr || e->state != State::kReachable || now >= e->expires) return nullptr;
  fresh_until = e->expires;
  return &e->mac;
}

bool ArpTable::unanswered(std::uint32_t ip) const noexcept {
  const Entry* e = find(ip);
  return e != nullptr && (e->state == State::kIncomplete || e->state == State::kFailed);
}

ArpTable::Park ArpTable::park(std::uint32_t ip, Mbuf frame, Instant now) noexcept {
  counters_.inc(Counter::kArpCacheMisses);
  Entry* e = find_or_insert(ip, now);
  if (e == nullptr || free_parked_ < 0) {
    counters_.drop(Drop::kArpQueueFull);
    return Park::kDropped;
  }
  Park result = Park::kQueued;
  if (e->state != State::kIncomplete) {
    ++generation_;  // no longer usable: FramePrefix::generation
    e->state = State::kIncomplete;
    e->retries_left = static_cast<std::uint8_t>(cfg_.max_retries);
    e->expires = now + cfg_.retry_interval;
    e->head = e->tail = -1;
    incomplete_.push_back(ip);  // capacity reserved for cache_size entries
    result = Park::kQueuedSendRequest;
  }
  std::int32_t slot = free_parked_;
  Parked& p = parked_[static_cast<std::size_t>(slot)];
  free_parked_ = p.next;
  p.frame = frame.release();
  p.next = -1;
  if (e->tail >= 0)
    parked_[static_cast<std::size_t>(e->tail)].next = slot;
  else
    e->head = slot;
  e->tail = slot;
  ++pending_used_;
  return result;
}

void ArpTable::drop_parked(Entry& e, Drop reason) noexcept {
  drain_parked(e, [&](Mbuf) { counters_.drop(reason); });
}

}  // namespace tern
