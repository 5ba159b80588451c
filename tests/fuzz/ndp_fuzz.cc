// Neighbour discovery: parse, option walk, validity checks and builders.
// Input: a flag byte (bit 0: fix the ICMPv6 checksum up so that validation
// gets past it), then an IPv6 packet. A message validate_nd() accepts must
// satisfy each RFC 4861 check independently, and what the builders write
// must parse back.
#include <array>
#include <vector>

#include "fuzz_check.h"
#include "wire/ndp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  if (size < 1) return 0;
  const bool fix = (data[0] & 1) != 0;
  std::vector<std::byte> pkt(reinterpret_cast<const std::byte*>(data) + 1,
                             reinterpret_cast<const std::byte*>(data) + size);

  // The parser alone, on the raw bytes after the fixed header.
  if (pkt.size() > kIpv6HeaderLen) {
    const std::span<const std::byte> raw{pkt.data() + kIpv6HeaderLen, pkt.size() - kIpv6HeaderLen};
    if (auto nd = NdMessage::parse(raw)) {
      std::size_t total = 0;
      nd->for_each_option([&](std::uint8_t, std::span<const std::byte> o) {
        FUZZ_CHECK(!o.empty() && o.size() % 8 == 0 && fuzz::within(o, nd->options()));
        total += o.size();
        fuzz::touch(o);
      });
      FUZZ_CHECK(total == nd->options().size());
      nd->for_each_prefix([&](const NdPrefixInfo& p) { (void)p.prefix_len; });
      (void)nd->source_lla();
      (void)nd->target_lla();
      (void)nd->mtu();
    }
  }

  auto ip = Ipv6Header::parse(pkt);
  if (!ip) return 0;
  const Ipv6ExtWalk w = walk_ipv6_extensions(*ip);
  if (w.verdict != Ipv6ExtVerdict::kUpperLayer || w.upper_protocol != kIpProtoIcmpv6) return 0;
  const std::size_t start = w.upper_offset;
  const std::size_t len = ip->packet().size() - start;
  if (fix && len >= kIcmpv6HeaderLen) fill_icmpv6_checksum({pkt.data() + start, len}, ip->src(), ip->dst());
  const std::span<const std::byte> msg{pkt.data() + start, len};
  const NdReject r = validate_nd(*ip, msg);
  FUZZ_CHECK(nd_reject_name(r) != "unknown");
  if (r != NdReject::kValid) return 0;

  auto nd = NdMessage::parse(msg);
  FUZZ_CHECK(nd.ok() && ip->hop_limit() == kNdHopLimit && nd->code() == 0);
  FUZZ_CHECK(Icmpv6Header::parse(msg)->checksum_ok(ip->src(), ip->dst()));
  std::vector<std::byte> out(64);
  switch (nd->type()) {
    case kIcmpv6NeighborSolicit: {
      FUZZ_CHECK(!nd->target().is_multicast());
      FUZZ_CHECK(!ip->src().is_unspecified() || (ip->dst().is_solicited_node() && !nd->source_lla()));
      const std::size_t n = write_neighbor_solicit(out, nd->target(), nd->source_lla(), ip->src(), ip->dst());
      auto again = NdMessage::parse(std::span{out}.first(n));
      FUZZ_CHECK(again.ok() && again->target() == nd->target() && again->source_lla() == nd->source_lla());
      break;
    }
    case kIcmpv6NeighborAdvert: {
      FUZZ_CHECK(!nd->target().is_multicast());
      FUZZ_CHECK(!ip->dst().is_multicast() || !nd->solicited_flag());
      const NaFlags f{nd->router_flag(), nd->solicited_flag(), nd->override_flag()};
      const std::size_t n =
          write_neighbor_advert(out, nd->target(), f, nd->target_lla(), ip->src(), ip->dst());
      auto again = NdMessage::parse(std::span{out}.first(n));
      FUZZ_CHECK(again.ok() && again->target() == nd->target() && again->target_lla() == nd->target_lla());
      FUZZ_CHECK(again->router_flag() == f.router && again->solicited_flag() == f.solicited &&
                 again->override_flag() == f.override_);
      break;
    }
    case kIcmpv6RouterAdvert: {
      FUZZ_CHECK(ip->src().is_link_local());
      // Rebuilt from what was parsed (the first four prefixes), it parses
      // back to the same fields.
      std::array<NdPrefixInfo, 4> prefixes{};
      std::size_t np = 0;
      nd->for_each_prefix([&](const NdPrefixInfo& p) {
        if (np < prefixes.size()) prefixes[np++] = p;
      });
      const RouterAdvertFields f{.cur_hop_limit = nd->cur_hop_limit(),
                                 .managed = nd->managed_flag(),
                                 .other = nd->other_flag(),
                                 .router_lifetime_s = nd->router_lifetime_s(),
                                 .reachable_time_ms = nd->reachable_time_ms(),
                                 .retrans_timer_ms = nd->retrans_timer_ms(),
                                 .source_lla = nd->source_lla(),
                                 .mtu = nd->mtu(),
                                 .prefixes = std::span{prefixes}.first(np)};
      std::vector<std::byte> ra(256);
      const std::size_t n = write_router_advert(ra, f, ip->src(), ip->dst());
      FUZZ_CHECK(n != 0);
      auto again = NdMessage::parse(std::span{ra}.first(n));
      FUZZ_CHECK(again.ok() && again->router_lifetime_s() == f.router_lifetime_s &&
                 again->reachable_time_ms() == f.reachable_time_ms &&
                 again->retrans_timer_ms() == f.retrans_timer_ms &&
                 again->cur_hop_limit() == f.cur_hop_limit && again->managed_flag() == f.managed &&
                 again->other_flag() == f.other && again->source_lla() == f.source_lla &&
                 again->mtu() == f.mtu);
      std::size_t i = 0;
      again->for_each_prefix([&](const NdPrefixInfo& p) {
        FUZZ_CHECK(i < np && p.prefix == prefixes[i].prefix && p.prefix_len == prefixes[i].prefix_len &&
                   p.on_link == prefixes[i].on_link && p.autonomous == prefixes[i].autonomous &&
                   p.valid_lifetime_s == prefixes[i].valid_lifetime_s &&
                   p.preferred_lifetime_s == prefixes[i].preferred_lifetime_s);
        ++i;
      });
      FUZZ_CHECK(i == np);
      FUZZ_CHECK(Icmpv6Header::parse(std::span{ra}.first(n))->checksum_ok(ip->src(), ip->dst()));
      break;
    }
    default: {
      FUZZ_CHECK(nd->type() == kIcmpv6RouterSolicit);
      FUZZ_CHECK(!ip->src().is_unspecified() || !nd->has_option(kNdOptSourceLla));
      const std::size_t n = write_router_solicit(out, nd->source_lla(), ip->src(), ip->dst());
      auto again = NdMessage::parse(std::span{out}.first(n));
      FUZZ_CHECK(again.ok() && again->source_lla() == nd->source_lla());
      break;
    }
  }
  return 0;
}
