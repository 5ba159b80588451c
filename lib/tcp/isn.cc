#include "tcp/isn.h"

#include <span>

namespace tern {
namespace {

// Floor division, so instants before the epoch still tick forward evenly.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = a / b;
  if ((a % b) != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Seq32 IsnGenerator::isn(std::uint32_t laddr, std::uint16_t lport, std::uint32_t raddr, std::uint16_t rport,
                        Instant now) const noexcept {
  // The 4-tuple in a fixed big-endian layout, so the ISN does not depend on
  // the host's byte order.
  const std::array<std::uint8_t, 12> msg{
      static_cast<std::uint8_t>(laddr >> 24), static_cast<std::uint8_t>(laddr >> 16),
      static_cast<std::uint8_t>(laddr >> 8),  static_cast<std::uint8_t>(laddr),
      static_cast<std::uint8_t>(lport >> 8),  static_cast<std::uint8_t>(lport),
      static_cast<std::uint8_t>(raddr >> 24), static_cast<std::uint8_t>(raddr >> 16),
      static_cast<std::uint8_t>(raddr >> 8),  static_cast<std::uint8_t>(raddr),
      static_cast<std::uint8_t>(rport >> 8),  static_cast<std::uint8_t>(rport)};
  const auto f = static_cast<std::uint32_t>(siphash24(key_, msg));
  // M mod 2^32: the conversion from int64 is modular in C++20.
  const auto m = static_cast<std::uint32_t>(floor_div(now.ns_since_epoch(), kIsnTickNs));
  return Seq32{m} + f;
}

}  // namespace tern
