#pragma once
// A test fixture with an mbuf pool of its own, checked when the test ends:
// every mbuf the test or the code under test took must be back.
#include <gtest/gtest.h>
#include <rte_mempool.h>

#include "test_frames.h"

namespace tern::testkit {

class PoolTest : public ::testing::Test {
 protected:
  // `pool_name`: a few letters, unique among the pools alive at once.
  explicit PoolTest(const char* pool_name) : pool_name_(pool_name) {}
  void SetUp() override {
    pool_ = make_pool(pool_name_);
    ASSERT_NE(pool_, nullptr);
    baseline_ = rte_mempool_in_use_count(pool_);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "leaked mbufs";
    rte_mempool_free(pool_);
  }

  rte_mempool* pool_ = nullptr;
  unsigned baseline_ = 0;

 private:
  const char* pool_name_;
};

}  // namespace tern::testkit
