// tern-perf --kernel --udp: the UDP client and server (perf_udp.h) on Linux
// sockets, one thread. The server takes both families on one [::] socket
// and reads with recvmmsg; arrivals in one batch share one clock reading,
// as Tern's do (WorkerContext::now(), once per loop iteration).
#include "perf_udp_kernel.h"

#include <sys/time.h>

#include <array>
#include <cinttypes>
#include <vector>

#include "perf_kernel_util.h"
#include "perf_udp.h"

namespace tern::perf {
namespace {

constexpr unsigned kBatch = 32;

class KernelUdpServer {
 public:
  KernelUdpServer(const Options& o, Loop& loop) : o_(o), loop_(loop) {}

  int run() {
    Fd s(socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int zero = 0;
    const int rcvbuf = 8 << 20;
    if (!s || setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
      std::fprintf(stderr, "tern-perf: UDP socket: %s\n", std::strerror(errno));
      return 1;
    }
    setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  // best effort (rmem_max caps it)
    const SockAddr any = make_addr(IpAddr::v6_from_bytes(std::array<std::uint8_t, 16>{}.data()), o_.port);
    if (bind(s.get(), any.get(), any.len) != 0) {
      std::fprintf(stderr, "tern-perf: bind UDP port %u: %s\n", o_.port, std::strerror(errno));
      return 1;
    }
    if (!o_.ready_file.empty() && !write_ready_file(o_.ready_file)) {
      std::fprintf(stderr, "tern-perf: cannot write %s: %s\n", o_.ready_file.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(stderr, "tern-perf kernel udp server: port %u\n", o_.port);
    loop_.add(s.get(), EPOLLIN, &s);
    std::vector<std::array<std::byte, kUdpMaxLength>> bufs(kBatch);
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_storage, kBatch> from{};
    for (;;) {
      epoll_event evs[2];
      const int n = epoll_wait(loop_.ep.get(), evs, 2, -1);
      for (int i = 0; i < n; ++i)
        if (evs[i].data.ptr == nullptr && loop_.signalled()) return finish();
      for (;;) {
        for (unsigned i = 0; i < kBatch; ++i) {
          iov[i] = {bufs[i].data(), bufs[i].size()};
          msgs[i].msg_hdr = msghdr{};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
          msgs[i].msg_hdr.msg_name = &from[i];
          msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        const int got = recvmmsg(s.get(), msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (got <= 0) break;
        const std::int64_t now = now_ns();
        for (int i = 0; i < got; ++i)
          on_datagram(s.get(), {bufs[i].data(), msgs[i].msg_len}, from[i], msgs[i].msg_hdr.msg_namelen, now);
      }
    }
  }

 private:
  void on_datagram(int fd, std::span<const std::byte> d, const sockaddr_storage& from, socklen_t len,
                   std::int64_t now) {
    std::array<std::byte, kUdpReportSize> rep{};
    if (server_.on_datagram(d, d.size(), now, rep))
      sendto(fd, rep.data(), rep.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from), len);
  }

  int finish() {
    std::fprintf(stdout, "tern-perf kernel udp server: stopped (%" PRIu64 " datagrams not tern-perf's)\n",
                 server_.totals().ignored);
    return 0;
  }

  const Options& o_;
  Loop& loop_;
  UdpServer server_{"kernel", o_.json};
};

class KernelUdpClient {
 public:
  KernelUdpClient(const Options& o, Loop& loop) : o_(o), loop_(loop) {}

  int run() {
    const SockAddr to = make_addr(o_.addr, o_.port);
    Fd s(socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s || connect(s.get(), to.get(), to.len) != 0) {
      std::fprintf(stderr, "tern-perf: UDP socket to %s: %s\n", endpoint_text(to.ss).c_str(),
                   std::strerror(errno));
      return 1;
    }
    // A report is awaited 100 ms per try.
    const timeval tv{0, kEndRetryNs / 1000};
    setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!ask(s.get(), UdpType::kStart, 0, 0)) {
      std::fprintf(stderr, "tern-perf: no answer from a UDP server at %s\n", endpoint_text(to.ss).c_str());
      return 1;
    }
    const std::uint32_t length = o_.length != 0 ? o_.length : default_udp_length(!o_.addr.is_v4());
    std::vector<std::byte> buf(length);
    UdpSummary sum{"client", "kernel", o_.test, length, o_.bitrate, 0, 0, 0, std::nullopt};
    const std::int64_t start = now_ns();
    const std::int64_t end = start + to_ns(o_.time_s);
    std::int64_t now = start;
    bool stopped = false;
    for (std::uint64_t checks = 0; now < end && !stopped; now = now_ns()) {
      if ((++checks & 1023) == 0 && loop_.signalled()) stopped = true;
      const std::uint64_t allowed = udp_allowed(o_.bitrate, length, now - start);
      if (sum.sent >= allowed) {
        // Ahead of the schedule: sleep until the next datagram is due (at
        // most 1 ms, so the end and a signal are noticed).
        const timespec ts{0, 100'000};
        nanosleep(&ts, nullptr);
        continue;
      }
      encode_udp_header(UdpHeader{UdpType::kData, o_.test, sum.sent, static_cast<std::uint64_t>(now)},
                        std::span<std::byte>(buf).first<kUdpHeaderSize>());
      if (send(s.get(), buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()))
        ++sum.sent;
      else
        ++sum.send_errors;  // ENOBUFS, or ECONNREFUSED from an earlier Port Unreachable: counted, tried again
    }
    sum.duration_s = static_cast<double>(now - start) / 1e9;

    sum.report = ask(s.get(), UdpType::kEnd, sum.sent, static_cast<std::uint64_t>(now - start));
    print_udp_summary(stdout, sum, o_.json);
    if (!sum.report)
      std::fprintf(stderr, "tern-perf: no report from the UDP server at %s\n", endpoint_text(to.ss).c_str());
    return sum.report && sum.report->received > 0 ? 0 : 1;
  }

 private:
  // Sends `type` every 100 ms, up to kEndTries times, until the server's
  // report answering it comes.
  std::optional<UdpReport> ask(int fd, UdpType type, std::uint64_t seq, std::uint64_t time_ns) const {
    std::array<std::byte, kUdpHeaderSize> msg{};
    encode_udp_header(UdpHeader{type, o_.test, seq, time_ns}, msg);
    std::array<std::byte, 2048> in{};
    for (int tries = 0; tries < kEndTries; ++tries) {
      send(fd, msg.data(), msg.size(), 0);
      const std::int64_t give_up = now_ns() + kEndRetryNs;
      while (now_ns() < give_up) {
        const ssize_t n = recv(fd, in.data(), in.size(), 0);
        if (n < 0 && errno != EINTR && errno != EAGAIN) {  // ECONNREFUSED: nothing there (yet)
          const timespec ts{0, 10'000'000};
          nanosleep(&ts, nullptr);
        }
        if (n > 0)
          if (auto r = decode_udp_report({in.data(), static_cast<std::size_t>(n)}, o_.test, type)) return r;
      }
    }
    return std::nullopt;
  }

  const Options& o_;
  Loop& loop_;
};

}  // namespace

int run_kernel_udp(const Options& o) {
  Loop loop(o);
  if (!loop.ok) return 1;
  if (o.server) return KernelUdpServer(o, loop).run();
  return KernelUdpClient(o, loop).run();
}

}  // namespace tern::perf
