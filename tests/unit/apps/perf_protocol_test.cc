// tern-perf's wire protocol (the server's side, with no I/O) and its
// latency histogram.
#include "perf_protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "perf_options.h"
#include "perf_stats.h"
#include "perf_test_table.h"

namespace tern::perf {
namespace {

std::array<std::byte, kHelloSize> hello(Mode m, std::uint32_t size, bool reverse = false,
                                        std::uint32_t test = 0) {
  std::array<std::byte, kHelloSize> h{};
  encode_hello(Hello{.mode = m, .size = size, .reverse = reverse, .test = test}, h);
  return h;
}

std::array<std::byte, kHelloSize> text(const char* s) {
  std::array<std::byte, kHelloSize> h{};
  for (std::size_t i = 0; i < kHelloSize; ++i) h[i] = static_cast<std::byte>(s[i]);
  return h;
}

std::vector<std::byte> bytes(std::size_t n) { return std::vector<std::byte>(n, std::byte{0x5a}); }

// Sends (pretends to) everything the session owes, n bytes at a time.
std::size_t drain(ServerSession& s, std::size_t n = 1u << 20) {
  std::size_t total = 0;
  for (auto out = s.out(); !out.empty(); out = s.out()) {
    const std::size_t k = std::min(n, out.size());
    s.sent(k);
    total += k;
  }
  return total;
}

TEST(PerfHello, RoundTrips) {
  const auto h = hello(Mode::kRr, 1000);
  EXPECT_EQ(static_cast<std::uint8_t>(h[0]), 0x54);  // big endian "TPF1"
  const auto d = decode_hello(h);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->mode, Mode::kRr);
  EXPECT_EQ(d->size, 1000u);
}

TEST(PerfHello, RejectsWhatItDoesNotKnow) {
  auto bad_magic = hello(Mode::kRr, 64);
  bad_magic[0] = std::byte{0};
  EXPECT_FALSE(decode_hello(bad_magic));
  auto bad_version = hello(Mode::kRr, 64);
  bad_version[5] = std::byte{3};
  EXPECT_FALSE(decode_hello(bad_version));
  EXPECT_EQ(hello_error(bad_version), HelloError::kOtherVersion);
  auto bad_mode = hello(Mode::kRr, 64);
  bad_mode[6] = std::byte{9};
  EXPECT_FALSE(decode_hello(bad_mode));
  EXPECT_FALSE(decode_hello(hello(Mode::kRr, 0)));              // rr needs a size
  EXPECT_FALSE(decode_hello(hello(Mode::kCrr, kMaxSize + 1)));  // too large
  EXPECT_FALSE(decode_hello(hello(Mode::kBulk, 5)));            // bulk has none
  EXPECT_EQ(hello_error(hello(Mode::kBulk, 5)), HelloError::kBad);
  EXPECT_FALSE(decode_hello(hello(Mode::kRr, 64, /*reverse=*/true)));  // reverse is bulk only
  auto bad_flag = hello(Mode::kBulk, 0);
  bad_flag[7] = std::byte{0x80};
  EXPECT_FALSE(decode_hello(bad_flag));
}

TEST(PerfHello, Version2CarriesReverseSizeAndTest) {
  const auto h = hello(Mode::kBulk, 123456, /*reverse=*/true, 0xdeadbeef);
  EXPECT_EQ(static_cast<std::uint8_t>(h[5]), kVersion);
  const auto d = decode_hello(h);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->reverse);
  EXPECT_EQ(d->size, 123456u);  // bulk reverse: the bytes the server sends
  EXPECT_EQ(d->test, 0xdeadbeefu);
  const auto e = decode_hello(hello(Mode::kEnd, 8, false, 7));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->mode, Mode::kEnd);
}

TEST(PerfHello, Version1IsStillServed) {
  auto v1 = hello(Mode::kRr, 64);
  v1[5] = std::byte{1};
  const auto d = decode_hello(v1);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->test, 0u);
  v1[15] = std::byte{1};  // reserved (the test id) in version 1
  EXPECT_FALSE(decode_hello(v1));
}

