#pragma once
// Per-worker IPv6 neighbour cache (RFC 4861 §7.3.2, appendix C): the states
// INCOMPLETE, REACHABLE, STALE, DELAY and PROBE, solicitations retransmitted
// and probes sent on the injected clock, and packets parked while a
// neighbour is resolved. Like ArpTable: fixed capacity allocated at
// start-up (open addressing over addresses, a bounded pool of parked
// packets per worker), nothing allocated per packet. Unlike it, entries are
// deleted (backward-shift deletion keeps the probe chains intact), as
// RFC 4861 deletes an entry whose probes go unanswered, and a full cache
// makes room by evicting a STALE entry.
//
// The cache sends nothing itself: callers get the solicitations to send
// and the packets to release through callbacks (which must not call back
// into the cache), and build solicitations with wire/ndp.h.
//
// Used by Ipv6Layer (lib/ip/ipv6_layer.h); docs/architecture.md "Dual stack".
#include <cstdint>
#include <optional>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "wire/ethernet.h"
#include "wire/ipv6.h"

namespace tern {

struct NeighborCacheConfig {
  // ReachableTime (§6.3.2): the caller draws it from BaseReachableTime
  // (30 s) times a uniform 0.5..1.5 and redraws it now and then; the cache
  // takes the value it is given, so tests stay deterministic.
  Duration reachable_time = Duration::s(30);
  Duration retrans_timer = Duration::ms(1000);  // RetransTimer (§10)
  Duration delay_first_probe = Duration::s(5);  // DELAY_FIRST_PROBE_TIME (§10)
  std::uint8_t max_multicast_solicit = 3;       // MAX_MULTICAST_SOLICIT: NSs while INCOMPLETE
  std::uint8_t max_unicast_solicit = 3;         // MAX_UNICAST_SOLICIT: NSs while PROBE
  std::uint32_t cache_size = 1024;              // entries
  std::uint32_t max_pending = 64;               // parked packets, per worker (as [arp] pending_packets)
  // §7.2.2: a small queue per neighbour; when it overflows the newest
  // replaces the oldest.
  std::uint32_t max_pending_per_entry = 16;
};

enum class NeighborState : std::uint8_t { kIncomplete, kReachable, kStale, kDelay, kProbe };

std::string_view neighbor_state_name(NeighborState s) noexcept;

// What a Neighbour Advertisement said (§7.2.5).
struct NeighborAdvert {
  std::optional<MacAddr> target_lla;
  bool solicited = false;
  bool override_ = false;
};

class NeighborCache {
 public:
  NeighborCache(const NeighborCacheConfig& cfg, Counters& counters);
  ~NeighborCache();
  NeighborCache(const NeighborCache&) = delete;
  NeighborCache& operator=(const NeighborCache&) = delete;

  // Sending to `addr` (§7.3.3): the MAC to use, or nullptr when the caller
  // must park() the packet. A STALE entry is used and moves to DELAY.
  const MacAddr* lookup_for_send(const Ipv6Addr& addr, Instant now) noexcept;

  enum class Park : std::uint8_t {
    kQueuedSendSolicit,  // new INCOMPLETE entry: send a multicast NS now
    kQueued,             // a solicitation is outstanding
    kDropped,            // pool exhausted or no room for an entry (NdQueueFull)
  };
  // Keeps `frame` until `addr` resolves. Precondition: lookup_for_send()
  // returned nullptr for `addr` at `now`.
  Park park(const Ipv6Addr& addr, Mbuf frame, Instant now) noexcept;

  // A Neighbour Advertisement for `target` (§7.2.5). Without an entry it is
  // ignored. Packets parked for `target` go to release(Mbuf, const MacAddr&).
  template <class Release>
  void on_advert(const Ipv6Addr& target, const NeighborAdvert& na, Instant now, Release&& release) noexcept;

  // A Neighbour Solicitation, Router Solicitation or Advertisement from
  // `addr` with a Source Link-Layer Address option (§7.2.3, §6.3.4): creates
  // a STALE entry, or updates one whose address differs (to STALE).
  template <class Release>
  void on_source_lla(const Ipv6Addr& addr, const MacAddr& mac, Instant now, Release&& release) noexcept;

