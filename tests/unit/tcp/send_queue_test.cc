// SendQueue::drop_front (lib/tcp/send_queue.h): an acknowledged mbuf goes
// back to its pool when the queue held its last reference, and only then.
// The queue holds copies (direct, unshared) and the application's own
// zero-copy mbufs, which may be indirect (attached to another mbuf),
// external (attached to the application's memory) or still referenced by a
// segment in a NIC ring (a slice): an inline raw free of any of those would
// put an mbuf still in use back into the pool, or leak what it points to.
#include "tcp/send_queue.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "../base/two_pools_test.h"
#include "tcp/recv_queue.h"

namespace tern {
namespace {

class SendQueueFree : public testkit::TwoPoolsTest {
 protected:
  SendQueueFree() : TwoPoolsTest("sqf") {}
  // A direct mbuf of `len` bytes from pool_.
  rte_mbuf* data(std::uint16_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(m, nullptr);
    if (m != nullptr) {
      EXPECT_NE(rte_pktmbuf_append(m, len), nullptr);
    }
    return m;
  }
};

TEST_F(SendQueueFree, CopiesGoBackAsTheyAreAcknowledged) {
  SendQueue q;
  for (int i = 0; i < 3; ++i) q.append(data(1000));
  ASSERT_EQ(in_use(), 3u);
  q.drop_front(500);  // inside the first mbuf: nothing to free
  EXPECT_EQ(in_use(), 3u);
  q.drop_front(500);  // its end exactly
  EXPECT_EQ(in_use(), 2u);
  q.drop_front(1500);  // one whole and half of the last
  EXPECT_EQ(in_use(), 1u);
  EXPECT_EQ(q.bytes(), 500u);
  q.drop_front(500);
  EXPECT_EQ(in_use(), 0u);
  EXPECT_TRUE(q.empty());
}

TEST_F(SendQueueFree, ChainAppendedGoesBackWhole) {
  SendQueue q;
  rte_mbuf* a = data(700);
  ASSERT_EQ(rte_pktmbuf_chain(a, data(900)), 0);  // a's nb_segs 2
  q.append(a);
  ASSERT_EQ(in_use(), 2u);
  q.drop_front(1600);
  EXPECT_EQ(in_use(), 0u);
}

// A segment still in a NIC ring holds a slice attached to the queued mbuf
// (refcnt 2): the ACK drops the queue's reference, the slice's free the last.
TEST_F(SendQueueFree, MbufStillSentStaysUntilItsSliceIsFreed) {
  SendQueue q;
  q.append(data(1000));
  rte_mbuf* s = q.slice(0, 1000, clones_);
  ASSERT_NE(s, nullptr);
  q.drop_front(1000);
  EXPECT_EQ(in_use(), 1u) << "freed while a sent segment still points into it";
  rte_pktmbuf_free(s);
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(clones_in_use(), 0u);
}

// A zero-copy send of an indirect mbuf (a clone of the application's):
// acknowledging it detaches it, which frees the mbuf it points to once the
// application has let go of its own reference.
TEST_F(SendQueueFree, IndirectMbufDetachesFromItsBuffer) {
  SendQueue q;
  rte_mbuf* app = data(1000);
  rte_mbuf* i = rte_pktmbuf_clone(app, clones_);
  ASSERT_NE(i, nullptr);
  rte_pktmbuf_free(app);  // the application's reference; the clone's stays
  ASSERT_EQ(in_use(), 1u);
  q.append(i);
  q.drop_front(1000);
  EXPECT_EQ(clones_in_use(), 0u);
  EXPECT_EQ(in_use(), 0u) << "the clone went back without detaching";
}

// A zero-copy send of the application's own memory (an external buffer):
// acknowledging it runs the buffer's free callback once, and the mbuf
// goes back to its pool.
TEST_F(SendQueueFree, ExternalBufferIsReleasedThroughItsCallback) {
  alignas(64) static std::array<std::byte, 4096> mem;
  static int released = 0;
  released = 0;
  std::uint16_t len = static_cast<std::uint16_t>(mem.size());
  rte_mbuf_ext_shared_info* shinfo = rte_pktmbuf_ext_shinfo_init_helper(
      mem.data(), &len, [](void*, void*) { ++released; }, nullptr);
  ASSERT_NE(shinfo, nullptr);
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  rte_pktmbuf_attach_extbuf(m, mem.data(), rte_mem_virt2iova(mem.data()), len, shinfo);
  ASSERT_NE(rte_pktmbuf_append(m, 1000), nullptr);
  SendQueue q;
  q.append(m);
  q.drop_front(999);
  EXPECT_EQ(released, 0);
  q.drop_front(1);
  EXPECT_EQ(released, 1);
  EXPECT_EQ(in_use(), 0u);
}

// A small write (one fresh mbuf, append_copy's short case) after the
// application's own mbuf: linked behind it, counted and charged as
// append() would, its bytes readable where they belong, and both mbufs
// back once acknowledged.
TEST_F(SendQueueFree, SmallWriteJoinsBehindTheTail) {
  SendQueue q;
  rte_mbuf* first = data(1000);
  ASSERT_NE(first, nullptr);
  const std::uint32_t first_ts = mbuf_seg_truesize(first);
  q.append(first);
  std::array<std::byte, 64> msg;
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::byte>(i + 1);
  bool exhausted = false;
  EXPECT_EQ(q.append_copy(msg.data(), msg.size(), 1u << 20, pool_, exhausted), msg.size());
  EXPECT_FALSE(exhausted);
  ASSERT_EQ(in_use(), 2u);
  EXPECT_EQ(q.bytes(), 1000u + msg.size());
  EXPECT_EQ(q.truesize(), first_ts + sizeof(rte_mbuf) + rte_pktmbuf_data_room_size(pool_));
  std::array<std::byte, 64> out{};
  q.copy_out(1000, msg.size(), out.data());
  EXPECT_EQ(out, msg);
  q.drop_front(1000 + msg.size());
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(q.truesize(), 0u);
  EXPECT_TRUE(q.empty());
}

// append_copy takes a fresh mbuf only where the tail is not a copy with
// room left (a small write's own case, append_one_copy, into an empty
// queue), never past the limit, and says when the pool ran out.
TEST_F(SendQueueFree, SmallWritesTakeAnMbufOnlyWhenTheTailHasNoRoom) {
  SendQueue q;
  const std::uint32_t fresh = sizeof(rte_mbuf) + rte_pktmbuf_data_room_size(pool_);
  const std::uint32_t room = rte_pktmbuf_data_room_size(pool_) - RTE_PKTMBUF_HEADROOM;
  ASSERT_LE(room + 10, 4096u);
  std::array<std::byte, 4096> msg;  // more than one mbuf's room
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::byte>(i * 7 + 3);
  bool exhausted = false;
  EXPECT_EQ(q.append_copy(msg.data(), 64, fresh - 1, pool_, exhausted), 0u);  // one mbuf is past the limit
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(q.append_copy(msg.data(), 64, fresh, pool_, exhausted), 64u);
  EXPECT_EQ(in_use(), 1u);
  // Into the tail's room, though the limit has room for another mbuf.
  EXPECT_EQ(q.append_copy(msg.data() + 64, 64, 4 * fresh, pool_, exhausted), 64u);
  EXPECT_EQ(in_use(), 1u);
  EXPECT_EQ(q.truesize(), fresh);
  EXPECT_EQ(q.append_copy(msg.data() + 128, room - 128, 4 * fresh, pool_, exhausted), room - 128);
  EXPECT_EQ(in_use(), 1u);
  EXPECT_EQ(q.append_copy(msg.data(), 10, fresh, pool_, exhausted),
            0u);  // full, and a second is past the limit
  EXPECT_EQ(q.append_copy(msg.data() + room, 10, 2 * fresh, pool_, exhausted), 10u);
  EXPECT_EQ(in_use(), 2u);
  EXPECT_FALSE(exhausted);
  std::array<std::byte, 4096> out{};
  q.copy_out(0, room + 10, out.data());
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + room + 10, msg.begin()));
  q.drop_front(room + 10);  // empty: the next write starts a fresh mbuf
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(q.append_copy(msg.data(), 64, fresh, pool_, exhausted), 64u);
  EXPECT_EQ(in_use(), 1u);
  q.clear();
  std::vector<rte_mbuf*> all;
  while (rte_mbuf* m = rte_pktmbuf_alloc(pool_)) all.push_back(m);
  EXPECT_EQ(q.append_copy(msg.data(), 64, fresh, pool_, exhausted), 0u);
  EXPECT_TRUE(exhausted);
  EXPECT_TRUE(q.empty());
  for (rte_mbuf* m : all) rte_pktmbuf_free(m);
  EXPECT_EQ(in_use(), 0u);
}

