#pragma once
// Path MTUs learned per destination (RFC 8201 §5.2, RFC 1191 §6.3): what a
// Packet Too Big or a Fragmentation Needed taught one connection is kept
// for the destination, so the next connection and every UDP datagram to it
// start from it instead of learning the path again with a round of packets
// too big. One table per worker (IpLayer's, both families), its slots
// allocated at start: no heap, lock or syscall per packet.
//
// Ageing (RFC 8201 §4, RFC 1191 §6.3): an estimate is never raised by a
// report; it expires `expires` after its last decrease (at least 5
// minutes, 10 by default: Linux's mtu_expires), and the link MTU is tried
// again, which is how a host without probing (RFC 4821) finds that a path
// grew.
//
// Layout: 4-way set-associative on a keyed hash of the address (a random
// seed per table, so a peer cannot aim its addresses at one set). A full
// set gives up its expired entry, else the one learned longest ago.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "base/counters.h"
#include "base/instant.h"
#include "tern/ip_addr.h"

namespace tern {

// The least path MTU a report may set. IPv6: RFC 8201 §4, a node MUST NOT
// go below the minimum link MTU, 1280 (RFC 8200 §5); a Packet Too Big
// reporting less means 1280. IPv4: Linux's min_pmtu, 552 (512 bytes of
// payload with 40 of headers); below it, and for an RFC 1191 §5 "old-style"
// report of 0, Linux clamps to it as well, so a forged tiny MTU cannot make
// a path crawl in tiny packets (RFC 5927 §7.2).
inline constexpr std::uint32_t kMinPmtu6 = 1280;
inline constexpr std::uint32_t kMinPmtu4 = 552;

// A reported MTU floored for the family of `dst`.
inline std::uint16_t floored_pmtu(const IpAddr& dst, std::uint32_t mtu) noexcept {
  const std::uint32_t floor = dst.is_v4() ? kMinPmtu4 : kMinPmtu6;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(mtu < floor ? floor : mtu, 0xFFFF));
}

// A path MTU and when it stops holding: a learned estimate's expiry, or
// Instant::max() for the link MTU (nothing learned). mtu 0: none known.
struct PathMtu {
  std::uint16_t mtu = 0;
  Instant expires = Instant::max();
};

class PathMtuCache {
 public:
  static constexpr std::uint32_t kWays = 4;

  // `entries` rounded up to a multiple of kWays; 0 keeps nothing (every
  // lookup answers the link MTU).
  PathMtuCache(std::uint32_t entries, Duration expires, Counters& counters);
  PathMtuCache(const PathMtuCache&) = delete;
  PathMtuCache& operator=(const PathMtuCache&) = delete;

  // The path MTU to `dst`: a learned one not yet expired (and below
  // `link_mtu`), else `link_mtu`. An expired entry is freed (PmtuExpired).
  std::uint16_t get(const IpAddr& dst, std::uint16_t link_mtu, Instant now) noexcept {
    return lookup(dst, link_mtu, now).mtu;
  }
  // The same with the instant it expires (Instant::max() for the link MTU):
  // a TCP connection that takes a learned estimate keeps it until then.
  PathMtu lookup(const IpAddr& dst, std::uint16_t link_mtu, Instant now) noexcept;
  // A report the caller accepted: `mtu` (already floored) becomes the
  // estimate for `dst` if it is lower than the current one (PmtuLearned),
  // and its 10 minutes start again. Returns whether it lowered it.
  bool lower(const IpAddr& dst, std::uint16_t mtu, std::uint16_t link_mtu, Instant now) noexcept;

  // Advances whenever lower() lowers an estimate (RFC 8201 §5.2: "all
  // packetization layer connections ... to that destination" must learn
  // it). Open TCP connections compare it with the value they last read, so
  // a decrease reaches them with one comparison per send instead of a
  // lookup; expiry needs no signal, as each holds its estimate's deadline.
  const std::uint32_t& generation() const noexcept { return generation_; }
  // The link MTU itself went down (an IPv6 Router Advertisement's MTU
  // option, RFC 4861 §6.3.4): every destination's estimate may be lower
  // now, so open connections must look again, as after lower().
  void link_mtu_lowered() noexcept { ++generation_; }

  std::uint32_t capacity() const noexcept { return sets_ * kWays; }
  // Entries held (expired ones not yet found included).
  std::uint32_t size() const noexcept { return used_; }

 private:
  struct Entry {
    IpAddr dst;
    Instant expires;
    std::uint16_t mtu = 0;  // 0: free
  };
  Entry* set_of(const IpAddr& dst) noexcept;

  std::uint32_t sets_;
  Duration expires_;
  Counters& counters_;
  std::uint64_t seed_;
  std::uint32_t used_ = 0;
  std::uint32_t generation_ = 0;
  std::unique_ptr<Entry[]> slots_;
};

}  // namespace tern
