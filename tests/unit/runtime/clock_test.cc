// The worker clock's cycles-to-nanoseconds conversion (multiply and shift)
// against exact division.
#include "runtime/clock.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace tern {
namespace {

std::uint64_t exact_ns(std::uint64_t cycles, std::uint64_t hz) {
  return static_cast<std::uint64_t>(static_cast<Uint128>(cycles) * 1'000'000'000u / hz);
}

TEST(CyclesToNs, AgreesWithDivisionWithinTheStatedScaleError) {
  for (const std::uint64_t hz : {1'000'000'000ull, 2'100'000'000ull, 2'995'123'457ull, 3'700'000'001ull,
                                 10'000'000'000ull, 25'000'000ull}) {
    const CyclesToNs to_ns(hz);
    for (const std::uint64_t seconds : {0ull, 1ull, 60ull, 3600ull, 86'400ull, 30ull * 86'400ull}) {
      for (const std::uint64_t extra : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{12'345}, hz / 3}) {
        const std::uint64_t cycles = seconds * hz + extra;
        const std::uint64_t want = exact_ns(cycles, hz);
        const std::uint64_t got = to_ns(cycles);
        // 0.5 / mult relative, mult = 10^9 * 2^32 / hz; plus 1 ns of truncation.
        const double bound = 1.0 + static_cast<double>(want) * 0.5 * static_cast<double>(hz) / 4.294967296e18;
        const double diff = got > want ? static_cast<double>(got - want) : static_cast<double>(want - got);
        EXPECT_LE(diff, bound) << "hz " << hz << " cycles " << cycles;
      }
    }
  }
}

TEST(CyclesToNs, IsMonotonic) {
  const CyclesToNs to_ns(2'100'000'000ull);
  std::uint64_t last = 0;
  for (std::uint64_t c = 0; c < 100'000; c += 7) {
    const std::uint64_t ns = to_ns(c);
    EXPECT_GE(ns, last);
    last = ns;
  }
  EXPECT_EQ(to_ns(2'100'000'000ull), 1'000'000'000u);
}

}  // namespace
}  // namespace tern
