#include "ip/pmtu_cache.h"

#include <rte_random.h>

#include <cstring>

#include "base/keyed_mix.h"

namespace tern {

PathMtuCache::PathMtuCache(std::uint32_t entries, Duration expires, Counters& counters)
    : sets_((entries + kWays - 1) / kWays),
      expires_(expires),
      counters_(counters),
      seed_(rte_rand()),
      slots_(std::make_unique<Entry[]>(static_cast<std::size_t>(sets_) * kWays)) {}

PathMtuCache::Entry* PathMtuCache::set_of(const IpAddr& dst) noexcept {
  std::uint64_t words[2];
  std::memcpy(words, dst.bytes().data(), sizeof words);
  // A third round with nothing to fold: a multiply only carries bits
  // upwards, so without it the high bytes of words[1] (where an IPv4
  // address lies, ::ffff:a.b.c.d) reached the set index through one bit:
  // the peers of one /16 shared two sets, whatever the table's size.
  const std::uint64_t h = keyed_mix(keyed_mix(keyed_mix(seed_, words[0]), words[1]), 0);
  // The high half: the mix's low bits are its weakest.
  return &slots_[static_cast<std::size_t>((h >> 32) % sets_) * kWays];
}

PathMtu PathMtuCache::lookup(const IpAddr& dst, std::uint16_t link_mtu, Instant now) noexcept {
  if (sets_ == 0) return {link_mtu, Instant::max()};
  Entry* set = set_of(dst);
  for (std::uint32_t i = 0; i < kWays; ++i) {
    Entry& e = set[i];
    if (e.mtu == 0 || !(e.dst == dst)) continue;
    if (e.expires <= now) {  // RFC 8201 §4: time to try the link MTU again
      e.mtu = 0;
      --used_;
      counters_.inc(Counter::kPmtuExpired);
      return {link_mtu, Instant::max()};
    }
    return {std::min(e.mtu, link_mtu), e.expires};
  }
  return {link_mtu, Instant::max()};
}

bool PathMtuCache::lower(const IpAddr& dst, std::uint16_t mtu, std::uint16_t link_mtu, Instant now) noexcept {
  if (sets_ == 0 || mtu >= get(dst, link_mtu, now)) return false;  // never raised by a report
  Entry* set = set_of(dst);
  Entry* slot = nullptr;
  for (std::uint32_t i = 0; i < kWays && slot == nullptr; ++i)
    if (set[i].mtu != 0 && set[i].dst == dst) slot = &set[i];
  if (slot == nullptr) {
    // A free way, else an expired one, else the one learned longest ago
    // (the soonest to expire: every entry lives the same time).
    for (std::uint32_t i = 0; i < kWays; ++i) {
      Entry& e = set[i];
      if (e.mtu == 0 || e.expires <= now) {
        slot = &e;
        break;
      }
      if (slot == nullptr || e.expires < slot->expires) slot = &e;
    }
    if (slot->mtu == 0) {
      ++used_;
    } else {
      counters_.inc(slot->expires <= now ? Counter::kPmtuExpired : Counter::kPmtuEvicted);
    }
    slot->dst = dst;
  }
  slot->mtu = mtu;
  slot->expires = now + expires_;
  ++generation_;
  counters_.inc(Counter::kPmtuLearned);
  return true;
}

}  // namespace tern
