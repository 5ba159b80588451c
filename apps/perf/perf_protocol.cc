#include "perf_protocol.h"

#include <algorithm>
#include <array>

namespace tern::perf {
namespace {

void store_be(std::byte* p, std::uint64_t v, int n) noexcept {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::byte>(v & 0xff);
}
std::uint64_t load_be(const std::byte* p, int n) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | static_cast<std::uint8_t>(p[i]);
  return v;
}

constexpr std::size_t kZeros = 64 * 1024;
const std::array<std::byte, kZeros> kZeroBytes{};

}  // namespace

std::string_view to_string(Mode m) noexcept {
  switch (m) {
    case Mode::kBulk:
      return "bulk";
    case Mode::kRr:
      return "rr";
    case Mode::kCrr:
      return "crr";
    case Mode::kEnd:
      return "end";
  }
  return "?";
}

std::optional<Mode> parse_mode(std::string_view s) noexcept {
  if (s == "bulk") return Mode::kBulk;
  if (s == "rr") return Mode::kRr;
  if (s == "crr") return Mode::kCrr;
  return std::nullopt;
}

void encode_hello(const Hello& h, std::span<std::byte, kHelloSize> out) noexcept {
  store_be(&out[0], kMagic, 4);
  store_be(&out[4], kVersion, 2);
  out[6] = static_cast<std::byte>(h.mode);
  out[7] = h.reverse ? std::byte{kFlagReverse} : std::byte{0};
  store_be(&out[8], h.size, 4);
  store_be(&out[12], h.test, 4);
}

std::optional<Hello> decode_hello(std::span<const std::byte, kHelloSize> in) noexcept {
  if (load_be(&in[0], 4) != kMagic) return std::nullopt;
  const auto version = load_be(&in[4], 2);
  if (version != 1 && version != kVersion) return std::nullopt;
  const auto mode = static_cast<std::uint8_t>(in[6]);
  const auto flags = static_cast<std::uint8_t>(in[7]);
  const auto size = static_cast<std::uint32_t>(load_be(&in[8], 4));
  Hello h;
  h.test = static_cast<std::uint32_t>(load_be(&in[12], 4));
  h.reverse = (flags & kFlagReverse) != 0;
  if (version == 1 && (flags != 0 || h.test != 0 || mode > 3)) return std::nullopt;  // reserved then
  if ((flags & ~kFlagReverse) != 0 || (h.reverse && mode != 1)) return std::nullopt;
  switch (mode) {
    case 1:
      h.mode = Mode::kBulk;
      if (size != 0 && !h.reverse) return std::nullopt;
      break;
    case 2:
    case 3:
      h.mode = static_cast<Mode>(mode);
      if (size == 0 || size > kMaxSize) return std::nullopt;
      break;
    case 4:
      h.mode = Mode::kEnd;
      break;
    default:
      return std::nullopt;
  }
  h.size = size;
  return h;
}

HelloError hello_error(std::span<const std::byte, kHelloSize> in) noexcept {
  if (load_be(&in[0], 4) != kMagic) {
    // iperf3's client opens with a cookie of 36 characters from
    // "abcdefghijklmnopqrstuvwxyz234567" and a NUL: 16 of them here.
    const bool cookie = std::all_of(in.begin(), in.end(), [](std::byte b) {
      const auto c = static_cast<char>(b);
      return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
    });
    return cookie ? HelloError::kIperf3 : HelloError::kNotTernPerf;
  }
  const auto version = load_be(&in[4], 2);
  if (version != 1 && version != kVersion) return HelloError::kOtherVersion;
  return decode_hello(in) ? HelloError::kOk : HelloError::kBad;
}

std::string_view describe(HelloError e) noexcept {
  switch (e) {
    case HelloError::kOk:
      return "a good hello";
    case HelloError::kNotTernPerf:
      return "not a tern-perf client (its first bytes are not a tern-perf hello)";
    case HelloError::kIperf3:
      return "not a tern-perf client (iperf3?): tern-perf speaks its own protocol, use tern-perf --client";
    case HelloError::kOtherVersion:
      return "a tern-perf client of another protocol version: use the same tern-perf on both sides";
    case HelloError::kBad:
      return "a tern-perf hello with a mode, flag or size this server does not take";
  }
  return "?";
}

void encode_u64(std::uint64_t v, std::span<std::byte, kCountSize> out) noexcept {
  store_be(out.data(), v, 8);
}
std::uint64_t decode_u64(std::span<const std::byte, kCountSize> in) noexcept { return load_be(in.data(), 8); }

std::span<const std::byte> zeros() noexcept { return kZeroBytes; }

ServerSession::Status ServerSession::on_bytes(std::span<const std::byte> b) noexcept {
  if (!hello_) {
    const std::size_t n = std::min(b.size(), kHelloSize - hello_have_);
    std::copy_n(b.begin(), n, hello_buf_ + hello_have_);
    hello_have_ += n;
    b = b.subspan(n);
    if (hello_have_ < kHelloSize) return Status::kOk;
    const std::span<const std::byte, kHelloSize> h{hello_buf_, kHelloSize};
    hello_ = decode_hello(h);
    if (!hello_) {
      error_ = perf::hello_error(h);
      return Status::kBadHello;
    }
  }
  payload_ += b.size();
  if (hello_->mode == Mode::kBulk || hello_->mode == Mode::kEnd) return Status::kOk;
  // crr answers one request; whatever follows it is ignored.
  if (hello_->mode == Mode::kCrr && transactions_ > 0) return Status::kOk;
  request_have_ += b.size();
  while (request_have_ >= hello_->size) {
    request_have_ -= hello_->size;
    owed_ += hello_->size;
    ++transactions_;
    if (hello_->mode == Mode::kCrr) break;
  }
  return Status::kOk;
}

void ServerSession::on_peer_closed() noexcept {
  if (peer_closed_) return;
  peer_closed_ = true;
  if (hello_ && hello_->mode == Mode::kBulk && !hello_->reverse) {
    encode_u64(payload_, std::span<std::byte, kCountSize>{count_buf_, kCountSize});
    count_due_ = true;
  }
}

std::span<const std::byte> ServerSession::out() const noexcept {
  if (count_due_) return std::span<const std::byte>{count_buf_ + count_sent_, kCountSize - count_sent_};
  // rr: responses to a client that closed would only draw a reset.
  if (peer_closed_) return {};
  if (reverse()) {  // the stream: its `size` bytes, or until the client's FIN
    if (hello_->size == 0) return zeros();
    return zeros().first(
        static_cast<std::size_t>(std::min<std::uint64_t>(hello_->size - stream_sent_, kZeros)));
  }
  return zeros().first(static_cast<std::size_t>(std::min<std::uint64_t>(owed_, kZeros)));
}

void ServerSession::sent(std::size_t n) noexcept {
  if (reverse()) {
    stream_sent_ += n;
    return;
  }
  if (count_due_) {
    count_sent_ += std::min(n, kCountSize - count_sent_);
    if (count_sent_ == kCountSize) count_due_ = false;
    return;
  }
  owed_ -= std::min<std::uint64_t>(n, owed_);
}

bool ServerSession::should_close() const noexcept {
  if (count_due_) return false;
  if (peer_closed_) return true;
  if (!hello_) return false;
  if (hello_->mode == Mode::kEnd) return true;
  if (hello_->reverse) return hello_->size != 0 && stream_sent_ >= hello_->size;
  return hello_->mode == Mode::kCrr && transactions_ > 0 && owed_ == 0;
}

}  // namespace tern::perf
