#pragma once
// Helpers that let wire tests spell packets as hex dumps, the way they appear
// in tcpdump -xx or Wireshark, and make seeded random payloads.
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

namespace tern::testing {

// "45 00 00 54" -> bytes. Whitespace is ignored; anything else non-hex is a
// bug in the test and aborts it.
inline std::vector<std::byte> hex(std::string_view s) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> out;
  int hi = -1;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    const int v = nibble(c);
    if (v < 0) std::abort();
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) std::abort();
  return out;
}

inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng() & 0xFF);
  return v;
}

inline std::vector<std::byte> concat(std::initializer_list<std::span<const std::byte>> parts) {
  std::vector<std::byte> out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

constexpr std::uint32_t ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return static_cast<std::uint32_t>(a) << 24 | static_cast<std::uint32_t>(b) << 16 |
         static_cast<std::uint32_t>(c) << 8 | d;
}

// A 74-byte TCP SYN as Linux sends it, 10.0.0.1:40000 -> 10.0.0.2:80,
// seq 0x12345678, window 64240, options MSS 1460, SACK-permitted,
// TS val 0x0009a3b1 ecr 0, NOP, window scale 7. Checksums computed with an
// independent implementation (Python, RFC 1071 by the letter).
inline std::vector<std::byte> linux_syn_frame() {
  return hex(
      "02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00"
      "00 3c 8f 2a 40 00 40 06 97 8f 0a 00 00 01 0a 00"
      "00 02 9c 40 00 50 12 34 56 78 00 00 00 00 a0 02"
      "fa f0 90 15 00 00 02 04 05 b4 04 02 08 0a 00 09"
      "a3 b1 00 00 00 00 01 03 03 07");
}

// A 98-byte ICMP Echo Request, 10.0.0.1 -> 10.0.0.2, id 0x0d05 seq 1, with
// Linux ping's 56 data bytes (a 16-byte struct timeval, then 0x10..0x37).
inline std::vector<std::byte> ping_frame() {
  return hex(
      "02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00"
      "00 54 1c 46 40 00 40 01 0a 61 0a 00 00 01 0a 00"
      "00 02 08 00 98 26 0d 05 00 01 4c e8 a2 65 00 00"
      "00 00 a1 b2 03 00 00 00 00 00 10 11 12 13 14 15"
      "16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25"
      "26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35"
      "36 37");
}

}  // namespace tern::testing
