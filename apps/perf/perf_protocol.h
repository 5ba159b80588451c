#pragma once
// tern-perf wire protocol, version 2: the same bytes whichever stack (Tern or
// Linux sockets) is on either end, so any client drives any server.
//
// Every connection starts with a 16-byte hello from the client, big endian:
//   offset 0  u32 magic    0x54504631 ("TPF1")
//          4  u16 version  2 (a server also takes 1: flags and test 0)
//          6  u8  mode     1 = bulk, 2 = rr, 3 = crr, 4 = end of a test
//          7  u8  flags    bit 0: reverse (bulk only: the server sends)
//          8  u32 size     rr/crr: request and response size in bytes, 1..kMaxSize;
//                          bulk: 0, or with reverse the bytes the server sends
//                          (0: until the client's FIN); end: the test's
//                          connections (those whose hello the client sent)
//         12  u32 test     the client's test id (random, 0: none): the
//                          server's summary per test (mode 4 ends one)
// then, by mode:
//   bulk  The client streams bytes (any content) until its time is up (or
//         it sent its -n share), then shuts down its write side. The server
//         discards them; on the client's FIN it sends one u64 (big endian):
//         the payload bytes it received after the hello, and closes. The
//         client closes on EOF.
//   bulk, reverse  The server streams bytes: `size` of them then closes, or
//         (size 0) until the client's FIN, then closes once what it queued
//         is out. The client counts what it receives, and closes on EOF.
//   rr    The client sends a request of `size` bytes; once the server holds
//         a whole request it sends `size` bytes back. One request is
//         outstanding per connection. The client closes when it is done;
//         the server closes on the client's FIN.
//   crr   One rr transaction, then the server closes first (as an HTTP/1.0
//         server does): TIME-WAIT stays on the server, so a fast client
//         does not run out of ephemeral ports. The client closes on EOF.
//   end   Sent once by a client whose connections all finished: the server
//         closes it, and prints that test's summary once `size` of the
//         test's connections ended (or a second later, with what it has).
// A hello the server does not understand ends the connection with a reset
// (kernel: close with SO_LINGER 0), counted as an error by the server, and
// a message that says why (an iperf3 client's cookie is recognised).
//
// ServerSession is the server's side of this, with no I/O: both servers
// feed it what they receive and send what it says they owe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tern::perf {

inline constexpr std::uint32_t kMagic = 0x54504631;
inline constexpr std::uint16_t kVersion = 2;
inline constexpr std::uint8_t kFlagReverse = 1;
inline constexpr std::size_t kHelloSize = 16;
inline constexpr std::size_t kCountSize = 8;                 // the bulk server's byte count
inline constexpr std::uint32_t kMaxSize = 16 * 1024 * 1024;  // largest rr/crr message
inline constexpr std::uint16_t kDefaultPort = 5201;

enum class Mode : std::uint8_t { kBulk = 1, kRr = 2, kCrr = 3, kEnd = 4 };
std::string_view to_string(Mode m) noexcept;
std::optional<Mode> parse_mode(std::string_view s) noexcept;  // bulk, rr, crr

struct Hello {
  Mode mode = Mode::kBulk;
  std::uint32_t size = 0;
  bool reverse = false;
  std::uint32_t test = 0;
};

void encode_hello(const Hello& h, std::span<std::byte, kHelloSize> out) noexcept;
// Empty for a wrong magic, version, mode, flags or size.
std::optional<Hello> decode_hello(std::span<const std::byte, kHelloSize> in) noexcept;

// Why decode_hello refused a hello.
enum class HelloError : std::uint8_t {
  kOk,
  kNotTernPerf,   // another magic: not this protocol at all
  kIperf3,        // another magic that reads like iperf3's 37-byte cookie ([a-z2-7]...)
  kOtherVersion,  // a tern-perf of another protocol version
  kBad,           // a mode, flag or size this version does not allow
};
HelloError hello_error(std::span<const std::byte, kHelloSize> in) noexcept;
// "not a tern-perf client (iperf3?)" and the like, for the server's message.
std::string_view describe(HelloError e) noexcept;

void encode_u64(std::uint64_t v, std::span<std::byte, kCountSize> out) noexcept;
std::uint64_t decode_u64(std::span<const std::byte, kCountSize> in) noexcept;

// A buffer of zeros to send payload from (requests, responses, bulk data).
std::span<const std::byte> zeros() noexcept;

// The server's side of one connection.
class ServerSession {
 public:
  enum class Status : std::uint8_t { kOk, kBadHello };  // kBadHello: hello_error() says why

  // Bytes received, in order.
  Status on_bytes(std::span<const std::byte> b) noexcept;
  // The client's FIN arrived.
  void on_peer_closed() noexcept;

  // The next bytes to send (the response zeros owed, or the bulk count
  // after the client's FIN); empty when nothing is owed. sent(n) after n of
  // them went out.
  std::span<const std::byte> out() const noexcept;
  void sent(std::size_t n) noexcept;
  // Everything owed is out and the connection should be closed now.
  bool should_close() const noexcept;

  bool has_hello() const noexcept { return hello_.has_value(); }
  Mode mode() const noexcept { return hello_ ? hello_->mode : Mode::kBulk; }
  bool reverse() const noexcept { return hello_ && hello_->reverse; }
  std::uint32_t test() const noexcept { return hello_ ? hello_->test : 0; }
  // mode kEnd: how many connections the client's test had.
  std::uint32_t end_connections() const noexcept { return hello_ ? hello_->size : 0; }
  HelloError hello_error() const noexcept { return error_; }
  std::uint64_t payload_bytes() const noexcept { return payload_; }
  // Bulk reverse: stream bytes handed to the stack (sent(n) adds them).
  std::uint64_t sent_bytes() const noexcept { return stream_sent_; }
  std::uint64_t transactions() const noexcept { return transactions_; }

 private:
  std::byte hello_buf_[kHelloSize] = {};
  std::size_t hello_have_ = 0;
  std::optional<Hello> hello_;
  HelloError error_ = HelloError::kOk;
  std::uint64_t payload_ = 0;
  std::uint64_t stream_sent_ = 0;   // bulk reverse
  std::uint64_t request_have_ = 0;  // bytes of the current request
  std::uint64_t owed_ = 0;          // response bytes
  std::uint64_t transactions_ = 0;
  std::byte count_buf_[kCountSize] = {};
  std::size_t count_sent_ = 0;  // bytes of count_buf_ sent
  bool peer_closed_ = false;
  bool count_due_ = false;
};

}  // namespace tern::perf
