// The virtual host's socket calls (virtual_host.h): each maps onto TcpStack
// entry points the way Linux's TCP sockets behave for the calls packetdrill
// scripts make; README.md lists what is left out.
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "virtual_host.h"

namespace tern::pd {

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

int errno_of(TcpError e) {
  switch (e) {
    case TcpError::kNone:
      return 0;
    case TcpError::kReset:
      return ECONNRESET;
    case TcpError::kRefused:
      return ECONNREFUSED;
    case TcpError::kTimedOut:
      return ETIMEDOUT;
    case TcpError::kAborted:
      return ECONNABORTED;
    case TcpError::kUnreachable:
      return EHOSTUNREACH;
  }
  return EIO;
}

bool connecting(const Tcb& c) {
  return !c.removed && (c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived);
}

// As lib/api's can_send: the application may still queue data.
bool can_send(const Tcb& c) {
  const bool open = c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived ||
                    c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait;
  return open && !c.fin_queued && !c.removed;
}

template <class T>
bool get_opt(const void* val, socklen_t len, T* out) {
  if (val == nullptr || len < sizeof(T)) return false;
  std::memcpy(out, val, sizeof(T));
  return true;
}

template <class T>
int put_opt(void* val, socklen_t* len, T v) {
  if (val == nullptr || len == nullptr) return fail(EFAULT);
  const socklen_t n = std::min<socklen_t>(*len, sizeof(T));
  std::memcpy(val, &v, n);
  *len = n;
  return 0;
}

bool read_sockaddr(const sockaddr* addr, socklen_t len, std::uint32_t* ip, std::uint16_t* port) {
  if (addr == nullptr || len < sizeof(sockaddr_in) || addr->sa_family != AF_INET) return false;
  sockaddr_in in;
  std::memcpy(&in, addr, sizeof(in));
  *ip = ntohl(in.sin_addr.s_addr);
  *port = ntohs(in.sin_port);
  return true;
}

// Linux answers a buffer it cannot read or write with EFAULT; a null one
// is what scripts pass to see that.
bool bad_iov(const msghdr* msg) {
  if (msg == nullptr || (msg->msg_iovlen > 0 && msg->msg_iov == nullptr)) return true;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) {
    if (msg->msg_iov[i].iov_base == nullptr && msg->msg_iov[i].iov_len > 0) return true;
  }
  return false;
}

void write_sockaddr(sockaddr* addr, socklen_t* len, std::uint32_t ip, std::uint16_t port) {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(ip);
  in.sin_port = htons(port);
  std::memcpy(addr, &in, std::min<std::size_t>(*len, sizeof(in)));
  *len = sizeof(in);
}

}  // namespace

VirtualHost::Socket* VirtualHost::find(int fd) {
  auto it = sockets_.find(fd);
  return it == sockets_.end() ? nullptr : &it->second;
}

VirtualHost::Socket* VirtualHost::add_socket() {
  // A real descriptor (of /dev/null) numbers the socket: packetdrill's
  // teardown close()s it on the host, and the host's getsockopt fails on it.
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  Socket& s = sockets_[fd];
  s.fd = fd;
  return &s;
}

void VirtualHost::on_event(Tcb& c, std::uint8_t events) {
  if (c.user == nullptr) return;
  Socket* s = find(static_cast<int>(reinterpret_cast<std::intptr_t>(c.user)));
  if (s == nullptr) return;
  ++s->wakeups;
  if ((events & kTcpEvClosed) != 0 && s->so_error == 0 && !s->reset_eof) s->so_error = errno_of(c.error);
}

void VirtualHost::on_acceptable(Listener& l) {
  if (Socket* s = find(static_cast<int>(reinterpret_cast<std::intptr_t>(l.user))); s != nullptr) ++s->wakeups;
}

