#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/runtime.h"

namespace tern {
namespace {

bool has_pair(const std::vector<std::string>& a, const std::string& k, const std::string& v) {
  for (std::size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == k && a[i + 1] == v) return true;
  return false;
}
bool has(const std::vector<std::string>& a, const std::string& s) {
  return std::find(a.begin(), a.end(), s) != a.end();
}

Config tap_config() {
  return parse_config(R"(
[eal]
file_prefix = "t1"
memory_mb = 300
args = ["--huge-unlink"]
[runtime]
lcores = [0, 1]
[[port]]
name = "p0"
device = "net_tap0,iface=x0"
address = "10.9.0.2/24"
)");
}

TEST(EalArgs, VdevConfigTurnsIntoVdevLcoresPrefixAndNoPci) {
  const auto a = Runtime::eal_args(tap_config(), "tern-node");
  EXPECT_EQ(a.front(), "tern-node");
  EXPECT_TRUE(has_pair(a, "-l", "0,1"));
  EXPECT_TRUE(has_pair(a, "--file-prefix", "t1"));
  EXPECT_TRUE(has_pair(a, "--vdev", "net_tap0,iface=x0"));
  EXPECT_TRUE(has_pair(a, "--socket-mem", "300"));
  EXPECT_TRUE(has(a, "--no-pci"));
  EXPECT_FALSE(has(a, "--no-huge"));
  EXPECT_EQ(a.back(), "--huge-unlink") << "extra args come last, verbatim";
}

TEST(EalArgs, PciDeviceIsAllowListedAndNoHugeUsesPlainMemory) {
  Config c = tap_config();
  c.ports[0].device = "0000:03:00.0";
  c.eal.no_huge = true;
  const auto a = Runtime::eal_args(c, "tern");
  EXPECT_TRUE(has_pair(a, "-a", "0000:03:00.0"));
  EXPECT_FALSE(has(a, "--no-pci"));
  EXPECT_TRUE(has(a, "--no-huge"));
  EXPECT_TRUE(has_pair(a, "-m", "300"));
  EXPECT_FALSE(has(a, "--socket-mem"));
}

}  // namespace
}  // namespace tern