  // The MAC of a REACHABLE `addr` and when it stops being REACHABLE, for a
  // cached frame prefix (lib/ip/frame_prefix.h): sending to it changes no
  // state until then (§7.3.3). nullptr in any other state.
  const MacAddr* lookup_reachable(const Ipv6Addr& addr, Instant now, Instant& reachable_until) const noexcept;
  // Bumped whenever an entry's MAC changes or it leaves REACHABLE other
  // than by its time running out (FramePrefix::generation), and by
  // invalidate_prefixes().
  const std::uint32_t* generation() const noexcept { return &generation_; }
  // For the IP layer: what prefixes bake in besides the neighbour changed.
  void invalidate_prefixes() noexcept { ++generation_; }

  // Forward progress from an upper layer (§7.3.1: e.g. new data ACKed by
  // TCP) confirms `addr` REACHABLE, unless it is INCOMPLETE or unknown.
  void confirm(const Ipv6Addr& addr, Instant now) noexcept;

  // Runs the entries whose timer is due: an INCOMPLETE entry retransmits its
  // multicast NS, solicit(addr, nullptr), or after max_multicast_solicit
  // unanswered ones is deleted and its parked packets go to
  // unresolved(Mbuf) (counted NdUnresolved; the caller may answer each
  // with ICMPv6 Address Unreachable, §7.2.2, and frees it); DELAY moves to
  // PROBE and PROBE sends unicast NSs, solicit(addr, &mac), deleting the
  // entry after max_unicast_solicit unanswered ones.
  template <class Solicit, class Unresolved>
  void on_timer(Instant now, Solicit&& solicit, Unresolved&& unresolved) noexcept;

  // The earliest time on_timer() has work, Instant::max() if none.
  Instant next_deadline() const noexcept;

  // For tests and telemetry: the state of `addr` at `now`, nullopt if none.
  std::optional<NeighborState> state(const Ipv6Addr& addr, Instant now) const noexcept;
  const MacAddr* cached_mac(const Ipv6Addr& addr) const noexcept;
  std::size_t size() const noexcept { return used_; }
  std::size_t pending_frames() const noexcept { return pending_used_; }
  std::size_t pending_frames(const Ipv6Addr& addr) const noexcept;

 private:
  struct Entry {
    Ipv6Addr addr{};
    bool used = false;
    bool timed = false;  // listed in timed_
    NeighborState state = NeighborState::kIncomplete;
    std::uint8_t solicits_left = 0;  // INCOMPLETE / PROBE: NSs still to send
    MacAddr mac{};
    Instant deadline{};      // REACHABLE: stale after; INCOMPLETE/PROBE: next NS; DELAY: first probe
    std::int32_t head = -1;  // parked packets, FIFO through Parked::next
    std::int32_t tail = -1;
    std::uint32_t parked = 0;
  };
  struct Parked {
    rte_mbuf* frame = nullptr;
    std::int32_t next = -1;
  };

  std::size_t home(const Ipv6Addr& a) const noexcept;
  Entry* find(const Ipv6Addr& a) noexcept;
  const Entry* find(const Ipv6Addr& a) const noexcept;
  Entry* insert(const Ipv6Addr& a, Instant now) noexcept;
  bool evict_stale(Instant now) noexcept;
  void erase(Entry& e) noexcept;
  // REACHABLE past its deadline reads as STALE (§7.3.3): applied lazily.
  static void age(Entry& e, Instant now) noexcept {
    if (e.state == NeighborState::kReachable && now >= e.deadline) e.state = NeighborState::kStale;
  }
  void arm(Entry& e) noexcept;
  void set_reachable(Entry& e, Instant now) noexcept;
  std::int32_t pop_parked(Entry& e) noexcept;  // the oldest parked packet's slot
  template <class Fn>
  void drain_parked(Entry& e, Fn&& fn) noexcept;
  template <class Release>
  void resolved(Entry& e, const MacAddr& mac, NeighborState state, Instant now, Release&& release) noexcept;

