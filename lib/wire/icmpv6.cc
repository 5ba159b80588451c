#include "wire/icmpv6.h"

#include <algorithm>
#include <cstring>

#include "wire/checksum.h"

namespace tern {

Parsed<Icmpv6Header> Icmpv6Header::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kIcmpv6HeaderLen) return ParseError::kTruncated;
  return Icmpv6Header{b};
}

bool Icmpv6Header::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  const std::uint32_t ph =
      ipv6_pseudo_header_sum(src, dst, static_cast<std::uint32_t>(msg_.size()), kIpProtoIcmpv6);
  return checksum_finish(checksum_partial(msg_, ph)) == 0;
}

void fill_icmpv6_checksum(std::span<std::byte> msg, const Ipv6Addr& src, const Ipv6Addr& dst) noexcept {
  store_be16(msg.data() + 2, 0);
  const std::uint32_t ph =
      ipv6_pseudo_header_sum(src, dst, static_cast<std::uint32_t>(msg.size()), kIpProtoIcmpv6);
  // Unlike UDP, ICMPv6 has no "no checksum" value, so a computed 0 is sent
  // as it is (both 0x0000 and 0xFFFF verify).
  store_be16(msg.data() + 2, checksum_finish(checksum_partial(msg, ph)));
}

std::size_t write_icmpv6_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id,
                              std::uint16_t seq, std::span<const std::byte> data, const Ipv6Addr& src,
                              const Ipv6Addr& dst) noexcept {
  const std::size_t len = kIcmpv6HeaderLen + data.size();
  if (out.size() < len) return 0;
  if (!data.empty()) std::memmove(out.data() + kIcmpv6HeaderLen, data.data(), data.size());
  store_u8(out.data(), type);
  store_u8(out.data() + 1, 0);
  store_be16(out.data() + 4, id);
  store_be16(out.data() + 6, seq);
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

std::size_t write_icmpv6_echo_reply(std::span<std::byte> out, const Icmpv6Header& request,
                                    const Ipv6Addr& src, const Ipv6Addr& dst) noexcept {
  return write_icmpv6_echo(out, kIcmpv6EchoReply, request.echo_id(), request.echo_seq(), request.body(), src,
                           dst);
}

std::size_t write_icmpv6_error(std::span<std::byte> out, const Icmpv6Error& e,
                               std::span<const std::byte> invoking, const Ipv6Addr& src,
                               const Ipv6Addr& dst) noexcept {
  if (out.size() < kIcmpv6HeaderLen) return 0;
  const std::size_t quote = std::min({invoking.size(), kIcmpv6MaxQuote, out.size() - kIcmpv6HeaderLen});
  // The invoking packet may be in the same buffer (an error built in place).
  if (quote != 0) std::memmove(out.data() + kIcmpv6HeaderLen, invoking.data(), quote);
  store_u8(out.data(), e.type);
  store_u8(out.data() + 1, e.code);
  store_be32(out.data() + 4, e.param);
  const std::size_t len = kIcmpv6HeaderLen + quote;
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

bool icmpv6_error_allowed(const Icmpv6Error& e, const Icmpv6Invoking& inv) noexcept {
  if (inv.is_icmpv6_error || inv.is_redirect) return false;              // (e.1), (e.2)
  if (inv.src.is_unspecified() || inv.src.is_multicast()) return false;  // (e.6)
  const bool multicast_exempt =
      e.type == kIcmpv6PacketTooBig || (e.type == kIcmpv6ParamProblem && e.code == kIcmpv6ParamUnknownOption);
  if ((inv.dst.is_multicast() || inv.link_multicast) && !multicast_exempt) return false;  // (e.3)-(e.5)
  return true;
}

Parsed<QuotedIpv6> parse_quoted_ipv6(std::span<const std::byte> body) noexcept {
  if (body.size() < kIpv6HeaderLen) return ParseError::kTruncated;
  if ((load_u8(body.data()) >> 4) != 6) return ParseError::kBadVersion;
  return QuotedIpv6{.src = Ipv6Addr::load(body.data() + 8),
                    .dst = Ipv6Addr::load(body.data() + 24),
                    .next_header = load_u8(body.data() + 6),
                    .rest = body.subspan(kIpv6HeaderLen)};
}

}  // namespace tern
