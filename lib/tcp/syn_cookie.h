#pragma once
// SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, answer a
// SYN with a SYN-ACK whose ISN encodes what the handshake must remember, and
// keep no state. A legitimate client's final ACK (ack = cookie + 1) brings
// the cookie back; the listener checks it and only then creates the TCB. A
// SYN flood thus cannot exhaust memory, and a forged ACK cannot open a
// connection without guessing a keyed hash.
//
// Cookie layout, the one RFC 4987 §3.6 describes after Bernstein, with one
// more hash bit because Tern's MSS table has 4 entries rather than 8:
//
//    31      27 26 25 24                                                0
//   +----------+-----+--------------------------------------------------+
//   | t mod 32 | mss |  SipHash-2-4(key, 4-tuple, client ISN, t, mss)   |
//   |  5 bits  | idx |  low 25 bits                                     |
//   +----------+-----+--------------------------------------------------+
//
//  - t = floor(now / 64 s). The time sits in the top bits so that cookies for
//    the same 4-tuple grow slowly with time, the way RFC 9293 §3.4.1 wants
//    ISNs to. A cookie is accepted while t is the current or the previous
//    period: at least 64 s and at most 128 s after it was made, far beyond a
//    SYN-ACK retransmission schedule, and short enough that a stolen cookie
//    goes stale quickly.
//  - mss idx: the client's MSS clamped down to kSynCookieMssTable (Linux's
//    IPv4 table). Only the index fits; the options a cookie cannot hold are
//    what RFC 4987 §3.6 lists as the cost of cookies.
//  - The hash covers the 4-tuple, the client's ISN and the full t and MSS
//    index, so none of them can be changed without the key: a wrong tuple, a
//    wrong client ISN, a flipped counter or MSS bit all fail the check. A blind
//    forger succeeds with probability 2^-25 per ACK.
//
// Window scale and SACK-permitted do not fit in the ISN. When the client
// offers timestamps they travel in the low bits of our TSval, which the
// client echoes in its ACK's TSecr (Linux's scheme, net/ipv4/syncookies.c):
// see encode_ts_options(). Without timestamps the connection gets neither.
//
// Pure and clock-free: `now` is passed in; the key comes from the caller and
// must differ from the IsnGenerator's.
#include <array>
#include <cstdint>
#include <optional>

#include "base/instant.h"
#include "tcp/seq.h"
#include "tcp/siphash.h"
#include "tern/ip_addr.h"

namespace tern {

// Ascending. Linux's msstab for IPv4: 536 (RFC 9293 §3.7.1 default), 1300
// (tunnels, PPPoE + VPN), 1440 (PPPoE, some VPNs), 1460 (Ethernet).
inline constexpr std::array<std::uint16_t, 4> kSynCookieMssTable{536, 1300, 1440, 1460};
// Linux's msstab for IPv6 (net/ipv6/syncookies.c), each 60 below a common
// MTU: 1280 (RFC 8200 §5's minimum), 1480 (IPv6 in IPv4 tunnels), 1500
// (Ethernet), 9000 (jumbo frames).
inline constexpr std::array<std::uint16_t, 4> kSynCookieMssTable6{1220, 1420, 1440, 8940};
inline constexpr Duration kSynCookiePeriod = Duration::s(64);

struct SynCookieRequest {
  IpAddr laddr;  // both of one family; IPv6 picks kSynCookieMssTable6
  std::uint16_t lport;
  IpAddr raddr;
  std::uint16_t rport;
  Seq32 client_isn;   // SEG.SEQ of the SYN
  std::uint16_t mss;  // the MSS the connection would use (client's, already clamped by ours)
};

struct DecodedCookie {
  std::uint16_t mss;  // an entry of the family's table
};

class SynCookies {
 public:
  explicit SynCookies(const std::array<std::uint8_t, 16>& key) noexcept : key_(key) {}

  // The ISN for our SYN-ACK.
  Seq32 make(const SynCookieRequest& r, Instant now) const noexcept;

  // Checks the cookie an ACK brings back: client_isn = SEG.SEQ - 1 of the
  // ACK, cookie = SEG.ACK - 1. nullopt for a forged, altered, wrong-tuple or
  // expired cookie.
  std::optional<DecodedCookie> check(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr,
                                     std::uint16_t rport, Seq32 client_isn, Seq32 cookie,
                                     Instant now) const noexcept;
  // IPv4, host byte order.
  std::optional<DecodedCookie> check(std::uint32_t laddr, std::uint16_t lport, std::uint32_t raddr,
                                     std::uint16_t rport, Seq32 client_isn, Seq32 cookie,
                                     Instant now) const noexcept {
    return check(IpAddr::v4(laddr), lport, IpAddr::v4(raddr), rport, client_isn, cookie, now);
  }

  // The largest table entry not above `mss`, and its index. An MSS below 536
  // is rounded up to 536, as Linux does: every IPv4 host must accept 536-byte
  // segments (RFC 9293 §3.7.1, RFC 791's 576-byte datagram). For IPv6
  // (`v6`), below 1220 is rounded up to 1220: every IPv6 link carries
  // 1280-byte packets (RFC 8200 §5).
  static std::uint8_t mss_index(std::uint16_t mss, bool v6 = false) noexcept;
  // The family's table.
  static const std::array<std::uint16_t, 4>& mss_table(bool v6) noexcept {
    return v6 ? kSynCookieMssTable6 : kSynCookieMssTable;
  }

 private:
  std::uint32_t mac(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr, std::uint16_t rport,
                    Seq32 client_isn, std::int64_t t, std::uint8_t mss_idx) const noexcept;

  SipKey key_;
};

// Window scale and SACK-permitted carried through a cookie handshake in the
// low kSynCookieTsBits of our SYN-ACK's TSval (RFC 7323 §3 lets the sender
// choose TSval freely; the client must echo it in TSecr):
//   bits 0..3  client's window shift 0..14, or 15 when it sent none
//   bit  4     client sent SACK-permitted
//   bit  5     reserved, 0 (Linux puts ECN here; Tern does not negotiate ECN)
// These bits are not covered by the cookie's hash: a client that tampers
// with them only harms its own connection.
inline constexpr unsigned kSynCookieTsBits = 6;

struct SynCookieTsOptions {
  std::optional<std::uint8_t> window_scale;  // the client's shift; > 14 is clamped to 14 (RFC 7323 §2.3)
  bool sack_permitted = false;
  constexpr bool operator==(const SynCookieTsOptions&) const noexcept = default;
};

// TSval for the SYN-ACK: ts_now with its low bits replaced by the options,
// moved back one 64-tick step if that would put it ahead of ts_now, so the
// TSvals that follow on the connection never go backwards (PAWS at the
// client, RFC 7323 §5).
std::uint32_t encode_ts_options(std::uint32_t ts_now, const SynCookieTsOptions& o) noexcept;

// From the TSecr of the ACK that returns the cookie. nullopt if the reserved
// bit is set, which we never send.
std::optional<SynCookieTsOptions> decode_ts_options(std::uint32_t tsecr) noexcept;

}  // namespace tern
