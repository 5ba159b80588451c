#pragma once
// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed 64-bit PRF built for short inputs such as a TCP 4-tuple.
// Tern uses it as F() for RFC 6528 initial sequence numbers and as the MAC of
// SYN cookies (RFC 4987 §3.6). Both need a function an off-path attacker
// cannot predict without the key; a plain hash (CRC, Toeplitz) is not enough,
// and MD5 (RFC 6528's example) is slower and no better for this purpose.
//
// Written from the paper's description: 2 compression rounds per 8-byte
// word, 4 finalisation rounds, 128-bit key, 64-bit output.
#include <array>
#include <cstdint>
#include <span>

namespace tern {

// The key as the two little-endian 64-bit words k0 and k1 the paper works
// on; decoded once so each hash starts from the words.
class SipKey {
 public:
  constexpr SipKey() noexcept = default;
  explicit SipKey(const std::array<std::uint8_t, 16>& bytes) noexcept;

  std::uint64_t k0() const noexcept { return k0_; }
  std::uint64_t k1() const noexcept { return k1_; }

 private:
  std::uint64_t k0_ = 0;
  std::uint64_t k1_ = 0;
};

// SipHash-2-4 of `msg` under `key`. The 64-bit result is the paper's output
// as an integer; the paper's test vectors print it as 8 little-endian bytes.
std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> msg) noexcept;

}  // namespace tern