  NeighborCacheConfig cfg_;
  Counters& counters_;
  std::vector<Entry> entries_;  // size: power of two >= 2 * cache_size
  std::size_t mask_ = 0;
  std::size_t used_ = 0;
  std::vector<Parked> parked_;
  std::int32_t free_parked_ = -1;
  std::size_t pending_used_ = 0;
  std::vector<Ipv6Addr> timed_;  // entries with a timer (INCOMPLETE, DELAY, PROBE); stale ones skipped
  std::uint32_t generation_ = 0;
};

// ---- templates -------------------------------------------------------------

template <class Fn>
void NeighborCache::drain_parked(Entry& e, Fn&& fn) noexcept {
  while (e.head >= 0) {
    const std::int32_t i = pop_parked(e);
    Parked& p = parked_[static_cast<std::size_t>(i)];
    rte_mbuf* frame = p.frame;
    p.frame = nullptr;
    p.next = free_parked_;
    free_parked_ = i;
    fn(Mbuf{frame});
  }
}

template <class Release>
void NeighborCache::resolved(Entry& e, const MacAddr& mac, NeighborState state, Instant now,
                             Release&& release) noexcept {
  counters_.inc(Counter::kNdResolved);
  ++generation_;
  e.mac = mac;
  if (state == NeighborState::kReachable) {
    set_reachable(e, now);
  } else {
    e.state = state;
  }
  drain_parked(e, [&](Mbuf f) { release(std::move(f), e.mac); });
}

template <class Release>
void NeighborCache::on_advert(const Ipv6Addr& target, const NeighborAdvert& na, Instant now,
                              Release&& release) noexcept {
  Entry* e = find(target);
  if (e == nullptr) return;  // §7.2.5: no entry, silently discarded
  if (e->state == NeighborState::kIncomplete) {
    if (!na.target_lla) return;  // nothing to resolve with
    resolved(*e, *na.target_lla, na.solicited ? NeighborState::kReachable : NeighborState::kStale, now,
             release);
    return;
  }
  age(*e, now);
  const bool differs = na.target_lla && *na.target_lla != e->mac;
  if (!na.override_ && differs) {
    // A different address without Override: believed only as far as
    // doubting the one we have.
    if (e->state == NeighborState::kReachable) {
      e->state = NeighborState::kStale;
      ++generation_;
    }
    return;
  }
  if (differs) {  // §7.2.5: Override, the new address replaces the cached one
    e->mac = *na.target_lla;
    ++generation_;
  }
  if (na.solicited) {
    set_reachable(*e, now);
  } else if (differs) {
    e->state = NeighborState::kStale;
  }
}

template <class Release>
void NeighborCache::on_source_lla(const Ipv6Addr& addr, const MacAddr& mac, Instant now,
                                  Release&& release) noexcept {
  Entry* e = find(addr);
  if (e == nullptr) {
    e = insert(addr, now);
    if (e == nullptr) return;  // full of entries in use: learning is optional
    e->mac = mac;
    e->state = NeighborState::kStale;
    return;
  }
  if (e->state == NeighborState::kIncomplete) {
    resolved(*e, mac, NeighborState::kStale, now, release);
    return;
  }
  if (mac != e->mac) {
    e->mac = mac;
    e->state = NeighborState::kStale;
    ++generation_;
  }
}

template <class Solicit, class Unresolved>
void NeighborCache::on_timer(Instant now, Solicit&& solicit, Unresolved&& unresolved) noexcept {
  for (std::size_t i = 0; i < timed_.size();) {
    Entry* e = find(timed_[i]);
    const bool has_timer =
        e != nullptr && (e->state == NeighborState::kIncomplete || e->state == NeighborState::kDelay ||
                         e->state == NeighborState::kProbe);
    if (!has_timer) {
      if (e != nullptr) e->timed = false;
      timed_[i] = timed_.back();
      timed_.pop_back();
      continue;
    }
    if (now < e->deadline) {
      ++i;
      continue;
    }
    if (e->state == NeighborState::kDelay) {  // no confirmation came: probe (§7.3.3)
      e->state = NeighborState::kProbe;
      e->solicits_left = cfg_.max_unicast_solicit;
    }
    if (e->solicits_left == 0) {
      counters_.inc(Counter::kNdExpired);
      drain_parked(*e, [&](Mbuf f) {
        counters_.drop(Drop::kNdUnresolved);
        unresolved(std::move(f));
      });
      e->timed = false;
      timed_[i] = timed_.back();
      timed_.pop_back();
      erase(*e);
      continue;
    }
    --e->solicits_left;
    e->deadline = now + cfg_.retrans_timer;
    const Ipv6Addr addr = e->addr;
    const MacAddr mac = e->mac;
    const bool unicast = e->state == NeighborState::kProbe;
    ++i;
    solicit(addr, unicast ? &mac : nullptr);
  }
}

}  // namespace tern
