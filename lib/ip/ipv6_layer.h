#pragma once
// IPv6 for one worker (issue 15): input validation and the extension-header
// walk, our addresses and multicast groups, ICMPv6 (echo, rate-limited
// errors), neighbour discovery on the NeighborCache (answering
// solicitations, resolving next hops with parked packets, router
// advertisements), and the output path with source address selection.
// IpLayer owns one and hands it every EtherType 0x86DD frame.
//
// Like IpLayer: no I/O and no clock; frames arrive through on_frame(), time
// through `now`, and everything to transmit is appended to a FrameQueue.
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "config/config.h"
#include "ip/frame_prefix.h"
#include "ip/frame_queue.h"
#include "ip/ip_frag.h"
#include "ip/neighbor_cache.h"
#include "ip/onlink_prefixes.h"
#include "ip/pmtu_cache.h"
#include "tern/ip_addr.h"
#include "wire/ethernet.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/ndp.h"

namespace tern {

class TransportInput;  // ip/ip_layer.h

struct Ipv6Settings {
  std::vector<Ipv6Prefix> addrs;    // global addresses and their on-link prefixes ([[port]] address6)
  std::optional<Ipv6Addr> gateway;  // [[port]] gateway6: the default router; else one from an RA
  // [nd]. Built by hand (tests, the simulator) it sends nothing at start-up:
  // no DAD probes, no Router Solicitations; the runtime copies the config's,
  // whose defaults do both.
  NdConfig nd = [] {
    NdConfig n;
    n.dad_transmits = 0;
    n.router_solicitations = 0;
    return n;
  }();
  // Whether this worker sends the port's DAD probes and Router
  // Solicitations (worker 0). The others run DAD's timers on their copies
  // of the addresses without sending, and learn the answers from the
  // neighbour discovery frames the receiving worker replicates to them, so
  // N workers send one set of probes, not N.
  bool solicits = true;
  // Seeds the draw of ReachableTime from nd.base_reachable_time (RFC 4861
  // §6.3.2: uniformly 0.5..1.5 times it); 0 takes the base as it is, so
  // tests stay exact.
  std::uint64_t seed = 0;
};

// What an upper protocol gets for each IPv6 packet addressed to us (one of
// our unicast addresses: upper layers never see multicast). Offsets count
// from the start of the frame; l4_len excludes link-layer padding.
// A TCP or UDP datagram reassembled from fragments, with the tuple software
// steering would have hashed had it come whole (src: the sender).
struct ReassembledFlow {
  IpAddr src, dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t protocol = 0;
};
// Returns true when it took `frame` (IpLayer::set_reassembly_steering).
using ReassembledSteer = bool (*)(void* ctx, const ReassembledFlow& flow, Mbuf& frame) noexcept;

struct Ipv6Delivery {
  Ipv6Addr src, dst;
  std::uint8_t protocol = 0;  // the upper-layer Next Header after the extension headers
  std::uint16_t l4_offset = 0;
  std::uint16_t l4_len = 0;
};

// An ICMPv6 error about a packet we sent (RFC 4443 §2.4(d): passed to the
// upper layer), or one this layer makes itself: Address Unreachable for
// packets whose next hop never answered neighbour discovery (RFC 4861
// §7.2.2; local = true). `src` is the quoted source (ours), `dst` the quoted
// destination (the peer), `quote` the quoted upper-layer bytes (at least 8:
// a TCP segment's ports and sequence number).
struct Icmpv6Report {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t param = 0;  // Packet Too Big: the MTU; Parameter Problem: the pointer
  Ipv6Addr src, dst;
  std::uint8_t protocol = 0;
  std::span<const std::byte> quote;
  bool local = false;
};

class Ipv6Layer {
 public:
  // `indirect_pool` (optional) lets packets larger than the MTU leave in
  // fragments; [ip] frag_* bound reassembly as for IPv4 (a table of its own,
  // as Linux keeps ip6frag_* apart from ipfrag_*).
  // `pmtus`: the worker's path MTUs (IpLayer's), read for what this layer
  // sends and lowered by a Packet Too Big quoting UDP.
  Ipv6Layer(const Ipv6Settings& s, const IpConfig& ip, const MacAddr& mac, std::uint16_t mtu,
            Counters& counters, PathMtuCache& pmtus, rte_mempool* pool, rte_mempool* indirect_pool = nullptr);
  Ipv6Layer(const Ipv6Layer&) = delete;
  Ipv6Layer& operator=(const Ipv6Layer&) = delete;

