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
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

namespace siphash_detail {

// Little-endian loads: the byte order is part of the algorithm, not of the
// host. One 8-byte load (and a swap on a big-endian host): GCC did not turn
// the byte-by-byte loop into one, and it cost 48 instructions per word.
inline std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  // Initialisation: the key xored with the constants "somepseudorandomlygeneratedbytes".
  explicit SipState(const SipKey& key) noexcept
      : v0(key.k0() ^ 0x736f6d6570736575ULL),
        v1(key.k1() ^ 0x646f72616e646f6dULL),
        v2(key.k0() ^ 0x6c7967656e657261ULL),
        v3(key.k1() ^ 0x7465646279746573ULL) {}

  // One SipRound: the ARX network of the paper's §2 (add, rotate, xor), with
  // rotation distances 13, 16, 21, 17 and the two half-word rotations by 32.
  void round() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // Compression: each message word enters v3, goes through c = 2 rounds and
  // is then folded into v0.
  void compress(std::uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }

  // Finalisation: d = 4 rounds after marking v2.
  std::uint64_t finish() noexcept {
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

// The whole function over `n` bytes at `msg`, inline so that a caller with
// a length known when compiling (siphash24_fixed) gets the word loop
// unrolled and the last word's branch decided, while siphash24 keeps one
// out-of-line copy of the same code.
[[gnu::always_inline]] inline std::uint64_t hash_bytes(const SipKey& key, const std::uint8_t* msg,
                                                       std::size_t n) noexcept {
  SipState s{key};
  const std::size_t full = n & ~std::size_t{7};
  for (std::size_t i = 0; i < full; i += 8) s.compress(load_le64(msg + i));
  // The last word holds the 0..7 remaining bytes (little-endian) and the
  // message length mod 256 in its top byte, so messages that differ only in
  // trailing zero bytes hash apart.
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  const std::size_t rest = n - full;
  if (rest != 0 && n >= 8) {
    // The message's last 8 bytes in one load, shifted down to its last
    // `rest`: the same word as the loop below builds.
    last |= load_le64(msg + n - 8) >> (8 * (8 - rest));
  } else {
    for (std::size_t i = full; i < n; ++i) last |= static_cast<std::uint64_t>(msg[i]) << (8 * (i - full));
  }
  s.compress(last);
  return s.finish();
}

}  // namespace siphash_detail

// The same function of a message whose length N is known when compiling
// (RFC 6528's F over an IPv4 tuple: 12 bytes, an IPv6 one: 36), inline:
// the word loop unrolls and the final word's shape is fixed, where the span
// version loops, branches on the tail and is a call (one per new
// connection, twice per connection set up between two Tern stacks).
template <std::size_t N>
inline std::uint64_t siphash24_fixed(const SipKey& key, const std::uint8_t (&msg)[N]) noexcept {
  return siphash_detail::hash_bytes(key, msg, N);
}

}  // namespace tern
