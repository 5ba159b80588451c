#pragma once
// The body of /bytes/N: byte i is pattern_block()[i % kPatternPeriod], a
// block of an LCG's bytes. The period is prime, so a segment delivered at
// the wrong offset does not repeat the right bytes. Tests regenerate it:
//   x = 1; for k in range(65521): x = (x * 1103515245 + 12345) & 0x7fffffff; b[k] = (x >> 16) & 0xff
#include <array>
#include <cstddef>
#include <cstdint>

namespace tern::http {

inline constexpr std::size_t kPatternPeriod = 65521;

inline const std::array<std::byte, kPatternPeriod>& pattern_block() noexcept {
  static const auto block = [] {
    std::array<std::byte, kPatternPeriod> b{};
    std::uint32_t x = 1;
    for (auto& v : b) {
      x = (x * 1103515245u + 12345u) & 0x7fffffffu;
      v = static_cast<std::byte>((x >> 16) & 0xff);
    }
    return b;
  }();
  return block;
}

}  // namespace tern::http
