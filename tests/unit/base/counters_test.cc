#include "base/counters.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace tern {
namespace {

TEST(Counters, NamesFollowTheDeclarationOrder) {
  EXPECT_EQ(counter_name(Counter::kIpInReceives), "IpInReceives");
  EXPECT_EQ(drop_name(Drop::kIpBadChecksum), "IpBadChecksum");
  EXPECT_EQ(drop_name(Drop::kMbufExhausted), "MbufExhausted");
}

TEST(Counters, SumAcrossWorkers) {
  Counters a, b;
  a.inc(Counter::kRxPackets, 3);
  b.inc(Counter::kRxPackets, 4);
  b.drop(Drop::kIpBadChecksum);
  a += b;
  EXPECT_EQ(a.get(Counter::kRxPackets), 7u);
  EXPECT_EQ(a.get(Drop::kIpBadChecksum), 1u);
  EXPECT_EQ(a.total_drops(), 1u);
}

// docs/counters.md is the operator's index: every counter and drop reason the
// code can report must be listed there, in backquotes.
TEST(Counters, EveryNameIsDocumented) {
  std::ifstream f(TERN_SOURCE_ROOT "/docs/counters.md");
  ASSERT_TRUE(f) << "cannot open docs/counters.md";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const std::string name{counter_name(static_cast<Counter>(i))};
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " missing from docs/counters.md";
  }
  for (std::size_t i = 0; i < kDropCount; ++i) {
    const std::string name{drop_name(static_cast<Drop>(i))};
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " missing from docs/counters.md";
  }
}

}  // namespace
}  // namespace tern
