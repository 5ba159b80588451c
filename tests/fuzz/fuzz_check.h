#pragma once
// Shared by the libFuzzer targets. A failed FUZZ_CHECK is a bug the fuzzer
// found: trap so libFuzzer records the input as a crash, in any build type
// (assert() would vanish with NDEBUG).
#include <cstddef>
#include <cstdint>
#include <span>

#define FUZZ_CHECK(cond)                        \
  do {                                          \
    if (!(cond)) __builtin_trap(); /* NOLINT */ \
  } while (0)

namespace tern::fuzz {

// True when `inner` lies entirely inside `outer`: a view must never hand out
// bytes it did not validate.
inline bool within(std::span<const std::byte> inner, std::span<const std::byte> outer) {
  const auto* b = inner.data();
  const auto* e = inner.data() + inner.size();
  return inner.empty() || (b >= outer.data() && e <= outer.data() + outer.size() && b <= e);
}

// Reads every byte of a span so ASan sees any out-of-bounds view.
inline std::uint32_t touch(std::span<const std::byte> s) {
  std::uint32_t x = 0;
  for (std::byte b : s) x += std::to_integer<std::uint32_t>(b);
  return x;
}

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

}  // namespace tern::fuzz
