#pragma once
// A fixture that drives one IpLayer on virtual time: inject a frame, read
// back what the layer queued to send, check counters, and make sure every
// mbuf came back to the pool.
#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "base/counters.h"
#include "ip/ip_layer.h"
#include "test_frames.h"

namespace tern::testkit {

inline IpSettings default_settings() {
  IpSettings s;
  s.mac = kOurMac;
  s.addr = kOurIp;
  s.prefix_len = 24;
  s.gateway = kGatewayIp;
  s.mtu = 1500;
  s.ip.frag_max_flows = 64;
  return s;
}

class IpHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool("ipt");
    ASSERT_NE(pool_, nullptr) << "rte_pktmbuf_pool_create: " << rte_errno;
    baseline_ = rte_mempool_in_use_count(pool_);
  }

  void TearDown() override {
    // Destroying the layer frees what it still holds (fragments, parked
    // frames); after that every mbuf must be back.
    layer_.reset();
    out_.clear();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "leaked mbufs";
    EXPECT_EQ(mem_.charged(), 0u) << "reassembly charges left on the account";
    if (indirect_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(indirect_), 0u) << "leaked indirect mbufs";
      rte_mempool_free(indirect_);
    }
    rte_mempool_free(pool_);
  }

  // Tests adjust settings_ before the first use of ip().
  IpLayer& ip() {
    if (!layer_) {
      layer_ = std::make_unique<IpLayer>(settings_, counters_, pool_, indirect_);
      layer_->set_mem_account(&mem_);  // as the worker gives it its TCP engine's account
    }
    return *layer_;
  }
  void with_indirect_pool() {
    indirect_ = make_pool("ipti", 1023, 0);
    ASSERT_NE(indirect_, nullptr);
  }

  void recv(std::span<const std::byte> frame, Instant now) {
    Mbuf m = to_mbuf(pool_, frame);
    ASSERT_TRUE(m) << "test pool exhausted";
    ip().on_frame(std::move(m), now, out_);
  }
  void timer(Instant now) { ip().on_timer(now, out_); }

  std::size_t sent_count() const { return out_.size(); }
  // The oldest frame the layer queued; fails the test if there is none.
  Bytes expect_sent() {
    Mbuf m = out_.pop_front();
    if (!m) {
      ADD_FAILURE() << "expected a frame to be sent, the queue is empty";
      return {};
    }
    return bytes_of(m.get());
  }
  void expect_nothing_sent() {
    EXPECT_EQ(out_.size(), 0u) << "unexpected frame(s) sent";
    out_.clear();
  }

  // "Neighbour 10.0.0.2 asked who-has 10.0.0.1": afterwards its MAC is known.
  void resolve_peer(Instant now) {
    recv(arp_request_frame(kPeerMac, kPeerIp, kOurIp), now);
    ASSERT_EQ(sent_count(), 1u);
    out_.clear();
  }

  // An ICMP echo reply frame, taken apart; fails the test unless it is one.
  struct Reply {
    EthView eth;
    IpView ip;
    IcmpView icmp;
  };
  Reply expect_echo_reply() {
    Reply r;
    r.eth = parse_eth(expect_sent());
    EXPECT_EQ(r.eth.type, kTypeIpv4);
    r.ip = parse_ip(r.eth.payload);
    EXPECT_EQ(r.ip.protocol, kProtoIcmp);
    r.icmp = parse_icmp(r.ip.payload);
    EXPECT_EQ(r.icmp.type, 0);
    return r;
  }

  std::uint64_t drops(Drop d) const { return counters_.get(d); }
  std::uint64_t count(Counter c) const { return counters_.get(c); }
  // Exactly `n` drops so far, all of them for `d`.
  void expect_only_drop(Drop d, std::uint64_t n = 1) {
    EXPECT_EQ(drops(d), n) << "Drop." << drop_name(d);
    EXPECT_EQ(counters_.total_drops(), n) << "drops other than Drop." << drop_name(d);
  }
  // Nothing queued, nothing held beyond what the layer is expected to hold.
  void expect_no_leaks(unsigned held = 0) {
    out_.clear();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_ + held) << "mbufs not returned to the pool";
  }
  // What one received frame costs reassembly: an mbuf of the test pool.
  static constexpr std::uint64_t kTruesize = sizeof(rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
  // Every mbuf out of the pool is one of `fragments` that reassembly holds,
  // and both its own count and the account say exactly that.
  void expect_frags_held(unsigned fragments) {
    expect_no_leaks(fragments);
    EXPECT_EQ(ip().frag_held(), fragments * kTruesize) << "reassembly's count";
    EXPECT_EQ(mem_.charged(), fragments * kTruesize) << "the account";
  }

  IpSettings settings_ = default_settings();
  Counters counters_;
  MemAccount mem_;  // outlives layer_
  rte_mempool* pool_ = nullptr;
  rte_mempool* indirect_ = nullptr;
  unsigned baseline_ = 0;
  FrameQueue out_;
  std::unique_ptr<IpLayer> layer_;
};

}  // namespace tern::testkit
