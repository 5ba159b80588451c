#pragma once
// IPv6 frames built and taken apart the naive way, independent of
// lib/wire's builders, and a harness that drives the IP layer with them:
// shared by ipv6_layer_test.cc and ipv6_frag_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "ip_harness.h"
#include "wire/ipv6.h"

namespace tern::testkit {

inline Ipv6Addr v6(const char* s) { return *Ipv6Addr::from_string(s); }

inline const Ipv6Addr kOurLl = link_local_from_mac(kOurMac);  // fe80::ff:fe00:1
inline const Ipv6Addr kPeerLl = link_local_from_mac(kPeerMac);
inline const Ipv6Addr kRouterLl = link_local_from_mac(kRouterMac);
inline const Ipv6Addr kOurG = v6("2001:db8:1::1");
inline const Ipv6Addr kPeerG = v6("2001:db8:1::2");
inline const Ipv6Addr kRemote = v6("2001:db8:99::7");
inline constexpr std::uint16_t kTypeIpv6 = 0x86DD;
inline constexpr std::uint8_t kNhIcmp6 = 58;

inline void put_addr(Bytes& b, std::size_t at, const Ipv6Addr& a) {
  for (std::size_t i = 0; i < 16; ++i) b[at + i] = static_cast<std::byte>(a.b[i]);
}
inline Ipv6Addr get_addr(std::span<const std::byte> b, std::size_t at) {
  Ipv6Addr a;
  for (std::size_t i = 0; i < 16; ++i) a.b[i] = get8(b, at + i);
  return a;
}

// RFC 8200 §8.1 pseudo-header + message, summed the naive way.
inline std::uint16_t upper_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t nh,
                                    std::span<const std::byte> msg) {
  Bytes p(40);
  put_addr(p, 0, src);
  put_addr(p, 16, dst);
  put32(p, 32, static_cast<std::uint32_t>(msg.size()));
  p[39] = static_cast<std::byte>(nh);
  append(p, msg);
  return ref_checksum(p);
}

inline Bytes ipv6_packet(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t nh,
                         std::span<const std::byte> payload, std::uint8_t hop = 64) {
  Bytes p(40);
  p[0] = std::byte{0x60};
  put16(p, 4, static_cast<std::uint16_t>(payload.size()));
  p[6] = static_cast<std::byte>(nh);
  p[7] = static_cast<std::byte>(hop);
  put_addr(p, 8, src);
  put_addr(p, 24, dst);
  append(p, payload);
  return p;
}

// An ICMPv6 message: type, code, checksum, then `rest`; checksummed for src/dst.
inline Bytes icmp6(std::uint8_t type, std::uint8_t code, std::span<const std::byte> rest, const Ipv6Addr& src,
                   const Ipv6Addr& dst) {
  Bytes m(4);
  m[0] = static_cast<std::byte>(type);
  m[1] = static_cast<std::byte>(code);
  append(m, rest);
  put16(m, 2, upper_checksum(src, dst, kNhIcmp6, m));
  return m;
}

inline Bytes echo_body(std::uint16_t id, std::uint16_t seq, std::span<const std::byte> data) {
  Bytes b(4);
  put16(b, 0, id);
  put16(b, 2, seq);
  append(b, data);
  return b;
}

inline Bytes lla_option(std::uint8_t type, const MacAddr& mac) {
  Bytes o(8);
  o[0] = static_cast<std::byte>(type);
  o[1] = std::byte{1};
  for (std::size_t i = 0; i < 6; ++i) o[2 + i] = static_cast<std::byte>(mac.b[i]);
  return o;
}

// NS body (after type/code/checksum): reserved, target, options.
inline Bytes ns_body(const Ipv6Addr& target, std::optional<MacAddr> sll) {
  Bytes b(20);
  put_addr(b, 4, target);
  if (sll) append(b, lla_option(1, *sll));
  return b;
}

inline Bytes na_body(const Ipv6Addr& target, std::uint8_t flags, std::optional<MacAddr> tll) {
  Bytes b(20);
  b[0] = static_cast<std::byte>(flags);
  put_addr(b, 4, target);
  if (tll) append(b, lla_option(2, *tll));
  return b;
}

inline constexpr std::uint8_t kFlagS = 0x40, kFlagO = 0x20;

inline Bytes frame6(const MacAddr& dst_mac, const MacAddr& src_mac, std::span<const std::byte> packet) {
  return ethernet(dst_mac, src_mac, kTypeIpv6, packet);
}

inline constexpr std::uint8_t kNhFragment = 44;

// One fragment of `whole` (the fragmentable part: upper-layer message and
// any headers of its own) as a frame: bytes [offset, offset + len).
inline Bytes fragment6(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint32_t id, std::uint8_t next,
                       std::span<const std::byte> whole, std::size_t offset, std::size_t len, bool more,
                       std::span<const std::byte> dest_opts = {}) {
  Bytes fh(8);
  fh[0] = static_cast<std::byte>(next);
  put16(fh, 2, static_cast<std::uint16_t>(offset | (more ? 1 : 0)));
  put32(fh, 4, id);
  append(fh, whole.subspan(offset, len));
  if (dest_opts.empty()) return frame6(kOurMac, kPeerMac, ipv6_packet(src, dst, kNhFragment, fh));
  // A Destination Options header in every fragment, before the fragment header.
  Bytes ext(dest_opts.begin(), dest_opts.end());
  ext[0] = static_cast<std::byte>(kNhFragment);
  append(ext, fh);
  return frame6(kOurMac, kPeerMac, ipv6_packet(src, dst, 60, ext));
}

