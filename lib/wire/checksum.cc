#include "wire/checksum.h"

#include <bit>
#include <cstring>

namespace tern {
namespace {

// Adds with end-around carry: one's-complement addition on 64-bit words.
// Compiles to add + adc.
inline std::uint64_t add_oc(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r = 0;
  const bool carry = __builtin_add_overflow(a, b, &r);
  return r + static_cast<std::uint64_t>(carry);
}

inline std::uint64_t load_native64(const std::byte* p) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

inline std::uint16_t fold64(std::uint64_t s) noexcept {
  s = (s & 0xFFFFFFFF) + (s >> 32);
  s = (s & 0xFFFFFFFF) + (s >> 32);
  return checksum_fold(static_cast<std::uint32_t>(s));
}

// One's-complement sum of `n` bytes read as native-order 16-bit words, the
// last odd byte padded with zero (RFC 1071 §1), folded to 16 bits.
//
// RFC 1071 §2(A),(C): the sum is independent of byte order up to a final
// swap, and may be computed on wider words with carries folded back in.
// So we add native 64-bit words with end-around carry, four independent
// chains to keep the adders busy, and swap once at the end.
std::uint16_t sum_native(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (n >= 32) {
    a0 = add_oc(a0, load_native64(p));
    a1 = add_oc(a1, load_native64(p + 8));
    a2 = add_oc(a2, load_native64(p + 16));
    a3 = add_oc(a3, load_native64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    a0 = add_oc(a0, load_native64(p));
    p += 8;
    n -= 8;
  }
  // The tail, in pieces that each start at an even offset, so each is a
  // whole number of 16-bit words in native order (plus a final odd byte).
  if (n & 4) {
    std::uint32_t w = 0;
    std::memcpy(&w, p, sizeof(w));
    a1 = add_oc(a1, w);
    p += 4;
  }
  if (n & 2) {
    std::uint16_t w = 0;
    std::memcpy(&w, p, sizeof(w));
    a2 = add_oc(a2, w);
    p += 2;
  }
  if (n & 1) {
    // RFC 1071 §1: pad the odd byte with a zero on its right, making it the
    // high-order byte of a big-endian word.
    const auto b = std::to_integer<std::uint64_t>(*p);
    a3 = add_oc(a3, std::endian::native == std::endian::little ? b : b << 8);
  }
  return fold64(add_oc(add_oc(a0, a1), add_oc(a2, a3)));
}

}  // namespace

std::uint32_t checksum_partial_at(std::span<const std::byte> data, std::uint32_t sum,
                                  bool odd_offset) noexcept {
  const std::uint16_t native = sum_native(data.data(), data.size());
  // Big-endian words are what the caller's sum holds. On a little-endian host
  // the native sum is the byte-swapped big-endian sum; a chunk at an odd
  // offset needs one more swap (RFC 1071 §2(B)), which cancels the first.
  const bool swap = (std::endian::native == std::endian::little) != odd_offset;
  const std::uint32_t chunk =
      swap ? static_cast<std::uint16_t>((native >> 8) | (native << 8)) : static_cast<std::uint32_t>(native);
  // sum + chunk cannot overflow twice; fold with carries kept.
  const std::uint64_t total = static_cast<std::uint64_t>(sum) + chunk;
  return fold64(total);
}

std::uint32_t checksum_partial(std::span<const std::byte> data, std::uint32_t sum) noexcept {
  return checksum_partial_at(data, sum, false);
}

std::uint16_t internet_checksum(std::span<const std::byte> data) noexcept {
  return checksum_finish(checksum_partial(data));
}

}  // namespace tern
