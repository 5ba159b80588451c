#include "tcp/siphash.h"

#include <bit>
#include <cstddef>
#include <cstring>

namespace tern {
using siphash_detail::load_le64;

SipKey::SipKey(const std::array<std::uint8_t, 16>& bytes) noexcept
    : k0_(load_le64(bytes.data())), k1_(load_le64(bytes.data() + 8)) {}

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> msg) noexcept {
  return siphash_detail::hash_bytes(key, msg.data(), msg.size());
}

}  // namespace tern
