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

#include "perf_stats.h"

namespace tern::perf {
namespace {

// Bulk client: 64 KiB writes per epoll wakeup, at most (see KernelClient::pump).
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

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t to_ns(double s) noexcept { return static_cast<std::int64_t>(s * 1e9); }

std::string ipv4(std::uint32_t host_order) {
  char buf[INET_ADDRSTRLEN];
  const in_addr a{htonl(host_order)};
  return inet_ntop(AF_INET, &a, buf, sizeof buf) != nullptr ? buf : "?";
}

// Closes the fd it holds.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The epoll set, the signalfd for SIGINT/SIGTERM (no signal handler, no
// global flag) and the optional CPU pinning every kernel mode starts with.
struct Loop {
  Fd ep;
  Fd sig;
  bool ok = false;

  explicit Loop(const Options& o) {
    if (o.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(o.cpu, &set);
      if (sched_setaffinity(0, sizeof set, &set) != 0) {
        std::fprintf(stderr, "tern-perf: cannot pin to CPU %d: %s\n", o.cpu, std::strerror(errno));
        return;
      }
    }
    // A shell starts background jobs with SIGINT ignored, and an ignored
    // signal is discarded, not queued for the signalfd: back to the default
    // disposition first (blocked, so it never runs).
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    sig.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    ep.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!sig || !ep) {
      std::fprintf(stderr, "tern-perf: epoll/signalfd: %s\n", std::strerror(errno));
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the signalfd is the one without a pointer
    epoll_ctl(ep.get(), EPOLL_CTL_ADD, sig.get(), &ev);
    ok = true;
  }
  // True when SIGINT or SIGTERM arrived.
  bool signalled() const noexcept {
    signalfd_siginfo si{};
    return read(sig.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si);
  }
  void add(int fd, std::uint32_t events, void* p) const noexcept {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = p;
    epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  void modify(int fd, std::uint32_t events, void* p) const noexcept {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = p;
    epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &ev);
  }
};

sockaddr_in make_addr(std::uint32_t addr, std::uint16_t port) noexcept {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(addr);
  return sa;
}

bool write_ready_file(const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  const bool ok = std::fclose(f) == 0;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
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
    Fd l(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    const sockaddr_in sa = make_addr(INADDR_ANY, o_.port);
    if (l && !set_congestion(l.get(), o_.congestion)) return 1;
    if (!l || setsockopt(l.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(l.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || listen(l.get(), 4096) != 0) {
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
      const int n = epoll_wait(loop_.ep.get(), evs.data(), static_cast<int>(evs.size()), -1);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "tern-perf: epoll_wait: %s\n", std::strerror(errno));
        return 1;
      }
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
  };

  int finish() {
    if (last_ > first_) r_.duration_s = static_cast<double>(last_ - first_) / 1e9;
    print_summary(stdout, r_, o_.json);
    return 0;
  }

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
            if (r_.errors == 0) std::fprintf(stderr, "tern-perf: a bad hello: reset\n");
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
    r_.bytes += c.s.payload_bytes();
    r_.transactions += c.s.transactions();
    if (c.s.mode() == Mode::kCrr && ok) ++r_.connects;
    if (!ok) ++r_.errors;
    last_ = now_ns();
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
  Result r_;
};

// ---------------------------------------------------------------- client

class KernelClient {
 public:
  KernelClient(const Options& o, Loop& loop) : o_(o), loop_(loop), intervals_(stdout, o.mode == Mode::kBulk) {
    r_.mode = std::string(to_string(o.mode));
    r_.stack = "kernel";
    r_.role = "client";
    r_.connections = o.connections;
    r_.duration_s = o.time_s;
  }

  int run() {
    conns_.resize(o_.connections);
    open_ = conns_.size();
    start_ = now_ns();
    end_ = start_ + to_ns(o_.time_s);
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
    print_summary(stdout, r_, o_.json);
    return r_.errors > 0 || (r_.bytes == 0 && r_.transactions == 0) ? 1 : 0;
  }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kRunning, kDraining, kAwaitFin, kDone };
  struct Conn {
    Fd fd;
    Phase phase = Phase::kIdle;
    std::byte hello[kHelloSize] = {};
    std::size_t hello_sent = 0;
    std::uint64_t req_left = 0;
    std::uint64_t resp_left = 0;
    std::int64_t t_connect = 0, t_request = 0, retry_at = 0;
    std::byte count[kCountSize] = {};
    std::size_t count_have = 0;
    std::uint64_t sent = 0;  // bulk: payload written, to check the server's count against
    bool out_armed = false;
  };

  void error(const char* what) {
    if (r_.errors == 0)
      std::fprintf(stderr, "tern-perf: %s:%u: %s%s%s\n", ipv4(o_.addr).c_str(), o_.port, what,
                   errno ? ": " : "", errno ? std::strerror(errno) : "");
  }

  void open(Conn& k) {
    k.fd.reset();
    k.hello_sent = k.count_have = 0;
    k.sent = 0;
    k.req_left = k.resp_left = 0;
    k.out_armed = false;
    k.t_connect = now_ns();
    encode_hello(Hello{.mode = o_.mode, .size = o_.mode == Mode::kBulk ? 0 : o_.size},
                 std::span<std::byte, kHelloSize>{k.hello, kHelloSize});
    k.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!k.fd) {
      error("socket");
      return finish(k, false);
    }
    if (!set_congestion(k.fd.get(), o_.congestion)) {
      error("setsockopt(TCP_CONGESTION)");
      return finish(k, false);
    }
    if (o_.mode != Mode::kBulk) {
      const int one = 1;
      setsockopt(k.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    const sockaddr_in sa = make_addr(o_.addr, o_.port);
    if (connect(k.fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
      error("connect");
      return finish(k, false);
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
        error("connect");
        return finish(k, false);
      }
      if ((events & EPOLLOUT) == 0) return;
      k.phase = ending_ && o_.mode == Mode::kRr ? Phase::kDraining : Phase::kRunning;
      if (o_.mode != Mode::kBulk) {
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
      if (w < 0) return fail(k, "send");
      const auto a = static_cast<std::size_t>(w);
      if (a >= h) {
        k.hello_sent = kHelloSize;
        k.req_left -= a - h;
      } else {
        k.hello_sent += a;
      }
    }
    // A receiver that drains as fast as this loop writes never makes send()
    // block: bound the writes per wakeup, and keep EPOLLOUT armed, so the run
    // loop still sees the end of the test and the interval reports.
    bool more = false;
    if (o_.mode == Mode::kBulk) {
      for (int budget = kBulkWritesPerWakeup;
           !blocked && k.hello_sent == kHelloSize && k.phase == Phase::kRunning; --budget) {
        if (budget == 0) {
          more = true;
          break;
        }
        const ssize_t w = write_some(zeros().data(), zeros().size());
        if (w < 0) return fail(k, "send");
        r_.sent_bytes += static_cast<std::uint64_t>(w);
        k.sent += static_cast<std::uint64_t>(w);
      }
    } else {
      while (!blocked && k.hello_sent == kHelloSize && k.req_left > 0) {
        const ssize_t w = write_some(
            zeros().data(), static_cast<std::size_t>(std::min<std::uint64_t>(k.req_left, zeros().size())));
        if (w < 0) return fail(k, "send");
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
    for (;;) {
      const ssize_t n = read(k.fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        fail(k, "receive");
        return;
      }
      if (n == 0) return peer_closed(k);
      if (!on_bytes(k, {buf, static_cast<std::size_t>(n)})) return;
    }
  }

  // False when the connection ended.
  bool on_bytes(Conn& k, std::span<const std::byte> b) {
    errno = 0;
    if (o_.mode == Mode::kBulk) {
      if (k.phase != Phase::kDraining || k.count_have + b.size() > kCountSize)
        return fail(k, "unexpected bytes from the bulk server");
      std::memcpy(k.count + k.count_have, b.data(), b.size());
      k.count_have += b.size();
      return true;
    }
    if (b.size() > k.resp_left || k.req_left > 0 || k.phase == Phase::kAwaitFin)
      return fail(k, "bytes from the server before a request asked for them");
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
    errno = 0;
    if (o_.mode == Mode::kBulk && k.phase == Phase::kDraining && k.count_have == kCountSize) {
      const std::uint64_t count = decode_u64(std::span<const std::byte, kCountSize>{k.count, kCountSize});
      r_.bytes += count;
      // A graceful close delivers everything written: the counts agree.
      if (count != k.sent) {
        std::fprintf(stderr, "tern-perf: the server counted %llu bytes of the %llu sent\n",
                     static_cast<unsigned long long>(count), static_cast<unsigned long long>(k.sent));
        return finish(k, false);
      }
      return finish(k, true);
    }
    if (o_.mode == Mode::kCrr && k.phase == Phase::kAwaitFin) {
      ++r_.connects;
      return finish(k, true);
    }
    fail(k, "the server closed the connection early");
  }

  bool fail(Conn& k, const char* what) {
    error(what);
    finish(k, false);
    return false;
  }

  void finish(Conn& k, bool ok) {
    k.fd.reset();
    if (!ok) ++r_.errors;
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

  // The first open connection's TCP_INFO, in the words Tern's client uses
  // for its own (perf_tern.cc), so the two sides' lines compare directly.
  std::string sender_figures() const {
    for (const Conn& k : conns_) {
      if (k.fd.get() < 0 || k.phase == Phase::kConnecting) continue;
      tcp_info i{};
      socklen_t len = sizeof i;
      if (getsockopt(k.fd.get(), IPPROTO_TCP, TCP_INFO, &i, &len) != 0) return {};
      static constexpr const char* kStates[] = {"open", "disorder", "cwr", "recovery", "loss"};
      char buf[160];
      std::snprintf(buf, sizeof buf, "  cwnd %u KB  srtt %u us  retrans %u  %s",
                    i.tcpi_snd_cwnd * i.tcpi_snd_mss / 1024, i.tcpi_rtt, i.tcpi_total_retrans,
                    i.tcpi_ca_state < 5 ? kStates[i.tcpi_ca_state] : "?");
      return buf;
    }
    return {};
  }

  void begin_end() {
    ending_ = true;
    ending_at_ = now_ns();  // the drain timeout counts from here, even if the loop was late
    if (o_.interval_s > 0)
      intervals_.report(static_cast<double>(now_ns() - start_) / 1e9, r_.sent_bytes, r_.transactions);
    idle_.clear();
    for (Conn& k : conns_) {
      switch (k.phase) {
        case Phase::kIdle:
          k.phase = Phase::kDone;
          --open_;
          break;
        case Phase::kConnecting:
          if (o_.mode != Mode::kCrr) {
            errno = 0;
            fail(k, "not connected when the time was up");
          }
          break;
        case Phase::kRunning:
          if (o_.mode == Mode::kBulk) {
            shutdown(k.fd.get(), SHUT_WR);  // the server answers with its count
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
        intervals_.report(static_cast<double>(now - start_) / 1e9, r_.sent_bytes, r_.transactions,
                          sender_figures());
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
      errno = 0;
      if (k.phase == Phase::kConnecting && now - k.t_connect >= to_ns(kConnectTimeoutS))
        fail(k, "connection attempt timed out");
      else if (drain_over && k.phase != Phase::kDone)
        fail(k, "connection did not finish in time");
    }
  }

  const Options& o_;
  Loop& loop_;
  IntervalReporter intervals_;
  std::vector<Conn> conns_;
  std::vector<std::size_t> idle_;
  std::size_t open_ = 0;
  bool ending_ = false;
  std::int64_t start_ = 0, end_ = 0, ending_at_ = 0, next_interval_ = 0, next_scan_ = 0;
  Result r_;
};

}  // namespace

int run_kernel(const Options& o) {
  Loop loop(o);
  if (!loop.ok) return 1;
  if (o.server) return KernelServer(o, loop).run();
  return KernelClient(o, loop).run();
}

}  // namespace tern::perf
