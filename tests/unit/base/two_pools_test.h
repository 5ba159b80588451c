#pragma once
// A test fixture with a small mbuf pool and a pool of indirect mbufs for its
// clones, both the test's own (so in_use() counts what the code under test
// took and gave back): the frees tests of free_frame (base_mbuf) and of the
// send queue (tcp_send_queue).
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <string>

namespace tern::testkit {

class TwoPoolsTest : public ::testing::Test {
 protected:
  // `prefix`: a few letters, unique among the pools alive at once.
  explicit TwoPoolsTest(const char* prefix) : prefix_(prefix) {}
  void SetUp() override {
    static int count = 0;
    const std::string name = prefix_ + std::to_string(count++);
    pool_ = rte_pktmbuf_pool_create(name.c_str(), 255, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
    clones_ = rte_pktmbuf_pool_create((name + "c").c_str(), 63, 0, 0, 0, SOCKET_ID_ANY);
    ASSERT_NE(clones_, nullptr);
  }
  void TearDown() override {
    rte_mempool_free(pool_);
    rte_mempool_free(clones_);
  }
  unsigned in_use() const { return rte_mempool_in_use_count(pool_); }
  unsigned clones_in_use() const { return rte_mempool_in_use_count(clones_); }

  rte_mempool* pool_ = nullptr;
  rte_mempool* clones_ = nullptr;

 private:
  std::string prefix_;
};

}  // namespace tern::testkit
