// tern-stat's telemetry client (apps/stat/stat_client.h) against a fake DPDK
// telemetry socket: the socket found by file prefix under
// $RUNTIME_DIRECTORY, the greeting, a request answered, and the reasons
// given for no such process, a socket left behind and a reply that is not
// telemetry's.
#include "stat_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

namespace tern::stat {
namespace {

namespace fs = std::filesystem;

// A listening SOCK_SEQPACKET socket at `path`; -1 on failure.
int listen_at(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path.c_str());
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0 || listen(fd, 1) != 0)
    return -1;
  return fd;
}

class StatClient : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-stat-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    setenv("RUNTIME_DIRECTORY", root_.c_str(), 1);
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    unsetenv("RUNTIME_DIRECTORY");
    fs::remove_all(root_);
  }
  // The fake process "fake": greets, then answers each request with
  // `reply` (the same for every request), `requests` times.
  std::string serve(const std::string& reply, int requests) {
    fs::create_directories(root_ + "/dpdk/fake");
    const std::string path = root_ + "/dpdk/fake/dpdk_telemetry.v2";
    const int lfd = listen_at(path);
    EXPECT_GE(lfd, 0) << std::strerror(errno);
    server_ = std::thread([lfd, reply, requests] {
      const int c = accept(lfd, nullptr, nullptr);
      const std::string hello = R"({"version": "DPDK 22.11.0", "pid": 4242, "max_output_len": 16384})";
      send(c, hello.data(), hello.size(), 0);
      char buf[256];
      for (int i = 0; i < requests && recv(c, buf, sizeof(buf), 0) > 0; ++i)
        send(c, reply.data(), reply.size(), 0);
      close(c);
      close(lfd);
    });
    return path;
  }

  std::string root_;
  std::thread server_;
};

TEST_F(StatClient, FindsTheSocketByPrefixAndAsks) {
  const std::string path = serve(R"({"/tern/info": {"workers": 2, "address": "10.0.0.2/24"}})", 1);
  EXPECT_EQ(telemetry_socket_path("fake"), path);
  TelemetryClient t;
  ASSERT_TRUE(t.connect(path, "fake")) << t.error();
  EXPECT_EQ(t.pid(), 4242);
  const std::optional<Json> info = t.ask("/tern/info");
  ASSERT_TRUE(info) << t.error();
  EXPECT_EQ(*info->find("workers")->integer, 2u);
  EXPECT_FALSE(t.ask("/tern/info")) << "the process went away";
  EXPECT_NE(t.error().find("went away"), std::string::npos) << t.error();
}

TEST_F(StatClient, AReplyToAnotherCommandIsAnError) {
  const std::string path = serve(R"({"/tern/stats": {}})", 1);
  TelemetryClient t;
  ASSERT_TRUE(t.connect(path, "fake")) << t.error();
  EXPECT_FALSE(t.ask("/tern/conns,0"));
  EXPECT_EQ(t.error().rfind("unexpected reply to /tern/conns,0: ", 0), 0u) << t.error();
}

TEST_F(StatClient, NoSuchProcessNamesThePrefixesThatExist) {
  const std::string path = serve("{}", 0);
  TelemetryClient probe;  // the fake one serves its one client
  ASSERT_TRUE(probe.connect(path, "fake")) << probe.error();
  EXPECT_EQ(telemetry_prefixes(), std::vector<std::string>{"fake"});
  TelemetryClient t;
  EXPECT_FALSE(t.connect(telemetry_socket_path("nope"), "nope"));
  EXPECT_NE(t.error().find("no Tern process with file prefix 'nope'"), std::string::npos) << t.error();
  EXPECT_NE(t.error().find("Telemetry sockets here: -f fake"), std::string::npos) << t.error();
}

TEST_F(StatClient, ASocketLeftBehindSaysTheProcessExited) {
  fs::create_directories(root_ + "/dpdk/gone");
  const std::string path = root_ + "/dpdk/gone/dpdk_telemetry.v2";
  close(listen_at(path));  // bound and closed, never unlinked: as after a crash
  TelemetryClient t;
  EXPECT_FALSE(t.connect(path, "gone"));
  EXPECT_NE(t.error().find("has exited"), std::string::npos) << t.error();
}

}  // namespace
}  // namespace tern::stat