void VirtualHost::apply_options(Socket& s) {
  if (s.tcb == nullptr) return;
  Tcb& c = *s.tcb;
  TcpStack& tcp = stack();
  const Options& o = s.opts;
  tcp.set_nodelay(c, o.nodelay, now_);
  tcp.set_cork(c, o.cork, now_);
  if (o.ka_idle || o.ka_interval || o.ka_probes) {
    tcp.set_keepalive_params(c, o.ka_idle.value_or(c.ka_idle), o.ka_interval.value_or(c.ka_interval),
                             o.ka_probes.value_or(c.ka_probes), now_);
  }
  tcp.set_keepalive(c, o.keepalive, now_);
  if (o.snd_buf) tcp.set_send_buffer(c, *o.snd_buf, std::min(*o.snd_buf, c.snd_lowat), now_);
  if (o.rcv_buf) tcp.set_receive_buffer(c, *o.rcv_buf, now_);
  if (o.congestion) tcp.set_congestion(c, *o.congestion);
  if (o.user_timeout) tcp.set_user_timeout(c, *o.user_timeout, now_);
  if (o.window_clamp.value_or(0) != 0) tcp.set_window_clamp(c, *o.window_clamp, now_);
}

int VirtualHost::take_error(Socket& s) {
  const int e = std::exchange(s.so_error, 0);
  if (e != 0) s.reset_eof = true;
  return e;
}

bool VirtualHost::readable(const Socket& s) {
  if (s.listener != nullptr) return s.listener->accept_queue_size() > 0;
  if (s.tcb == nullptr) return false;
  const Tcb& c = *s.tcb;
  return c.rcvq.bytes() > 0 || c.fin_received || c.removed || s.so_error != 0 || s.shut_rd || s.reset_eof;
}

bool VirtualHost::writable(const Socket& s) {
  if (s.tcb == nullptr) return false;
  const Tcb& c = *s.tcb;
  if (connecting(c)) return false;
  return !can_send(c) || s.so_error != 0 || stack().send_space(c) > 0;
}

// ---- the calls ------------------------------------------------------------------

int VirtualHost::socket(int domain, int type, int protocol) {
  Lock lk(mu_);
  if (domain != AF_INET) return fail(EAFNOSUPPORT);  // Tern speaks IPv4 only
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP)) return fail(EPROTONOSUPPORT);
  Socket* s = add_socket();
  if (s == nullptr) return -1;
  s->nonblocking = (type & SOCK_NONBLOCK) != 0;
  s->opts.nodelay = flags_.tcp.nodelay;
  s->opts.keepalive = flags_.tcp.keepalive;
  return s->fd;
}

int VirtualHost::bind(int fd, const sockaddr* addr, socklen_t len) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  std::uint32_t ip = 0;
  std::uint16_t port = 0;
  if (!read_sockaddr(addr, len, &ip, &port)) return fail(EINVAL);
  if (s->bound_port != 0 || s->tcb != nullptr || s->listener != nullptr) return fail(EINVAL);
  if (ip != 0 && ip != local_ip_) {
    // The first specific address bound (before the engine starts) is ours.
    if (stack_ || flags_.local_ip_given) return fail(EADDRNOTAVAIL);
    local_ip_ = ip;
  }
  for (const auto& [other_fd, o] : sockets_) {
    if (other_fd != fd && port != 0 && o.bound_port == port && o.listener != nullptr) return fail(EADDRINUSE);
  }
  s->bound_addr = ip;
  s->bound_port = port;
  return 0;
}

int VirtualHost::listen(int fd, int backlog) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->tcb != nullptr) return fail(EINVAL);
  if (s->listener != nullptr) return 0;
  const auto n = static_cast<std::uint32_t>(std::max(backlog, 1));
  if (s->bound_port == 0) {
    // As Linux, listen() on an unbound socket binds an ephemeral port.
    for (std::uint32_t p = flags_.tcp.ephemeral_last;
         p >= flags_.tcp.ephemeral_first && s->listener == nullptr; --p) {
      const bool taken = std::any_of(sockets_.begin(), sockets_.end(),
                                     [&](const auto& kv) { return kv.second.bound_port == p; });
      if (!taken) s->listener = stack().listen(static_cast<std::uint16_t>(p), n);
      if (s->listener != nullptr) s->bound_port = static_cast<std::uint16_t>(p);
    }
    if (s->listener == nullptr) return fail(EADDRINUSE);
  }
  Listener* l = s->listener != nullptr ? s->listener : stack().listen(s->bound_port, n);
  if (l == nullptr) return fail(EADDRINUSE);
  l->user = reinterpret_cast<void*>(static_cast<std::intptr_t>(fd));
  stack().set_defer_accept(*l, s->opts.defer_accept);
  stack().set_window_clamp(*l, s->opts.window_clamp.value_or(0));
  s->listener = l;
  return 0;
}

