#pragma once
// Big-endian (network order) loads and stores on raw bytes. Everything on the
// wire is big-endian (RFC 791 Appendix B); these are the only place Tern turns
// wire bytes into host integers, so byte-order bugs have one home.
//
// Written as shifts rather than memcpy + bswap: GCC and clang both recognise
// the pattern and emit a single load + bswap (movbe), and it stays constexpr
// (store_be32 excepted at run time, below).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tern {

constexpr std::uint16_t load_be16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<std::uint16_t>(p[0]) << 8) |
                                    std::to_integer<std::uint16_t>(p[1]));
}

constexpr std::uint32_t load_be32(const std::byte* p) noexcept {
  return (std::to_integer<std::uint32_t>(p[0]) << 24) | (std::to_integer<std::uint32_t>(p[1]) << 16) |
         (std::to_integer<std::uint32_t>(p[2]) << 8) | std::to_integer<std::uint32_t>(p[3]);
}

// At run time one byte swap and one 2-byte store, as store_be32 (below):
// with byte stores GCC's store merging joins a header's neighbouring fields
// (the TCP ports; data offset, flags and window) into wider stores whose
// values it assembles byte by byte, a shift and an OR per byte.
constexpr void store_be16(std::byte* p, std::uint16_t v) noexcept {
  if (!std::is_constant_evaluated()) {
    const std::uint16_t be = std::endian::native == std::endian::little ? __builtin_bswap16(v) : v;
    std::memcpy(p, &be, sizeof be);
    return;
  }
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}

// At run time one byte swap and one 4-byte store: GCC's store merging
// joins the byte stores of two adjacent store_be32 calls (TSval, TSecr) into
// one 8-byte store whose value it assembles byte by byte, some 25
// instructions where two swaps and two stores do.
constexpr void store_be32(std::byte* p, std::uint32_t v) noexcept {
  if (!std::is_constant_evaluated()) {
    const std::uint32_t be = std::endian::native == std::endian::little ? __builtin_bswap32(v) : v;
    std::memcpy(p, &be, sizeof be);
    return;
  }
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>(v >> 16);
  p[2] = static_cast<std::byte>(v >> 8);
  p[3] = static_cast<std::byte>(v);
}

constexpr std::uint8_t load_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }

constexpr void store_u8(std::byte* p, std::uint8_t v) noexcept { *p = static_cast<std::byte>(v); }

}  // namespace tern
