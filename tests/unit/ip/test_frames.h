#pragma once
// Builders for the frames IP, runtime and port tests inject, and readers for
// the frames the stack sends. Checksums here are computed by a deliberately
// naive RFC 1071 loop, independent of lib/wire, so a checksum bug in the stack
// cannot hide behind the same bug in the test.
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/mbuf.h"
#include "wire/ethernet.h"

namespace tern::testkit {

using Bytes = std::vector<std::byte>;

constexpr std::uint32_t ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return static_cast<std::uint32_t>(a) << 24 | static_cast<std::uint32_t>(b) << 16 |
         static_cast<std::uint32_t>(c) << 8 | d;
}

// The cast of every trace: us (10.0.0.1/24), a neighbour on the link and the
// default router; the MACs are the ones make_link_pair() gives its two ends.
inline constexpr MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
inline constexpr MacAddr kRouterMac{{0x02, 0, 0, 0, 0, 0xFE}};
inline constexpr std::uint32_t kOurIp = ip4(10, 0, 0, 1);
inline constexpr std::uint32_t kPeerIp = ip4(10, 0, 0, 2);
inline constexpr std::uint32_t kGatewayIp = ip4(10, 0, 0, 254);
inline constexpr std::uint32_t kRemoteIp = ip4(192, 0, 2, 7);  // off-link (TEST-NET-1)

inline constexpr std::uint16_t kTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kTypeArp = 0x0806;
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

// ---- byte helpers ------------------------------------------------------------

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v);
}
inline void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}
inline std::uint8_t get8(std::span<const std::byte> b, std::size_t at) {
  return std::to_integer<std::uint8_t>(b[at]);
}
inline std::uint16_t get16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(get8(b, at) << 8 | get8(b, at + 1));
}
inline std::uint32_t get32(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint32_t>(get16(b, at)) << 16 | get16(b, at + 2);
}
inline MacAddr get_mac(std::span<const std::byte> b, std::size_t at) {
  MacAddr m;
  for (std::size_t i = 0; i < 6; ++i) m.b[i] = get8(b, at + i);
  return m;
}
inline void append(Bytes& to, std::span<const std::byte> from) {
  to.insert(to.end(), from.begin(), from.end());
}

// RFC 1071 by the letter: sum 16-bit big-endian words with end-around carry.
inline std::uint16_t ref_checksum(std::span<const std::byte> b) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < b.size(); i += 2)
    sum += static_cast<std::uint64_t>(get8(b, i)) << 8 | (i + 1 < b.size() ? get8(b, i + 1) : 0);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// The IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) + `msg`, summed the naive
// way: 0 when msg's own checksum is right; the value to put in the field
// when that field is 0. ipv6_harness.h has IPv6's.
inline std::uint16_t upper_checksum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                    std::span<const std::byte> msg) {
  Bytes p(12);
  put32(p, 0, src);
  put32(p, 4, dst);
  put16(p, 8, protocol);
  put16(p, 10, static_cast<std::uint16_t>(msg.size()));
  append(p, msg);
  return ref_checksum(p);
}

// A UDP header (ports and length, checksum 0: the caller's) and `payload`.
inline Bytes udp_datagram(std::uint16_t sport, std::uint16_t dport, std::span<const std::byte> payload) {
  Bytes d(8);
  put16(d, 0, sport);
  put16(d, 2, dport);
  put16(d, 4, static_cast<std::uint16_t>(8 + payload.size()));
  append(d, payload);
  return d;
}

inline Bytes pattern(std::size_t n, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  Bytes v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng() & 0xFF);
  return v;
}

// ---- builders ----------------------------------------------------------------

// A TCP header without options (data offset 5, checksum 0) and `payload`.
inline Bytes tcp_segment(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                         std::uint8_t flags, std::uint16_t window, std::span<const std::byte> payload) {
  Bytes t(20);
  put16(t, 0, sport);
  put16(t, 2, dport);
  put32(t, 4, seq);
  put32(t, 8, ack);
  t[12] = std::byte{0x50};
  t[13] = static_cast<std::byte>(flags);
  put16(t, 14, window);
  append(t, payload);
  return t;
}

inline Bytes ethernet(const MacAddr& dst, const MacAddr& src, std::uint16_t type,
                      std::span<const std::byte> payload) {
  Bytes f(14);
  for (std::size_t i = 0; i < 6; ++i) {
    f[i] = static_cast<std::byte>(dst.b[i]);
    f[6 + i] = static_cast<std::byte>(src.b[i]);
  }
  put16(f, 12, type);
  append(f, payload);
  return f;
}

