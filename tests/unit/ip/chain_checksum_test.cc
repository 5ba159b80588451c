// chain_checksum / l4_checksum_ok: the Internet checksum over part of an mbuf
// chain, against internet_checksum() of the same bytes laid out flat, for
// every split of the message into segments and every starting offset.
#include "ip/chain_checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "test_frames.h"

namespace tern::testkit {
namespace {

class ChainChecksum : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool("cks", 63);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "leaked mbufs";
    rte_mempool_free(pool_);
  }
  // `bytes` as a chain whose segments hold the given lengths (their sum).
  rte_mbuf* chain(const std::vector<std::byte>& bytes, const std::vector<std::uint16_t>& lens) {
    rte_mbuf* head = nullptr;
    std::size_t at = 0;
    for (std::uint16_t n : lens) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      EXPECT_NE(m, nullptr);
      if (m == nullptr) break;
      std::memcpy(rte_pktmbuf_append(m, n), bytes.data() + at, n);
      at += n;
      if (head == nullptr) {
        head = m;
      } else {
        EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
      }
    }
    return head;
  }
  rte_mempool* pool_ = nullptr;
};

std::vector<std::byte> message(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 37 + 11) & 0xFF);
  return v;
}

TEST_F(ChainChecksum, MatchesTheFlatSumForEverySplitAndOffset) {
  const auto msg = message(61);
  // Odd segment lengths put later segments at odd offsets of the message
  // (RFC 1071 §2(B)): the case a per-segment sum gets wrong.
  const std::vector<std::vector<std::uint16_t>> splits = {
      {61}, {1, 60}, {7, 13, 41}, {30, 31}, {3, 3, 3, 52}};
  for (const auto& lens : splits) {
    rte_mbuf* m = chain(msg, lens);
    ASSERT_NE(m, nullptr);
    for (std::uint32_t off = 0; off <= msg.size(); ++off) {
      for (std::uint32_t len : {0u, 1u, 2u, static_cast<std::uint32_t>(msg.size() - off)}) {
        if (off + len > msg.size()) continue;
        const std::uint16_t flat = internet_checksum(std::span{msg}.subspan(off, len));
        EXPECT_EQ(chain_checksum(m, 0, off, len), flat)
            << "split " << lens.size() << " off " << off << " len " << len;
      }
    }
    rte_pktmbuf_free(m);
  }
}

TEST_F(ChainChecksum, AddsThePseudoHeaderSum) {
  const auto msg = message(20);
  rte_mbuf* m = chain(msg, {5, 15});
  const std::uint32_t pseudo = 0x1234;
  EXPECT_EQ(chain_checksum(m, pseudo, 0, 20), checksum_finish(checksum_partial(msg, pseudo)));
  rte_pktmbuf_free(m);
}

TEST_F(ChainChecksum, OkWhenTheStoredChecksumMakesTheSumZero) {
  auto msg = message(40);
  msg[16] = msg[17] = std::byte{0};  // a TCP-like checksum field
  const std::uint32_t pseudo = 0xBEEF;
  const std::uint16_t sum = checksum_finish(checksum_partial(std::span{msg}.subspan(4), pseudo));
  msg[16] = static_cast<std::byte>(sum >> 8);
  msg[17] = static_cast<std::byte>(sum & 0xFF);
  rte_mbuf* m = chain(msg, {9, 31});  // the L4 message starts at byte 4
  EXPECT_TRUE(l4_checksum_ok(m, pseudo, 4, 36));
  EXPECT_FALSE(l4_checksum_ok(m, pseudo + 1, 4, 36));
  EXPECT_FALSE(l4_checksum_ok(m, pseudo, 4, 37)) << "a chain shorter than off + len is never ok";
  rte_pktmbuf_free(m);
}

TEST_F(ChainChecksum, TrustsTheNicsGoodVerdictAndChecksABadOneAgain) {
  auto msg = message(10);
  rte_mbuf* m = chain(msg, {10});
  m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  EXPECT_TRUE(l4_checksum_ok(m, 0, 0, 10)) << "the NIC's good verdict is taken";
  const std::uint16_t sum = chain_checksum(m, 0, 0, 10);
  m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_BAD;
  // Sum 0 over the message: a pseudo-header sum that cancels it.
  EXPECT_TRUE(l4_checksum_ok(m, static_cast<std::uint16_t>(sum), 0, 10)) << "a bad verdict is checked again";
  EXPECT_FALSE(l4_checksum_ok(m, 0, 0, 10));
  rte_pktmbuf_free(m);
}

}  // namespace
}  // namespace tern::testkit
