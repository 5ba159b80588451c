#include "perf_kernel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "perf_kernel_util.h"
#include "perf_plot.h"
#include "perf_stats.h"
#include "perf_test_table.h"

namespace tern::perf {
namespace {

// Bulk client: 64 KiB writes (and reads, --reverse) per epoll wakeup, at
// most (see KernelClient::pump and receive).
constexpr int kBulkWritesPerWakeup = 16;

// --congestion: TCP_CONGESTION on `fd`; an empty name keeps the system's
// default. Accepted sockets inherit the listener's.
bool set_congestion(int fd, const std::string& name) {
  if (name.empty()) return true;
  if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.data(), static_cast<socklen_t>(name.size())) == 0)
    return true;
  std::fprintf(stderr, "tern-perf: congestion control \"%s\": %s\n", name.c_str(), std::strerror(errno));
  return false;
}

// ---------------------------------------------------------------- server

class KernelServer {
 public:
  KernelServer(const Options& o, Loop& loop) : o_(o), loop_(loop) {
    r_.mode = "server";
    r_.stack = "kernel";
    r_.role = "server";
  }

  int run() {
    // Both families on one socket ([::] with IPV6_V6ONLY off, as Linux
    // servers do), or IPv4 alone where the kernel has no IPv6.
    const int zero = 0;
    Fd l(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    SockAddr sa = make_addr(IpAddr{}, o_.port);
    if (!l || setsockopt(l.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
      l.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      sa = make_addr(IpAddr::any_v4(), o_.port);
    }
    const int one = 1;
    if (l && !set_congestion(l.get(), o_.congestion)) return 1;
    if (!l || setsockopt(l.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (o_.reuseport && setsockopt(l.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(l.get(), sa.get(), sa.len) != 0 || listen(l.get(), 4096) != 0) {
      std::fprintf(stderr, "tern-perf: cannot listen on port %u: %s\n", o_.port, std::strerror(errno));
      return 1;
    }
    loop_.add(l.get(), EPOLLIN, &listener_);
    std::printf("tern-perf: kernel server listening on port %u\n", o_.port);
    std::fflush(stdout);
    if (!o_.ready_file.empty() && !write_ready_file(o_.ready_file)) {
      std::fprintf(stderr, "tern-perf: cannot write %s: %s\n", o_.ready_file.c_str(), std::strerror(errno));
      return 1;
    }
    std::vector<epoll_event> evs(256);
    for (;;) {
      // With a test's end message held, wake to print its summary in time.
      const int n =
          epoll_wait(loop_.ep.get(), evs.data(), static_cast<int>(evs.size()), pending_.empty() ? -1 : 20);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "tern-perf: epoll_wait: %s\n", std::strerror(errno));
        return 1;
      }
      poll_pending();
      for (int i = 0; i < n; ++i) {
        void* p = evs[static_cast<std::size_t>(i)].data.ptr;
        if (p == nullptr) {
          if (loop_.signalled()) return finish();
        } else if (p == &listener_) {
          accept_all(l.get());
        } else {
          service(*static_cast<Conn*>(p), evs[static_cast<std::size_t>(i)].events);
        }
      }
    }
  }

 private:
  struct Conn {
    Fd fd;
    ServerSession s;
    bool out_armed = false;
    bool eof = false;
    std::int64_t accepted = 0;
  };

  int finish() {
    if (last_ > first_) r_.duration_s = static_cast<double>(last_ - first_) / 1e9;
    r_.bytes = r_.tx_bytes + r_.rx_bytes;
    print_summary(stdout, r_, o_.json);
    return 0;
  }

  // Tests whose end message came: the summary once their connections ended, or a second later.
  void poll_pending() { tests_.print_due(pending_, now_ns(), "kernel", o_.json); }

  void accept_all(int l) {
    for (;;) {
      const int fd = accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
          std::fprintf(stderr, "tern-perf: accept: %s\n", std::strerror(errno));
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd.reset(fd);
      c->accepted = now_ns();
      loop_.add(fd, EPOLLIN, c.get());
      conns_.push_back(std::move(c));
      ++r_.connections;
      if (first_ == 0) first_ = now_ns();
    }
  }

  void service(Conn& c, std::uint32_t events) {
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !c.eof) {
      std::byte buf[64 * 1024];
      for (;;) {
        const ssize_t n = read(c.fd.get(), buf, sizeof buf);
        if (n > 0) {
          if (c.s.on_bytes({buf, static_cast<std::size_t>(n)}) == ServerSession::Status::kBadHello) {
            if (r_.errors < 10) {
              sockaddr_storage peer{};
              socklen_t len = sizeof peer;
              getpeername(c.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len);
              const std::string_view why = describe(c.s.hello_error());
              std::fprintf(stderr, "tern-perf: %s: %.*s: reset\n", endpoint_text(peer).c_str(),
                           static_cast<int>(why.size()), why.data());
            }
            const linger lg{1, 0};
            setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            return end(c, false);
          }
          continue;
        }
        if (n == 0) {
          c.eof = true;
          c.s.on_peer_closed();
          break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return end(c, false);  // reset by the peer
      }
    }
    flush(c);
  }

  void flush(Conn& c) {
    for (std::span<const std::byte> out = c.s.out(); !out.empty(); out = c.s.out()) {
      const ssize_t n = send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          c.out_armed = true;
          loop_.modify(c.fd.get(), c.eof ? static_cast<std::uint32_t>(EPOLLOUT) : EPOLLIN | EPOLLOUT, &c);
          return;
        }
        return end(c, false);
      }
      c.s.sent(static_cast<std::size_t>(n));
    }
    if (c.s.should_close()) return end(c, true);
    if (c.out_armed || c.eof) {
      c.out_armed = false;
      loop_.modify(c.fd.get(), c.eof ? 0u : static_cast<std::uint32_t>(EPOLLIN), &c);
    }
  }

  void end(Conn& c, bool ok) {
    const ServerSession& x = c.s;
    const std::int64_t now = now_ns();
    if (tests_.on_server_end(0, x, ok, c.accepted, now, r_, pending_)) last_ = now;
    c.fd.reset();  // also leaves the epoll set
    auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& p) { return p.get() == &c; });
    std::swap(*it, conns_.back());
    conns_.pop_back();
  }

  const Options& o_;
  Loop& loop_;
  char listener_ = 0;  // its address tags the listening socket in epoll
  std::vector<std::unique_ptr<Conn>> conns_;
  std::int64_t first_ = 0, last_ = 0;
  TestTable tests_{1};
  std::vector<TestTable::Pending> pending_;
  Result r_;
};