// `whole` cut into fragments of `chunk` bytes (a multiple of 8), by default
// from the peer to us.
inline std::vector<Bytes> fragments6(std::uint32_t id, std::uint8_t next, std::span<const std::byte> whole,
                                     std::size_t chunk, const Ipv6Addr& src = kPeerG,
                                     const Ipv6Addr& dst = kOurG) {
  std::vector<Bytes> out;
  for (std::size_t at = 0; at < whole.size(); at += chunk) {
    const std::size_t len = std::min(chunk, whole.size() - at);
    out.push_back(fragment6(src, dst, id, next, whole, at, len, at + len < whole.size()));
  }
  return out;
}

// An ICMPv6 message in a whole frame.
inline Bytes icmp6_frame(const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t type,
                         std::uint8_t code, std::span<const std::byte> rest, std::uint8_t hop = 64,
                         const MacAddr& src_mac = kPeerMac) {
  return frame6(dst_mac, src_mac, ipv6_packet(src, dst, kNhIcmp6, icmp6(type, code, rest, src, dst), hop));
}

struct Sent6 {
  MacAddr eth_dst, eth_src;
  std::uint16_t eth_type = 0;
  std::uint8_t version = 0, next_header = 0, hop = 0;
  std::uint16_t payload_len = 0;
  Ipv6Addr src, dst;
  Bytes payload;
  bool icmp_ok = false;  // the ICMPv6 checksum verifies (when next_header is 58)
  std::uint8_t type() const { return payload.empty() ? 0 : get8(payload, 0); }
  std::uint8_t code() const { return payload.size() < 2 ? 0 : get8(payload, 1); }
};

inline Sent6 parse6(const Bytes& f) {
  Sent6 s;
  if (f.size() < 54) {
    ADD_FAILURE() << "frame of " << f.size() << " bytes";
    return s;
  }
  s.eth_dst = get_mac(f, 0);
  s.eth_src = get_mac(f, 6);
  s.eth_type = get16(f, 12);
  s.version = static_cast<std::uint8_t>(get8(f, 14) >> 4);
  s.payload_len = get16(f, 18);
  s.next_header = get8(f, 20);
  s.hop = get8(f, 21);
  s.src = get_addr(f, 22);
  s.dst = get_addr(f, 38);
  s.payload = Bytes(f.begin() + 54, f.end());
  EXPECT_EQ(s.payload.size(), s.payload_len) << "no padding, no trailer";
  if (s.next_header == kNhIcmp6) s.icmp_ok = upper_checksum(s.src, s.dst, kNhIcmp6, s.payload) == 0;
  return s;
}

// Records what the IP layer hands a transport.
struct FakeTransport : TransportInput {
  void on_ipv4(const Ipv4Delivery&, Mbuf, Instant, FrameQueue&) override {}
  void on_ipv6(const Ipv6Delivery& d, Mbuf frame, Instant, FrameQueue&) override {
    deliveries.push_back(d);
    frames.push_back(bytes_of(frame.get()));
  }
  void on_icmpv6_error(const Icmpv6Report& r, Instant) override {
    reports.push_back(r);
    quotes.emplace_back(r.quote.begin(), r.quote.end());
  }
  std::vector<Ipv6Delivery> deliveries;
  std::vector<Bytes> frames;
  std::vector<Icmpv6Report> reports;
  std::vector<Bytes> quotes;
};

class Ipv6Test : public IpHarness {
 protected:
  void SetUp() override {
    IpHarness::SetUp();
    settings_.v6.addrs = {Ipv6Prefix{kOurG, 64}};
    settings_.v6.nd.max_pending = 16;
  }
  IpLayer& ip6() {
    IpLayer& l = ip();
    l.set_tcp(&transport_);
    return l;
  }
  void recv6(const Bytes& f, Instant now) {
    ip6();
    recv(f, now);
  }
  // The peer asks for our global address with its MAC: afterwards the
  // cache knows it (STALE) and our NA is taken off the queue.
  void peer_solicits(Instant now, const Ipv6Addr& from = kPeerG, const Ipv6Addr& target = kOurG) {
    recv6(icmp6_frame(multicast_mac(solicited_node(target)), from, solicited_node(target), 135, 0,
                      ns_body(target, kPeerMac), 255),
          now);
    ASSERT_EQ(sent_count(), 1u);
    out_.clear();
  }
  // An L4 payload in an mbuf with the headroom send_ipv6() needs.
  Mbuf l4(std::span<const std::byte> bytes) {
    Mbuf m = Mbuf::alloc(pool_);
    EXPECT_GE(rte_pktmbuf_headroom(m.get()), IpLayer::kHeadroom6);
    auto room = m.append(static_cast<std::uint16_t>(bytes.size()));
    std::memcpy(room.data(), bytes.data(), bytes.size());
    return m;
  }
  FakeTransport transport_;
};

}  // namespace tern::testkit
