// tern-perf --udp: the datagram header and report, and the receiver's
// accounting (loss, out of order, duplicates, RFC 3550 jitter).
#include "perf_udp.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace tern::perf {
namespace {

TEST(PerfUdp, HeaderRoundTrips) {
  std::array<std::byte, kUdpHeaderSize> b{};
  encode_udp_header(UdpHeader{UdpType::kEnd, 0xdeadbeef, 0x0102030405060708, 42}, b);
  EXPECT_EQ(b[0], std::byte{0x54});
  EXPECT_EQ(b[4], std::byte{2});
  EXPECT_EQ(b[16], std::byte{1});
  const auto h = decode_udp_header(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, UdpType::kEnd);
  EXPECT_EQ(h->test, 0xdeadbeefu);
  EXPECT_EQ(h->seq, 0x0102030405060708u);
  EXPECT_EQ(h->time_ns, 42u);
}

TEST(PerfUdp, HeaderRefusesWhatIsNotOurs) {
  std::array<std::byte, kUdpHeaderSize> b{};
  encode_udp_header(UdpHeader{UdpType::kData, 7, 1, 2}, b);
  EXPECT_FALSE(decode_udp_header(std::span<const std::byte>(b).first(kUdpHeaderSize - 1)));  // short
  auto bad = b;
  bad[0] = std::byte{0};  // magic
  EXPECT_FALSE(decode_udp_header(bad));
  bad = b;
  bad[4] = std::byte{5};  // type
  EXPECT_FALSE(decode_udp_header(bad));
  bad[4] = std::byte{0};
  EXPECT_FALSE(decode_udp_header(bad));
  bad = b;
  bad[6] = std::byte{1};  // reserved
  EXPECT_FALSE(decode_udp_header(bad));
  bad = b;
  bad[13] = std::byte{1};
  EXPECT_FALSE(decode_udp_header(bad));
}

TEST(PerfUdp, ReportRoundTripsAndNeedsItsFields) {
  const UdpReport r{1, 2, 3, 4, 5, 6, 7, 8};
  std::array<std::byte, kUdpReportSize> b{};
  encode_udp_report(99, UdpType::kEnd, r, b);
  EXPECT_FALSE(decode_udp_report(b, 98, UdpType::kEnd));    // another test's
  EXPECT_FALSE(decode_udp_report(b, 99, UdpType::kStart));  // the answer to the end, not the start
  const auto d = decode_udp_report(b, 99, UdpType::kEnd);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->received, 1u);
  EXPECT_EQ(d->bytes, 2u);
  EXPECT_EQ(d->lost, 3u);
  EXPECT_EQ(d->out_of_order, 4u);
  EXPECT_EQ(d->duplicates, 5u);
  EXPECT_EQ(d->jitter_ns, 6u);
  EXPECT_EQ(d->sent, 7u);
  EXPECT_EQ(d->duration_ns, 8u);
  EXPECT_FALSE(decode_udp_report(std::span<const std::byte>(b).first(kUdpReportSize - 1), 99, UdpType::kEnd));
  std::array<std::byte, kUdpReportSize> data{};
  encode_udp_header(UdpHeader{UdpType::kData, 99, 0, 0}, std::span(data).first<kUdpHeaderSize>());
  EXPECT_FALSE(decode_udp_report(data, 99, UdpType::kEnd));  // a data datagram is not a report
}

