#pragma once
// IPv4 for one worker: Ethernet demux, ARP, IPv4 input validation, fragment
// reassembly (FragReassembler, bounded), ICMP echo, and the output path that
// picks the next hop (local subnet or gateway) and resolves its MAC.
//
// No I/O and no clock: frames arrive through on_frame(), time through `now`,
// and everything to transmit is appended to a FrameQueue.
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <optional>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "config/config.h"
#include "ip/arp_table.h"
#include "ip/frame_prefix.h"
#include "ip/frame_queue.h"
#include "ip/ip_frag.h"
#include "ip/ipv6_layer.h"
#include "ip/pmtu_cache.h"
#include "tern/ip_addr.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

namespace tern {

struct IpSettings {
  MacAddr mac{};
  std::uint32_t addr = 0;  // host byte order
  std::uint8_t prefix_len = 24;
  std::optional<std::uint32_t> gateway;
  std::uint16_t mtu = 1500;
  bool rx_ip_checksum_offload = false;  // trust the NIC's IPv4-header verdict
  bool tx_ip_checksum_offload = false;  // let the NIC fill IPv4 header checksums
  ArpConfig arp;
  IpConfig ip;
  Ipv6Settings v6;  // addresses, default router and [nd]: lib/ip/ipv6_layer.h
};

// What an upper protocol (TCP) gets for each datagram addressed to us.
struct Ipv4Delivery {
  std::uint32_t src = 0;  // host byte order
  std::uint32_t dst = 0;
  std::uint8_t protocol = 0;
  std::uint16_t l4_offset = 0;  // from the start of the frame
  std::uint16_t l4_len = 0;
};

// An ICMP Destination Unreachable (RFC 792) about a TCP segment we sent, as
// the IP layer hands it up (RFC 1122 §3.2.2.1: it MUST be reported to the
// transport layer). The addresses, ports and sequence number come from the
// quoted datagram, so src/sport are ours. Host byte order.
struct IcmpUnreachable {
  std::uint32_t src = 0;  // quoted source: our address
  std::uint32_t dst = 0;  // quoted destination: the peer
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint32_t seq = 0;  // the quoted TCP sequence number
  std::uint8_t code = 0;  // RFC 792 / RFC 1812 §5.2.7.1 Destination Unreachable code
  // Fragmentation Needed: the next-hop MTU (RFC 1191 §4; 0 from a router
  // older than RFC 1191).
  std::uint16_t mtu = 0;
};

class TransportInput {
 public:
  virtual ~TransportInput() = default;
  virtual void on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) = 0;
  // Called for each well-formed Destination Unreachable quoting TCP. The
  // default ignores it, for transports that do not care.
  virtual void on_icmp_unreachable(const IcmpUnreachable& /*u*/, Instant /*now*/) {}
  // IPv6 (issue 15): a packet for one of our unicast addresses, with
  // Ipv6Delivery's offsets. The default frees it: a transport that speaks
  // only IPv4 (IpLayer has counted it in Ip6InDelivers).
  virtual void on_ipv6(const Ipv6Delivery& /*d*/, Mbuf /*frame*/, Instant /*now*/, FrameQueue& /*out*/) {}
  // An ICMPv6 error quoting a packet of ours, or a local Address Unreachable
  // for packets whose neighbour never answered (Icmpv6Report). Default: ignored.
  virtual void on_icmpv6_error(const Icmpv6Report& /*r*/, Instant /*now*/) {}
};

class IpLayer {
 public:
  // `pool` supplies mbufs for replies; `indirect_pool` (optional) lets replies
  // larger than the MTU be fragmented, as Linux does for a big ping.
  IpLayer(const IpSettings& s, Counters& counters, rte_mempool* pool, rte_mempool* indirect_pool = nullptr);
  ~IpLayer();
  IpLayer(const IpLayer&) = delete;
  IpLayer& operator=(const IpLayer&) = delete;