TEST(PerfHello, AnIperf3ClientIsNamed) {
  // iperf3's control connection opens with a 37-byte cookie of [a-z2-7].
  EXPECT_EQ(hello_error(text("k2lmqz7vxa3bcdef")), HelloError::kIperf3);
  EXPECT_NE(describe(HelloError::kIperf3).find("not a tern-perf client (iperf3?)"), std::string_view::npos);
  EXPECT_EQ(hello_error(text("GET / HTTP/1.1\r\n")), HelloError::kNotTernPerf);
  EXPECT_EQ(hello_error(hello(Mode::kRr, 64)), HelloError::kOk);
  ServerSession s;
  const auto cookie = text("abcdefghijklmnop");
  EXPECT_EQ(s.on_bytes(cookie), ServerSession::Status::kBadHello);
  EXPECT_EQ(s.hello_error(), HelloError::kIperf3);
}

TEST(PerfServerSession, BadHelloIsReported) {
  ServerSession s;
  auto h = hello(Mode::kRr, 64);
  h[1] = std::byte{0};
  EXPECT_EQ(s.on_bytes(std::span<const std::byte>{h}.first(10)),
            ServerSession::Status::kOk);  // not whole yet
  EXPECT_EQ(s.on_bytes(std::span<const std::byte>{h}.subspan(10)), ServerSession::Status::kBadHello);
}

TEST(PerfServerSession, RrAnswersEachWholeRequest) {
  ServerSession s;
  const auto h = hello(Mode::kRr, 100);
  const auto req = bytes(250);
  // The hello split, then two and a half requests in odd pieces.
  ASSERT_EQ(s.on_bytes(std::span<const std::byte>{h}.first(3)), ServerSession::Status::kOk);
  ASSERT_EQ(s.on_bytes(std::span<const std::byte>{h}.subspan(3)), ServerSession::Status::kOk);
  EXPECT_TRUE(s.out().empty());
  ASSERT_EQ(s.on_bytes(std::span<const std::byte>{req}.first(99)), ServerSession::Status::kOk);
  EXPECT_TRUE(s.out().empty());  // no whole request yet
  ASSERT_EQ(s.on_bytes(std::span<const std::byte>{req}.subspan(99)), ServerSession::Status::kOk);
  EXPECT_EQ(s.transactions(), 2u);
  EXPECT_EQ(drain(s, 7), 200u);
  EXPECT_FALSE(s.should_close());
  ASSERT_EQ(s.on_bytes(std::span<const std::byte>{req}.first(50)), ServerSession::Status::kOk);
  EXPECT_EQ(drain(s), 100u);
  EXPECT_EQ(s.payload_bytes(), 300u);
  s.on_peer_closed();
  EXPECT_TRUE(s.out().empty());  // nothing to a client that is gone
  EXPECT_TRUE(s.should_close());
}

TEST(PerfServerSession, CrrAnswersOnceThenCloses) {
  ServerSession s;
  const auto h = hello(Mode::kCrr, 64);
  const auto req = bytes(128);
  ASSERT_EQ(s.on_bytes(h), ServerSession::Status::kOk);
  ASSERT_EQ(s.on_bytes(req), ServerSession::Status::kOk);  // a second request is ignored
  EXPECT_EQ(s.transactions(), 1u);
  EXPECT_FALSE(s.should_close());  // the response is not out yet
  EXPECT_EQ(drain(s, 10), 64u);
  EXPECT_TRUE(s.should_close());
}

TEST(PerfServerSession, BulkCountsAndAnswersTheFinWithTheCount) {
  ServerSession s;
  const auto h = hello(Mode::kBulk, 0);
  const auto data = bytes(70000);
  ASSERT_EQ(s.on_bytes(h), ServerSession::Status::kOk);
  ASSERT_EQ(s.on_bytes(data), ServerSession::Status::kOk);
  ASSERT_EQ(s.on_bytes(data), ServerSession::Status::kOk);
  EXPECT_TRUE(s.out().empty());
  EXPECT_FALSE(s.should_close());
  s.on_peer_closed();
  const auto out = s.out();
  ASSERT_EQ(out.size(), kCountSize);
  EXPECT_EQ(decode_u64(out.first<kCountSize>()), 140000u);
  s.sent(3);
  EXPECT_FALSE(s.should_close());  // five bytes of the count left
  EXPECT_EQ(s.out().size(), 5u);
  s.sent(5);
  EXPECT_TRUE(s.should_close());
}

