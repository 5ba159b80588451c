#include "stat_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace tern::stat {
namespace {

// DPDK 22.11 answers at most 16 KiB (MAX_OUTPUT_LEN); room to spare.
constexpr std::size_t kMaxReply = 64 * 1024;

}  // namespace

std::string telemetry_socket_path(const std::string& prefix) {
  std::string dir;
  if (const char* r = std::getenv("RUNTIME_DIRECTORY"); r != nullptr && *r != '\0') {
    dir = r;
  } else if (getuid() == 0) {
    dir = "/var/run";
  } else if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    dir = x;
  } else {
    dir = "/tmp";
  }
  return dir + "/dpdk/" + prefix + "/dpdk_telemetry.v2";
}

std::vector<std::string> telemetry_prefixes() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(telemetry_socket_path("x")).parent_path().parent_path();
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (fs::exists(it->path() / "dpdk_telemetry.v2", ec2)) out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TelemetryClient::~TelemetryClient() {
  if (fd_ >= 0) close(fd_);
}

bool TelemetryClient::connect(const std::string& path, const std::string& prefix) {
  fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  timeval tv{5, 0};  // a process that stops answering ends tern-stat rather than hanging it
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sun.sun_path)) {
    error_ = "socket path too long: " + path;
    return false;
  }
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)) != 0) {
    const int e = errno;
    if (e == ENOENT) {
      error_ = "no Tern process with file prefix '" + prefix + "' (no telemetry socket " + path +
               "): is it running, is `[eal] file_prefix` in its config '" + prefix +
               "', and are you the user it runs as?";
      const std::vector<std::string> others = telemetry_prefixes();
      if (!others.empty()) {
        error_ += " Telemetry sockets here: -f";
        for (const std::string& o : others) error_ += " " + o;
      }
    } else if (e == ECONNREFUSED)
      error_ = "nothing answers at " + path + ": the process with file prefix '" + prefix +
               "' has exited (its socket was left behind)";
    else if (e == EACCES || e == EPERM)
      error_ = "not allowed to connect to " + path + " (" + std::strerror(e) +
               "): run tern-stat as the user Tern runs as (root)";
    else
      error_ = "cannot connect to " + path + ": " + std::strerror(e);
    return false;
  }
  std::vector<char> buf(kMaxReply);
  const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
  if (n <= 0) {
    error_ = path +
             " sent no greeting: " + (n == 0 ? std::string("connection closed") : std::strerror(errno)) +
             " (DPDK refuses clients past its limit; is another reader connected?)";
    return false;
  }
  const std::optional<Json> g = parse_json(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  const Json* pid = g ? g->find("pid") : nullptr;
  if (!g || g->find("max_output_len") == nullptr) {
    error_ = path + " is not a DPDK telemetry v2 socket (greeting: " +
             std::string(buf.data(), static_cast<std::size_t>(std::min<ssize_t>(n, 200))) + ")";
    return false;
  }
  if (pid != nullptr && pid->integer) pid_ = static_cast<long>(*pid->integer);
  return true;
}

std::optional<Json> TelemetryClient::ask(const std::string& request) {
  if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    error_ = "the Tern process went away (send: " + std::string(std::strerror(errno)) + ")";
    return std::nullopt;
  }
  std::vector<char> buf(kMaxReply);
  const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
  if (n <= 0) {
    // A process that exits with our request unread resets the connection
    // rather than closing it: the same news, whichever of the two comes.
    const bool gone = n == 0 || errno == ECONNRESET || errno == EPIPE;
    error_ = gone ? std::string("the Tern process went away (") +
                        (n == 0 ? "connection closed" : std::strerror(errno)) + ")"
                  : "no reply to " + request + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::string_view text(buf.data(), static_cast<std::size_t>(n));
  std::optional<Json> j = parse_json(text);
  const std::string cmd = request.substr(0, request.find(','));
  if (!j || !j->is_object() || j->object.size() != 1 || j->object.front().first != cmd) {
    error_ = "unexpected reply to " + request + ": " + std::string(text.substr(0, 200));
    return std::nullopt;
  }
  return std::move(j->object.front().second);
}

}  // namespace tern::stat
