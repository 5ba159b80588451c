// IPv4 header view: bounds of every span, field consistency, and the builder
// and checksum against what was parsed.
#include <array>

#include "fuzz_check.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);
  auto ip = Ipv4Header::parse(in);
  if (!ip) {
    FUZZ_CHECK(size < kIpv4MinHeaderLen || ip.error() != ParseError::kTruncated);
    return 0;
  }
  const std::size_t hl = ip->header_len();
  FUZZ_CHECK(hl >= kIpv4MinHeaderLen && hl <= kIpv4MaxHeaderLen && hl % 4 == 0);
  FUZZ_CHECK(hl <= ip->total_length() && ip->total_length() <= size);
  FUZZ_CHECK(fuzz::within(ip->header(), in) && fuzz::within(ip->options(), in) &&
             fuzz::within(ip->payload(), in));
  FUZZ_CHECK(ip->header().size() == hl && ip->options().size() == hl - kIpv4MinHeaderLen);
  FUZZ_CHECK(ip->payload().size() == ip->total_length() - hl);
  FUZZ_CHECK(ip->is_fragment() == (ip->more_fragments() || ip->fragment_offset_bytes() != 0));
  FUZZ_CHECK(ip->fragment_offset_bytes() % 8 == 0);
  FUZZ_CHECK(ip->dscp() == ip->tos() >> 2 && ip->ecn() == (ip->tos() & 3));
  fuzz::touch(ip->payload());
  fuzz::touch(ip->options());
  const bool ok = ip->checksum_ok();
  FUZZ_CHECK(ok == (internet_checksum(ip->header()) == 0));

  // Without options, and with only DF among the flags, write_ipv4 rebuilds
  // the same header; its checksum is the input's whenever that was valid
  // (bar 0xFFFF vs 0x0000, both -0).
  const std::uint16_t flags_frag = static_cast<std::uint16_t>(std::to_integer<std::uint16_t>(in[6]) << 8 |
                                                              std::to_integer<std::uint16_t>(in[7]));
  if (hl == kIpv4MinHeaderLen && (flags_frag & ~0x4000) == 0) {
    std::array<std::byte, kIpv4MinHeaderLen> out{};
    write_ipv4(out, Ipv4Fields{.src = ip->src(),
                               .dst = ip->dst(),
                               .protocol = ip->protocol(),
                               .ttl = ip->ttl(),
                               .id = ip->id(),
                               .dont_fragment = ip->dont_fragment(),
                               .payload_len = static_cast<std::uint16_t>(ip->total_length() - hl),
                               .tos = ip->tos()});
    for (std::size_t i = 0; i < kIpv4MinHeaderLen; ++i) {
      if (i != 10 && i != 11) FUZZ_CHECK(out[i] == in[i]);
    }
    auto again = Ipv4Header::parse(std::span<const std::byte>{out});
    FUZZ_CHECK(again.ok() || again.error() == ParseError::kBadTotalLength);  // out has no payload
    FUZZ_CHECK(internet_checksum(out) == 0);
    const std::uint16_t written = load_be16(out.data() + 10);
    if (ok) FUZZ_CHECK(written == ip->checksum() || (written == 0 && ip->checksum() == 0xFFFF));
  }
  return 0;
}
