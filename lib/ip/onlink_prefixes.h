#pragma once
// The on-link prefixes Router Advertisements announce (RFC 4861 §6.3.4):
// a Prefix Information option with the L flag puts its prefix on the link
// for its valid lifetime, so destinations inside it are resolved and sent
// to directly, not through the default router (§5.2's next-hop
// determination). Fixed room and no heap: a new prefix that finds every
// slot taken by an unexpired one is refused, and the caller counts it.
// Addresses are not formed from these prefixes (no SLAAC, RFC 4862 §5.5.3).
#include <array>
#include <cstddef>
#include <cstdint>

#include "base/instant.h"
#include "wire/ipv6.h"

namespace tern {

class OnLinkPrefixes {
 public:
  static constexpr std::size_t kMax = 8;
  static constexpr std::uint32_t kInfinite = 0xFFFFFFFF;  // §4.6.2: "infinity"

  enum class Update : std::uint8_t { kAdded, kRefreshed, kRemoved, kIgnored, kFull };

  // One Prefix Information option whose L flag is set (§6.3.4): the
  // link-local prefix is ignored; a new prefix with a non-zero valid
  // lifetime is added, a known one gets the new lifetime, and a zero
  // lifetime takes a known prefix off the link at once.
  Update on_prefix(const Ipv6Addr& prefix, std::uint8_t len, std::uint32_t valid_lifetime_s,
                   Instant now) noexcept {
    if (len > 128 || prefix.is_link_local()) return Update::kIgnored;
    Entry* free = nullptr;
    for (Entry& e : e_) {
      if (live(e, now) && e.len == len && prefix.in_prefix(e.prefix, len)) {
        if (valid_lifetime_s == 0) {
          e.until = Instant{};
          return Update::kRemoved;
        }
        e.until = until(valid_lifetime_s, now);
        return Update::kRefreshed;
      }
      if (free == nullptr && !live(e, now)) free = &e;
    }
    if (valid_lifetime_s == 0) return Update::kIgnored;  // not known: nothing to time out
    if (free == nullptr) return Update::kFull;
    *free = Entry{prefix, len, until(valid_lifetime_s, now)};
    return Update::kAdded;
  }

  // Whether `dst` is inside a prefix whose lifetime has not run out.
  bool on_link(const Ipv6Addr& dst, Instant now) const noexcept {
    for (const Entry& e : e_)
      if (live(e, now) && dst.in_prefix(e.prefix, e.len)) return true;
    return false;
  }

  // While `dst` stays on the link for certain: the earliest expiry of the
  // live prefixes holding it (Instant{} if none does).
  Instant on_link_until(const Ipv6Addr& dst, Instant now) const noexcept {
    Instant first{};
    for (const Entry& e : e_)
      if (live(e, now) && dst.in_prefix(e.prefix, e.len) && (first == Instant{} || e.until < first))
        first = e.until;
    return first;
  }

  std::size_t size(Instant now) const noexcept {
    std::size_t n = 0;
    for (const Entry& e : e_) n += live(e, now) ? 1 : 0;
    return n;
  }

 private:
  struct Entry {
    Ipv6Addr prefix;
    std::uint8_t len = 0;
    Instant until{};  // expiry; Instant::max() for an infinite lifetime
  };
  static bool live(const Entry& e, Instant now) noexcept { return now < e.until; }
  static Instant until(std::uint32_t valid_lifetime_s, Instant now) noexcept {
    return valid_lifetime_s == kInfinite ? Instant::max() : now + Duration::s(valid_lifetime_s);
  }

  std::array<Entry, kMax> e_{};
};

}  // namespace tern