int VirtualHost::accept(int fd, sockaddr* addr, socklen_t* len) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->listener == nullptr) return fail(EINVAL);
  if (s->listener->accept_queue_size() == 0) {
    if (s->nonblocking) return fail(EAGAIN);
    wait(lk, [&] {
      Socket* l = find(fd);
      return l == nullptr || l->listener == nullptr || l->listener->accept_queue_size() > 0;
    });
    s = find(fd);
    if (s == nullptr || s->listener == nullptr) return fail(EBADF);
  }
  Tcb* c = stack().accept(*s->listener);
  if (c == nullptr) return fail(EAGAIN);
  const Options inherited = s->opts;
  Socket* n = add_socket();
  if (n == nullptr) {
    stack().abort(*c, now_);
    return -1;
  }
  n->opts = inherited;
  n->tcb = c;
  c->user = reinterpret_cast<void*>(static_cast<std::intptr_t>(n->fd));
  apply_options(*n);
  write_sockaddr(addr, len, c->tuple.raddr.v4_host(), c->tuple.rport);
  wake_ready();
  return n->fd;
}

int VirtualHost::connect(int fd, const sockaddr* addr, socklen_t len) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->listener != nullptr) return fail(EISCONN);
  if (s->tcb == nullptr) {
    std::uint32_t ip = 0;
    std::uint16_t port = 0;
    if (!read_sockaddr(addr, len, &ip, &port)) return fail(addr != nullptr ? EAFNOSUPPORT : EFAULT);
    ConnectError err = ConnectError::kNone;
    Tcb* c = stack().connect(ip, port, now_, &err, s->bound_port);
    switch (err) {
      case ConnectError::kNone:
        break;
      case ConnectError::kNoPorts:
      case ConnectError::kNoSource:
        return fail(EADDRNOTAVAIL);
      case ConnectError::kNoMemory:
        return fail(ENOBUFS);
      case ConnectError::kBadAddress:
        return fail(EINVAL);
      case ConnectError::kInUse:
        return fail(EADDRINUSE);
    }
    if (c == nullptr) return fail(ENOBUFS);
    s->tcb = c;
    c->user = reinterpret_cast<void*>(static_cast<std::intptr_t>(fd));
    apply_options(*s);
    s->connect_pending = true;
    wake_ready();
    if (s->nonblocking) return fail(EINPROGRESS);
  } else if (!s->connect_pending) {
    return fail(EISCONN);
  } else if (connecting(*s->tcb) && s->nonblocking) {
    return fail(EALREADY);
  }
  // Blocking (or asked again after EINPROGRESS): until the handshake ends.
  wait(lk, [&] {
    Socket* x = find(fd);
    return x == nullptr || x->tcb == nullptr || !connecting(*x->tcb);
  });
  s = find(fd);
  if (s == nullptr || s->tcb == nullptr) return fail(EBADF);
  s->connect_pending = false;
  if (s->tcb->removed || !synchronized(s->tcb->state)) {
    const int e = take_error(*s);
    return fail(e != 0 ? e : ECONNABORTED);
  }
  return 0;
}