// copy_out reads [off, off + len) of the queue wherever it starts: inside
// the head mbuf past its acknowledged bytes (the inline case), ending at
// the head's last byte or one past it, in later mbufs, across mbuf ends,
// and after walks and slices have left the cursor further on. Each byte of
// the stream is its position mod 251, so a range read from the wrong
// offset or the wrong mbuf shows.
TEST_F(SendQueueFree, CopyOutReadsEveryRangeFromAnyStart) {
  SendQueue q;
  std::uint32_t pos = 0;
  for (std::uint16_t len : {300, 97, 1000, 41}) {
    rte_mbuf* m = data(len);
    ASSERT_NE(m, nullptr);
    auto* b = rte_pktmbuf_mtod(m, std::byte*);
    for (std::uint16_t i = 0; i < len; ++i) b[i] = static_cast<std::byte>((pos + i) % 251);
    pos += len;
    q.append(m);
  }
  std::uint32_t front = 0;
  std::array<std::byte, 1500> out{};
  // Acknowledged in turn up to 0, 113, 299, 300 (the second mbuf's start)
  // and 396 (its last byte).
  for (std::uint32_t acked : {0u, 113u, 186u, 1u, 96u}) {
    q.drop_front(acked);
    front += acked;
    const std::uint32_t held = q.bytes();
    ASSERT_EQ(held, pos - front);
    for (std::uint32_t off = 0; off < held; off += 7) {
      for (std::uint32_t len :
           {1u, 2u, 63u, 64u, 188u, 300u - front % 300, 1400u}) {  // to the first mbuf's end
        if (off + len > held) continue;
        if (off % 3 == 0) {  // a walk or a slice far on first: the cursor ahead of off
          const std::uint32_t far = held - 1;
          if (off % 2 == 0) {
            q.copy_out(far, 1, out.data());
          } else {
            rte_mbuf* s = q.slice(far, 1, clones_);
            ASSERT_NE(s, nullptr);
            rte_pktmbuf_free(s);
          }
        }
        out.fill(std::byte{0xee});
        q.copy_out(off, len, out.data());
        for (std::uint32_t i = 0; i < len; ++i)
          ASSERT_EQ(out[i], static_cast<std::byte>((front + off + i) % 251))
              << "acked " << front << " off " << off << " len " << len << " byte " << i;
        ASSERT_EQ(out[len], std::byte{0xee}) << "acked " << front << " off " << off << " len " << len;
      }
    }
  }
  q.clear();
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(clones_in_use(), 0u);
}

