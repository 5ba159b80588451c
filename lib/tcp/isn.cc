#include "tcp/isn.h"

#include <cstring>
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

IsnGenerator::TupleSecrets IsnGenerator::secrets(const IpAddr& laddr, std::uint16_t lport,
                                                 const IpAddr& raddr, std::uint16_t rport) const noexcept {
  // The 4-tuple in a fixed big-endian layout, so the ISN does not depend on
  // the host's byte order: address, port, address, port. An IPv4 tuple
  // hashes its 32-bit addresses only (12 bytes, two SipHash compressions
  // rather than five).
  std::array<std::uint8_t, 36> msg{};
  std::size_t n = 0;
  auto put = [&](const IpAddr& a, std::uint16_t port) {
    // The address as stored, network order: fixed-size copies, not a byte loop.
    if (addr_is_v4(a)) {
      std::memcpy(msg.data() + n, a.bytes().data() + 12, 4);
      n += 4;
    } else {
      std::memcpy(msg.data() + n, a.bytes().data(), 16);
      n += 16;
    }
    msg[n++] = static_cast<std::uint8_t>(port >> 8);
    msg[n++] = static_cast<std::uint8_t>(port);
  };
  put(laddr, lport);
  put(raddr, rport);
  const std::uint64_t h = siphash24(key_, std::span<const std::uint8_t>{msg.data(), n});
  return TupleSecrets{static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(h >> 32)};
}

std::uint32_t IsnGenerator::clock_m(Instant now) noexcept {
  // M mod 2^32: the conversion from int64 is modular in C++20.
  return static_cast<std::uint32_t>(floor_div(now.ns_since_epoch(), kIsnTickNs));
}

}  // namespace tern