ssize_t VirtualHost::recvmsg(int fd, msghdr* msg, int flags) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if ((flags & (MSG_PEEK | MSG_OOB)) != 0) return fail(EOPNOTSUPP);  // README.md: not supported
  if (s->tcb == nullptr) return fail(ENOTCONN);
  if (bad_iov(msg)) return fail(EFAULT);
  std::size_t want = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) want += msg->msg_iov[i].iov_len;
  msg->msg_namelen = 0;
  msg->msg_controllen = 0;
  msg->msg_flags = 0;
  if (want == 0) return 0;
  for (;;) {
    Tcb& c = *s->tcb;
    if (c.rcvq.bytes() > 0) {
      std::size_t got = 0;
      for (std::size_t i = 0; i < msg->msg_iovlen; ++i) {
        auto* p = static_cast<std::byte*>(msg->msg_iov[i].iov_base);
        const std::size_t n = stack().read(c, std::span(p, msg->msg_iov[i].iov_len), now_);
        got += n;
        if (n < msg->msg_iov[i].iov_len) break;
      }
      wake_ready();
      return static_cast<ssize_t>(got);
    }
    if (const int e = take_error(*s); e != 0) return fail(e);
    if (c.fin_received || c.removed || s->shut_rd || s->reset_eof) return 0;
    if (s->nonblocking || (flags & MSG_DONTWAIT) != 0) return fail(EAGAIN);
    wait(lk, [&] {
      Socket* x = find(fd);
      return x == nullptr || readable(*x);
    });
    s = find(fd);
    if (s == nullptr || s->tcb == nullptr) return fail(EBADF);
  }
}

ssize_t VirtualHost::sendmsg(int fd, const msghdr* msg, int flags) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if ((flags & MSG_OOB) != 0) return fail(EOPNOTSUPP);
  if (bad_iov(msg)) return fail(EFAULT);
  if (s->tcb == nullptr) return fail(EPIPE);
  const bool nonblocking = s->nonblocking || (flags & MSG_DONTWAIT) != 0;
  std::size_t sent = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) {
    const auto* base = static_cast<const std::byte*>(msg->msg_iov[i].iov_base);
    std::size_t off = 0;
    while (off < msg->msg_iov[i].iov_len) {
      Tcb& c = *s->tcb;
      if (const int e = take_error(*s); e != 0) return sent > 0 ? static_cast<ssize_t>(sent) : fail(e);
      if (s->shut_wr || !can_send(c)) return sent > 0 ? static_cast<ssize_t>(sent) : fail(EPIPE);
      std::size_t n = 0;
      if (!connecting(c)) {
        n = stack().send_copy(c, std::span(base + off, msg->msg_iov[i].iov_len - off), now_);
        wake_ready();
      }
      off += n;
      sent += n;
      if (n > 0) continue;
      // No room (or not yet connected): Linux's blocking write waits, and
      // returns only when everything is queued.
      if (nonblocking) return sent > 0 ? static_cast<ssize_t>(sent) : fail(EAGAIN);
      wait(lk, [&] {
        Socket* x = find(fd);
        return x == nullptr || x->tcb == nullptr || writable(*x);
      });
      s = find(fd);
      if (s == nullptr || s->tcb == nullptr) return fail(EBADF);
    }
  }
  return static_cast<ssize_t>(sent);
}

int VirtualHost::fcntl(int fd, int cmd, long arg) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (s->nonblocking ? O_NONBLOCK : 0);
    case F_SETFL:
      s->nonblocking = (arg & O_NONBLOCK) != 0;
      return 0;
    case F_GETFD:
      return FD_CLOEXEC;
    case F_SETFD:
      return 0;
    default:
      return fail(EINVAL);
  }
}

int VirtualHost::ioctl(int fd, unsigned long request, void* arg) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (arg == nullptr) return fail(EFAULT);
  int v = 0;
  switch (request) {
    case FIONBIO:
      std::memcpy(&v, arg, sizeof(v));
      s->nonblocking = v != 0;
      return 0;
    case SIOCINQ:  // FIONREAD
      if (s->listener != nullptr) return fail(EINVAL);
      v = s->tcb != nullptr ? static_cast<int>(s->tcb->rcvq.bytes()) : 0;
      break;
    case SIOCOUTQ:  // sent but unacknowledged plus not yet sent
      if (s->listener != nullptr) return fail(EINVAL);
      v = s->tcb != nullptr ? static_cast<int>(s->tcb->sndq.bytes()) : 0;
      break;
    default:
      return fail(ENOTTY);
  }
  std::memcpy(arg, &v, sizeof(v));
  return 0;
}