// A queue destroyed while it holds data frees its mbufs and ends its
// charge; one cleared first (a TCB's end: finish clears the send queue)
// frees and uncharges nothing twice. Both queues.
TEST_F(SendQueueFree, DestroyedQueuesGiveBackWhatTheyHeldOnce) {
  MemAccount acct;
  {
    SendQueue q;
    q.set_account(&acct);
    q.append(data(1000));
    q.append(data(500));
    ASSERT_EQ(in_use(), 2u);
    EXPECT_GT(acct.charged(), 0u);
  }
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(acct.charged(), 0u);
  {
    SendQueue q;
    q.set_account(&acct);
    q.append(data(1000));
    q.clear();
    EXPECT_EQ(in_use(), 0u);
    EXPECT_EQ(acct.charged(), 0u);
  }
  EXPECT_EQ(acct.charged(), 0u);
  {
    RecvQueue q;
    q.set_account(&acct);
    q.push(Mbuf{data(700)});
    q.push(Mbuf{data(300)});
    ASSERT_EQ(in_use(), 2u);
    EXPECT_GT(acct.charged(), 0u);
  }
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(acct.charged(), 0u);
  {
    RecvQueue q;
    q.set_account(&acct);
    q.push(Mbuf{data(700)});
    Mbuf taken = q.take();
    EXPECT_EQ(in_use(), 1u);
  }
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(acct.charged(), 0u);
}