TEST(PerfUdp, InOrderWithConstantTransitHasNoLossNoJitter) {
  UdpReceiver rx;
  // The sender's clock is 5 s ahead of the receiver's: only differences count.
  for (std::uint64_t i = 0; i < 100; ++i)
    rx.on_data(i, 1000, 5'000'000'000 + static_cast<std::int64_t>(i) * 1000,
               static_cast<std::int64_t>(i) * 1000 + 300);
  const UdpReport r = rx.report();
  EXPECT_EQ(r.received, 100u);
  EXPECT_EQ(r.bytes, 100'000u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.out_of_order, 0u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.jitter_ns, 0u);
  EXPECT_EQ(r.duration_ns, 99'000u);
}

TEST(PerfUdp, JitterFollowsRfc3550Estimator) {
  // Transit alternates 1000 and 1160 ns: |D| = 160 for every datagram after
  // the first, so J_n = J_(n-1) + (160 - J_(n-1)) / 16 = 160 (1 - (15/16)^n).
  UdpReceiver rx;
  for (int i = 0; i <= 40; ++i) {
    const std::int64_t send = i * 10'000;
    rx.on_data(static_cast<std::uint64_t>(i), 100, send, send + (i % 2 == 0 ? 1000 : 1160));
    if (i == 1) {
      EXPECT_EQ(rx.report().jitter_ns, 10u);  // 160 / 16
    }
  }
  EXPECT_EQ(rx.report().jitter_ns,
            static_cast<std::uint64_t>(std::llround(160 * (1 - std::pow(15.0 / 16, 40)))));
}

TEST(PerfUdp, GapsAreLostAndTheEndCountsTheTail) {
  UdpReceiver rx;
  for (std::uint64_t s : {0, 1, 2, 5, 6}) rx.on_data(s, 10, 0, 0);
  EXPECT_EQ(rx.report().lost, 2u);  // 3 and 4
  rx.on_end(10);                    // 7, 8 and 9 never came either
  const UdpReport r = rx.report();
  EXPECT_EQ(r.lost, 5u);
  EXPECT_EQ(r.sent, 10u);
  EXPECT_EQ(r.received, 5u);
}

TEST(PerfUdp, LateArrivalIsOutOfOrderNotLost) {
  UdpReceiver rx;
  for (std::uint64_t s : {0, 2, 3, 1}) rx.on_data(s, 10, 0, 0);
  const UdpReport r = rx.report();
  EXPECT_EQ(r.out_of_order, 1u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.duplicates, 0u);
}

TEST(PerfUdp, DuplicatesAreCountedApartAndNotAsReceivedDistinct) {
  UdpReceiver rx;
  for (std::uint64_t s : {0, 1, 1, 2, 0}) rx.on_data(s, 10, 0, 0);
  rx.on_end(4);
  const UdpReport r = rx.report();
  EXPECT_EQ(r.received, 5u);
  EXPECT_EQ(r.duplicates, 2u);
  EXPECT_EQ(r.out_of_order, 0u);
  EXPECT_EQ(r.lost, 1u);  // 3
}

TEST(PerfUdp, WindowSlotsAreClearedWhenTheyAreReused) {
  UdpReceiver rx;
  rx.on_data(0, 10, 0, 0);
  rx.on_data(kUdpSeqWindow, 10, 0, 0);  // the same bit as seq 0; 1..4095 skipped
  rx.on_data(1, 10, 0, 0);              // still in the window: late, not a duplicate
  rx.on_data(kUdpSeqWindow, 10, 0, 0);  // a duplicate
  const UdpReport r = rx.report();
  EXPECT_EQ(r.out_of_order, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.lost, kUdpSeqWindow - 2);  // 2..4095
}

TEST(PerfUdp, TooOldToTellIsTakenAsLate) {
  UdpReceiver rx;
  rx.on_data(0, 10, 0, 0);
  rx.on_data(2 * kUdpSeqWindow, 10, 0, 0);
  rx.on_data(5, 10, 0, 0);  // behind the window
  const UdpReport r = rx.report();
  EXPECT_EQ(r.out_of_order, 1u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.lost, 2 * kUdpSeqWindow + 1 - 3);
}

std::array<std::byte, kUdpHeaderSize> header(UdpType type, std::uint32_t test, std::uint64_t seq,
                                             std::uint64_t time_ns = 0) {
  std::array<std::byte, kUdpHeaderSize> b{};
  encode_udp_header(UdpHeader{type, test, seq, time_ns}, b);
  return b;
}

TEST(PerfUdp, ServerAnswersStartAndEndAndKeepsTestsApart) {
  UdpServer server("test", false);
  std::array<std::byte, kUdpReportSize> rep{};
  ASSERT_TRUE(server.on_datagram(header(UdpType::kStart, 1, 0), kUdpHeaderSize, 0, rep));
  EXPECT_TRUE(decode_udp_report(rep, 1, UdpType::kStart));
  EXPECT_FALSE(decode_udp_report(rep, 1, UdpType::kEnd));
  // Test 1: seqs 0, 1, 3 of 5; test 2 interleaved: seq 0 of 1.
  for (std::uint64_t seq : {0, 1})
    EXPECT_FALSE(server.on_datagram(header(UdpType::kData, 1, seq), 500, 10, rep));
  EXPECT_FALSE(server.on_datagram(header(UdpType::kData, 2, 0), 700, 10, rep));
  EXPECT_FALSE(server.on_datagram(header(UdpType::kData, 1, 3), 500, 10, rep));
  // Not ours: too short, a report (a server does not answer one).
  const auto short_one = header(UdpType::kData, 1, 4);
  EXPECT_FALSE(server.on_datagram(std::span(short_one).first(kUdpHeaderSize - 1), 31, 10, rep));
  EXPECT_FALSE(server.on_datagram(header(UdpType::kReport, 1, 2), kUdpReportSize, 10, rep));

  ASSERT_TRUE(server.on_datagram(header(UdpType::kEnd, 1, 5), kUdpHeaderSize, 20, rep));
  auto r = decode_udp_report(rep, 1, UdpType::kEnd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->received, 3u);
  EXPECT_EQ(r->bytes, 1500u);
  EXPECT_EQ(r->lost, 2u);
  EXPECT_EQ(r->sent, 5u);
  // A repeated end (the report was lost) is answered again, the same.
  ASSERT_TRUE(server.on_datagram(header(UdpType::kEnd, 1, 5), kUdpHeaderSize, 30, rep));
  EXPECT_EQ(decode_udp_report(rep, 1, UdpType::kEnd)->received, 3u);
  ASSERT_TRUE(server.on_datagram(header(UdpType::kEnd, 2, 1), kUdpHeaderSize, 30, rep));
  r = decode_udp_report(rep, 2, UdpType::kEnd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->received, 1u);
  EXPECT_EQ(r->lost, 0u);

  const UdpServerTotals& t = server.totals();
  EXPECT_EQ(t.datagrams, 4u);
  EXPECT_EQ(t.bytes, 2200u);
  EXPECT_EQ(t.tests, 2u);  // each counted once
  EXPECT_EQ(t.ignored, 2u);
}

TEST(PerfUdp, ServerReplacesTheLeastRecentlyUsedTest) {
  UdpServer server("test", false);
  std::array<std::byte, kUdpReportSize> rep{};
  server.on_datagram(header(UdpType::kData, 100, 0), 100, 0, rep);
  for (std::uint32_t test = 1; test <= 8; ++test)
    server.on_datagram(header(UdpType::kData, test, 0), 100, 0, rep);
  // Test 100 was the oldest of nine: forgotten, its end finds nothing received.
  ASSERT_TRUE(server.on_datagram(header(UdpType::kEnd, 100, 1), kUdpHeaderSize, 0, rep));
  EXPECT_EQ(decode_udp_report(rep, 100, UdpType::kEnd)->received, 0u);
  ASSERT_TRUE(server.on_datagram(header(UdpType::kEnd, 8, 1), kUdpHeaderSize, 0, rep));
  EXPECT_EQ(decode_udp_report(rep, 8, UdpType::kEnd)->received, 1u);
}

TEST(PerfUdp, ScheduleFollowsTheBitrate) {
  // 8000 bit/s of 100-byte datagrams: 10 per second, the first at once.
  EXPECT_EQ(udp_allowed(8000, 100, 0), 1u);
  EXPECT_EQ(udp_allowed(8000, 100, 99'999'999), 1u);
  EXPECT_EQ(udp_allowed(8000, 100, 100'000'000), 2u);
  EXPECT_EQ(udp_allowed(8000, 100, 1'000'000'000), 11u);
  EXPECT_EQ(udp_allowed(0, 100, 5), UINT64_MAX);
  // 100 Gbit/s for a day does not overflow.
  EXPECT_EQ(udp_allowed(100'000'000'000, 1000, 86'400'000'000'000), 1 + 1'080'000'000'000u);
}

TEST(PerfUdp, ParsesBitrates) {
  EXPECT_EQ(parse_bitrate("-b", "0"), 0u);
  EXPECT_EQ(parse_bitrate("-b", "500000"), 500'000u);
  EXPECT_EQ(parse_bitrate("-b", "100M"), 100'000'000u);
  EXPECT_EQ(parse_bitrate("-b", "1.5G"), 1'500'000'000u);
  EXPECT_EQ(parse_bitrate("-b", "10k"), 10'000u);
  EXPECT_THROW(parse_bitrate("-b", ""), std::invalid_argument);
  EXPECT_THROW(parse_bitrate("-b", "x"), std::invalid_argument);
  EXPECT_THROW(parse_bitrate("-b", "10X"), std::invalid_argument);
  EXPECT_THROW(parse_bitrate("-b", "-1"), std::invalid_argument);
  EXPECT_THROW(parse_bitrate("-b", "2T"), std::invalid_argument);
}

TEST(PerfUdp, DefaultLengthFitsA1500ByteMtu) {
  EXPECT_EQ(default_udp_length(false), 1460u);  // iperf3's
  EXPECT_LE(default_udp_length(true) + 40 + 8, 1500u);
}

TEST(PerfUdp, ClientSummaryJsonCarriesTheServersFigures) {
  UdpSummary s{
      "client", "tern", 5, 1000, 0, 10, 0, 1.0, UdpReport{9, 9000, 1, 0, 0, 2'000'000, 10, 1'000'000'000}};
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  print_udp_summary(f, s, true);
  std::rewind(f);
  std::string all;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f) != nullptr) all += buf;
  std::fclose(f);
  const std::string json = all.substr(all.rfind('{'));
  EXPECT_NE(json.find("\"lost\": 1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"lost_percent\": 10.0000"), std::string::npos) << json;
  EXPECT_NE(json.find("\"jitter_ms\": 2.0000"), std::string::npos) << json;
  EXPECT_NE(json.find("\"report\": true"), std::string::npos) << json;
  EXPECT_NE(all.find("lost 1/10"), std::string::npos) << all;
}

}  // namespace
}  // namespace tern::perf
