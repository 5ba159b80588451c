#include "wire/icmpv6.h"

#include <gtest/gtest.h>

#include <random>

#include "test_bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

using testing::hex;

Ipv6Addr addr(std::string_view s) { return Ipv6Addr::from_string(s).value(); }

const Ipv6Addr kA = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1});
const Ipv6Addr kB = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});

// Echo Request 2001:db8::1 -> 2001:db8::2, id 0x1234 seq 1, "abcd"; the
// checksum computed independently (Python, RFC 1071 over the RFC 8200 §8.1
// pseudo-header).
std::vector<std::byte> echo_request() { return hex("80 00 4d 48 12 34 00 01 61 62 63 64"); }

TEST(Icmpv6Header, ParsesEchoRequest) {
  const auto msg = echo_request();
  auto icmp = Icmpv6Header::parse(msg);
  ASSERT_TRUE(icmp.ok());
  EXPECT_EQ(icmp->type(), kIcmpv6EchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_FALSE(icmp->is_error());
  EXPECT_EQ(icmp->echo_id(), 0x1234);
  EXPECT_EQ(icmp->echo_seq(), 1);
  EXPECT_TRUE(icmp->checksum_ok(kA, kB));
}

TEST(Icmpv6Header, ChecksumCoversThePseudoHeader) {
  const auto msg = echo_request();
  auto icmp = Icmpv6Header::parse(msg);
  ASSERT_TRUE(icmp.ok());
  EXPECT_TRUE(icmp->checksum_ok(kA, kB));
  EXPECT_FALSE(icmp->checksum_ok(kA, addr("2001:db8::3")));
  EXPECT_FALSE(icmp->checksum_ok(addr("2001:db8::5"), kB));
  // Over a shorter message the length in the pseudo-header differs too.
  EXPECT_FALSE(Icmpv6Header::parse(std::span{msg}.first(11))->checksum_ok(kA, kB));
}

TEST(Icmpv6Header, TruncatedAtEveryLength) {
  const auto msg = echo_request();
  for (std::size_t n = 0; n < kIcmpv6HeaderLen; ++n) {
    auto icmp = Icmpv6Header::parse(std::span{msg}.first(n));
    ASSERT_FALSE(icmp.ok());
    EXPECT_EQ(icmp.error(), ParseError::kTruncated);
  }
  auto bare = Icmpv6Header::parse(std::span{msg}.first(kIcmpv6HeaderLen));
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->body().empty());
}

TEST(Icmpv6Echo, RequestBuilderMatchesIndependentBytes) {
  std::array<std::byte, 12> out{};
  const auto data = hex("61 62 63 64");
  ASSERT_EQ(write_icmpv6_echo(out, kIcmpv6EchoRequest, 0x1234, 1, data, kA, kB), 12u);
  EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), echo_request());
  EXPECT_EQ(write_icmpv6_echo(std::span{out}.first(11), kIcmpv6EchoRequest, 0x1234, 1, data, kA, kB), 0u)
      << "too short an output";
}

TEST(Icmpv6Echo, ReplyMatchesIndependentBytes) {
  const auto req = echo_request();
  auto icmp = Icmpv6Header::parse(req);
  std::vector<std::byte> out(req.size());
  ASSERT_EQ(write_icmpv6_echo_reply(out, *icmp, kB, kA), req.size());
  EXPECT_EQ(out, hex("81 00 4c 48 12 34 00 01 61 62 63 64"));
}

TEST(Icmpv6Echo, ReplyInPlaceAndToAMulticastRequest) {
  auto buf = echo_request();
  auto icmp = Icmpv6Header::parse(buf);
  ASSERT_EQ(write_icmpv6_echo_reply(buf, *icmp, kB, kA), buf.size());
  EXPECT_EQ(buf, hex("81 00 4c 48 12 34 00 01 61 62 63 64"));
  // A request to ff02::1 is answered from a unicast address (RFC 4443 §4.2):
  // the pseudo-header differs, and the checksum is recomputed for it.
  std::vector<std::byte> req(12);
  write_icmpv6_echo(req, kIcmpv6EchoRequest, 7, 9, hex("61 62 63 64"), kA, Ipv6Addr::all_nodes());
  auto mreq = Icmpv6Header::parse(req);
  ASSERT_TRUE(mreq->checksum_ok(kA, Ipv6Addr::all_nodes()));
  std::vector<std::byte> rep(12);
  write_icmpv6_echo_reply(rep, *mreq, kB, kA);
  auto r = Icmpv6Header::parse(rep);
  EXPECT_TRUE(r->checksum_ok(kB, kA));
  EXPECT_EQ(r->echo_id(), 7);
  EXPECT_EQ(r->echo_seq(), 9);
}

