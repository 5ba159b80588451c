// tern-perf's wire protocol (the server's side, with no I/O) and its
// latency histogram.
#include "perf_protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "perf_stats.h"

namespace tern::perf {
namespace {

std::array<std::byte, kHelloSize> hello(Mode m, std::uint32_t size) {
  std::array<std::byte, kHelloSize> h{};
  encode_hello(Hello{.mode = m, .size = size}, h);
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
  bad_version[5] = std::byte{2};
  EXPECT_FALSE(decode_hello(bad_version));
  auto bad_mode = hello(Mode::kRr, 64);
  bad_mode[6] = std::byte{9};
  EXPECT_FALSE(decode_hello(bad_mode));
  EXPECT_FALSE(decode_hello(hello(Mode::kRr, 0)));              // rr needs a size
  EXPECT_FALSE(decode_hello(hello(Mode::kCrr, kMaxSize + 1)));  // too large
  EXPECT_FALSE(decode_hello(hello(Mode::kBulk, 5)));            // bulk has none
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
