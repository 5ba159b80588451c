// Ethernet header view and MAC address text parsing.
#include <array>
#include <string_view>

#include "fuzz_check.h"
#include "wire/ethernet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);

  auto eth = EthernetHeader::parse(in);
  FUZZ_CHECK(eth.ok() == (size >= kEthernetHeaderLen));
  if (eth) {
    const MacAddr dst = eth->dst();
    const MacAddr src = eth->src();
    FUZZ_CHECK(!dst.is_broadcast() || dst.is_multicast());
    FUZZ_CHECK(MacAddr::from_string(dst.to_string()) == dst);
    FUZZ_CHECK(fuzz::within(eth->header(), in) && fuzz::within(eth->payload(), in));
    FUZZ_CHECK(eth->payload().size() == size - kEthernetHeaderLen);
    fuzz::touch(eth->payload());
    // Rebuilding from the accessors gives back the same 14 bytes.
    std::array<std::byte, kEthernetHeaderLen> out{};
    write_ethernet(out, dst, src, eth->ether_type());
    FUZZ_CHECK(std::equal(out.begin(), out.end(), in.begin()));
  }

  const std::string_view text{reinterpret_cast<const char*>(data), size};
  if (auto mac = MacAddr::from_string(text)) {
    FUZZ_CHECK(MacAddr::from_string(mac->to_string()) == *mac);
  }
  return 0;
}
