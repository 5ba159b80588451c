#include "base/counters.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tern
