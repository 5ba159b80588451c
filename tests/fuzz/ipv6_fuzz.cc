// IPv6 header view, builder, extension-header walk and address text: every
// span and offset stays inside the packet, verdicts are self-consistent, and
// text round-trips.
#include <array>
#include <string_view>

#include "fuzz_check.h"
#include "wire/checksum.h"
#include "wire/ipv6.h"

namespace {

using namespace tern;

void check_text(std::span<const std::byte> in) {
  // The first 16 bytes as an address: RFC 5952 text parses back to it.
  if (in.size() >= 16) {
    const Ipv6Addr a = Ipv6Addr::load(in.data());
    std::array<char, kIpv6AddrMaxText> buf;
    const std::size_t n = a.format(buf);
    FUZZ_CHECK(n >= 2 && n <= kIpv6AddrMaxText);
    const auto back = Ipv6Addr::from_string({buf.data(), n});
    FUZZ_CHECK(back.has_value() && *back == a);
  }
  // The input as text: whatever parses formats to a canonical form that
  // parses to the same address and formats identically again.
  const std::string_view s{reinterpret_cast<const char*>(in.data()), in.size()};
  if (auto a = Ipv6Addr::from_string(s)) {
    std::array<char, kIpv6AddrMaxText> buf, buf2;
    const std::size_t n = a->format(buf);
    const auto back = Ipv6Addr::from_string({buf.data(), n});
    FUZZ_CHECK(back.has_value() && *back == *a);
    FUZZ_CHECK(back->format(buf2) == n &&
               std::string_view(buf.data(), n) == std::string_view(buf2.data(), n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = fuzz::as_bytes(data, size);
  check_text(in);
  auto ip = Ipv6Header::parse(in);
  if (!ip) {
    FUZZ_CHECK(size < kIpv6HeaderLen || ip.error() != ParseError::kTruncated);
    return 0;
  }
  const auto pkt = ip->packet();
  FUZZ_CHECK(fuzz::within(ip->header(), in) && fuzz::within(pkt, in) && fuzz::within(ip->payload(), in));
  FUZZ_CHECK(pkt.size() == kIpv6HeaderLen + ip->payload_length());
  FUZZ_CHECK(ip->flow_label() <= 0xFFFFF);
  fuzz::touch(ip->payload());
  FUZZ_CHECK(ipv6_pseudo_header_sum(ip->src(), ip->dst(), ip->payload_length(), ip->next_header()) <= 0xFFFF);

  // The builder rebuilds the fixed header byte for byte.
  std::array<std::byte, kIpv6HeaderLen> out{};
  write_ipv6(out, Ipv6Fields{.src = ip->src(),
                             .dst = ip->dst(),
                             .next_header = ip->next_header(),
                             .hop_limit = ip->hop_limit(),
                             .payload_len = ip->payload_length(),
                             .traffic_class = ip->traffic_class(),
                             .flow_label = ip->flow_label()});
  for (std::size_t i = 0; i < kIpv6HeaderLen; ++i) FUZZ_CHECK(out[i] == in[i]);

  const Ipv6ExtWalk w = walk_ipv6_extensions(*ip);
  FUZZ_CHECK(w.ext_headers <= kIpv6MaxExtHeaders);
  switch (w.verdict) {
    case Ipv6ExtVerdict::kUpperLayer:
      FUZZ_CHECK(w.reason == Ipv6ExtReason::kNone);
      FUZZ_CHECK(w.upper_offset >= kIpv6HeaderLen && w.upper_offset <= pkt.size());
      FUZZ_CHECK(w.next_header_pointer < w.upper_offset);
      FUZZ_CHECK(load_u8(&pkt[w.next_header_pointer]) == w.upper_protocol);
      FUZZ_CHECK(w.upper_protocol != kIpv6NextHopByHop && w.upper_protocol != kIpv6NextDestOpts &&
                 w.upper_protocol != kIpv6NextRouting && w.upper_protocol != kIpv6NextFragment);
      FUZZ_CHECK(!w.has_fragment || (w.fragment_offset == 0 && !w.more_fragments));
      fuzz::touch(pkt.subspan(w.upper_offset));
      break;
    case Ipv6ExtVerdict::kFragment:
      FUZZ_CHECK(w.has_fragment && (w.fragment_offset != 0 || w.more_fragments));
      FUZZ_CHECK(w.upper_offset >= kIpv6HeaderLen + 8 && w.upper_offset <= pkt.size());
      FUZZ_CHECK(w.next_header_pointer + 8u == w.upper_offset);
      FUZZ_CHECK(load_u8(&pkt[w.next_header_pointer]) == w.upper_protocol);
      FUZZ_CHECK(!w.more_fragments || (pkt.size() - w.upper_offset) % 8 == 0);
      FUZZ_CHECK((w.upper_offset - kIpv6HeaderLen - 8) + w.fragment_offset + (pkt.size() - w.upper_offset) <=
                 0xFFFF);
      break;
    case Ipv6ExtVerdict::kParamProblem:
      FUZZ_CHECK(w.reason != Ipv6ExtReason::kNone);
      FUZZ_CHECK(w.icmp_code <= kIcmpv6ParamUnknownOption);
      FUZZ_CHECK(w.icmp_pointer < pkt.size());
      if (w.icmp_code == kIcmpv6ParamUnknownOption) {
        FUZZ_CHECK((load_u8(&pkt[w.icmp_pointer]) >> 6) >= 2);
        FUZZ_CHECK((load_u8(&pkt[w.icmp_pointer]) >> 6) == 2 || !ip->dst().is_multicast());
      }
      if (w.icmp_code == kIcmpv6ParamUnknownNextHeader) FUZZ_CHECK(load_u8(&pkt[w.icmp_pointer]) == 0);
      break;
    case Ipv6ExtVerdict::kDiscard:
      FUZZ_CHECK(w.reason != Ipv6ExtReason::kNone);
      FUZZ_CHECK(ipv6_ext_reason_name(w.reason) != "unknown");
      break;
  }
  return 0;
}
