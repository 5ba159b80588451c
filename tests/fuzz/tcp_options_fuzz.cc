// TCP option lists: whatever parses must write back (into a buffer of a
// fuzzer-chosen size) and parse again to the same values.
#include <vector>

#include "fuzz_check.h"
#include "wire/tcp_options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  if (size < 1) return 0;
  const std::size_t room = data[0] % (kTcpMaxOptionsLen + 8);  // also larger than 40
  const auto in = fuzz::as_bytes(data + 1, size - 1);

  auto o = parse_tcp_options(in);
  if (!o) {
    FUZZ_CHECK(o.error() == ParseError::kBadOption);
    return 0;
  }
  FUZZ_CHECK(o->sack_count <= kTcpMaxSackBlocks && o->sack_blocks().size() == o->sack_count);

  std::vector<std::byte> out(room);  // exact size: ASan catches any overrun
  const std::size_t n = write_tcp_options(out, *o);
  FUZZ_CHECK(n <= room && n <= kTcpMaxOptionsLen && n % 4 == 0);
  FUZZ_CHECK(n == tcp_options_len(*o, room));
  out.resize(n);

  auto back = parse_tcp_options(out);
  FUZZ_CHECK(back.ok());
  // Pieces are dropped only for lack of room, never altered.
  FUZZ_CHECK(!back->mss || back->mss == o->mss);
  FUZZ_CHECK(!back->window_scale || back->window_scale == o->window_scale);
  FUZZ_CHECK(!back->timestamps || back->timestamps == o->timestamps);
  FUZZ_CHECK(!back->sack_permitted || o->sack_permitted);
  FUZZ_CHECK(back->sack_count <= o->sack_count);
  for (std::size_t k = 0; k < back->sack_count; ++k) FUZZ_CHECK(back->sack[k] == o->sack[k]);
  if (room >= kTcpMaxOptionsLen) {
    // MSS, SACK-permitted, timestamps and window scale always fit in 40.
    FUZZ_CHECK(back->mss == o->mss && back->window_scale == o->window_scale &&
               back->timestamps == o->timestamps && back->sack_permitted == o->sack_permitted);
  }
  return 0;
}