int VirtualHost::close(int fd) {
  Lock lk(mu_);
  for (auto& [epfd, ep] : epolls_) ep.watches.erase(fd);
  if (epolls_.erase(fd) > 0) {
    ::close(fd);
    wake_ready();
    return 0;
  }
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->listener != nullptr) stack().unlisten(s->listener, now_);
  if (s->tcb != nullptr) {
    Tcb& c = *s->tcb;
    c.user = nullptr;
    if (s->opts.linger_abort) {
      stack().abort(c, now_);
    } else {
      stack().close(c, now_);
    }
  }
  sockets_.erase(fd);
  ::close(fd);
  wake_ready();
  return 0;
}

int VirtualHost::shutdown(int fd, int how) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
  if (s->tcb == nullptr || connecting(*s->tcb)) return fail(ENOTCONN);
  if (how != SHUT_WR) s->shut_rd = true;
  if (how != SHUT_RD && !s->shut_wr) {
    s->shut_wr = true;
    if (can_send(*s->tcb)) stack().shutdown_write(*s->tcb, now_);
  }
  wake_ready();
  return 0;
}

int VirtualHost::getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  const Tcb* c = s->tcb;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR:
        return put_opt(val, len, take_error(*s));
      case SO_TYPE:
        return put_opt(val, len, static_cast<int>(SOCK_STREAM));
      case SO_ACCEPTCONN:
        return put_opt(val, len, static_cast<int>(s->listener != nullptr));
      case SO_KEEPALIVE:
        return put_opt(val, len, static_cast<int>(s->opts.keepalive));
      case SO_SNDBUF:
        return put_opt(val, len,
                       static_cast<int>(c ? c->snd_buf : s->opts.snd_buf.value_or(flags_.tcp.snd_buf)));
      case SO_RCVBUF:
        return put_opt(val, len,
                       static_cast<int>(c ? c->rcv_buf : s->opts.rcv_buf.value_or(flags_.tcp.rcv_buf)));
      default:
        return fail(ENOPROTOOPT);
    }
  }
  if (level != IPPROTO_TCP) return fail(ENOPROTOOPT);
  switch (name) {
    case TCP_NODELAY:
      return put_opt(val, len, static_cast<int>(s->opts.nodelay));
    case TCP_CORK:
      return put_opt(val, len, static_cast<int>(s->opts.cork));
    case TCP_MAXSEG:
      return put_opt(val, len, static_cast<int>(c ? c->mss : 536));
    case TCP_KEEPIDLE:
      return put_opt(val, len,
                     static_cast<int>(s->opts.ka_idle.value_or(flags_.tcp.keepalive_idle).count_ms() / 1000));
    case TCP_KEEPINTVL:
      return put_opt(
          val, len,
          static_cast<int>(s->opts.ka_interval.value_or(flags_.tcp.keepalive_interval).count_ms() / 1000));
    case TCP_KEEPCNT:
      return put_opt(val, len, static_cast<int>(s->opts.ka_probes.value_or(flags_.tcp.keepalive_probes)));
    case TCP_USER_TIMEOUT:
      return put_opt(val, len,
                     static_cast<int>(c ? c->user_timeout.count_ms()
                                        : s->opts.user_timeout.value_or(flags_.tcp.user_timeout).count_ms()));
    case TCP_WINDOW_CLAMP:
      return put_opt(val, len, static_cast<int>(c ? c->window_clamp : s->opts.window_clamp.value_or(0)));
    default:
      return fail(ENOPROTOOPT);
  }
}