TEST(PerfServerSession, ReverseStreamsUntilTheClientsFin) {
  ServerSession s;
  ASSERT_EQ(s.on_bytes(hello(Mode::kBulk, 0, /*reverse=*/true, 9)), ServerSession::Status::kOk);
  EXPECT_TRUE(s.reverse());
  EXPECT_EQ(s.test(), 9u);
  for (int i = 0; i < 3; ++i) {
    const auto out = s.out();
    ASSERT_FALSE(out.empty());
    s.sent(out.size() / 2);
  }
  EXPECT_FALSE(s.should_close());
  EXPECT_GT(s.sent_bytes(), 0u);
  s.on_peer_closed();  // the client's time is up: stop, close (no count this way)
  EXPECT_TRUE(s.out().empty());
  EXPECT_TRUE(s.should_close());
}

TEST(PerfServerSession, ReverseWithASizeSendsExactlyThatThenCloses) {
  ServerSession s;
  ASSERT_EQ(s.on_bytes(hello(Mode::kBulk, 100000, /*reverse=*/true)), ServerSession::Status::kOk);
  EXPECT_EQ(drain(s, 4096), 100000u);
  EXPECT_EQ(s.sent_bytes(), 100000u);
  EXPECT_TRUE(s.should_close());
}

TEST(PerfServerSession, EndMessageClosesAtOnce) {
  ServerSession s;
  ASSERT_EQ(s.on_bytes(hello(Mode::kEnd, 12, false, 77)), ServerSession::Status::kOk);
  EXPECT_TRUE(s.out().empty());
  EXPECT_TRUE(s.should_close());
  EXPECT_EQ(s.end_connections(), 12u);
  EXPECT_EQ(s.test(), 77u);
}

