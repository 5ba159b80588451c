#pragma once
// The pieces of tern-perf's kernel mode (Linux sockets, epoll) that its TCP
// (perf_kernel.cc) and UDP (perf_udp_kernel.cc) sides share.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "perf_options.h"
#include "tern/ip_addr.h"

namespace tern::perf {

inline std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline std::int64_t to_ns(double s) noexcept { return static_cast<std::int64_t>(s * 1e9); }

// A socket address's text ("10.0.0.1:80", "[2001:db8::1]:80").
inline std::string endpoint_text(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
    return Endpoint{IpAddr::v4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port)}.to_string();
  }
  if (sa.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    return Endpoint{IpAddr::v6_from_bytes(in6.sin6_addr.s6_addr), ntohs(in6.sin6_port)}.to_string();
  }
  return "?";
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

// An IPv4 address as AF_INET, any other as AF_INET6.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const noexcept { return ss.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
};
inline SockAddr make_addr(const IpAddr& addr, std::uint16_t port) noexcept {
  SockAddr a;
  if (addr.is_v4()) {
    auto& in = reinterpret_cast<sockaddr_in&>(a.ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(addr.v4_host());
    a.len = sizeof in;
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(in6.sin6_addr.s6_addr, addr.bytes().data(), 16);
    a.len = sizeof in6;
  }
  return a;
}

inline bool write_ready_file(const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  const bool ok = std::fclose(f) == 0;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace tern::perf