// drop_front(n, frame), fast_ack's for a pure ACK: the last mbuf the ACK
// frees whole goes back with the ACK's frame in one put, and only then; the
// account's charge ends as with drop_front(n).
TEST_F(SendQueueFree, PureAckPutsTheLastWholeMbufBackWithItsFrame) {
  MemAccount acct;
  SendQueue q;
  q.set_account(&acct);
  for (int i = 0; i < 3; ++i) q.append(data(1000));
  const std::uint64_t one = acct.charged() / 3;
  rte_mbuf* frame = data(60);
  ASSERT_EQ(in_use(), 4u);
  EXPECT_FALSE(q.drop_front(500, frame));  // inside the first mbuf: nothing freed, the frame stays
  EXPECT_EQ(in_use(), 4u);
  EXPECT_EQ(acct.charged(), 3 * one);
  EXPECT_TRUE(q.drop_front(1500, frame));  // two whole mbufs: the first freed, the second with the frame
  EXPECT_EQ(in_use(), 1u) << "the frame or an acknowledged mbuf did not go back";
  EXPECT_EQ(acct.charged(), one);
  EXPECT_EQ(q.bytes(), 1000u);
  frame = data(60);
  EXPECT_TRUE(q.drop_front(1000, frame));  // the last mbuf exactly: the queue empties
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(acct.charged(), 0u);
  EXPECT_TRUE(q.empty());
}

// A frame that rte_mbuf_raw_free cannot take as it is (shared, chained) or
// from another pool stays the caller's; the acknowledged mbuf goes back
// alone.
TEST_F(SendQueueFree, PureAckFrameNotRawFreeableStaysWithTheCaller) {
  SendQueue q;
  for (int i = 0; i < 3; ++i) q.append(data(1000));
  rte_mbuf* shared = data(60);
  rte_mbuf_refcnt_update(shared, 1);
  EXPECT_FALSE(q.drop_front(1000, shared));
  EXPECT_EQ(in_use(), 3u);  // two queued, the frame
  rte_pktmbuf_free(shared);
  EXPECT_EQ(in_use(), 3u) << "the shared frame went back with a reference left";
  rte_pktmbuf_free(shared);
  rte_mbuf* chained = data(60);
  ASSERT_EQ(rte_pktmbuf_chain(chained, data(60)), 0);
  EXPECT_FALSE(q.drop_front(1000, chained));
  EXPECT_EQ(in_use(), 3u);  // one queued, the frame's two segments
  rte_pktmbuf_free(chained);
  rte_mbuf* other = rte_pktmbuf_alloc(clones_);
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(q.drop_front(1000, other));
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(clones_in_use(), 1u) << "a frame of another pool went back to the queue's";
  rte_pktmbuf_free(other);
  EXPECT_EQ(clones_in_use(), 0u);
}

// A queued mbuf still referenced (a slice in a NIC ring) or indirect is
// never put back raw, with a frame or without: the frame stays the
// caller's, the mbuf goes as drop_front(n) frees it.
TEST_F(SendQueueFree, PureAckNeverPairsAnMbufStillInUse) {
  SendQueue q;
  q.append(data(1000));
  rte_mbuf* s = q.slice(0, 1000, clones_);
  ASSERT_NE(s, nullptr);
  rte_mbuf* frame = data(60);
  EXPECT_FALSE(q.drop_front(1000, frame));
  EXPECT_EQ(in_use(), 2u) << "freed while a sent segment still points into it";
  rte_pktmbuf_free(s);
  EXPECT_EQ(in_use(), 1u);
  rte_mbuf* app = data(1000);
  rte_mbuf* i = rte_pktmbuf_clone(app, clones_);
  ASSERT_NE(i, nullptr);
  rte_pktmbuf_free(app);
  q.append(i);
  EXPECT_FALSE(q.drop_front(1000, frame));
  EXPECT_EQ(clones_in_use(), 0u);
  EXPECT_EQ(in_use(), 1u) << "the clone went back without detaching, or the frame went";
  rte_pktmbuf_free(frame);
  EXPECT_EQ(in_use(), 0u);
}

}  // namespace
}  // namespace tern
