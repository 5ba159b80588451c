#pragma once
// Initial sequence numbers, RFC 6528 §3:
//
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// M is a timer ticking every 4 microseconds (RFC 9293 §3.4.1's clock), so a
// new incarnation of a connection starts above where the old one's sequence
// space was at the same time and old duplicates are unlikely to fall in the
// new window. F is a keyed PRF (SipHash-2-4 here) so that an off-path attacker
// who can open connections of their own still cannot predict the ISN of
// somebody else's 4-tuple (RFC 6528 §1, the Morris/Mitnick attack).
//
// Pure and clock-free: the caller passes `now`; the key comes from the caller
// too (the runtime draws it from rte_rand / getrandom at start-up; tests fix
// it). One generator per worker, no shared state.
#include <array>
#include <cstdint>

#include "base/instant.h"
#include "tcp/seq.h"
#include "tcp/siphash.h"
#include "tern/ip_addr.h"

namespace tern {

// RFC 6528 §3 / RFC 9293 §3.4.1: M increments once every 4 us.
inline constexpr std::int64_t kIsnTickNs = 4'000;

class IsnGenerator {
 public:
  explicit IsnGenerator(const std::array<std::uint8_t, 16>& key) noexcept : key_(key) {}

  // Addresses of one family, ports in host byte order. `now` is any
  // monotonic instant; M is floor(now / 4 us) mod 2^32, so it wraps every
  // ~4.77 hours like the RFC's 32-bit clock. F covers the 4-tuple: for IPv4
  // the 32-bit addresses (12 bytes hashed), for IPv6 the 128-bit ones
  // (36 bytes).
  Seq32 isn(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr, std::uint16_t rport,
            Instant now) const noexcept {
    return Seq32{clock_m(now)} + secrets(laddr, lport, raddr, rport).isn_f;
  }
  // What one SipHash-2-4 of the tuple gives a new connection: its low 32
  // bits are F above, its high 32 bits the TSval offset (RFC 7323 §5.4), so
  // a connection pays one hash for both, not two. Disjoint bits of one PRF
  // output are independent: an observer who learns F from the ISS (less M)
  // learns nothing of the offset from TSval, and the reverse. Clock-free,
  // so a SYN-cookie handshake finds the same offset again from the tuple.
  struct TupleSecrets {
    std::uint32_t isn_f = 0;
    std::uint32_t ts_offset = 0;
  };
  TupleSecrets secrets(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr,
                       std::uint16_t rport) const noexcept;
  // M: floor(now / 4 us) mod 2^32.
  static std::uint32_t clock_m(Instant now) noexcept;

  // IPv4, host byte order.
  Seq32 isn(std::uint32_t laddr, std::uint16_t lport, std::uint32_t raddr, std::uint16_t rport,
            Instant now) const noexcept {
    return isn(IpAddr::v4(laddr), lport, IpAddr::v4(raddr), rport, now);
  }

 private:
  SipKey key_;
};

}  // namespace tern
