// The fast checksum against RFC 1071 by the letter, whole and in chunks of
// fuzzer-chosen (often odd) sizes, and RFC 1624 incremental updates.
#include <algorithm>
#include <vector>

#include "fuzz_check.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

namespace {

std::uint32_t reference_sum(std::span<const std::byte> d, std::uint32_t sum) {
  std::uint64_t s = sum;
  for (std::size_t i = 0; i + 1 < d.size(); i += 2) s += tern::load_be16(&d[i]);
  if (d.size() % 2 == 1) s += std::to_integer<std::uint64_t>(d.back()) << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<std::uint32_t>(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  if (size < 5) return 0;
  const std::uint32_t init = static_cast<std::uint32_t>(data[0]) << 24 |
                             static_cast<std::uint32_t>(data[1]) << 16 |
                             static_cast<std::uint32_t>(data[2]) << 8 | data[3];
  const std::uint8_t step = data[4];
  const auto in = fuzz::as_bytes(data + 5, size - 5);

  const std::uint32_t whole = checksum_partial(in, init);
  FUZZ_CHECK(whole <= 0xFFFF);
  FUZZ_CHECK(whole == reference_sum(in, init));

  ChecksumAccumulator acc{init};
  std::size_t off = 0, k = 0;
  while (off < in.size()) {
    const std::size_t n = std::min<std::size_t>(in.size() - off, 1 + (step + 7 * k++) % 23);
    acc.add(in.subspan(off, n));
    off += n;
  }
  FUZZ_CHECK(acc.sum() == whole);

  if (in.size() >= 2 && in.size() % 2 == 0 && in[0] != std::byte{0}) {
    const std::uint16_t before = internet_checksum(in);
    const std::size_t w = (step * 2u) % in.size();
    const std::uint16_t old_word = load_be16(&in[w]);
    const auto new_word = static_cast<std::uint16_t>(init);
    std::vector<std::byte> changed(in.begin(), in.end());
    store_be16(&changed[w], new_word);
    bool all_zero = true;
    for (std::byte b : changed) all_zero = all_zero && b == std::byte{0};
    if (!all_zero) FUZZ_CHECK(checksum_adjust(before, old_word, new_word) == internet_checksum(changed));
  }
  return 0;
}
