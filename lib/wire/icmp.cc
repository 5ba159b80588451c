#include "wire/icmp.h"

#include <cassert>
#include <cstring>

#include "wire/checksum.h"

namespace tern {

Parsed<IcmpHeader> IcmpHeader::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kIcmpHeaderLen) return ParseError::kTruncated;
  return IcmpHeader{b};
}

bool IcmpHeader::checksum_ok() const noexcept { return internet_checksum(msg_) == 0; }

void write_icmp_echo_reply(std::span<std::byte> out, const IcmpHeader& request) noexcept {
  const auto msg = request.message();
  assert(out.size() >= msg.size());
  std::memmove(out.data(), msg.data(), msg.size());
  const std::uint16_t old_type_code = load_be16(msg.data());
  const std::uint16_t new_type_code = static_cast<std::uint16_t>(kIcmpEchoReply << 8);  // code 0
  store_be16(out.data(), new_type_code);
  std::uint16_t sum = checksum_adjust(request.checksum(), old_type_code, new_type_code);
  // RFC 1624 eqn 3 yields 0x0000 only when the new one's-complement sum is
  // 0xFFFF or 0. 0xFFFF is valid too in the first case and the only valid
  // value in the second (an all-zero message), so it is always safe.
  if (sum == 0) sum = 0xFFFF;
  store_be16(out.data() + 2, sum);
}

}  // namespace tern