  void set_transport(TransportInput* t) noexcept { transport_ = t; }
  // UDP (Next Header 17) goes here; nullptr: counted as UdpNoListener.
  void set_udp(TransportInput* u) noexcept { udp_ = u; }
  // As IpLayer::set_reassembly_steering(), and on_resteered() the same.
  void set_reassembly_steering(ReassembledSteer steer, void* ctx) noexcept {
    steer_ = steer;
    steer_ctx_ = ctx;
  }
  void on_resteered(Mbuf frame, Instant now, FrameQueue& out) noexcept;

  // Reassembly's memory, as IpLayer::set_mem_account().
  void set_mem_account(MemAccount* a) noexcept { frags_.set_mem_account(a); }
  std::uint64_t frag_held() const noexcept { return frags_.held(); }

  // Whether a frame to Ethernet address `dst` may be for us: all-nodes and
  // our solicited-node groups (RFC 2464 §7). Our own MAC is IpLayer's check.
  bool accepts_mac(const MacAddr& dst) const noexcept;
  // One EtherType 0x86DD frame that passed the MAC check; takes ownership.
  void on_frame(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // A copy of a neighbour discovery frame that a sibling worker received
  // and answers (software steering sends ND to every worker, as ARP): only
  // learn from it (NA, an NS's source link-layer address, an RA's router),
  // so every worker's neighbour cache sees every neighbour. Counted only by
  // the worker that answers.
  void on_replicated_nd(Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // Neighbour solicitations, probes and expiry, and the default router's
  // lifetime. Cheap when nothing is due.
  void on_timer(Instant now, FrameQueue& out) noexcept;

  // Sends `l4` (transport header and payload, at least kHeadroom bytes of
  // headroom) from source_for(dst). False when it was dropped (counted).
  static constexpr std::uint16_t kHeadroom = kEthernetHeaderLen + kIpv6HeaderLen;
  bool send(Mbuf l4, const Ipv6Addr& dst, std::uint8_t protocol, Instant now, FrameQueue& out) noexcept {
    return send_from(std::move(l4), source_for(dst), dst, protocol, now, out);
  }
  // The same from `src`, one of our addresses: a connection keeps the
  // address it was opened or accepted on, whatever source_for(dst) says.
  bool send_from(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol, Instant now,
                 FrameQueue& out) noexcept;
  // A flow's Ethernet and IPv6 headers, built once (lib/ip/frame_prefix.h),
  // for packets from `src` to `dst` that send_from() would send whole
  // through the same next hop: only while that neighbour is REACHABLE
  // (valid_until: the end of its reachable time, or of the route's
  // lifetime if sooner), so a prefixed send never owes the neighbour cache
  // a STALE -> DELAY step (RFC 4861 §7.3.3). False, `p` untouched: no
  // prefix now (no route, the neighbour not REACHABLE, `src` not ours and
  // usable); send_from() does what must be done.
  bool build_prefix(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol, FramePrefix& p,
                    Instant now) const noexcept;
  // Sends `frame`: a valid prefix `p` (generation, valid_until), then the
  // upper-layer header and payload, at most p.max_l3_len bytes from the
  // IPv6 header on. Fills in the payload length, as send_from() would have.
  bool send_prefixed(Mbuf frame, const FramePrefix& p, FrameQueue& out) noexcept;
  // Source address selection (a subset of RFC 6724 §5): the link-local
  // address for link-local and link-scope multicast destinations, else the
  // configured address whose prefix holds `dst` (longest), else the first
  // configured one, else the link-local address.
  Ipv6Addr source_for(const Ipv6Addr& dst) const noexcept;
  // The neighbour `dst` is sent to: itself when on the link (link-local,
  // inside one of our prefixes, or inside an on-link prefix a Router
  // Advertisement announced), else the default router; nullopt: no route.
  std::optional<Ipv6Addr> next_hop(const Ipv6Addr& dst, Instant now) const noexcept;
  // Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. TCP's
  // new data acknowledged: `addr` stays REACHABLE without probes.
  void confirm(const Ipv6Addr& addr, Instant now) noexcept { nd_.confirm(addr, now); }
  // Sends an ICMPv6 error about `invoking` (an IPv6 packet from its header,
  // as received) if RFC 4443 §2.4(e) allows it and the rate limit has a
  // token. For upper layers: UDP's Port Unreachable.
  void send_error(const Icmpv6Error& e, std::span<const std::byte> invoking, bool link_multicast, Instant now,
                  FrameQueue& out) noexcept;

  // One of our addresses, usable: assigned and past duplicate address
  // detection (not tentative, not found duplicate).
  bool is_ours(const Ipv6Addr& a) const noexcept;
  // Still under duplicate address detection (RFC 4862 §5.4).
  bool tentative(const Ipv6Addr& a) const noexcept;
  // Given up: another node claimed it during DAD.
  bool duplicate(const Ipv6Addr& a) const noexcept;
  const Ipv6Addr& link_local() const noexcept { return link_local_; }
  std::span<const Ipv6Prefix> addresses() const noexcept { return {addrs_.data(), n_addrs_}; }
  std::optional<Ipv6Addr> default_router(Instant now) const noexcept;
  std::uint16_t mtu() const noexcept { return mtu_; }
  const NeighborCache& neighbors() const noexcept { return nd_; }
  const OnLinkPrefixes& onlink_prefixes() const noexcept { return onlink_; }

 private:
  // What the extension-header walk found, for a packet as received or reassembled.
  void dispatch(const Ipv6Header& ip, const Ipv6ExtWalk& w, const MacAddr& eth_src, bool link_multicast,
                Mbuf frame, Instant now, FrameQueue& out) noexcept;
  // lib/ip/ipv6_frag.cc: reassembly (RFC 8200 §4.5) and fragmentation.
  void on_fragment(const Ipv6Header& ip, const Ipv6ExtWalk& w, bool link_multicast, Mbuf frame, Instant now,
                   FrameQueue& out) noexcept;
  // `steer`: ask steer_ first (false on the worker it was steered to).
  void on_reassembled(Mbuf frame, bool link_multicast, bool steer, Instant now, FrameQueue& out) noexcept;
  // Datagrams past frag_timeout_s: counted, Time Exceeded code 1 where the
  // first fragment had arrived.
  void expire_fragments(Instant now, FrameQueue& out) noexcept;
  // `packet` starts with its IPv6 header (no extension headers) and is over
  // `mtu` (the path's): sends it in fragments to `hop`.
  bool fragment_and_send(Mbuf packet, const Ipv6Addr& src, const Ipv6Addr& dst, const Ipv6Addr& hop,
                         std::uint16_t mtu, Instant now, FrameQueue& out) noexcept;
  // A whole frame (Ethernet header to fill) to `dst` through `hop`:
  // multicast MAC, a known neighbour, or parked while ND resolves it.
  bool transmit(Mbuf frame, const Ipv6Addr& dst, const Ipv6Addr& hop, Instant now, FrameQueue& out) noexcept;
  void deliver(const Ipv6Header& ip, const Ipv6ExtWalk& w, const MacAddr& eth_src, bool link_multicast,
               Mbuf frame, Instant now, FrameQueue& out) noexcept;
  void on_icmpv6(const Ipv6Header& ip, std::span<const std::byte> msg, const MacAddr& eth_src,
                 bool link_multicast, Instant now, FrameQueue& out) noexcept;
  void on_echo_request(const Ipv6Header& ip, const Icmpv6Header& icmp, Instant now, FrameQueue& out) noexcept;
  void on_error_message(const Icmpv6Header& icmp, Instant now) noexcept;
  void on_nd(const Ipv6Header& ip, std::span<const std::byte> msg, const MacAddr& eth_src, Instant now,
             FrameQueue& out) noexcept;
  void on_neighbor_solicit(const Ipv6Header& ip, const NdMessage& nd, const MacAddr& eth_src, Instant now,
                           FrameQueue& out) noexcept;
  // `replicated`: a sibling's copy, counted there.
  void on_router_advert(const Ipv6Header& ip, const NdMessage& nd, bool replicated, Instant now,
                        FrameQueue& out) noexcept;
  // The start-up work the first on_timer() does: DAD probes, or RSs at once.
  void start(Instant now, FrameQueue& out) noexcept;
  void send_dad_probes(FrameQueue& out) noexcept;
  void send_router_solicit(FrameQueue& out) noexcept;
  // Another node claims the address in `slot` while it is tentative.
  void dad_failed(int slot) noexcept;
  // Index into state_ of an assigned address (0: the link-local one), or -1.
  int slot_of(const Ipv6Addr& a) const noexcept;
  bool usable(int slot) const noexcept { return !state_[slot].tentative && !state_[slot].duplicate; }
  // Packets parked for a neighbour that never answered (RFC 4861 §7.2.2):
  // each becomes a local Address Unreachable for the transport.
  void unresolved(Mbuf frame, Instant now) noexcept;
  void send_solicit(const Ipv6Addr& target, const MacAddr* unicast_mac, FrameQueue& out) noexcept;
  // `l4` holds an upper-layer message of `l4_len` bytes with kHeadroom of
  // headroom; adds the IPv6 and Ethernet headers and transmits it.
  bool send_packet(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t protocol,
                   std::uint8_t hop_limit, Instant now, FrameQueue& out) noexcept;
  // Sends a whole frame straight to a link-layer address (ND answers).
  void send_to_mac(Mbuf l4, const Ipv6Addr& src, const Ipv6Addr& dst, const MacAddr& mac,
                   FrameQueue& out) noexcept;
  // An mbuf with `len` bytes appended after kHeadroom of headroom.
  Mbuf new_message(std::size_t len) noexcept;
  bool rate_allows(Instant now) noexcept;
  bool push(Mbuf frame, FrameQueue& out) noexcept;

  MacAddr mac_;
  Ipv6Addr link_local_;
  std::array<Ipv6Prefix, kMaxIpv6Addresses> addrs_{};
  std::size_t n_addrs_ = 0;
  // Per address, the link-local one first (slot 0), then addrs_ (slot i + 1).
  struct AddrState {
    bool tentative = false;
    bool duplicate = false;
  };
  std::array<AddrState, kMaxIpv6Addresses + 1> state_{};
  bool started_ = false;
  std::uint8_t dad_left_ = 0;  // DAD probes still to send
  bool dad_running_ = false;
  Instant dad_deadline_{};    // next probe, or the end of DAD
  std::uint8_t rs_left_ = 0;  // Router Solicitations still to send
  Instant rs_deadline_{};
  Duration retrans_timer_;
  std::optional<Ipv6Addr> configured_router_;
  std::optional<Ipv6Addr> learned_router_;  // from Router Advertisements
  Instant learned_router_until_{};
  std::uint16_t link_mtu_;
  std::uint16_t mtu_;  // the link MTU, or less if an RA's MTU option says so
  std::uint8_t hop_limit_ = 64;
  bool solicits_;          // Ipv6Settings::solicits
  OnLinkPrefixes onlink_;  // from Router Advertisements (RFC 4861 §6.3.4)
  Counters& counters_;
  rte_mempool* pool_;
  rte_mempool* indirect_pool_;
  NeighborCache nd_;
  FragReassembler frags_;
  PathMtuCache& pmtus_;
  // A reassembled packet's headers, gathered from its chain to be walked.
  std::array<std::byte, kEthernetHeaderLen + kIpv6HeaderLen + 65535> scratch_{};
  TransportInput* transport_ = nullptr;
  TransportInput* udp_ = nullptr;
  ReassembledSteer steer_ = nullptr;
  void* steer_ctx_ = nullptr;
  // Packets whose neighbour never answered, collected during the cache's
  // on_timer() (its callbacks must not re-enter it) and reported after.
  std::vector<rte_mbuf*> unresolved_;
  // Token bucket for ICMPv6 errors (RFC 4443 §2.4(f)), Linux's defaults:
  // net.ipv4.icmp_msgs_per_sec 1000, icmp_msgs_burst 50.
  static constexpr std::uint32_t kErrorsPerSecond = 1000;
  static constexpr std::uint32_t kErrorBurst = 50;
  std::uint32_t error_tokens_ = kErrorBurst;
  Instant error_refill_{};
};

}  // namespace tern
