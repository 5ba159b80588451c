// ICMP view and the Echo Reply builder: any request with a valid checksum
// must yield a reply with a valid checksum.
#include <algorithm>
#include <vector>

#include "fuzz_check.h"
#include "wire/checksum.h"
#include "wire/icmp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  const auto in = fuzz::as_bytes(data, size);
  auto icmp = IcmpHeader::parse(in);
  FUZZ_CHECK(icmp.ok() == (size >= kIcmpHeaderLen));
  if (!icmp) return 0;
  FUZZ_CHECK(fuzz::within(icmp->message(), in) && fuzz::within(icmp->body(), in));
  FUZZ_CHECK(icmp->body().size() == size - kIcmpHeaderLen);
  fuzz::touch(icmp->body());
  const std::uint32_t fields = icmp->type() + icmp->code() + icmp->checksum() + icmp->echo_id() +
                               icmp->echo_seq() + icmp->next_hop_mtu();
  (void)fields;
  const bool ok = icmp->checksum_ok();
  FUZZ_CHECK(ok == (internet_checksum(in) == 0));
  if (!ok) return 0;

  std::vector<std::byte> out(size);
  write_icmp_echo_reply(out, *icmp);
  auto reply = IcmpHeader::parse(out);
  FUZZ_CHECK(reply.ok() && reply->type() == kIcmpEchoReply && reply->code() == 0);
  FUZZ_CHECK(reply->checksum_ok());
  FUZZ_CHECK(reply->echo_id() == icmp->echo_id() && reply->echo_seq() == icmp->echo_seq());
  FUZZ_CHECK(std::equal(out.begin() + 4, out.end(), in.begin() + 4));

  // In place, on a copy of the request, gives the same bytes.
  std::vector<std::byte> in_place(in.begin(), in.end());
  auto self = IcmpHeader::parse(in_place);
  write_icmp_echo_reply(in_place, *self);
  FUZZ_CHECK(in_place == out);
  return 0;
}
