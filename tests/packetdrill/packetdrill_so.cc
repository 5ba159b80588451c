// tern_packetdrill.so: the entry point packetdrill's --so_filename mode
// looks up (packetdrill_interface_init) and the table of calls it fills,
// each a trampoline into the VirtualHost (virtual_host.h). README.md says
// how to build and run it.
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "packetdrill_abi.h"
#include "runtime/eal_in_memory.h"
#include "virtual_host.h"

namespace tern::pd {
namespace {

VirtualHost& host(void* u) { return *static_cast<VirtualHost*>(u); }

ssize_t one_buffer_recv(void* u, int fd, void* buf, std::size_t len, int flags) {
  iovec iov{buf, len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return host(u).recvmsg(fd, &m, flags);
}

ssize_t one_buffer_send(void* u, int fd, const void* buf, std::size_t len, int flags) {
  iovec iov{const_cast<void*>(buf), len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return host(u).sendmsg(fd, &m, flags);
}

int not_supported(const char* what) {
  std::fprintf(stderr, "tern-pd: %s is not supported by the Tern front end (README.md)\n", what);
  errno = ENOSYS;
  return -1;
}

// getopt's state in packetdrill's executable, when it has its own copy: a
// packetdrill built without -fPIC is linked with copy relocations for
// optind, optarg, opterr and optopt, which libc's getopt then reads and
// writes, while this library, loaded RTLD_DEEPBIND, and the EAL in its scope
// see libc's own. getopt_long below carries the values across for the
// EAL's two argument passes (README.md "Building").
struct ExeGetopt {
  int* optind = nullptr;
  int* opterr = nullptr;
  int* optopt = nullptr;
  char** optarg = nullptr;
};
ExeGetopt exe_getopt;  // set once, before rte_eal_init; read by the EAL's getopt_long calls

void find_exe_getopt() {
  // Looked up from the executable: RTLD_DEFAULT would search this library's
  // own (deep-bound) scope first and find libc's.
  void* exe = dlopen(nullptr, RTLD_NOW | RTLD_NOLOAD);
  if (exe == nullptr) return;
  auto* ind = static_cast<int*>(dlsym(exe, "optind"));
  if (ind != nullptr && ind != &optind) {
    exe_getopt =
        ExeGetopt{ind, static_cast<int*>(dlsym(exe, "opterr")), static_cast<int*>(dlsym(exe, "optopt")),
                  static_cast<char**>(dlsym(exe, "optarg"))};
    if (exe_getopt.opterr == nullptr) exe_getopt.opterr = &opterr;
    if (exe_getopt.optopt == nullptr) exe_getopt.optopt = &optopt;
    if (exe_getopt.optarg == nullptr) exe_getopt.optarg = &optarg;
  }
  dlclose(exe);
}

bool start_eal(std::string* error) {
  find_exe_getopt();
  optind = 1;  // packetdrill's own getopt pass left it past its arguments
  // The EAL pins the calling thread (packetdrill's interpreter) to its
  // lcore; give it back the CPUs it had.
  cpu_set_t before;
  const bool have_mask = pthread_getaffinity_np(pthread_self(), sizeof(before), &before) == 0;
  if (!start_eal_in_memory("ternpd", "error", "0", 128)) {
    *error = "rte_eal_init failed";
    return false;
  }
  if (have_mask) pthread_setaffinity_np(pthread_self(), sizeof(before), &before);
  // The EAL leaves an empty runtime directory (/var/run/dpdk/ternpd<pid>)
  // that nothing uses without shared config: remove it now, since a failing
  // script ends the process without cleanup.
  ::rmdir(rte_eal_get_runtime_dir());
  return true;
}

// fcntl and ioctl take one optional argument (an integer or a pointer).
int fcntl_entry(void* u, int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return host(u).fcntl(fd, cmd, arg);
}

int ioctl_entry(void* u, int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return host(u).ioctl(fd, req, arg);
}

}  // namespace
}  // namespace tern::pd

using tern::pd::host;

// The EAL's getopt_long (this library comes first in its deep-bound scope):
// libc's, with getopt's state carried between the two copies when
// packetdrill has its own (find_exe_getopt).
extern "C" __attribute__((visibility("default"))) int getopt_long(int argc, char* const* argv,
                                                                  const char* shortopts,
                                                                  const struct option* longopts,
                                                                  int* longind) {
  using Fn = int (*)(int, char* const*, const char*, const struct option*, int*);
  static const auto real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getopt_long"));
  const tern::pd::ExeGetopt& e = tern::pd::exe_getopt;
  if (e.optind == nullptr) return real(argc, argv, shortopts, longopts, longind);
  *e.optind = optind;
  *e.opterr = opterr;
  const int r = real(argc, argv, shortopts, longopts, longind);
  optind = *e.optind;
  optopt = *e.optopt;
  optarg = *e.optarg;
  return r;
}

extern "C" __attribute__((visibility("default"))) void packetdrill_interface_init(
    const char* flags, packetdrill_interface* ifc) {
  std::string error;
  const auto f = tern::pd::parse_flags(flags, &error);
  if (!f) {
    std::fprintf(stderr, "tern-pd: --so_flags: %s\n", error.c_str());
    std::exit(EXIT_FAILURE);
  }
  if (!tern::pd::start_eal(&error)) {
    std::fprintf(stderr, "tern-pd: %s\n", error.c_str());
    std::exit(EXIT_FAILURE);
  }
  auto* h = new tern::pd::VirtualHost(*f);
  if (!h->start(&error)) {
    std::fprintf(stderr, "tern-pd: %s\n", error.c_str());
    std::exit(EXIT_FAILURE);
  }
  *ifc = packetdrill_interface{};
  ifc->userdata = h;
  ifc->free = [](void* u) {
    delete &host(u);
    rte_eal_cleanup();
  };
  ifc->socket = [](void* u, int d, int t, int p) { return host(u).socket(d, t, p); };
  ifc->bind = [](void* u, int fd, const sockaddr* a, socklen_t l) { return host(u).bind(fd, a, l); };
  ifc->listen = [](void* u, int fd, int b) { return host(u).listen(fd, b); };
  ifc->accept = [](void* u, int fd, sockaddr* a, socklen_t* l) { return host(u).accept(fd, a, l); };
  ifc->connect = [](void* u, int fd, const sockaddr* a, socklen_t l) { return host(u).connect(fd, a, l); };
  ifc->read = [](void* u, int fd, void* b, size_t n) { return tern::pd::one_buffer_recv(u, fd, b, n, 0); };
  ifc->readv = [](void* u, int fd, const iovec* iov, int n) {
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = static_cast<std::size_t>(n);
    return host(u).recvmsg(fd, &m, 0);
  };
  ifc->recv = [](void* u, int fd, void* b, size_t n, int fl) {
    return tern::pd::one_buffer_recv(u, fd, b, n, fl);
  };
  ifc->recvfrom = [](void* u, int fd, void* b, size_t n, int fl, sockaddr*, socklen_t* al) {
    if (al != nullptr) *al = 0;  // TCP reports no source address
    return tern::pd::one_buffer_recv(u, fd, b, n, fl);
  };
  ifc->recvmsg = [](void* u, int fd, msghdr* m, int fl) { return host(u).recvmsg(fd, m, fl); };
  ifc->write = [](void* u, int fd, const void* b, size_t n) {
    return tern::pd::one_buffer_send(u, fd, b, n, 0);
  };
  ifc->writev = [](void* u, int fd, const iovec* iov, int n) {
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = static_cast<std::size_t>(n);
    return host(u).sendmsg(fd, &m, 0);
  };
  ifc->send = [](void* u, int fd, const void* b, size_t n, int fl) {
    return tern::pd::one_buffer_send(u, fd, b, n, fl);
  };
  ifc->sendto = [](void* u, int fd, const void* b, size_t n, int fl, const sockaddr*, socklen_t) {
    return tern::pd::one_buffer_send(u, fd, b, n, fl);  // a connected TCP socket ignores the address
  };
  ifc->sendmsg = [](void* u, int fd, const msghdr* m, int fl) { return host(u).sendmsg(fd, m, fl); };
  ifc->fcntl = tern::pd::fcntl_entry;
  ifc->ioctl = tern::pd::ioctl_entry;
  ifc->close = [](void* u, int fd) { return host(u).close(fd); };
  ifc->shutdown = [](void* u, int fd, int how) { return host(u).shutdown(fd, how); };
  ifc->getsockopt = [](void* u, int fd, int lv, int nm, void* v, socklen_t* l) {
    return host(u).getsockopt(fd, lv, nm, v, l);
  };
  ifc->setsockopt = [](void* u, int fd, int lv, int nm, const void* v, socklen_t l) {
    return host(u).setsockopt(fd, lv, nm, v, l);
  };
  ifc->poll = [](void* u, pollfd* fds, nfds_t n, int t) { return host(u).poll(fds, n, t); };
  ifc->netdev_send = [](void* u, const void* b, size_t n) { return host(u).netdev_send(b, n); };
  ifc->netdev_receive = [](void* u, void* b, size_t* n, long long* t) {
    return host(u).netdev_receive(b, n, t);
  };
  ifc->usleep = [](void* u, useconds_t us) { return host(u).usleep(us); };
  ifc->gettimeofday = [](void* u, timeval* tv, void*) { return host(u).gettimeofday(tv); };
  ifc->epoll_create = [](void* u, int size) { return host(u).epoll_create(size); };
  ifc->epoll_ctl = [](void* u, int ep, int op, int fd, epoll_event* e) {
    return host(u).epoll_ctl(ep, op, fd, e);
  };
  ifc->epoll_wait = [](void* u, int ep, epoll_event* e, int n, int t) {
    return host(u).epoll_wait(ep, e, n, t);
  };
  ifc->pipe = [](void*, int*) { return tern::pd::not_supported("pipe"); };
  ifc->splice = [](void*, int, loff_t*, int, loff_t*, size_t, unsigned) {
    return tern::pd::not_supported("splice");
  };
}
