#include "tcp/siphash.h"

#include <bit>
#include <cstddef>
#include <cstring>

namespace tern {
namespace {

// Little-endian loads: the byte order is part of the algorithm, not of the
// host. One 8-byte load (and a swap on a big-endian host): GCC did not turn
// the byte-by-byte loop into one, and it cost 48 instructions per word.
std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

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
};

}  // namespace

SipKey::SipKey(const std::array<std::uint8_t, 16>& bytes) noexcept
    : k0_(load_le64(bytes.data())), k1_(load_le64(bytes.data() + 8)) {}

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> msg) noexcept {
  // Initialisation: the key xored with the constants "somepseudorandomlygeneratedbytes".
  SipState s{key.k0() ^ 0x736f6d6570736575ULL, key.k1() ^ 0x646f72616e646f6dULL,
             key.k0() ^ 0x6c7967656e657261ULL, key.k1() ^ 0x7465646279746573ULL};

  const std::size_t full = msg.size() & ~std::size_t{7};
  for (std::size_t i = 0; i < full; i += 8) s.compress(load_le64(msg.data() + i));

  // The last word holds the 0..7 remaining bytes (little-endian) and the
  // message length mod 256 in its top byte, so messages that differ only in
  // trailing zero bytes hash apart.
  std::uint64_t last = static_cast<std::uint64_t>(msg.size() & 0xff) << 56;
  const std::size_t rest = msg.size() - full;
  if (rest != 0 && msg.size() >= 8) {
    // The message's last 8 bytes in one load, shifted down to its last
    // `rest`: the same word as the loop below builds.
    last |= load_le64(msg.data() + msg.size() - 8) >> (8 * (8 - rest));
  } else {
    for (std::size_t i = full; i < msg.size(); ++i)
      last |= static_cast<std::uint64_t>(msg[i]) << (8 * (i - full));
  }
  s.compress(last);

  // Finalisation: d = 4 rounds after marking v2.
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace tern
