// ARP packet view; a parsed packet rebuilds to the same 28 bytes.
#include <algorithm>
#include <array>

#include "fuzz_check.h"
#include "wire/arp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);
  auto arp = ArpPacket::parse(in);
  if (!arp) {
    FUZZ_CHECK(size < kArpLen ? arp.error() == ParseError::kTruncated
                              : arp.error() == ParseError::kUnsupported);
    return 0;
  }
  FUZZ_CHECK(size >= kArpLen);
  FUZZ_CHECK(fuzz::within(arp->bytes(), in));
  std::array<std::byte, kArpLen> out{};
  write_arp(out, static_cast<ArpOp>(arp->op()), arp->sender_mac(), arp->sender_ip(), arp->target_mac(),
            arp->target_ip());
  FUZZ_CHECK(std::equal(out.begin(), out.end(), in.begin()));
  return 0;
}
