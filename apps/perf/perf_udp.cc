#include "perf_udp.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace tern::perf {
namespace {

void put_u32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (24 - 8 * i));
}
void put_u64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (56 - 8 * i));
}
std::uint32_t get_u32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | std::to_integer<std::uint32_t>(p[i]);
  return v;
}
std::uint64_t get_u64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

}  // namespace

void encode_udp_header(const UdpHeader& h, std::span<std::byte, kUdpHeaderSize> out) noexcept {
  std::byte* p = out.data();
  put_u32(p, kUdpMagic);
  p[4] = static_cast<std::byte>(h.type);
  p[5] = p[6] = p[7] = std::byte{0};
  put_u32(p + 8, h.test);
  put_u32(p + 12, 0);
  put_u64(p + 16, h.seq);
  put_u64(p + 24, h.time_ns);
}

std::optional<UdpHeader> decode_udp_header(std::span<const std::byte> in) noexcept {
  if (in.size() < kUdpHeaderSize) return std::nullopt;
  const std::byte* p = in.data();
  const auto type = std::to_integer<std::uint8_t>(p[4]);
  if (get_u32(p) != kUdpMagic || type < 1 || type > 4 || p[5] != std::byte{0} || p[6] != std::byte{0} ||
      p[7] != std::byte{0} || get_u32(p + 12) != 0)
    return std::nullopt;
  return UdpHeader{static_cast<UdpType>(type), get_u32(p + 8), get_u64(p + 16), get_u64(p + 24)};
}

void encode_udp_report(std::uint32_t test, UdpType answers, const UdpReport& r,
                       std::span<std::byte, kUdpReportSize> out) noexcept {
  encode_udp_header(UdpHeader{UdpType::kReport, test, static_cast<std::uint64_t>(answers), 0},
                    out.first<kUdpHeaderSize>());
  const std::uint64_t fields[kReportFields] = {r.received,   r.bytes,     r.lost, r.out_of_order,
                                               r.duplicates, r.jitter_ns, r.sent, r.duration_ns};
  for (std::size_t i = 0; i < kReportFields; ++i) put_u64(out.data() + kUdpHeaderSize + 8 * i, fields[i]);
}

std::optional<UdpReport> decode_udp_report(std::span<const std::byte> in, std::uint32_t test,
                                           UdpType answers) noexcept {
  const auto h = decode_udp_header(in);
  if (!h || h->type != UdpType::kReport || in.size() < kUdpReportSize || h->test != test ||
      h->seq != static_cast<std::uint64_t>(answers))
    return std::nullopt;
  const std::byte* f = in.data() + kUdpHeaderSize;
  return UdpReport{get_u64(f),      get_u64(f + 8),  get_u64(f + 16), get_u64(f + 24),
                   get_u64(f + 32), get_u64(f + 40), get_u64(f + 48), get_u64(f + 56)};
}

void UdpReceiver::on_data(std::uint64_t seq, std::uint64_t bytes, std::int64_t send_ns,
                          std::int64_t arrival_ns) noexcept {
  // RFC 3550 §6.4.1: D(i,j) = (Rj - Ri) - (Sj - Si) = (Rj - Sj) - (Ri - Si),
  // J += (|D| - J) / 16, for each datagram after the first, in arrival
  // order. The two clocks' offset cancels in the difference of transits.
  const std::int64_t transit = arrival_ns - send_ns;
  if (received_ == 0) {
    first_arrival_ = arrival_ns;
  } else {
    const double d = std::fabs(static_cast<double>(transit - last_transit_));
    jitter_ns_ += (d - jitter_ns_) / 16.0;
  }
  last_transit_ = transit;
  last_arrival_ = arrival_ns;
  ++received_;
  bytes_ += bytes;

  if (seq >= next_) {
    // Ahead: the seqs skipped are lost unless they arrive later. Their
    // window bits (and this one's) held seqs kUdpSeqWindow older: clear them.
    if (seq - next_ >= kUdpSeqWindow)
      window_.fill(0);
    else
      for (std::uint64_t s = next_; s <= seq; ++s)
        window_[(s / 64) % kWords] &= ~(std::uint64_t{1} << (s % 64));
    mark(seq);
    next_ = seq + 1;
  } else if (next_ - seq > kUdpSeqWindow) {
    ++out_of_order_;  // too late to tell from a duplicate: taken as a late arrival
  } else if (seen(seq)) {
    ++duplicates_;
  } else {
    ++out_of_order_;
    mark(seq);
  }
}

