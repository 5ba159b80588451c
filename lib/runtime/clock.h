#pragma once
// The runtime's only clock: read once per worker loop iteration and passed
// down as `now`. The engine never calls it.
#include <rte_cycles.h>

#include <cstdint>

#include "base/instant.h"

namespace tern {

// TSC cycles to nanoseconds by one 64x64->128-bit multiplication and a
// shift: ns = cycles * mult >> 32 with mult = 10^9 * 2^32 / hz, rounded to
// nearest. Dividing instead (cycles / hz, cycles % hz, then a third division)
// cost three 64-bit divisions on every loop iteration, some 100 cycles. The
// rounding of mult makes this clock run fast or slow by at most 0.5 / mult
// relative (0.25 ns per second at 2 GHz, 1.2 at 10 GHz), and the shift
// truncates below 1 ns: a scale error, still monotonic and steady, which is
// all the engine needs.
// GCC and Clang both have a 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ using Uint128 = unsigned __int128;

class CyclesToNs {
 public:
  explicit constexpr CyclesToNs(std::uint64_t hz) noexcept
      : mult_(static_cast<std::uint64_t>(((static_cast<Uint128>(1'000'000'000u) << 32) + hz / 2) / hz)) {}
  constexpr std::uint64_t operator()(std::uint64_t cycles) const noexcept {
    return static_cast<std::uint64_t>((static_cast<Uint128>(cycles) * mult_) >> 32);
  }

 private:
  std::uint64_t mult_;
};

class TscClock {
 public:
  TscClock() noexcept : to_ns_(rte_get_tsc_hz()), start_(rte_get_tsc_cycles()) {}
  Instant now() const noexcept {
    return Instant::from_ns(static_cast<std::int64_t>(to_ns_(rte_get_tsc_cycles() - start_)));
  }

 private:
  CyclesToNs to_ns_;
  std::uint64_t start_;
};

}  // namespace tern