TEST(Icmpv6Echo, RandomEchoesVerify) {
  std::mt19937_64 rng(4443);
  for (int round = 0; round < 2000; ++round) {
    const auto data = testing::random_bytes(rng() % 300, rng());
    Ipv6Addr src, dst;
    for (auto& b : src.b) b = static_cast<std::uint8_t>(rng());
    for (auto& b : dst.b) b = static_cast<std::uint8_t>(rng());
    std::vector<std::byte> out(kIcmpv6HeaderLen + data.size());
    ASSERT_EQ(write_icmpv6_echo(out, kIcmpv6EchoRequest, static_cast<std::uint16_t>(rng()),
                                static_cast<std::uint16_t>(rng()), data, src, dst),
              out.size());
    auto icmp = Icmpv6Header::parse(out);
    ASSERT_TRUE(icmp->checksum_ok(src, dst)) << round;
    // Independent check: the plain RFC 1071 sum over pseudo-header + message.
    std::vector<std::byte> ph(40);
    src.store(ph.data());
    dst.store(ph.data() + 16);
    store_be32(ph.data() + 32, static_cast<std::uint32_t>(out.size()));
    ph[39] = std::byte{kIpProtoIcmpv6};
    ASSERT_EQ(internet_checksum(testing::concat({ph, out})), 0) << round;
    ASSERT_TRUE(std::equal(data.begin(), data.end(), icmp->body().begin(), icmp->body().end()));
  }
}

// ---- errors ------------------------------------------------------------------------

std::vector<std::byte> ipv6_packet(std::size_t payload_len, std::uint8_t next = kIpProtoTcp) {
  std::vector<std::byte> p(kIpv6HeaderLen + payload_len);
  write_ipv6(
      p,
      Ipv6Fields{
          .src = kA, .dst = kB, .next_header = next, .payload_len = static_cast<std::uint16_t>(payload_len)});
  const auto data = testing::random_bytes(payload_len, payload_len);
  std::copy(data.begin(), data.end(), p.begin() + kIpv6HeaderLen);
  return p;
}

TEST(Icmpv6Error, PacketTooBigCarriesTheMtuAndTheQuote) {
  const auto invoking = ipv6_packet(100);
  std::vector<std::byte> out(1500);
  const std::size_t n = write_icmpv6_error(out, {kIcmpv6PacketTooBig, 0, 1280}, invoking, kB, kA);
  ASSERT_EQ(n, kIcmpv6HeaderLen + invoking.size());
  auto icmp = Icmpv6Header::parse(std::span{out}.first(n));
  ASSERT_TRUE(icmp.ok());
  EXPECT_TRUE(icmp->is_error());
  EXPECT_EQ(icmp->type(), kIcmpv6PacketTooBig);
  EXPECT_EQ(icmp->mtu(), 1280u);
  EXPECT_TRUE(icmp->checksum_ok(kB, kA));
  EXPECT_TRUE(std::equal(invoking.begin(), invoking.end(), icmp->body().begin(), icmp->body().end()));
  auto q = parse_quoted_ipv6(icmp->body());
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->src, kA);
  EXPECT_EQ(q->dst, kB);
  EXPECT_EQ(q->next_header, kIpProtoTcp);
  EXPECT_EQ(q->rest.size(), 100u);
}

TEST(Icmpv6Error, QuoteIsBoundedSoTheErrorFitsTheMinimumMtu) {
  const auto invoking = ipv6_packet(1400);
  std::vector<std::byte> out(2000);
  const std::size_t n =
      write_icmpv6_error(out, {kIcmpv6DestUnreachable, kIcmpv6PortUnreachable}, invoking, kB, kA);
  EXPECT_EQ(n, kIcmpv6MaxQuote + kIcmpv6HeaderLen);
  EXPECT_EQ(kIpv6HeaderLen + n, kIpv6MinMtu);
  auto icmp = Icmpv6Header::parse(std::span{out}.first(n));
  EXPECT_TRUE(icmp->checksum_ok(kB, kA));
  EXPECT_EQ(icmp->code(), kIcmpv6PortUnreachable);
  EXPECT_EQ(load_be32(out.data() + 4), 0u) << "unused field";
  EXPECT_TRUE(std::equal(icmp->body().begin(), icmp->body().end(), invoking.begin()));
  // parse_quoted_ipv6 accepts a quote shorter than its payload length says.
  auto q = parse_quoted_ipv6(icmp->body());
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->rest.size(), kIcmpv6MaxQuote - kIpv6HeaderLen);
  // A smaller output buffer bounds the quote too.
  std::vector<std::byte> small(200);
  EXPECT_EQ(write_icmpv6_error(small, {kIcmpv6TimeExceeded, kIcmpv6HopLimitExceeded}, invoking, kB, kA),
            200u);
  EXPECT_TRUE(Icmpv6Header::parse(small)->checksum_ok(kB, kA));
  EXPECT_EQ(write_icmpv6_error(std::span{small}.first(7), {kIcmpv6TimeExceeded, 0}, invoking, kB, kA), 0u);
}

