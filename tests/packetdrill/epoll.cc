// The virtual host's epoll (virtual_host.h): level-triggered, EPOLLET and
// EPOLLONESHOT over the same readiness poll() reports (EPOLLIN == POLLIN and
// so on, bit for bit).
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>

#include "virtual_host.h"

namespace tern::pd {

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

}  // namespace

int VirtualHost::epoll_create(int size) {
  Lock lk(mu_);
  if (size <= 0) return fail(EINVAL);
  // A real descriptor numbers it, as a socket's (sockets.cc add_socket).
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  epolls_[fd];
  return fd;
}

int VirtualHost::epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  Lock lk(mu_);
  auto it = epolls_.find(epfd);
  if (it == epolls_.end()) return fail(find(epfd) != nullptr ? EINVAL : EBADF);
  if (fd == epfd) return fail(EINVAL);
  if (find(fd) == nullptr) return fail(epolls_.contains(fd) ? EINVAL : EBADF);  // no nesting here
  auto& watches = it->second.watches;
  switch (op) {
    case EPOLL_CTL_ADD:
    case EPOLL_CTL_MOD: {
      if (event == nullptr) return fail(EFAULT);
      const bool present = watches.contains(fd);
      if (op == EPOLL_CTL_ADD && present) return fail(EEXIST);
      if (op == EPOLL_CTL_MOD && !present) return fail(ENOENT);
      watches[fd] = Watch{event->events, event->data.u64, 0, false};
      break;
    }
    case EPOLL_CTL_DEL:
      if (watches.erase(fd) == 0) return fail(ENOENT);
      break;
    default:
      return fail(EINVAL);
  }
  wake_ready();
  return 0;
}

int VirtualHost::epoll_scan(Epoll& ep, epoll_event* events, int maxevents) {
  int n = 0;
  for (auto& [fd, w] : ep.watches) {
    if (n == maxevents) break;
    Socket* s = find(fd);
    if (s == nullptr || w.disarmed) continue;
    const std::uint32_t ready =
        static_cast<std::uint16_t>(poll_events(*s)) & (w.events | EPOLLERR | EPOLLHUP);
    std::uint32_t report = ready;
    if ((w.events & EPOLLET) != 0) {
      const bool edge = s->wakeups != w.wakeups_seen || (ready & ~w.reported) != 0;
      w.reported = ready;
      w.wakeups_seen = s->wakeups;
      if (!edge) report = 0;
    }
    if (report == 0) continue;
    if (events != nullptr) {
      events[n].events = report;
      events[n].data.u64 = w.data;
    }
    if ((w.events & EPOLLONESHOT) != 0) w.disarmed = true;
    ++n;
  }
  return n;
}

int VirtualHost::epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms) {
  Lock lk(mu_);
  if (maxevents <= 0) return fail(EINVAL);
  if (events == nullptr) return fail(EFAULT);
  auto it = epolls_.find(epfd);
  if (it == epolls_.end()) return fail(find(epfd) != nullptr ? EINVAL : EBADF);
  int n = epoll_scan(it->second, events, maxevents);
  if (n > 0 || timeout_ms == 0) return n;
  // Waiting: readiness is checked without consuming edges until it is there.
  auto ready = [&] {
    auto e = epolls_.find(epfd);
    if (e == epolls_.end()) return true;
    for (const auto& [fd, w] : e->second.watches) {
      Socket* s = find(fd);
      if (s == nullptr || w.disarmed) continue;
      std::uint32_t r = static_cast<std::uint16_t>(poll_events(*s)) & (w.events | EPOLLERR | EPOLLHUP);
      if ((w.events & EPOLLET) != 0 && s->wakeups == w.wakeups_seen) r &= ~w.reported;
      if (r != 0) return true;
    }
    return false;
  };
  const Instant deadline = timeout_ms < 0 ? Instant::max() : now_ + Duration::ms(timeout_ms);
  wait(lk, ready, deadline);
  it = epolls_.find(epfd);
  if (it == epolls_.end()) return fail(EBADF);
  return epoll_scan(it->second, events, maxevents);
}

}  // namespace tern::pd