  void set_tcp(TransportInput* tcp) noexcept {
    tcp_ = tcp;
    v6_.set_transport(tcp);
  }
  // UDP (protocol 17, either family) goes here; nullptr: counted as UdpNoListener.
  void set_udp(TransportInput* udp) noexcept {
    udp_ = udp;
    v6_.set_udp(udp);
  }
  // Software steering (runtime/steering.h) sends fragments by their
  // addresses alone (only a first fragment has ports), so a TCP or UDP
  // datagram can complete on a worker that does not own its flow. `steer`
  // is asked about each one, either family, before it is delivered, and
  // may take it to its owner, which hands it to on_resteered(). nullptr:
  // delivered here.
  void set_reassembly_steering(ReassembledSteer steer, void* ctx) noexcept {
    steer_ = steer;
    steer_ctx_ = ctx;
    v6_.set_reassembly_steering(steer, ctx);
  }
  // A datagram a sibling reassembled and steered here: delivered as it would
  // have been there. Not parsed again as a received frame: it is a chain of
  // up to 64 KiB that on_frame() would have to linearise.
  void on_resteered(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // Reassembly charges the truesize of every fragment it holds to `a` too
  // (the worker's account, so TCP sees the memory fragments take); nullptr:
  // only this layer's own count. What is held now moves to the new account,
  // so set_mem_account(nullptr) before the account goes returns its charges.
  void set_mem_account(MemAccount* a) noexcept {
    frags_.set_mem_account(a);
    v6_.set_mem_account(a);
  }
  // Truesize of the fragments reassembly holds, both families; config
  // frag_high_thresh and frag_low_thresh bound each family's.
  std::uint64_t frag_held() const noexcept { return frags_.held() + v6_.frag_held(); }

  // One received frame; this layer takes ownership whatever happens to it.
  void on_frame(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // A copy of an ARP frame that a sibling worker received and answers: only
  // learn from it, so every worker's ARP view stays complete.
  void on_replicated_arp(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // The same for IPv6 neighbour discovery (Ipv6Layer::on_replicated_nd).
  void on_replicated_nd(Mbuf frame, Instant now, FrameQueue& out) noexcept {
    v6_.on_replicated_nd(std::move(frame), now, out);
  }
  // ARP retransmissions and expiry. Cheap enough to call every loop iteration.
  void on_timer(Instant now, FrameQueue& out) noexcept;

  // Sends an L4 packet: `l4` holds the transport header and payload with at
  // least kHeadroom bytes of headroom. Returns false when it was dropped (counted).
  static constexpr std::uint16_t kHeadroom = 14 + 20;
  bool send(Mbuf l4, std::uint32_t dst, std::uint8_t protocol, Instant now, FrameQueue& out) noexcept;

  // A flow's Ethernet and IPv4 headers, built once (lib/ip/frame_prefix.h),
  // for datagrams from `src` to `dst` that send() would send whole (no
  // fragment, DF set) through the same next hop. False, `p` untouched:
  // no prefix now (no route, the hop's MAC not known and fresh, `src` not
  // ours); send() does what must be done.
  bool build_prefix(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol, FramePrefix& p,
                    Instant now) const noexcept;
  // Sends `frame`: a valid prefix `p` (prefix_generation(), valid_until),
  // then the L4 header and payload, at most p.max_l3_len bytes from the IP
  // header on. Fills in the IPv4 total length, ID and checksum (or asks the
  // port for it), as send() would have.
  void send_prefixed(Mbuf frame, const FramePrefix& p, FrameQueue& out) noexcept;
  const std::uint32_t* prefix_generation() const noexcept { return arp_.generation(); }

  // IPv6 (lib/ip/ipv6_layer.h): `l4` with at least kHeadroom6 bytes of
  // headroom, from source_for(dst), to its next hop (on-link or the default
  // router), hop limit 64 unless a router advertises another.
  static constexpr std::uint16_t kHeadroom6 = Ipv6Layer::kHeadroom;
  bool send_ipv6(Mbuf l4, const Ipv6Addr& dst, std::uint8_t protocol, Instant now, FrameQueue& out) noexcept {
    return v6_.send(std::move(l4), dst, protocol, now, out);
  }
  // From `src`, one of our addresses (a connection's own; Ipv6Layer::send_from).
  bool send_ipv6(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol, Instant now,
                 FrameQueue& out) noexcept {
    return v6_.send_from(std::move(l4), src, dst, protocol, now, out);
  }
  // The path MTU to `dst`, either family (RFC 8201 §5.2, RFC 1191 §6.3):
  // one learned for the destination and not yet expired, else the link's
  // (IPv6: as a Router Advertisement may have lowered it).
  std::uint16_t path_mtu(const IpAddr& dst, Instant now) noexcept { return path_mtu_estimate(dst, now).mtu; }
  // The same with its expiry (Instant::max() for the link MTU).
  PathMtu path_mtu_estimate(const IpAddr& dst, Instant now) noexcept {
    return pmtus_.lookup(dst, dst.is_v4() ? s_.mtu : v6_.mtu(), now);
  }
  // A report the transport accepted (TCP, after its window check): `mtu`,
  // floored per family, lowers the estimate for `dst` (never raises it).
  void lower_path_mtu(const IpAddr& dst, std::uint32_t mtu, Instant now) noexcept {
    pmtus_.lower(dst, floored_pmtu(dst, mtu), dst.is_v4() ? s_.mtu : v6_.mtu(), now);
  }
  const PathMtuCache& path_mtus() const noexcept { return pmtus_; }
  // The source address send_ipv6() uses for `dst` (for pseudo-header sums).
  Ipv6Addr source_for(const Ipv6Addr& dst) const noexcept { return v6_.source_for(dst); }
  // source_for(dst) if it may be used now; nullopt while it is tentative or
  // duplicate (RFC 4862 §5.4: not assigned). source_for() itself falls back
  // on the tentative link-local address, which ND's own probes need; a
  // transport's active open or datagram takes this one (Linux:
  // EADDRNOTAVAIL).
  std::optional<Ipv6Addr> usable_source_for(const Ipv6Addr& dst) const noexcept {
    const Ipv6Addr src = v6_.source_for(dst);
    if (!v6_.is_ours(src)) return std::nullopt;
    return src;
  }
  // Upper-layer reachability confirmation of an IPv6 neighbour (RFC 4861 §7.3.1).
  void confirm(const Ipv6Addr& addr, Instant now) noexcept { v6_.confirm(addr, now); }
  Ipv6Layer& v6() noexcept { return v6_; }
  const Ipv6Layer& v6() const noexcept { return v6_; }

  const IpSettings& settings() const noexcept { return s_; }
  const ArpTable& arp() const noexcept { return arp_; }
  bool on_link(std::uint32_t ip) const noexcept { return ((ip ^ s_.addr) & netmask_) == 0; }
  // The address ARP resolves for `dst`: itself on the link, else the
  // gateway; nullopt when there is no route.
  std::optional<std::uint32_t> next_hop(std::uint32_t dst) const noexcept;

 private:
  void on_arp(std::span<const std::byte> payload, bool answer, Instant now, FrameQueue& out) noexcept;
  void on_ipv4(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  void deliver(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // Whether steer_ took a reassembled datagram.
  bool steer_reassembled(const Ipv4Delivery& d, Mbuf& dgram) noexcept;
  void on_icmp(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) noexcept;
  void on_dest_unreachable(std::span<const std::byte> quote, std::uint8_t code, std::uint16_t mtu,
                           Instant now) noexcept;
  void send_arp(std::uint16_t op, const MacAddr& tha, std::uint32_t tpa, const MacAddr& eth_dst,
                FrameQueue& out) noexcept;
  // The header fields every datagram from our address carries (TTL, DF);
  // send_datagram and build_prefix fill in the rest.
  Ipv4Fields ipv4_fields(std::uint32_t dst, std::uint8_t protocol, bool dont_fragment) const noexcept {
    Ipv4Fields f{};
    f.src = s_.addr;
    f.dst = dst;
    f.protocol = protocol;
    f.ttl = s_.ip.default_ttl;
    f.dont_fragment = dont_fragment;
    return f;
  }
  // `dgram` starts with 20 bytes for the IPv4 header, then l4_len bytes.
  bool send_datagram(Mbuf dgram, std::uint32_t dst, std::uint8_t protocol, std::uint16_t l4_len, Instant now,
                     FrameQueue& out) noexcept;
  // Fills in the Ethernet header of a complete frame and queues it, or parks
  // it until the next hop's MAC is known.
  void transmit(Mbuf frame, std::uint32_t hop, Instant now, FrameQueue& out) noexcept;
  bool fragment_and_transmit(Mbuf dgram, std::uint32_t hop, std::uint16_t mtu, Instant now,
                             FrameQueue& out) noexcept;
  bool push(Mbuf frame, FrameQueue& out) noexcept;

  IpSettings s_;
  std::uint32_t netmask_;
  Counters& counters_;
  rte_mempool* pool_;
  rte_mempool* indirect_pool_;
  ArpTable arp_;
  FragReassembler frags_;  // IPv4's; Ipv6Layer has its own
  TransportInput* tcp_ = nullptr;
  TransportInput* udp_ = nullptr;
  ReassembledSteer steer_ = nullptr;
  void* steer_ctx_ = nullptr;
  PathMtuCache pmtus_;  // both families; before v6_, which holds a reference
  Ipv6Layer v6_;
  std::uint16_t next_ip_id_ = 1;
  // Scratch for ICMP messages that arrived as an mbuf chain (reassembled).
  std::array<std::byte, 65536> scratch_{};
};

}  // namespace tern
