#pragma once
// A keyed multiply-xorshift mix for hash tables that take addresses from the
// network: the seed is drawn per table (rte_rand()), so a sender cannot aim
// many keys at one bucket without knowing it. Fold each 64-bit word of a
// key in turn, starting from the seed.
#include <cstdint>

namespace tern {

inline std::uint64_t keyed_mix(std::uint64_t h, std::uint64_t w) noexcept {
  h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 31);
}

}  // namespace tern