UdpReport UdpReceiver::report() const noexcept {
  UdpReport r;
  r.received = received_;
  r.bytes = bytes_;
  r.out_of_order = out_of_order_;
  r.duplicates = duplicates_;
  r.jitter_ns = static_cast<std::uint64_t>(std::llround(jitter_ns_));
  r.sent = sent_;
  // The client's count once it told it; before, the highest seq + 1 (what
  // went missing after the last one received is not known yet).
  const std::uint64_t expected = sent_ > next_ ? sent_ : next_;
  const std::uint64_t distinct = received_ - duplicates_;
  r.lost = expected > distinct ? expected - distinct : 0;
  r.duration_ns = received_ > 1 ? static_cast<std::uint64_t>(last_arrival_ - first_arrival_) : 0;
  return r;
}

UdpServer::Test& UdpServer::find(std::uint32_t test) noexcept {
  ++clock_;
  Test* oldest = &tests_[0];
  for (Test& t : tests_) {
    if (t.test == test) {
      t.last_use = clock_;
      return t;
    }
    if (t.last_use < oldest->last_use) oldest = &t;
  }
  *oldest = Test{test, false, clock_, {}};
  return *oldest;
}

bool UdpServer::on_datagram(std::span<const std::byte> in, std::uint64_t bytes, std::int64_t arrival_ns,
                            std::span<std::byte, kUdpReportSize> report) noexcept {
  const auto h = decode_udp_header(in);
  if (!h || h->type == UdpType::kReport) {
    ++totals_.ignored;
    return false;
  }
  Test& t = find(h->test);
  if (h->type == UdpType::kData) {
    ++totals_.datagrams;
    totals_.bytes += bytes;
    t.rx.on_data(h->seq, bytes, static_cast<std::int64_t>(h->time_ns), arrival_ns);
    return false;
  }
  if (h->type == UdpType::kEnd) t.rx.on_end(h->seq);
  encode_udp_report(h->test, h->type, t.rx.report(), report);
  if (h->type == UdpType::kEnd && !t.ended) {
    t.ended = true;
    ++totals_.tests;
    print_udp_summary(stdout, UdpSummary{"server", stack_, h->test, 0, 0, h->seq, 0, 0, t.rx.report()},
                      json_);
  }
  return true;
}

std::uint64_t udp_allowed(std::uint64_t bitrate, std::uint32_t length, std::int64_t elapsed_ns) noexcept {
  if (bitrate == 0) return UINT64_MAX;
  if (elapsed_ns <= 0) return 1;  // the first datagram goes at once
  // bits allowed = bitrate * elapsed; in long double: 100 Gbit/s over a day overflows u64 products.
  const long double bits = static_cast<long double>(bitrate) * static_cast<long double>(elapsed_ns) / 1e9L;
  return 1 + static_cast<std::uint64_t>(bits / (8.0L * length));
}

std::uint64_t parse_bitrate(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double n = std::strtod(v.c_str(), &end);
  double mult = 1;
  if (end != nullptr && end != v.c_str() && *end != '\0' && end[1] == '\0') {
    switch (*end) {
      case 'K':
      case 'k':
        mult = 1e3;
        break;
      case 'M':
      case 'm':
        mult = 1e6;
        break;
      case 'G':
      case 'g':
        mult = 1e9;
        break;
      default:
        mult = 0;
    }
    ++end;
  }
  if (v.empty() || v[0] < '0' || v[0] > '9' || errno != 0 || end == nullptr || *end != '\0' || mult == 0 ||
      !std::isfinite(n) || n * mult > 1e12)
    throw std::invalid_argument(flag + " = \"" + v +
                                "\": expected bits/s, 0 (no limit) to 1T, optionally with K, M or G");
  return static_cast<std::uint64_t>(n * mult);
}

