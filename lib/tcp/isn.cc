#include "tcp/isn.h"

#include <span>

#include "tcp/time_wait.h"  // addr_is_v4

namespace tern {
namespace {

// Floor division, so instants before the epoch still tick forward evenly.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = a / b;
  if ((a % b) != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Seq32 IsnGenerator::isn(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr, std::uint16_t rport,
                        Instant now) const noexcept {
  // The 4-tuple in a fixed big-endian layout, so the ISN does not depend on
  // the host's byte order: address, port, address, port. An IPv4 tuple
  // hashes its 32-bit addresses only (12 bytes, two SipHash compressions
  // rather than five).
  std::array<std::uint8_t, 36> msg{};
  std::size_t n = 0;
  auto put = [&](const IpAddr& a, std::uint16_t port) {
    const auto& b = a.bytes();
    for (std::size_t i = addr_is_v4(a) ? 12 : 0; i < 16; ++i) msg[n++] = b[i];
    msg[n++] = static_cast<std::uint8_t>(port >> 8);
    msg[n++] = static_cast<std::uint8_t>(port);
  };
  put(laddr, lport);
  put(raddr, rport);
  const auto f = static_cast<std::uint32_t>(siphash24(key_, std::span<const std::uint8_t>{msg.data(), n}));
  // M mod 2^32: the conversion from int64 is modular in C++20.
  const auto m = static_cast<std::uint32_t>(floor_div(now.ns_since_epoch(), kIsnTickNs));
  return Seq32{m} + f;
}

}  // namespace tern
