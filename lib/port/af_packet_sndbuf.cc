#include "port/af_packet_sndbuf.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "port/ethdev_port.h"

namespace tern {

namespace {

// The PMD's defaults (drivers/net/af_packet: DFLT_FRAME_COUNT, DFLT_FRAME_SIZE).
constexpr std::uint64_t kDefaultFrameCount = 512;
constexpr std::uint64_t kDefaultFrameSize = 2048;

std::uint64_t arg_or(const std::string& device, const char* key, std::uint64_t fallback) {
  const auto v = device_arg(device, key);
  if (!v) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v->c_str(), &end, 0);
  return end != v->c_str() && *end == '\0' && n > 0 ? n : fallback;  // the PMD refuses the rest
}

// The interface an AF_PACKET socket is bound to; -1 for any other socket.
int bound_packet_ifindex(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET) return -1;
  sockaddr_ll sll{};
  len = sizeof sll;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sll), &len) != 0) return -1;
  return sll.sll_ifindex;
}

int send_buffer(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : 0;
}

}  // namespace

std::uint64_t af_packet_ring_bytes(const std::string& device) {
  return arg_or(device, "framecnt", kDefaultFrameCount) * arg_or(device, "framesz", kDefaultFrameSize);
}

AfPacketSendBuffers raise_af_packet_send_buffers(int if_index, std::uint64_t ring_bytes) {
  AfPacketSendBuffers r;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    r.error = errno;
    return r;
  }
  const int want = static_cast<int>(std::min<std::uint64_t>(ring_bytes, INT_MAX / 2));
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    if (bound_packet_ifindex(static_cast<int>(fd)) != if_index) continue;
    ++r.sockets;
    if (send_buffer(static_cast<int>(fd)) < want &&
        ::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0 &&
        r.error == 0)
      r.error = errno;
    const int now = send_buffer(static_cast<int>(fd));
    if (now >= want) ++r.raised;
    r.bytes = r.bytes == 0 ? now : std::min(r.bytes, now);
  }
  ::closedir(dir);
  return r;
}

}  // namespace tern
