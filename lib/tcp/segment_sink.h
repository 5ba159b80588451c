#pragma once
// The engine's one way out: where TcpStack puts each segment it builds, and
// what it asks of the IP layer below it (path MTU, neighbour reachability,
// prebuilt frame prefixes). lib/tcp/ip_glue.h is the IP layer's side.
#include <rte_mbuf.h>

#include <cstdint>

#include "base/instant.h"
#include "base/mbuf.h"
#include "ip/frame_prefix.h"
#include "ip/pmtu_cache.h"
#include "tcp/time_wait.h"  // FourTuple
#include "tern/ip_addr.h"

namespace tern {

// Where the engine puts segments to transmit: a TCP header + payload chain
// with at least kSegmentHeadroom (IPv4) or kSegmentHeadroom6 (IPv6) bytes of
// headroom, checksum filled in (or, with tx_checksum_offload, the
// pseudo-header sum and RTE_MBUF_F_TX_TCP_CKSUM, plus RTE_MBUF_F_TX_IPV6 for
// IPv6). One call per segment, by the tuple's family.
class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  // IPv4, host-order addresses.
  virtual void send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant now) = 0;
  // IPv6 (neither address IPv4-mapped).
  virtual void send_segment6(Mbuf segment, const IpAddr& src, const IpAddr& dst, Instant now) = 0;
  // Forward progress on an IPv6 connection to `dst`: upper-layer
  // reachability confirmation of its first hop (RFC 4861 §7.3.1). Default:
  // nothing (sinks without neighbour discovery).
  virtual void confirm_reachable6(const IpAddr& /*dst*/, Instant /*now*/) {}
  // The path MTU learned for `dst` (RFC 8201 §5.2, RFC 1191 §6.3), which a
  // new connection starts from and an open one adopts, with its expiry;
  // mtu 0: none known (the link MTU). Default: none.
  virtual PathMtu path_mtu(const IpAddr& /*dst*/, Instant /*now*/) { return {}; }
  // A connection accepted a report lowering the path MTU to `dst` to `mtu`.
  virtual void path_mtu_lowered(const IpAddr& /*dst*/, std::uint16_t /*mtu*/, Instant /*now*/) {}
  // A counter that advances whenever a path MTU path_mtu() answers goes
  // down (PathMtuCache::generation), read once per send to notice it;
  // nullptr: estimates never change but by the connection's own reports.
  virtual const std::uint32_t* path_mtu_generation() const { return nullptr; }
  // A connection's frame prefix (lib/ip/frame_prefix.h): the Ethernet and IP
  // headers its segments start with, built once and copied per segment.
  // prefix_generation(): nullptr (the default) when the sink builds no
  // prefixes, and every segment goes through send_segment / send_segment6;
  // otherwise only the switch that says it does, since each prefix names
  // the counter it stays valid under (FramePrefix: the ARP table's or the
  // neighbour cache's). frame_prefix: false while there is none to build
  // (the segment then takes the full path).
  virtual const std::uint32_t* prefix_generation() const { return nullptr; }
  virtual bool frame_prefix(const FourTuple& /*t*/, FramePrefix& /*p*/, Instant /*now*/) { return false; }
  // A whole frame that starts with a prefix frame_prefix built, still valid.
  virtual void send_prefixed(Mbuf /*frame*/, const FramePrefix& /*p*/, Instant /*now*/) {}
};
inline constexpr std::uint16_t kSegmentHeadroom = 14 + 20;   // Ethernet + IPv4
inline constexpr std::uint16_t kSegmentHeadroom6 = 14 + 40;  // Ethernet + IPv6
static_assert(kSegmentHeadroom6 <= RTE_PKTMBUF_HEADROOM);

}  // namespace tern