// ---------------------------------------------------------------- client

class KernelClient {
 public:
  KernelClient(const Options& o, Loop& loop)
      : o_(o),
        loop_(loop),
        bulk_(o.mode == Mode::kBulk),
        intervals_(stdout, bulk_, o.json, "send", bulk_ && o.bidir ? "TX" : ""),
        rx_intervals_(stdout, true, o.json, "receive", o.bidir ? "RX" : "") {
    r_.mode = std::string(to_string(o.mode));
    r_.stack = "kernel";
    r_.role = "client";
    r_.direction = bulk_ ? o.direction() : "send";
    r_.test = o.test;
    r_.connections = o.connections;
    r_.duration_s = o.time_s;
  }

  int run() {
    forward_ = bulk_ && !o_.sends() ? 0 : o_.connections;
    conns_.resize(forward_ + (bulk_ && o_.receives() ? o_.connections : 0));
    open_ = conns_.size();
    start_ = now_ns();
    end_ = o_.bytes > 0 ? INT64_MAX : start_ + to_ns(o_.time_s);
    next_interval_ = start_ + to_ns(o_.interval_s);
    for (Conn& k : conns_) open(k);
    std::vector<epoll_event> evs(256);
    while (open_ > 0) {
      std::int64_t now = now_ns();
      std::int64_t wake = now + 10'000'000;  // timeouts are checked at least every 10 ms
      if (!ending_) {
        wake = std::min(wake, end_);
        if (o_.interval_s > 0) wake = std::min(wake, next_interval_);
        if (!idle_.empty()) wake = now;
      }
      const int timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (wake - now + 999'999) / 1'000'000));
      const int n = epoll_wait(loop_.ep.get(), evs.data(), static_cast<int>(evs.size()), timeout_ms);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "tern-perf: epoll_wait: %s\n", std::strerror(errno));
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        void* p = evs[static_cast<std::size_t>(i)].data.ptr;
        if (p == nullptr) {
          if (loop_.signalled() && !ending_) {  // stop early: what was measured so far
            r_.duration_s = static_cast<double>(now_ns() - start_) / 1e9;
            begin_end();
          }
          continue;
        }
        Conn& k = *static_cast<Conn*>(p);
        if (k.fd) service(k, evs[static_cast<std::size_t>(i)].events);
      }
      tick();
    }
    if (o_.bytes > 0 && !ending_) {
      r_.duration_s = static_cast<double>(now_ns() - start_) / 1e9;
      report(r_.duration_s);
    }
    send_end_message();
    r_.bytes = r_.tx_bytes + r_.rx_bytes;
    print_summary(stdout, r_, o_.json);
    return r_.errors > 0 || (r_.bytes == 0 && r_.transactions == 0) ? 1 : 0;
  }

  const IntervalReporter& intervals() const noexcept { return intervals_; }
  const IntervalReporter& rx_intervals() const noexcept { return rx_intervals_; }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kRunning, kDraining, kAwaitFin, kDone };
  struct Conn {
    Fd fd;
    Phase phase = Phase::kIdle;
    bool reverse = false;  // bulk: the server sends on this one
    std::byte hello[kHelloSize] = {};
    std::size_t hello_sent = 0;
    std::uint64_t req_left = 0;
    std::uint64_t resp_left = 0;
    std::int64_t t_connect = 0, t_request = 0, retry_at = 0;
    std::byte count[kCountSize] = {};
    std::size_t count_have = 0;
    std::uint64_t sent = 0;      // bulk: payload written, to check the server's count against
    std::uint64_t quota = 0;     // -n: this connection's share; 0: --time
    std::uint64_t received = 0;  // bulk reverse
    std::uint32_t retrans = 0;   // the last tcpi_total_retrans seen
    bool out_armed = false;
  };

  // The failure kind for a socket error (errno).
  static Failure failure_of(int err) noexcept {
    switch (err) {
      case ECONNREFUSED:
        return Failure::kRefused;
      case ECONNRESET:
      case EPIPE:
        return Failure::kReset;
      case ETIMEDOUT:
        return Failure::kTimedOut;
      case EHOSTUNREACH:
      case ENETUNREACH:
        return Failure::kUnreachable;
      default:
        return Failure::kConnect;
    }
  }

  // Counts the failure, reports its first occurrence (with errno's words when set), ends the slot.
  bool fail(Conn& k, Failure f, const std::string& detail = {}) {
    r_.fail(f);
    const std::uint64_t bit = std::uint64_t{1} << static_cast<unsigned>(f);
    if ((seen_ & bit) == 0) {
      seen_ |= bit;
      std::fprintf(stderr, "tern-perf: %s:%u: %.*s%s%s%s\n", o_.addr.to_string().c_str(), o_.port,
                   static_cast<int>(failure_text(f).size()), failure_text(f).data(),
                   detail.empty() ? "" : " (", detail.c_str(), detail.empty() ? "" : ")");
    }
    finish(k, false);
    return false;
  }
  bool fail_errno(Conn& k, const char* what) {
    const int err = errno;
    return fail(k, failure_of(err), std::string(what) + ": " + std::strerror(err));
  }

  void open(Conn& k) {
    const auto i = static_cast<std::size_t>(&k - conns_.data());
    k.fd.reset();
    k.phase = Phase::kIdle;
    k.reverse = i >= forward_;
    k.quota = o_.bytes > 0 ? bytes_share(o_.bytes, k.reverse ? i - forward_ : i, o_.connections) : 0;
    k.hello_sent = k.count_have = 0;
    k.sent = k.received = 0;
    k.retrans = 0;
    k.req_left = k.resp_left = 0;
    k.out_armed = false;
    k.t_connect = now_ns();
    const std::uint32_t size = !bulk_ ? o_.size : k.reverse ? static_cast<std::uint32_t>(k.quota) : 0;
    encode_hello(Hello{.mode = o_.mode, .size = size, .reverse = k.reverse, .test = o_.test},
                 std::span<std::byte, kHelloSize>{k.hello, kHelloSize});
    const SockAddr sa = make_addr(o_.addr, o_.port);
    k.fd.reset(socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!k.fd) {
      fail_errno(k, "socket");
      return;
    }
    if (!set_congestion(k.fd.get(), o_.congestion)) {
      fail(k, Failure::kConnect, "setsockopt(TCP_CONGESTION)");
      return;
    }
    if (!bulk_) {
      const int one = 1;
      setsockopt(k.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(k.fd.get(), sa.get(), sa.len) != 0 && errno != EINPROGRESS) {
      fail_errno(k, "connect");
      return;
    }
    k.phase = Phase::kConnecting;
    loop_.add(k.fd.get(), EPOLLOUT, &k);
  }

  void service(Conn& k, std::uint32_t events) {
    if (k.phase == Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(k.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        fail_errno(k, "connect");
        return;
      }
      if ((events & EPOLLOUT) == 0) return;
      k.phase = ending_ && o_.mode == Mode::kRr ? Phase::kDraining : Phase::kRunning;
      if (!bulk_) {
        k.req_left = k.resp_left = o_.size;
        k.t_request = now_ns();
      }
      loop_.modify(k.fd.get(), EPOLLIN, &k);
      if (!pump(k)) return;
    }
    if ((events & EPOLLOUT) != 0 && !pump(k)) return;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) receive(k);
  }

  // Sends what is due; false when the connection ended.
  bool pump(Conn& k) {
    bool blocked = false;
    auto write_some = [&](const void* p, std::size_t n) -> ssize_t {
      for (;;) {
        const ssize_t w = send(k.fd.get(), p, n, MSG_NOSIGNAL);
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          blocked = true;
          return 0;
        }
        return -1;
      }
    };
    if (k.hello_sent < kHelloSize) {
      std::byte first[2048];
      const std::size_t h = kHelloSize - k.hello_sent;
      const std::size_t r = static_cast<std::size_t>(std::min<std::uint64_t>(k.req_left, sizeof first - h));
      std::memcpy(first, k.hello + k.hello_sent, h);
      std::memset(first + h, 0, r);
      const ssize_t w = write_some(first, h + r);
      if (w < 0) return fail_errno(k, "send");
      const auto a = static_cast<std::size_t>(w);
      if (a >= h) {
        k.hello_sent = kHelloSize;
        k.req_left -= a - h;
        ++hellos_;
      } else {
        k.hello_sent += a;
      }
    }
    // A receiver that drains as fast as this loop writes never makes send()
    // block: bound the writes per wakeup, and keep EPOLLOUT armed, so the run
    // loop still sees the end of the test and the interval reports.
    bool more = false;
    if (bulk_) {
      for (int budget = kBulkWritesPerWakeup;
           !k.reverse && !blocked && k.hello_sent == kHelloSize && k.phase == Phase::kRunning; --budget) {
        if (budget == 0) {
          more = true;
          break;
        }
        std::size_t want = zeros().size();
        if (k.quota > 0) {
          if (k.sent >= k.quota) {  // -n: its share is written; the server answers the FIN with its count
            shutdown(k.fd.get(), SHUT_WR);
            k.phase = Phase::kDraining;
            break;
          }
          want = static_cast<std::size_t>(std::min<std::uint64_t>(want, k.quota - k.sent));
        }
        const ssize_t w = write_some(zeros().data(), want);
        if (w < 0) return fail_errno(k, "send");
        r_.sent_bytes += static_cast<std::uint64_t>(w);
        k.sent += static_cast<std::uint64_t>(w);
      }
    } else {
      while (!blocked && k.hello_sent == kHelloSize && k.req_left > 0) {
        const ssize_t w = write_some(
            zeros().data(), static_cast<std::size_t>(std::min<std::uint64_t>(k.req_left, zeros().size())));
        if (w < 0) return fail_errno(k, "send");
        k.req_left -= static_cast<std::uint64_t>(w);
      }
    }
    const bool want_out = blocked || more;
    if (want_out != k.out_armed) {
      k.out_armed = want_out;
      loop_.modify(k.fd.get(), want_out ? EPOLLIN | EPOLLOUT : EPOLLIN, &k);
    }
    return true;
  }

  void receive(Conn& k) {
    std::byte buf[64 * 1024];
    // Bounded as the writes are (a fast sender never lets read() say EAGAIN);
    // epoll is level-triggered: the rest wakes the loop again.
    for (int budget = kBulkWritesPerWakeup; budget > 0; --budget) {
      const ssize_t n = read(k.fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        fail_errno(k, "receive");
        return;
      }
      if (n == 0) return peer_closed(k);
      if (!on_bytes(k, {buf, static_cast<std::size_t>(n)})) return;
    }
  }

  // False when the connection ended.
  bool on_bytes(Conn& k, std::span<const std::byte> b) {
    if (bulk_) {
      if (k.reverse) {
        k.received += b.size();
        r_.rx_bytes += b.size();
        return true;
      }
      if (k.phase != Phase::kDraining || k.count_have + b.size() > kCountSize)
        return fail(k, Failure::kProtocol,
                    std::to_string(b.size()) + " unexpected bytes from the bulk server");
      std::memcpy(k.count + k.count_have, b.data(), b.size());
      k.count_have += b.size();
      return true;
    }
    if (b.size() > k.resp_left || k.req_left > 0 || k.phase == Phase::kAwaitFin)
      return fail(k, Failure::kProtocol, std::to_string(b.size()) + " bytes before a request asked for them");
    k.resp_left -= b.size();
    if (k.resp_left > 0) return true;
    const std::int64_t now = now_ns();
    ++r_.transactions;
    if (o_.mode == Mode::kCrr) {
      r_.latency.record(static_cast<std::uint64_t>(now - k.t_connect));
      k.phase = Phase::kAwaitFin;
      return true;
    }
    r_.latency.record(static_cast<std::uint64_t>(now - k.t_request));
    if (k.phase == Phase::kDraining) {
      finish(k, true);
      return false;
    }
    k.req_left = k.resp_left = o_.size;
    k.t_request = now;
    return pump(k);
  }

  void peer_closed(Conn& k) {
    if (bulk_ && k.reverse) {
      if (k.quota > 0 ? k.received == k.quota : k.phase == Phase::kDraining) return finish(k, true);
      if (k.quota > 0)
        fail(k, Failure::kCountMismatch,
             "received " + std::to_string(k.received) + " of " + std::to_string(k.quota) + " bytes");
      else
        fail(k, Failure::kClosedEarly);
      return;
    }
    if (bulk_ && k.phase == Phase::kDraining && k.count_have == kCountSize) {
      const std::uint64_t count = decode_u64(std::span<const std::byte, kCountSize>{k.count, kCountSize});
      r_.tx_bytes += count;
      // A graceful close delivers everything written: the counts agree.
      if (count != k.sent) {
        fail(k, Failure::kCountMismatch,
             "the server counted " + std::to_string(count) + " of " + std::to_string(k.sent));
        return;
      }
      return finish(k, true);
    }
    if (o_.mode == Mode::kCrr && k.phase == Phase::kAwaitFin) {
      ++r_.connects;
      return finish(k, true);
    }
    fail(k, Failure::kClosedEarly);
  }

  void finish(Conn& k, bool ok) {
    k.fd.reset();
    if (o_.mode == Mode::kCrr && !ending_) {
      k.phase = Phase::kIdle;
      k.retry_at = now_ns() + (ok ? 0 : 10'000'000);
      idle_.push_back(static_cast<std::size_t>(&k - conns_.data()));
      return;
    }
    if (k.phase != Phase::kDone) {
      k.phase = Phase::kDone;
      --open_;
    }
  }

  // The sending connections' TCP_INFO, in the words Tern's client uses for
  // its own (perf_tern.cc), so the two sides' lines compare directly.
  SenderFigures sender_figures() {
    SenderFigures s;
    s.valid = o_.mode != Mode::kCrr;  // crr: connections too short-lived to say
    if (!s.valid) return s;
    std::uint64_t rtt_sum = 0, n = 0;
    for (std::size_t i = 0; i < forward_; ++i) {
      Conn& k = conns_[i];
      if (k.fd && (k.phase == Phase::kRunning || k.phase == Phase::kDraining)) {
        tcp_info ti{};
        socklen_t len = sizeof ti;
        if (getsockopt(k.fd.get(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
          k.retrans = ti.tcpi_total_retrans;
          s.cwnd += static_cast<std::uint64_t>(ti.tcpi_snd_cwnd) * ti.tcpi_snd_mss;
          rtt_sum += ti.tcpi_rtt;
          s.ca_state = std::max(s.ca_state, ti.tcpi_ca_state);
          ++n;
        }
      }
      s.retrans += k.retrans;
    }
    s.rtt_us = n > 0 ? static_cast<std::uint32_t>(rtt_sum / n) : 0;
    s.valid = n > 0;  // none sending any more (-n: all done): "-"
    return s;
  }

  void report(double t) {
    if (o_.interval_s <= 0) return;
    if (!bulk_ || o_.sends()) intervals_.report(t, r_.sent_bytes, r_.transactions, sender_figures());
    if (bulk_ && o_.receives()) rx_intervals_.report(t, r_.rx_bytes, 0);
  }

  // Tells the server the test ended (its per-test summary): a blocking
  // connect and the end hello, within a second; the server closes.
  void send_end_message() {
    if (o_.test == 0) return;
    const SockAddr sa = make_addr(o_.addr, o_.port);
    Fd fd(socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    const timeval tv{1, 0};
    std::byte h[kHelloSize];
    encode_hello(Hello{.mode = Mode::kEnd,
                       .size = static_cast<std::uint32_t>(std::min<std::uint64_t>(hellos_, UINT32_MAX)),
                       .test = o_.test},
                 std::span<std::byte, kHelloSize>{h, kHelloSize});
    if (!fd || setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd.get(), sa.get(), sa.len) != 0 ||
        send(fd.get(), h, sizeof h, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof h)) {
      std::fprintf(stderr, "tern-perf: could not tell the server the test ended (%s)\n",
                   std::strerror(errno));
      return;
    }
    char b;
    (void)read(fd.get(), &b, 1);  // the server's close
  }

  void begin_end() {
    ending_ = true;
    ending_at_ = now_ns();  // the drain timeout counts from here, even if the loop was late
    report(static_cast<double>(now_ns() - start_) / 1e9);
    idle_.clear();
    for (Conn& k : conns_) {
      switch (k.phase) {
        case Phase::kIdle:
          k.phase = Phase::kDone;
          --open_;
          break;
        case Phase::kConnecting:
          if (o_.mode != Mode::kCrr) fail(k, Failure::kNotConnected);
          break;
        case Phase::kRunning:
          if (bulk_) {
            shutdown(k.fd.get(), SHUT_WR);  // the server answers with its count (--reverse: stops, closes)
            k.out_armed = false;
            loop_.modify(k.fd.get(), EPOLLIN, &k);
            k.phase = Phase::kDraining;
          } else if (o_.mode == Mode::kRr) {
            k.phase = Phase::kDraining;
          }
          break;
        default:
          break;
      }
    }
  }

  void tick() {
    const std::int64_t now = now_ns();
    if (!ending_) {
      if (o_.interval_s > 0 && now >= next_interval_) {
        report(static_cast<double>(now - start_) / 1e9);
        while (next_interval_ <= now) next_interval_ += to_ns(o_.interval_s);
      }
      if (now >= end_) {
        begin_end();
      } else if (!idle_.empty()) {
        for (std::size_t i : std::vector<std::size_t>(std::move(idle_))) {
          if (conns_[i].retry_at <= now)
            open(conns_[i]);
          else
            idle_.push_back(i);
        }
      }
    }
    if (now < next_scan_) return;
    next_scan_ = now + 1'000'000;
    const bool drain_over = ending_ && now >= ending_at_ + to_ns(kDrainTimeoutS);
    for (Conn& k : conns_) {
      if (k.phase == Phase::kConnecting && now - k.t_connect >= to_ns(kConnectTimeoutS))
        fail(k, Failure::kConnectTimeout);
      else if (drain_over && k.phase != Phase::kDone)
        fail(k, Failure::kDrainTimeout);
    }
  }

  const Options& o_;
  Loop& loop_;
  bool bulk_;
  IntervalReporter intervals_;
  IntervalReporter rx_intervals_;
  std::vector<Conn> conns_;
  std::vector<std::size_t> idle_;
  std::size_t forward_ = 0;  // conns_[0, forward_) send, the rest receive (bulk)
  std::size_t open_ = 0;
  std::uint64_t hellos_ = 0;
  std::uint64_t seen_ = 0;  // bit per Failure kind already reported
  bool ending_ = false;
  std::int64_t start_ = 0, end_ = 0, ending_at_ = 0, next_interval_ = 0, next_scan_ = 0;
  Result r_;
};

}  // namespace

int run_kernel(const Options& o) {
  Loop loop(o);
  if (!loop.ok) return 1;
  if (o.server) return KernelServer(o, loop).run();
  KernelClient c(o, loop);
  const int rc = c.run();
  if (o.plot.empty()) return rc;
  const bool bulk = o.mode == Mode::kBulk;
  const std::string title = "tern-perf kernel " + std::string(to_string(o.mode)) + " client to " +
                            o.addr.to_string() + ", " + std::to_string(o.connections) + " connection(s)" +
                            (bulk ? std::string(", ") + o.direction() : std::string());
  const bool ok = plot_intervals(
      o.plot, !bulk || o.sends() ? c.intervals().points() : std::vector<IntervalPoint>{},
      bulk && o.receives() ? c.rx_intervals().points() : std::vector<IntervalPoint>{}, bulk, title);
  return ok ? rc : 1;
}

}  // namespace tern::perf
