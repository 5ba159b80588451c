// free_frame (lib/base/mbuf.h) and Mbuf's reset and destructor (Mbuf::free,
// tern/buffer.h): the inline case and DPDK's walk return the same mbufs to
// the pool, and a shared or chained mbuf is left to the walk (an inline raw
// free of a clone's direct mbuf, or of a chain's head alone, would put an
// mbuf still in use back, or leak the rest); what goes back raw is as
// rte_mbuf_raw_alloc will hand it out.
#include "base/mbuf.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "two_pools_test.h"

namespace tern {
namespace {

class FreeFrame : public testkit::TwoPoolsTest {
 protected:
  FreeFrame() : TwoPoolsTest("ffr") {}
};

TEST_F(FreeFrame, OneSegmentGoesBack) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(in_use(), 1u);
  free_frame(m);
  EXPECT_EQ(in_use(), 0u);
  free_frame(nullptr);
  EXPECT_EQ(in_use(), 0u);
}

TEST_F(FreeFrame, ChainGoesBackWhole) {
  rte_mbuf* a = rte_pktmbuf_alloc(pool_);
  rte_mbuf* b = rte_pktmbuf_alloc(pool_);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  ASSERT_EQ(rte_pktmbuf_chain(a, b), 0);
  ASSERT_EQ(in_use(), 2u);
  free_frame(a);
  EXPECT_EQ(in_use(), 0u);
}

TEST_F(FreeFrame, SharedMbufStaysUntilItsLastReference) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  rte_mbuf* c = rte_pktmbuf_clone(m, clones_);  // m's refcnt 2
  ASSERT_NE(c, nullptr);
  free_frame(m);
  EXPECT_EQ(in_use(), 1u) << "freed while the clone still points into it";
  free_frame(c);  // indirect: detaches, which frees m
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(clones_), 0u);
}

// What an Mbuf or Buffer holding a received segment frees: one trimmed
// segment (take_in_order's rte_pktmbuf_adj) goes back, and comes out of
// the pool again as a raw allocation expects it.
TEST_F(FreeFrame, OwnerFreesOneSegmentAsAllocated) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(rte_pktmbuf_append(m, 120), nullptr);
  ASSERT_NE(rte_pktmbuf_adj(m, 54), nullptr);
  { Buffer b{m}; }
  EXPECT_EQ(in_use(), 0u);
  rte_mbuf* again = rte_mbuf_raw_alloc(pool_);
  ASSERT_EQ(again, m);  // the lcore cache is LIFO
  EXPECT_EQ(again->next, nullptr);
  EXPECT_EQ(again->nb_segs, 1u);
  EXPECT_EQ(rte_mbuf_refcnt_read(again), 1u);
  rte_mbuf_raw_free(again);
}

TEST_F(FreeFrame, OwnerFreesChainAndSharedMbufsByTheWalk) {
  rte_mbuf* a = rte_pktmbuf_alloc(pool_);
  rte_mbuf* b = rte_pktmbuf_alloc(pool_);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  ASSERT_EQ(rte_pktmbuf_chain(a, b), 0);
  Mbuf chain{a};
  chain.reset();
  EXPECT_EQ(in_use(), 0u);

  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  Mbuf clone{rte_pktmbuf_clone(m, clones_)};
  ASSERT_TRUE(clone);
  { Mbuf owner{m}; }
  EXPECT_EQ(in_use(), 1u) << "freed while the clone still points into it";
  clone.reset();
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(clones_), 0u);
}

// A head with no next segment whose nb_segs still counts a chain (the TCP
// queues link packets without keeping heads whole) takes the walk, which
// resets nb_segs: put back raw, it would come out of the pool saying 2.
TEST_F(FreeFrame, StaleSegmentCountTakesTheWalk) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  m->nb_segs = 2;
  { Mbuf owner{m}; }
  EXPECT_EQ(in_use(), 0u);
  rte_mbuf* again = rte_mbuf_raw_alloc(pool_);
  ASSERT_EQ(again, m);
  EXPECT_EQ(again->nb_segs, 1u);
  rte_mbuf_raw_free(again);
}

}  // namespace
}  // namespace tern