void print_udp_summary(std::FILE* out, const UdpSummary& s, bool json) {
  const bool client = std::string_view(s.role) == "client";
  const UdpReport r = s.report.value_or(UdpReport{});
  const double duration = client ? s.duration_s : static_cast<double>(r.duration_ns) / 1e9;
  const double sent_mbps = duration > 0 ? static_cast<double>(s.sent) * s.length * 8 / duration / 1e6 : 0;
  const double rx_s = static_cast<double>(r.duration_ns) / 1e9;
  const double rx_mbps = rx_s > 0 ? static_cast<double>(r.bytes) * 8 / rx_s / 1e6 : 0;
  const double rx_pps = rx_s > 0 ? static_cast<double>(r.received) / rx_s : 0;
  const std::uint64_t expected = r.lost + r.received - r.duplicates;
  const double lost_pct =
      expected > 0 ? 100.0 * static_cast<double>(r.lost) / static_cast<double>(expected) : 0;
  const double jitter_ms = static_cast<double>(r.jitter_ns) / 1e6;
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };

  std::fprintf(out, "- - - - - - - - - - - - - - - - - - - - - - - - -\n");
  if (client) {
    std::fprintf(out, "tern-perf udp client (%s stack): test %u, %u-byte datagrams, %.2f s\n", s.stack,
                 s.test, s.length, duration);
    std::fprintf(
        out, "  sender:   %llu datagrams, %.3f Mbits/sec, %.0f datagrams/sec%s\n", u(s.sent), sent_mbps,
        duration > 0 ? static_cast<double>(s.sent) / duration : 0.0,
        s.send_errors > 0 ? (" (" + std::to_string(s.send_errors) + " sends refused, retried)").c_str() : "");
  } else {
    std::fprintf(out, "tern-perf udp server (%s stack): test %u\n", s.stack, s.test);
  }
  if (s.report)
    std::fprintf(out,
                 "  receiver: %llu datagrams, %.3f Mbits/sec, %.0f datagrams/sec, lost %llu/%llu (%.3g%%), "
                 "out of order %llu, duplicates %llu, jitter %.3f ms\n",
                 u(r.received), rx_mbps, rx_pps, u(r.lost), u(expected), lost_pct, u(r.out_of_order),
                 u(r.duplicates), jitter_ms);
  else
    std::fprintf(out, "  receiver: no report from the server\n");
  if (!json) return;
  std::fprintf(
      out,
      "{\"type\": \"%s\", \"mode\": \"udp\", \"stack\": \"%s\", \"role\": \"%s\", \"test\": %u, "
      "\"length\": %u, \"bitrate\": %llu, \"duration_s\": %.3f, \"sent\": %llu, \"send_errors\": %llu, "
      "\"sent_mbps\": %.3f, \"report\": %s, \"received\": %llu, \"bytes\": %llu, \"lost\": %llu, "
      "\"lost_percent\": %.4f, \"out_of_order\": %llu, \"duplicates\": %llu, \"jitter_ms\": %.4f, "
      "\"received_mbps\": %.3f, \"received_pps\": %.1f}\n",
      client ? "summary" : "test", s.stack, s.role, s.test, s.length, u(s.bitrate), duration, u(s.sent),
      u(s.send_errors), sent_mbps, s.report ? "true" : "false", u(r.received), u(r.bytes), u(r.lost),
      lost_pct, u(r.out_of_order), u(r.duplicates), jitter_ms, rx_mbps, rx_pps);
  std::fflush(out);
}

}  // namespace tern::perf