TEST(PerfTestTable, SumsEachTestOverWorkersApart) {
  TestTable t(2);
  t.add(0, 5, ConnEnd{.mode = Mode::kBulk, .received = 100, .first_ns = 10, .last_ns = 2'000'000'010});
  t.add(1, 5, ConnEnd{.mode = Mode::kBulk, .received = 50, .first_ns = 5, .last_ns = 20});
  t.add(1, 6, ConnEnd{.mode = Mode::kRr, .transactions = 9, .ok = false, .first_ns = 1, .last_ns = 2});
  EXPECT_EQ(t.ended(5), 2u);
  EXPECT_EQ(t.ended(6), 1u);
  EXPECT_EQ(t.ended(7), 0u);
  const Result r = t.collect(5, "tern");
  EXPECT_EQ(r.connections, 2u);
  EXPECT_EQ(r.tx_bytes, 150u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.mode, "bulk");
  EXPECT_DOUBLE_EQ(r.duration_s, 2.000000005);
  const Result q = t.collect(6, "tern");
  EXPECT_EQ(q.transactions, 9u);
  EXPECT_EQ(q.errors, 1u);
  EXPECT_EQ(q.tx_bytes, 0u);  // never another test's figures
}

TEST(PerfTestTable, ANewTestInTheSlotStartsOver) {
  TestTable t(1);
  // Find a second id in the same slot as 1 (by trying), then reuse the slot.
  std::uint32_t other = 2;
  while (true) {
    t.add(0, 1, ConnEnd{.received = 1});
    t.add(0, other, ConnEnd{.received = 7});
    if (t.ended(1) == 0) break;  // `other` took 1's slot over
    ++other;
    ASSERT_LT(other, 100000u);
  }
  EXPECT_EQ(t.collect(other, "kernel").tx_bytes, 7u);
}

TEST(PerfIntervals, RetrIsPerIntervalAndJsonFollowsEachLine) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  IntervalReporter r(f, /*bulk=*/true, /*json=*/true);
  r.report(1.0, 125'000'000, 0, SenderFigures{.valid = true, .retrans = 4, .cwnd = 64 * 1024, .rtt_us = 150});
  r.report(2.0, 250'000'000, 0,
           SenderFigures{.valid = true, .retrans = 10, .cwnd = 32 * 1024, .rtt_us = 300});
  r.report(3.0, 250'000'000, 0);  // nothing sent from this side: "-" and null
  std::fclose(f);
  const std::string out(buf, len);
  std::free(buf);
  ASSERT_EQ(r.points().size(), 3u);
  EXPECT_EQ(r.points()[0].retr, 4);
  EXPECT_EQ(r.points()[1].retr, 6);  // 10 - 4: the interval's own
  EXPECT_EQ(r.points()[1].cwnd_kb, 32);
  EXPECT_EQ(r.points()[1].rtt_us, 300);
  EXPECT_EQ(r.points()[2].retr, -1);
  EXPECT_DOUBLE_EQ(r.points()[0].gbps, 1.0);
  EXPECT_NE(out.find("Retr"), std::string::npos);  // the header
  EXPECT_NE(
      out.find("{\"type\": \"interval\", \"direction\": \"send\", \"start\": 1.000, \"end\": 2.000, "
               "\"bytes\": 125000000, \"gbps\": 1.0000, \"transactions\": 0, \"transactions_per_s\": 0.0, "
               "\"retr\": 6, \"cwnd_kb\": 32, \"rtt_us\": 300, \"ca_state\": \"open\"}"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("\"retr\": null, \"cwnd_kb\": null, \"rtt_us\": null, \"ca_state\": null"),
            std::string::npos)
      << out;
}

TEST(PerfSummary, FailureReasonsAreNamed) {
  Result r;
  r.mode = "rr";
  r.stack = "tern";
  r.role = "client";
  r.fail(Failure::kArpUnanswered);
  r.fail(Failure::kRefused);
  r.fail(Failure::kRefused);
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_summary(f, r, /*json=*/true);
  std::fclose(f);
  const std::string out(buf, len);
  std::free(buf);
  EXPECT_EQ(r.errors, 3u);
  EXPECT_NE(out.find("2 x connection refused"), std::string::npos) << out;
  EXPECT_NE(out.find("1 x no answer to ARP"), std::string::npos) << out;
  EXPECT_NE(out.find("\"error_reasons\": {\"refused\": 2, \"arp_unanswered\": 1}"), std::string::npos) << out;
  // The fields other tooling reads are still there, first, on the last line.
  EXPECT_NE(out.find("{\"mode\": \"rr\", \"stack\": \"tern\", \"role\": \"client\", \"connections\": 0"),
            std::string::npos);
}

TEST(PerfOptions, ByteCountsWithSuffixes) {
  EXPECT_EQ(parse_bytes("-n", "1500"), 1500u);
  EXPECT_EQ(parse_bytes("-n", "50M"), 50u << 20);
  EXPECT_EQ(parse_bytes("-n", "10G"), 10ull << 30);
  EXPECT_EQ(parse_bytes("-n", "2k"), 2048u);
  EXPECT_EQ(parse_bytes("-n", "1T"), 1ull << 40);
  for (const char* bad : {"", "0", "-5", "5X", "5MB", "M", " 5", "99999999999999999999", "2000T"})
    EXPECT_THROW(parse_bytes("-n", bad), std::invalid_argument) << bad;
}

TEST(PerfOptions, SharesOfBytesAddUp) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 7; ++i) sum += bytes_share(1000003, i, 7);
  EXPECT_EQ(sum, 1000003u);
  EXPECT_EQ(bytes_share(10, 0, 3), 4u);
  EXPECT_EQ(bytes_share(10, 2, 3), 3u);
}

TEST(PerfServerSession, ClientGoneBeforeHelloCloses) {
  ServerSession s;
  s.on_peer_closed();
  EXPECT_TRUE(s.out().empty());
  EXPECT_TRUE(s.should_close());
}

TEST(PerfHistogram, BucketsTileTheRange) {
  for (std::size_t b = 0; b + 1 < 2000; ++b) {
    EXPECT_EQ(LatencyHistogram::bucket_high(b) + 1, LatencyHistogram::bucket_low(b + 1)) << b;
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(b)), b);
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_high(b)), b);
  }
  EXPECT_LT(LatencyHistogram::bucket_of(~std::uint64_t{0}), 64u * 64u);
}

TEST(PerfHistogram, QuantilesWithinTheBucketPrecision) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.5), 0u);
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 10);  // 10 ns .. 1 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.50)), 500000, 500000 * 0.016);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.99)), 990000, 990000 * 0.016);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.999)), 999000, 999000 * 0.016);
  LatencyHistogram other;
  other.record(5'000'000'000);  // one 5 s outlier
  h.merge(other);
  EXPECT_EQ(h.count(), 100001u);
  EXPECT_NEAR(static_cast<double>(h.quantile(1.0)), 5e9, 5e9 * 0.016);
}

}  // namespace
}  // namespace tern::perf