inline Bytes arp_packet(std::uint16_t op, const MacAddr& sha, std::uint32_t spa, const MacAddr& tha,
                        std::uint32_t tpa) {
  Bytes a(28);
  put16(a, 0, 1);       // Ethernet
  put16(a, 2, 0x0800);  // IPv4
  a[4] = std::byte{6};
  a[5] = std::byte{4};
  put16(a, 6, op);
  for (std::size_t i = 0; i < 6; ++i) {
    a[8 + i] = static_cast<std::byte>(sha.b[i]);
    a[18 + i] = static_cast<std::byte>(tha.b[i]);
  }
  put32(a, 14, spa);
  put32(a, 24, tpa);
  return a;
}

// A broadcast "who-has tpa tell spa", padded to the 60-byte minimum as NICs send it.
inline Bytes arp_request_frame(const MacAddr& sha, std::uint32_t spa, std::uint32_t tpa) {
  Bytes f = ethernet(MacAddr::broadcast(), sha, kTypeArp, arp_packet(1, sha, spa, MacAddr{}, tpa));
  f.resize(60);
  return f;
}
inline Bytes arp_reply_frame(const MacAddr& sha, std::uint32_t spa, const MacAddr& tha, std::uint32_t tpa) {
  Bytes f = ethernet(tha, sha, kTypeArp, arp_packet(2, sha, spa, tha, tpa));
  f.resize(60);
  return f;
}

struct Ip {
  std::uint32_t src = kPeerIp;
  std::uint32_t dst = kOurIp;
  std::uint8_t protocol = kProtoIcmp;
  std::uint8_t ttl = 64;
  std::uint16_t id = 0x4242;
  std::uint16_t frag = 0;  // the raw flags + offset word: 0x4000 DF, 0x2000 MF, offset in 8-byte units
  Bytes options{};
  // Overrides for malformed headers; unset means "what a correct sender writes".
  std::optional<std::uint8_t> version_ihl{};
  std::optional<std::uint16_t> total_length{};
  bool good_checksum = true;
};

inline Bytes ipv4(const Ip& h, std::span<const std::byte> payload) {
  const std::size_t hl = 20 + h.options.size();
  Bytes p(20);
  append(p, h.options);
  p[0] = static_cast<std::byte>(h.version_ihl.value_or(static_cast<std::uint8_t>(0x40 | hl / 4)));
  put16(p, 2, h.total_length.value_or(static_cast<std::uint16_t>(hl + payload.size())));
  put16(p, 4, h.id);
  put16(p, 6, h.frag);
  p[8] = static_cast<std::byte>(h.ttl);
  p[9] = static_cast<std::byte>(h.protocol);
  put32(p, 12, h.src);
  put32(p, 16, h.dst);
  std::uint16_t ck = ref_checksum(p);
  if (!h.good_checksum) ck = static_cast<std::uint16_t>(ck ^ 0x0101);
  put16(p, 10, ck);
  append(p, payload);
  return p;
}

// An ICMP message with a correct (or deliberately wrong) checksum.
inline Bytes icmp(std::uint8_t type, std::uint8_t code, std::uint16_t id, std::uint16_t seq,
                  std::span<const std::byte> data, bool good_checksum = true) {
  Bytes m(8);
  m[0] = static_cast<std::byte>(type);
  m[1] = static_cast<std::byte>(code);
  put16(m, 4, id);
  put16(m, 6, seq);
  append(m, data);
  std::uint16_t ck = ref_checksum(m);
  if (!good_checksum) ck = static_cast<std::uint16_t>(ck + 1);
  put16(m, 2, ck);
  return m;
}
inline Bytes echo_request(std::uint16_t id, std::uint16_t seq, std::span<const std::byte> data) {
  return icmp(8, 0, id, seq, data);
}

// "ping 10.0.0.1" from the neighbour: Ethernet + IPv4 + ICMP echo request.
inline Bytes ping_frame(std::uint16_t id, std::uint16_t seq, std::span<const std::byte> data, Ip h = {},
                        const MacAddr& src_mac = kPeerMac) {
  return ethernet(kOurMac, src_mac, kTypeIpv4, ipv4(h, echo_request(id, seq, data)));
}

// One fragment carrying l4[off, off + len) of a datagram with header `h`.
inline Bytes fragment_frame(Ip h, std::span<const std::byte> l4, std::size_t off, std::size_t len, bool more,
                            const MacAddr& src_mac = kPeerMac) {
  h.frag = static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8));
  return ethernet(kOurMac, src_mac, kTypeIpv4, ipv4(h, l4.subspan(off, len)));
}

// Cuts `l4` into fragments of `piece` bytes (a multiple of 8; the last takes the rest).
inline std::vector<Bytes> fragments(const Ip& h, std::span<const std::byte> l4, std::size_t piece) {
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < l4.size(); off += piece) {
    const std::size_t len = std::min(piece, l4.size() - off);
    out.push_back(fragment_frame(h, l4, off, len, off + len < l4.size()));
  }
  return out;
}

