#pragma once
// The TCP checksum's pseudo-header sum for either family: RFC 9293 §3.1
// (IPv4: addresses, zero, protocol, TCP length) or RFC 8200 §8.1 (IPv6:
// addresses, upper-layer length, zeros, next header). Unfinished, so it
// composes with ChecksumAccumulator; checksum_fold() of it is what
// RTE_MBUF_F_TX_TCP_CKSUM wants in the checksum field.
#include <cstdint>

#include "tcp/time_wait.h"  // addr_is_v4, addr_v4_host
#include "tern/ip_addr.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

namespace tern {

// `src` and `dst` of one family; `len` the TCP header and payload.
inline std::uint32_t tcp_pseudo_header_sum(const IpAddr& src, const IpAddr& dst, std::uint32_t len) noexcept {
  if (addr_is_v4(src)) {
    return pseudo_header_sum(addr_v4_host(src), addr_v4_host(dst), kIpProtoTcp,
                             static_cast<std::uint16_t>(len));
  }
  return ipv6_pseudo_header_sum(Ipv6Addr{src.bytes()}, Ipv6Addr{dst.bytes()}, len, kIpProtoTcp);
}

}  // namespace tern
