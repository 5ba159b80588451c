#pragma once
// The runtime's only clock: read once per worker loop iteration and passed
// down as `now`. The engine never calls it.
#include <rte_cycles.h>

#include "base/instant.h"

namespace tern {

class TscClock {
 public:
  TscClock() noexcept : hz_(rte_get_tsc_hz()), start_(rte_get_tsc_cycles()) {}
  Instant now() const noexcept {
    // Split to stay within 64 bits: the remainder is below hz (< 2^33).
    const std::uint64_t cycles = rte_get_tsc_cycles() - start_;
    const std::uint64_t ns = cycles / hz_ * 1'000'000'000u + cycles % hz_ * 1'000'000'000u / hz_;
    return Instant::from_ns(static_cast<std::int64_t>(ns));
  }

 private:
  std::uint64_t hz_;
  std::uint64_t start_;
};

}  // namespace tern
