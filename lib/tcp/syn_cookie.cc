#include "tcp/syn_cookie.h"

#include <algorithm>
#include <span>

#include "tcp/time_wait.h"  // addr_is_v4

namespace tern {
namespace {

constexpr unsigned kTimeBits = 5;
constexpr unsigned kMssBits = 2;
constexpr unsigned kHashBits = 32 - kTimeBits - kMssBits;  // 25
constexpr std::uint32_t kHashMask = (std::uint32_t{1} << kHashBits) - 1;
constexpr std::uint32_t kTimeMask = (std::uint32_t{1} << kTimeBits) - 1;
constexpr std::uint32_t kMssMask = (std::uint32_t{1} << kMssBits) - 1;
static_assert(kSynCookieMssTable.size() == (std::size_t{1} << kMssBits));

// Cookies from the current period and this many before it are accepted.
constexpr std::int64_t kMaxAgePeriods = 1;
static_assert(kMaxAgePeriods < (std::int64_t{1} << kTimeBits));

constexpr std::uint32_t kTsOptMask = (std::uint32_t{1} << kSynCookieTsBits) - 1;
constexpr std::uint32_t kTsWscaleMask = 0xf;
constexpr std::uint32_t kTsNoWscale = 0xf;
constexpr std::uint32_t kTsSackBit = 1u << 4;
constexpr std::uint32_t kTsReservedBit = 1u << 5;
constexpr std::uint8_t kMaxWindowShift = 14;  // RFC 7323 §2.3

std::int64_t period_of(Instant now) noexcept {
  const std::int64_t ns = now.ns_since_epoch();
  const std::int64_t p = kSynCookiePeriod.count_ns();
  std::int64_t q = ns / p;
  if (ns % p < 0) --q;  // floor, so instants before the epoch still count up
  return q;
}

void put_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

void put_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::uint8_t SynCookies::mss_index(std::uint16_t mss, bool v6) noexcept {
  const auto& table = mss_table(v6);
  std::uint8_t i = table.size() - 1;
  while (i > 0 && mss < table[i]) --i;
  return i;
}

std::uint32_t SynCookies::mac(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr,
                              std::uint16_t rport, Seq32 client_isn, std::int64_t t,
                              std::uint8_t mss_idx) const noexcept {
  // Fixed big-endian layout: address, port, address, port, client ISN, t,
  // MSS index. IPv4 addresses go in as 32 bits (21 bytes, three SipHash
  // compressions), IPv6 ones whole (45 bytes, six).
  std::array<std::uint8_t, 45> msg{};
  std::size_t n = 0;
  auto put_addr = [&](const IpAddr& a, std::uint16_t port) {
    const auto& b = a.bytes();
    for (std::size_t i = addr_is_v4(a) ? 12 : 0; i < 16; ++i) msg[n++] = b[i];
    put_be16(&msg[n], port);
    n += 2;
  };
  put_addr(laddr, lport);
  put_addr(raddr, rport);
  put_be32(&msg[n], client_isn.value());
  put_be32(&msg[n + 4], static_cast<std::uint32_t>(t));  // 2^32 periods of 64 s: no wrap in practice
  msg[n + 8] = mss_idx;
  n += 9;
  return static_cast<std::uint32_t>(siphash24(key_, std::span<const std::uint8_t>{msg.data(), n})) &
         kHashMask;
}

Seq32 SynCookies::make(const SynCookieRequest& r, Instant now) const noexcept {
  const std::int64_t t = period_of(now);
  const std::uint8_t idx = mss_index(r.mss, !r.laddr.is_v4());
  const std::uint32_t hash = mac(r.laddr, r.lport, r.raddr, r.rport, r.client_isn, t, idx);
  const std::uint32_t time_bits = static_cast<std::uint32_t>(t) & kTimeMask;
  const std::uint32_t mss_bits = idx & kMssMask;
  return Seq32{(time_bits << (kHashBits + kMssBits)) | (mss_bits << kHashBits) | hash};
}

std::optional<DecodedCookie> SynCookies::check(const IpAddr& laddr, std::uint16_t lport, const IpAddr& raddr,
                                               std::uint16_t rport, Seq32 client_isn, Seq32 cookie,
                                               Instant now) const noexcept {
  const std::uint32_t c = cookie.value();
  const std::int64_t now_t = period_of(now);
  // Age in periods from the low time bits; at most one period in the window
  // matches them, and the hash over the full t confirms it.
  const auto age = static_cast<std::int64_t>(
      (static_cast<std::uint32_t>(now_t) - (c >> (kHashBits + kMssBits))) & kTimeMask);
  if (age > kMaxAgePeriods) return std::nullopt;
  const auto idx = static_cast<std::uint8_t>((c >> kHashBits) & kMssMask);
  if (mac(laddr, lport, raddr, rport, client_isn, now_t - age, idx) != (c & kHashMask)) return std::nullopt;
  return DecodedCookie{mss_table(!laddr.is_v4())[idx]};
}

std::uint32_t encode_ts_options(std::uint32_t ts_now, const SynCookieTsOptions& o) noexcept {
  std::uint32_t bits =
      o.window_scale ? std::min<std::uint8_t>(*o.window_scale, kMaxWindowShift) : kTsNoWscale;
  if (o.sack_permitted) bits |= kTsSackBit;
  std::uint32_t ts = (ts_now & ~kTsOptMask) | bits;
  // Modular "ahead of ts_now" (RFC 7323 §5.2 compares timestamps mod 2^32).
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= kTsOptMask + 1;
  return ts;
}

std::optional<SynCookieTsOptions> decode_ts_options(std::uint32_t tsecr) noexcept {
  if ((tsecr & kTsReservedBit) != 0) return std::nullopt;
  SynCookieTsOptions o;
  const std::uint32_t ws = tsecr & kTsWscaleMask;
  if (ws != kTsNoWscale) o.window_scale = static_cast<std::uint8_t>(ws);
  o.sack_permitted = (tsecr & kTsSackBit) != 0;
  return o;
}

}  // namespace tern
