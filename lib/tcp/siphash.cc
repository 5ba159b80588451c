#include "tcp/siphash.h"

#include <bit>
#include <cstddef>
#include <cstring>

namespace tern {
using siphash_detail::load_le64;
using siphash_detail::SipState;

SipKey::SipKey(const std::array<std::uint8_t, 16>& bytes) noexcept
    : k0_(load_le64(bytes.data())), k1_(load_le64(bytes.data() + 8)) {}

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> msg) noexcept {
  SipState s{key};

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
  return s.finish();
}

}  // namespace tern