TEST(Icmpv6Error, ParameterProblemPointerAndInPlaceQuote) {
  // Built in the invoking packet's own buffer, as an IP layer answering
  // from the received mbuf would: the quote moves up by 8 bytes.
  auto buf = ipv6_packet(60, kIpv6NextDestOpts);
  const auto original = buf;
  buf.resize(buf.size() + kIcmpv6HeaderLen);
  const std::size_t n = write_icmpv6_error(buf, {kIcmpv6ParamProblem, kIcmpv6ParamUnknownOption, 42},
                                           std::span{buf}.first(original.size()), kB, kA);
  ASSERT_EQ(n, buf.size());
  auto icmp = Icmpv6Header::parse(buf);
  EXPECT_EQ(icmp->type(), kIcmpv6ParamProblem);
  EXPECT_EQ(icmp->code(), kIcmpv6ParamUnknownOption);
  EXPECT_EQ(icmp->pointer(), 42u);
  EXPECT_TRUE(icmp->checksum_ok(kB, kA));
  EXPECT_TRUE(std::equal(original.begin(), original.end(), icmp->body().begin(), icmp->body().end()));
}

TEST(Icmpv6Error, QuotedHeaderChecks) {
  const auto p = ipv6_packet(8);
  for (std::size_t n = 0; n < kIpv6HeaderLen; ++n) {
    EXPECT_EQ(parse_quoted_ipv6(std::span{p}.first(n)).error(), ParseError::kTruncated) << n;
  }
  auto v4 = p;
  v4[0] = std::byte{0x45};
  EXPECT_EQ(parse_quoted_ipv6(v4).error(), ParseError::kBadVersion);
}

TEST(Icmpv6Error, WhenAnErrorMayBeSent) {
  const Icmpv6Error unreach{kIcmpv6DestUnreachable, kIcmpv6PortUnreachable};
  const Icmpv6Error ptb{kIcmpv6PacketTooBig, 0, 1280};
  const Icmpv6Error opt{kIcmpv6ParamProblem, kIcmpv6ParamUnknownOption, 42};
  const Icmpv6Error nh{kIcmpv6ParamProblem, kIcmpv6ParamUnknownNextHeader, 6};
  const Icmpv6Invoking unicast{.src = kA, .dst = kB};
  EXPECT_TRUE(icmpv6_error_allowed(unreach, unicast));
  EXPECT_TRUE(icmpv6_error_allowed(nh, unicast));
  // (e.1), (e.2): never about an error message or a Redirect.
  EXPECT_FALSE(icmpv6_error_allowed(unreach, {.src = kA, .dst = kB, .is_icmpv6_error = true}));
  EXPECT_FALSE(icmpv6_error_allowed(ptb, {.src = kA, .dst = kB, .is_icmpv6_error = true}));
  EXPECT_FALSE(icmpv6_error_allowed(unreach, {.src = kA, .dst = kB, .is_redirect = true}));
  // (e.3)-(e.5): multicast destinations, IPv6 or link-layer, get only
  // Packet Too Big and Parameter Problem code 2.
  for (const Icmpv6Invoking m : {Icmpv6Invoking{.src = kA, .dst = Ipv6Addr::all_nodes()},
                                 Icmpv6Invoking{.src = kA, .dst = kB, .link_multicast = true}}) {
    EXPECT_FALSE(icmpv6_error_allowed(unreach, m));
    EXPECT_FALSE(icmpv6_error_allowed(nh, m));
    EXPECT_TRUE(icmpv6_error_allowed(ptb, m));
    EXPECT_TRUE(icmpv6_error_allowed(opt, m));
  }
  // (e.6): the source must name one node.
  EXPECT_FALSE(icmpv6_error_allowed(ptb, {.src = Ipv6Addr{}, .dst = kB}));
  EXPECT_FALSE(icmpv6_error_allowed(opt, {.src = Ipv6Addr::all_nodes(), .dst = kB}));
}

}  // namespace
}  // namespace tern
