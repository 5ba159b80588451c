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
  // rather than five). Each family's message has a fixed length, so the
  // hash is siphash24_fixed's, inline and unrolled: the same function as
  // siphash24 of the bytes (isn_test.cc checks the two agree).
  auto put = [](std::uint8_t* out, const IpAddr& a, std::size_t len, std::uint16_t port) {
    // The address as stored, network order: fixed-size copies, not a byte loop.
    std::memcpy(out, a.bytes().data() + (16 - len), len);
    out[len] = static_cast<std::uint8_t>(port >> 8);
    out[len + 1] = static_cast<std::uint8_t>(port);
  };
  std::uint64_t h;
  if (addr_is_v4(laddr)) {
    std::uint8_t msg[12];
    put(msg, laddr, 4, lport);
    put(msg + 6, raddr, 4, rport);
    h = siphash24_fixed(key_, msg);
  } else {
    std::uint8_t msg[36];
    put(msg, laddr, 16, lport);
    put(msg + 18, raddr, 16, rport);
    h = siphash24_fixed(key_, msg);
  }
  return TupleSecrets{static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(h >> 32)};
}

std::uint32_t IsnGenerator::clock_m(Instant now) noexcept {
  // M mod 2^32: the conversion from int64 is modular in C++20.
  return static_cast<std::uint32_t>(floor_div(now.ns_since_epoch(), kIsnTickNs));
}

}  // namespace tern
