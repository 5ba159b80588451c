// ICMPv6 view and builders. Input: source and destination address (32
// bytes), a flag byte (bit 0: fix the checksum up first, so the echo paths
// are reached), then the message. Checksums must agree with a plain RFC 1071
// sum over the pseudo-header, replies and errors must verify, and an error
// never exceeds the minimum MTU.
#include <algorithm>
#include <vector>

#include "fuzz_check.h"
#include "wire/checksum.h"
#include "wire/icmpv6.h"

namespace {

using namespace tern;

bool independent_ok(std::span<const std::byte> msg, const Ipv6Addr& src, const Ipv6Addr& dst) {
  std::vector<std::byte> all(40 + msg.size());
  src.store(all.data());
  dst.store(all.data() + 16);
  store_be32(all.data() + 32, static_cast<std::uint32_t>(msg.size()));
  all[39] = std::byte{kIpProtoIcmpv6};
  std::copy(msg.begin(), msg.end(), all.begin() + 40);
  return internet_checksum(all) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 33) return 0;
  const auto in = fuzz::as_bytes(data, size);
  const Ipv6Addr src = Ipv6Addr::load(in.data());
  const Ipv6Addr dst = Ipv6Addr::load(in.data() + 16);
  const bool fix = (data[32] & 1) != 0;
  std::vector<std::byte> msg(in.begin() + 33, in.end());

  auto icmp = Icmpv6Header::parse(msg);
  FUZZ_CHECK(icmp.ok() == (msg.size() >= kIcmpv6HeaderLen));
  if (!icmp) return 0;
  if (fix) {
    fill_icmpv6_checksum(msg, src, dst);
    icmp = Icmpv6Header::parse(msg);
    FUZZ_CHECK(icmp->checksum_ok(src, dst));
  }
  FUZZ_CHECK(fuzz::within(icmp->body(), msg) && icmp->body().size() == msg.size() - kIcmpv6HeaderLen);
  fuzz::touch(icmp->body());
  const bool ok = icmp->checksum_ok(src, dst);
  FUZZ_CHECK(ok == independent_ok(msg, src, dst));
  FUZZ_CHECK(icmp->is_error() == (icmp->type() < 128));
  (void)(icmp->mtu() + icmp->pointer() + icmp->echo_id() + icmp->echo_seq());

  if (ok && icmp->type() == kIcmpv6EchoRequest) {
    // Reply from the request's destination, in a fresh buffer and in place.
    std::vector<std::byte> out(msg.size());
    FUZZ_CHECK(write_icmpv6_echo_reply(out, *icmp, dst, src) == msg.size());
    auto rep = Icmpv6Header::parse(out);
    FUZZ_CHECK(rep.ok() && rep->type() == kIcmpv6EchoReply && rep->code() == 0);
    FUZZ_CHECK(rep->checksum_ok(dst, src) && independent_ok(out, dst, src));
    FUZZ_CHECK(rep->echo_id() == icmp->echo_id() && rep->echo_seq() == icmp->echo_seq());
    FUZZ_CHECK(std::equal(out.begin() + 8, out.end(), msg.begin() + 8));
    std::vector<std::byte> in_place = msg;
    FUZZ_CHECK(write_icmpv6_echo_reply(in_place, *Icmpv6Header::parse(in_place), dst, src) == msg.size());
    FUZZ_CHECK(in_place == out);
  }

  // Quote the message (as if it were an invoking packet) in an error.
  std::vector<std::byte> err(1500);
  const std::size_t n =
      write_icmpv6_error(err, {kIcmpv6ParamProblem, kIcmpv6ParamErroneousField, 4}, msg, dst, src);
  FUZZ_CHECK(n == kIcmpv6HeaderLen + std::min(msg.size(), kIcmpv6MaxQuote));
  FUZZ_CHECK(kIpv6HeaderLen + n <= kIpv6MinMtu);
  auto e = Icmpv6Header::parse(std::span{err}.first(n));
  FUZZ_CHECK(e.ok() && e->checksum_ok(dst, src) && e->pointer() == 4);
  FUZZ_CHECK(std::equal(e->body().begin(), e->body().end(), msg.begin()));
  if (auto q = parse_quoted_ipv6(icmp->body())) {
    FUZZ_CHECK(fuzz::within(q->rest, icmp->body()) && q->rest.size() == icmp->body().size() - kIpv6HeaderLen);
  }
  const Icmpv6Invoking inv{.src = src, .dst = dst};
  if (src.is_unspecified() || src.is_multicast()) {
    FUZZ_CHECK(!icmpv6_error_allowed({kIcmpv6PacketTooBig, 0, 1280}, inv));
  }
  return 0;
}
