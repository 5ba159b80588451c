#include "config/reader.h"

#include <gtest/gtest.h>

namespace tern::config_internal {
namespace {

TEST(EditDistance, CountsEditsAndTranspositions) {
  EXPECT_EQ(edit_distance("mtu", "mtu"), 0u);
  EXPECT_EQ(edit_distance("mtuu", "mtu"), 1u);
  EXPECT_EQ(edit_distance("tpc", "tcp"), 1u);  // one transposition
  EXPECT_EQ(edit_distance("MTU", "mtu"), 0u);
  EXPECT_EQ(edit_distance("adress", "address"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, ClosestWithinTwo) {
  constexpr std::string_view keys[] = {"rx_ring", "tx_ring", "mtu", "queues"};
  EXPECT_EQ(closest("rxring", keys), "rx_ring");
  EXPECT_EQ(closest("queue", keys), "queues");
  EXPECT_EQ(closest("mt", keys), "mtu");
  EXPECT_FALSE(closest("speed", keys));
  EXPECT_FALSE(closest("x", keys));
}

}  // namespace
}  // namespace tern::config_internal
