// UDP view; filling the checksum of any parsed datagram makes it verify.
#include <vector>

#include "fuzz_check.h"
#include "wire/udp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);
  auto udp = UdpHeader::parse(in);
  if (!udp) {
    FUZZ_CHECK(size < kUdpHeaderLen ? udp.error() == ParseError::kTruncated
                                    : udp.error() == ParseError::kBadLength);
    return 0;
  }
  FUZZ_CHECK(udp->length() >= kUdpHeaderLen && udp->length() <= size);
  FUZZ_CHECK(fuzz::within(udp->datagram(), in) && fuzz::within(udp->payload(), in));
  FUZZ_CHECK(udp->payload().size() == udp->length() - kUdpHeaderLen);
  fuzz::touch(udp->payload());
  const std::uint32_t src = 0x0a000001, dst = 0xc0a80102;
  const bool ok = udp->checksum_ok(src, dst);
  FUZZ_CHECK(udp->checksum() != 0 || ok);
  (void)(udp->src_port() + udp->dst_port());

  std::vector<std::byte> copy(udp->datagram().begin(), udp->datagram().end());
  fill_udp_checksum(copy, src, dst);
  auto filled = UdpHeader::parse(copy);
  FUZZ_CHECK(filled.ok() && filled->checksum() != 0 && filled->checksum_ok(src, dst));
  if (ok && udp->checksum() != 0) {
    // A valid checksum can only differ from ours by the two forms of -0.
    FUZZ_CHECK(filled->checksum() == udp->checksum() || filled->checksum() == 0xFFFF ||
               udp->checksum() == 0xFFFF);
  }
  return 0;
}
