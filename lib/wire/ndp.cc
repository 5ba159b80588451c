#include "wire/ndp.h"

namespace tern {
namespace {

std::size_t fixed_len_of(std::uint8_t type) noexcept {
  switch (type) {
    case kIcmpv6RouterSolicit:
      return kNdRouterSolicitLen;
    case kIcmpv6RouterAdvert:
      return kNdRouterAdvertLen;
    case kIcmpv6NeighborSolicit:
      return kNdNeighborSolicitLen;
    case kIcmpv6NeighborAdvert:
      return kNdNeighborAdvertLen;
    default:
      return 0;
  }
}

// §4.6: every option has a non-zero length and lies within the message.
bool options_well_formed(std::span<const std::byte> opts) noexcept {
  for (std::size_t i = 0; i < opts.size();) {
    if (opts.size() - i < 2) return false;
    const std::size_t len = std::size_t{load_u8(&opts[i + 1])} * 8;
    if (len == 0 || len > opts.size() - i) return false;
    i += len;
  }
  return true;
}

void put_lla_option(std::byte* p, std::uint8_t type, const MacAddr& mac) noexcept {
  store_u8(p, type);
  store_u8(p + 1, 1);
  mac.store(p + 2);
}

// Zeroes the fixed part of a message being built: reserved bits go out as 0.
void clear(std::span<std::byte> msg) noexcept {
  for (std::byte& b : msg) b = std::byte{0};
}

}  // namespace

Parsed<NdMessage> NdMessage::parse(std::span<const std::byte> msg) noexcept {
  if (msg.empty()) return ParseError::kTruncated;
  const std::size_t fixed = fixed_len_of(load_u8(msg.data()));
  if (fixed == 0) return ParseError::kUnsupported;
  if (msg.size() < fixed) return ParseError::kTruncated;
  if (!options_well_formed(msg.subspan(fixed))) return ParseError::kBadOption;
  return NdMessage{msg, static_cast<std::uint8_t>(fixed)};
}

bool NdMessage::has_option(std::uint8_t type) const noexcept {
  bool found = false;
  for_each_option([&](std::uint8_t t, std::span<const std::byte>) { found |= t == type; });
  return found;
}

std::optional<MacAddr> NdMessage::lla(std::uint8_t type) const noexcept {
  std::optional<MacAddr> mac;
  for_each_option([&](std::uint8_t t, std::span<const std::byte> o) {
    if (!mac && t == type && o.size() == kNdOptLlaLen) mac = MacAddr::load(o.data() + 2);
  });
  return mac;
}

std::optional<std::uint32_t> NdMessage::mtu() const noexcept {
  std::optional<std::uint32_t> mtu;
  for_each_option([&](std::uint8_t t, std::span<const std::byte> o) {
    if (!mtu && t == kNdOptMtu && o.size() == kNdOptMtuLen) mtu = load_be32(o.data() + 4);
  });
  return mtu;
}

NdPrefixInfo NdMessage::prefix_info(std::span<const std::byte> o) noexcept {
  const std::uint8_t flags = load_u8(o.data() + 3);
  return NdPrefixInfo{.prefix_len = load_u8(o.data() + 2),
                      .on_link = (flags & 0x80) != 0,
                      .autonomous = (flags & 0x40) != 0,
                      .valid_lifetime_s = load_be32(o.data() + 4),
                      .preferred_lifetime_s = load_be32(o.data() + 8),
                      .prefix = Ipv6Addr::load(o.data() + 16)};
}

std::string_view nd_reject_name(NdReject r) noexcept {
  switch (r) {
    case NdReject::kValid:
      return "valid";
    case NdReject::kNotNd:
      return "not_nd";
    case NdReject::kHopLimit:
      return "hop_limit";
    case NdReject::kBadChecksum:
      return "bad_checksum";
    case NdReject::kBadCode:
      return "bad_code";
    case NdReject::kTooShort:
      return "too_short";
    case NdReject::kBadOptionLength:
      return "bad_option_length";
    case NdReject::kMulticastTarget:
      return "multicast_target";
    case NdReject::kUnspecifiedWithSourceLla:
      return "unspecified_with_source_lla";
    case NdReject::kUnspecifiedNotSolicitedNode:
      return "unspecified_not_solicited_node";
    case NdReject::kSolicitedToMulticast:
      return "solicited_to_multicast";
    case NdReject::kRouterNotLinkLocal:
      return "router_not_link_local";
  }
  return "unknown";
}

NdReject validate_nd(const Ipv6Header& ip, std::span<const std::byte> msg) noexcept {
  if (msg.empty() || fixed_len_of(load_u8(msg.data())) == 0) return NdReject::kNotNd;
  if (ip.hop_limit() != kNdHopLimit) return NdReject::kHopLimit;
  auto icmp = Icmpv6Header::parse(msg);
  if (!icmp) return NdReject::kTooShort;  // under 8 bytes
  const Ipv6Addr src = ip.src(), dst = ip.dst();
  if (!icmp->checksum_ok(src, dst)) return NdReject::kBadChecksum;
  if (icmp->code() != 0) return NdReject::kBadCode;
  auto nd = NdMessage::parse(msg);
  if (!nd) return nd.error() == ParseError::kTruncated ? NdReject::kTooShort : NdReject::kBadOptionLength;
  switch (nd->type()) {
    case kIcmpv6RouterSolicit:  // §6.1.1
      if (src.is_unspecified() && nd->has_option(kNdOptSourceLla)) return NdReject::kUnspecifiedWithSourceLla;
      break;
    case kIcmpv6RouterAdvert:  // §6.1.2
      if (!src.is_link_local()) return NdReject::kRouterNotLinkLocal;
      break;
    case kIcmpv6NeighborSolicit:  // §7.1.1
      if (nd->target().is_multicast()) return NdReject::kMulticastTarget;
      if (src.is_unspecified()) {
        if (!dst.is_solicited_node()) return NdReject::kUnspecifiedNotSolicitedNode;
        if (nd->has_option(kNdOptSourceLla)) return NdReject::kUnspecifiedWithSourceLla;
      }
      break;
    default:  // Neighbour Advertisement, §7.1.2
      if (nd->target().is_multicast()) return NdReject::kMulticastTarget;
      if (dst.is_multicast() && nd->solicited_flag()) return NdReject::kSolicitedToMulticast;
      break;
  }
  return NdReject::kValid;
}

std::size_t write_neighbor_solicit(std::span<std::byte> out, const Ipv6Addr& target,
                                   std::optional<MacAddr> source_lla, const Ipv6Addr& src,
                                   const Ipv6Addr& dst) noexcept {
  const std::size_t len = kNdNeighborSolicitLen + (source_lla ? kNdOptLlaLen : 0);
  if (out.size() < len) return 0;
  clear(out.first(kNdNeighborSolicitLen));
  store_u8(out.data(), kIcmpv6NeighborSolicit);
  target.store(out.data() + 8);
  if (source_lla) put_lla_option(out.data() + kNdNeighborSolicitLen, kNdOptSourceLla, *source_lla);
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

std::size_t write_neighbor_advert(std::span<std::byte> out, const Ipv6Addr& target, NaFlags flags,
                                  std::optional<MacAddr> target_lla, const Ipv6Addr& src,
                                  const Ipv6Addr& dst) noexcept {
  const std::size_t len = kNdNeighborAdvertLen + (target_lla ? kNdOptLlaLen : 0);
  if (out.size() < len) return 0;
  clear(out.first(kNdNeighborAdvertLen));
  store_u8(out.data(), kIcmpv6NeighborAdvert);
  store_u8(out.data() + 4,
           static_cast<std::uint8_t>((flags.router ? 0x80 : 0) | (flags.solicited ? 0x40 : 0) |
                                     (flags.override_ ? 0x20 : 0)));
  target.store(out.data() + 8);
  if (target_lla) put_lla_option(out.data() + kNdNeighborAdvertLen, kNdOptTargetLla, *target_lla);
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

std::size_t write_router_solicit(std::span<std::byte> out, std::optional<MacAddr> source_lla,
                                 const Ipv6Addr& src, const Ipv6Addr& dst) noexcept {
  const std::size_t len = kNdRouterSolicitLen + (source_lla ? kNdOptLlaLen : 0);
  if (out.size() < len) return 0;
  clear(out.first(kNdRouterSolicitLen));
  store_u8(out.data(), kIcmpv6RouterSolicit);
  if (source_lla) put_lla_option(out.data() + kNdRouterSolicitLen, kNdOptSourceLla, *source_lla);
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

std::size_t write_router_advert(std::span<std::byte> out, const RouterAdvertFields& f, const Ipv6Addr& src,
                                const Ipv6Addr& dst) noexcept {
  const std::size_t len = kNdRouterAdvertLen + (f.source_lla ? kNdOptLlaLen : 0) +
                          (f.mtu ? kNdOptMtuLen : 0) + f.prefixes.size() * kNdOptPrefixInfoLen;
  if (out.size() < len) return 0;
  clear(out.first(len));
  std::byte* p = out.data();
  store_u8(p, kIcmpv6RouterAdvert);
  store_u8(p + 4, f.cur_hop_limit);
  store_u8(p + 5, static_cast<std::uint8_t>((f.managed ? 0x80 : 0) | (f.other ? 0x40 : 0)));
  store_be16(p + 6, f.router_lifetime_s);
  store_be32(p + 8, f.reachable_time_ms);
  store_be32(p + 12, f.retrans_timer_ms);
  p += kNdRouterAdvertLen;
  if (f.source_lla) {
    put_lla_option(p, kNdOptSourceLla, *f.source_lla);
    p += kNdOptLlaLen;
  }
  if (f.mtu) {
    store_u8(p, kNdOptMtu);
    store_u8(p + 1, 1);
    store_be32(p + 4, *f.mtu);
    p += kNdOptMtuLen;
  }
  for (const NdPrefixInfo& pi : f.prefixes) {
    store_u8(p, kNdOptPrefixInfo);
    store_u8(p + 1, 4);
    store_u8(p + 2, pi.prefix_len);
    store_u8(p + 3, static_cast<std::uint8_t>((pi.on_link ? 0x80 : 0) | (pi.autonomous ? 0x40 : 0)));
    store_be32(p + 4, pi.valid_lifetime_s);
    store_be32(p + 8, pi.preferred_lifetime_s);
    pi.prefix.store(p + 16);
    p += kNdOptPrefixInfoLen;
  }
  fill_icmpv6_checksum(out.first(len), src, dst);
  return len;
}

}  // namespace tern
