// The start-up checks that need no root and no EAL: lcores against the CPUs
// a process may use, privileges from CapEff, which DPDK log lines show at
// which level, and the interface claim refusing a second holder.
#include "runtime/startup_checks.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <rte_log.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "runtime/eal_log.h"

namespace tern {
namespace {

Config config_with(std::vector<unsigned> lcores, std::string device) {
  Config c;
  c.runtime.lcores = std::move(lcores);
  PortConfig p;
  p.name = "p0";
  p.device = std::move(device);
  c.ports.push_back(p);
  return c;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const StartupError& e) {
    return e.what();
  }
  return "";
}

TEST(StartupChecks, LcoresOutsideTheAllowedCpusNameTheKey) {
  HostFacts h;
  h.allowed_cpus = {0, 1};
  h.online_cpus = 2;
  EXPECT_EQ(error_of([&] { check_lcores(config_with({0, 1}, "net_ring0"), h); }), "");
  EXPECT_EQ(
      error_of([&] {
        check_lcores(config_with({0, 5}, "net_ring0"), h);
      }),
      "runtime.lcores = [0, 5]: lcore 5 is not a CPU this process may run on (it may use CPUs 0-1 of the "
      "2 online); each lcore runs one worker pinned to the CPU of that number");
  h.allowed_cpus = {0, 2, 3, 4};
  EXPECT_NE(error_of([&] { check_lcores(config_with({1}, "net_ring0"), h); }).find("CPUs 0,2-4 of"),
            std::string::npos);
}

TEST(StartupChecks, PrivilegesPerPmd) {
  HostFacts h;
  h.root = false;
  EXPECT_NE(
      error_of([&] { check_privileges(config_with({0}, "net_tap0,iface=t0"), h); }).find("CAP_NET_ADMIN"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { check_privileges(config_with({0}, "net_af_packet0,iface=v0"), h); }).find("CAP_NET_RAW"),
      std::string::npos);
  EXPECT_EQ(error_of([&] { check_privileges(config_with({0}, "net_ring0"), h); }), "");
  h.cap_eff = 1ull << CAP_NET_ADMIN;
  EXPECT_EQ(error_of([&] { check_privileges(config_with({0}, "net_tap0,iface=t0"), h); }), "");
  h.cap_eff = 0;
  h.root = true;
  EXPECT_EQ(error_of([&] { check_privileges(config_with({0}, "net_af_packet0,iface=v0"), h); }), "");
}

TEST(StartupChecks, ClaimedInterfaceOfSocketPmdsOnly) {
  EXPECT_EQ(claimed_interface("net_tap0,iface=tern0"), "tern0");
  EXPECT_EQ(claimed_interface("net_af_packet0,iface=v0,qpairs=2"), "v0");
  EXPECT_EQ(claimed_interface("net_af_xdp0,iface=x0"), "x0");
  EXPECT_EQ(claimed_interface("net_ring0"), "");
  EXPECT_EQ(claimed_interface("0000:01:00.0"), "");
}

TEST(StartupChecks, ASecondClaimOnOneInterfaceIsRefused) {
  // flock conflicts between open file descriptions, so two claims in one
  // process behave as two processes would.
  const Config c = config_with({0}, "net_af_packet0,iface=tclaim" + std::to_string(getpid()));
  InterfaceClaims first(c);
  const std::string why = error_of([&] { InterfaceClaims second(c); });
  EXPECT_NE(why.find("is in use by another Tern process (pid " + std::to_string(getpid())), std::string::npos)
      << why;
  first = InterfaceClaims();  // released: a claim succeeds again
  EXPECT_EQ(error_of([&] { InterfaceClaims third(c); }), "");
  // Each claim removed its lock file when it ended.
  struct stat ns {
  }, st{};
  ASSERT_EQ(stat("/proc/self/ns/net", &ns), 0);
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  const std::string dir = geteuid() == 0   ? std::string("/run/tern")
                          : xdg != nullptr ? std::string(xdg) + "/tern"
                                           : "/tmp/tern-" + std::to_string(geteuid());
  const std::string lock =
      dir + "/iface-" + std::to_string(ns.st_ino) + "-tclaim" + std::to_string(getpid()) + ".lock";
  EXPECT_NE(stat(lock.c_str(), &st), 0) << lock;
}

TEST(EalLog, DpdkLinesShownAtWarningAndAboveExceptRestated) {
  EXPECT_FALSE(dpdk_line_shown("EAL: Detected CPU lcores: 2\n", RTE_LOG_INFO, "info"));
  EXPECT_TRUE(dpdk_line_shown("EAL: something broke\n", RTE_LOG_ERR, "info"));
  EXPECT_TRUE(dpdk_line_shown("EAL: careful\n", RTE_LOG_WARNING, "info"));
  EXPECT_FALSE(dpdk_line_shown("EAL: careful\n", RTE_LOG_WARNING, "error"));
  const char* restated = "qdisc_create_multiq(): Could not add multiq qdisc (2): No such file or directory\n";
  EXPECT_FALSE(dpdk_line_shown(restated, RTE_LOG_ERR, "info"));
  EXPECT_TRUE(dpdk_line_shown(restated, RTE_LOG_ERR, "debug"));
  EXPECT_TRUE(dpdk_line_shown("EAL: Detected CPU lcores: 2\n", RTE_LOG_INFO, "debug"));
}

}  // namespace
}  // namespace tern
