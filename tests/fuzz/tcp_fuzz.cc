// TCP header view with its options; rebuilding the header from the
// accessors reproduces it, and fill_tcp_checksum makes any segment verify.
#include <algorithm>
#include <vector>

#include "fuzz_check.h"
#include "wire/checksum.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);
  auto tcp = TcpHeader::parse(in);
  if (!tcp) {
    FUZZ_CHECK(size < kTcpMinHeaderLen ? tcp.error() == ParseError::kTruncated
                                       : tcp.error() == ParseError::kBadHeaderLength);
    return 0;
  }
  const std::size_t hl = tcp->header_len();
  FUZZ_CHECK(hl >= kTcpMinHeaderLen && hl <= kTcpMaxHeaderLen && hl % 4 == 0 && hl <= size);
  FUZZ_CHECK(fuzz::within(tcp->header(), in) && fuzz::within(tcp->options(), in) &&
             fuzz::within(tcp->payload(), in) && fuzz::within(tcp->segment(), in));
  FUZZ_CHECK(tcp->options().size() == hl - kTcpMinHeaderLen && tcp->payload().size() == size - hl);
  fuzz::touch(tcp->payload());
  const TcpFlags f = tcp->flags();
  FUZZ_CHECK(!f.to_string().empty());
  FUZZ_CHECK(f.fin() + f.syn() + f.rst() + f.psh() + f.ack() + f.urg() + f.ece() + f.cwr() ==
             __builtin_popcount(f.bits));
  (void)tcp->urgent_pointer();

  if (auto opts = parse_tcp_options(tcp->options())) {
    FUZZ_CHECK(opts->sack_count <= kTcpMaxSackBlocks);
  }

  const std::uint32_t src = 0xc0a80001, dst = 0x0a000002;
  if (size <= 0xFFFF) {
    (void)tcp->checksum_ok(src, dst);
    std::vector<std::byte> copy(in.begin(), in.end());
    fill_tcp_checksum(copy, src, dst);
    FUZZ_CHECK(TcpHeader::parse(copy)->checksum_ok(src, dst));
  }

  // Rebuild: equal to the input but for the checksum (write_tcp leaves 0) and
  // the reserved bits beside the data offset (write_tcp clears them).
  std::vector<std::byte> out(hl);
  const std::size_t n = write_tcp(out,
                                  TcpFields{.sport = tcp->src_port(),
                                            .dport = tcp->dst_port(),
                                            .seq = tcp->seq(),
                                            .ack = tcp->ack(),
                                            .flags = f.bits,
                                            .window = tcp->window(),
                                            .urgent = tcp->urgent_pointer()},
                                  tcp->options());
  FUZZ_CHECK(n == hl);
  for (std::size_t i = 0; i < hl; ++i) {
    if (i == 12) {
      FUZZ_CHECK((out[i] & std::byte{0xF0}) == (in[i] & std::byte{0xF0}));
    } else if (i != 16 && i != 17) {
      FUZZ_CHECK(out[i] == in[i]);
    }
  }
  return 0;
}