int VirtualHost::setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  Lock lk(mu_);
  Socket* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  Options& o = s->opts;
  int v = 0;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    linger l{};
    if (!get_opt(val, len, &l)) return fail(EINVAL);
    // Tern has only the abortive linger (lib/api set_linger); a positive
    // timeout closes gracefully, without waiting in close().
    o.linger_abort = l.l_onoff != 0 && l.l_linger == 0;
    return 0;
  }
  if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    const std::string_view n(static_cast<const char*>(val), ::strnlen(static_cast<const char*>(val), len));
    CongestionAlgorithm a{};
    if (!parse_congestion(n, a)) return fail(ENOENT);
    o.congestion = a;
  } else {
    if (!get_opt(val, len, &v)) return fail(EINVAL);
    if (level == SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
        case SO_REUSEPORT:
          return 0;  // Tern's listeners and TIME_WAIT reuse (RFC 6191) need no option
        case SO_KEEPALIVE:
          o.keepalive = v != 0;
          break;
        case SO_SNDBUF:
          // Linux doubles the value for its bookkeeping, as Tern counts truesize.
          o.snd_buf = static_cast<std::uint32_t>(std::max(v, 2048)) * 2;
          break;
        case SO_RCVBUF:
          o.rcv_buf = std::min(static_cast<std::uint32_t>(std::max(v, 2048)) * 2, flags_.tcp.rcv_buf);
          break;
        default:
          return fail(ENOPROTOOPT);
      }
    } else if (level == IPPROTO_TCP) {
      switch (name) {
        case TCP_NODELAY:
          o.nodelay = v != 0;
          break;
        case TCP_CORK:
          o.cork = v != 0;
          break;
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
          if (v < 1 || v > 32767) return fail(EINVAL);
          (name == TCP_KEEPIDLE ? o.ka_idle : o.ka_interval) = Duration::s(v);
          break;
        case TCP_KEEPCNT:
          if (v < 1 || v > 127) return fail(EINVAL);
          o.ka_probes = static_cast<std::uint32_t>(v);
          break;
        case TCP_DEFER_ACCEPT:
          o.defer_accept = v != 0;
          if (s->listener != nullptr) stack().set_defer_accept(*s->listener, o.defer_accept);
          return 0;
        case TCP_USER_TIMEOUT:  // milliseconds, as an int (tcp(7))
          if (v < 0) return fail(EINVAL);
          o.user_timeout = Duration::ms(v);
          break;
        case TCP_WINDOW_CLAMP:
          // Linux: 0 (no clamp) only on a socket not yet connected; small
          // values are raised to SOCK_MIN_RCVBUF / 2 (the stack does it).
          if (v < 0 || (v == 0 && s->tcb != nullptr)) return fail(EINVAL);
          o.window_clamp = static_cast<std::uint32_t>(std::min(v, 1 << 30));
          if (s->listener != nullptr) stack().set_window_clamp(*s->listener, *o.window_clamp);
          if (s->tcb == nullptr) return 0;
          break;
        default:
          return fail(ENOPROTOOPT);
      }
    } else {
      return fail(ENOPROTOOPT);
    }
  }
  apply_options(*s);
  wake_ready();
  return 0;
}

short VirtualHost::poll_events(Socket& s) {
  short m = 0;
  if (s.listener != nullptr) return s.listener->accept_queue_size() > 0 ? POLLIN | POLLRDNORM : 0;
  if (s.tcb == nullptr) return POLLOUT | POLLHUP;  // Linux: an unconnected socket is "closed"
  const Tcb& c = *s.tcb;
  const bool rd_closed = c.fin_received || c.removed || s.shut_rd || s.reset_eof;
  const bool wr_closed = s.shut_wr || c.fin_queued || c.removed;
  if (s.so_error != 0) m |= POLLERR;
  if ((rd_closed && wr_closed) || c.removed) m |= POLLHUP;
  if (rd_closed) m |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (!connecting(c)) {
    if (c.rcvq.bytes() > 0) m |= POLLIN | POLLRDNORM;
    if (wr_closed || stack().send_space(c) > 0) m |= POLLOUT | POLLWRNORM;
  }
  return m;
}

int VirtualHost::poll(pollfd* fds, unsigned long nfds, int timeout_ms) {
  Lock lk(mu_);
  auto scan = [&] {
    int n = 0;
    for (unsigned long i = 0; i < nfds; ++i) {
      if (fds[i].fd < 0) {
        fds[i].revents = 0;
        continue;
      }
      Socket* s = find(fds[i].fd);
      const short always = POLLERR | POLLHUP | POLLNVAL;
      fds[i].revents =
          s == nullptr ? POLLNVAL : static_cast<short>(poll_events(*s) & (fds[i].events | always));
      if (fds[i].revents != 0) ++n;
    }
    return n;
  };
  int n = scan();
  if (n > 0 || timeout_ms == 0) return n;
  const Instant deadline = timeout_ms < 0 ? Instant::max() : now_ + Duration::ms(timeout_ms);
  wait(
      lk, [&] { return scan() > 0; }, deadline);
  return scan();
}

}  // namespace tern::pd