// The order `n` fragments arrive in: as sent, last first, or a seeded shuffle.
enum class Arrival { kInOrder, kReversed, kShuffled };
inline std::vector<std::size_t> arrival_order(std::size_t n, Arrival a) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = a == Arrival::kReversed ? n - 1 - i : i;
  if (a == Arrival::kShuffled) std::shuffle(order.begin(), order.end(), std::mt19937_64(n));
  return order;
}
inline std::string arrival_name(Arrival a) {
  return a == Arrival::kInOrder ? "InOrder" : a == Arrival::kReversed ? "Reversed" : "Shuffled";
}

// ---- mbufs -------------------------------------------------------------------

// A pool with a name no other fixture instance (or concurrently running test
// binary, the EAL being private to each process) uses.
inline rte_mempool* make_pool(const char* what, unsigned n = 1023,
                              std::uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE) {
  static std::atomic<unsigned> seq{0};
  const std::string name = std::string(what) + std::to_string(seq.fetch_add(1));
  // No per-lcore cache, so the in-use count is exact.
  return rte_pktmbuf_pool_create(name.c_str(), n, 0, 0, data_room, SOCKET_ID_ANY);
}

inline Mbuf to_mbuf(rte_mempool* pool, std::span<const std::byte> frame) {
  Mbuf m = Mbuf::alloc(pool);
  if (!m) return m;
  auto room = m.append(static_cast<std::uint16_t>(frame.size()));
  if (!frame.empty()) std::memcpy(room.data(), frame.data(), frame.size());
  return m;
}

// The whole frame, gathered from every segment.
inline Bytes bytes_of(const rte_mbuf* m) {
  Bytes out(rte_pktmbuf_pkt_len(m));
  if (out.empty()) return out;
  const void* p = rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(out.size()), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

// ---- readers for what the stack sent -----------------------------------------

struct EthView {
  MacAddr dst, src;
  std::uint16_t type;
  Bytes payload;
};
inline EthView parse_eth(std::span<const std::byte> f) {
  if (f.size() < 14) return {};
  return {get_mac(f, 0), get_mac(f, 6), get16(f, 12), Bytes(f.begin() + 14, f.end())};
}

struct ArpView {
  std::uint16_t htype, ptype, op;
  std::uint8_t hlen, plen;
  MacAddr sha, tha;
  std::uint32_t spa, tpa;
};
inline ArpView parse_arp(std::span<const std::byte> p) {
  if (p.size() < 28) return {};
  return {get16(p, 0),   get16(p, 2),    get16(p, 6),  get8(p, 4),  get8(p, 5),
          get_mac(p, 8), get_mac(p, 18), get32(p, 14), get32(p, 24)};
}

struct IpView {
  std::uint8_t version, ihl, ttl, protocol;
  std::uint16_t total_length, id, frag;
  std::uint32_t src, dst;
  bool checksum_ok;
  Bytes payload;  // up to total_length
  bool df() const { return (frag & 0x4000) != 0; }
  bool mf() const { return (frag & 0x2000) != 0; }
  std::size_t offset() const { return static_cast<std::size_t>(frag & 0x1FFF) * 8; }
};
inline IpView parse_ip(std::span<const std::byte> p) {
  IpView v{};
  if (p.size() < 20) return v;
  v.version = static_cast<std::uint8_t>(get8(p, 0) >> 4);
  v.ihl = static_cast<std::uint8_t>(get8(p, 0) & 0x0F);
  v.total_length = get16(p, 2);
  v.id = get16(p, 4);
  v.frag = get16(p, 6);
  v.ttl = get8(p, 8);
  v.protocol = get8(p, 9);
  v.src = get32(p, 12);
  v.dst = get32(p, 16);
  const std::size_t hl = v.ihl * 4u;
  v.checksum_ok = hl >= 20 && hl <= p.size() && ref_checksum(p.first(hl)) == 0;
  if (hl <= v.total_length && v.total_length <= p.size())
    v.payload.assign(p.begin() + static_cast<std::ptrdiff_t>(hl), p.begin() + v.total_length);
  return v;
}

struct IcmpView {
  std::uint8_t type, code;
  std::uint16_t id, seq;
  bool checksum_ok;
  Bytes data;
};
inline IcmpView parse_icmp(std::span<const std::byte> m) {
  if (m.size() < 8) return {};
  return {get8(m, 0),  get8(m, 1),           get16(m, 4),
          get16(m, 6), ref_checksum(m) == 0, Bytes(m.begin() + 8, m.end())};
}

}  // namespace tern::testkit

namespace tern {
// gtest prints MACs in failure messages through ADL.
inline void PrintTo(const MacAddr& m, std::ostream* os) { *os << m.to_string(); }
}  // namespace tern
