#include "port/ethdev_port.h"

#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "port/af_packet_sndbuf.h"

namespace tern {
namespace {

// linearize_burst: what EthdevPort::tx_burst does before a PMD without
// multi-segment TX (net_af_xdp) sees the burst.
class LinearizeBurstTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> seq{0};
    const std::string n = std::to_string(seq++);
    pool_ = rte_pktmbuf_pool_create(("lin" + n).c_str(), 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    clones_ = rte_pktmbuf_pool_create(("linc" + n).c_str(), 255, 0, 0, 0, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
    ASSERT_NE(clones_, nullptr);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "mbufs leaked";
    EXPECT_EQ(rte_mempool_in_use_count(clones_), 0u) << "indirect mbufs leaked";
    rte_mempool_free(clones_);
    rte_mempool_free(pool_);
  }

  // One segment of `len` bytes, each byte `first + i`.
  rte_mbuf* segment(std::uint16_t len, std::uint8_t first) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, len));
    for (std::uint16_t i = 0; i < len; ++i) p[i] = static_cast<std::uint8_t>(first + i);
    return m;
  }
  // What Tern sends: a header mbuf followed by an indirect mbuf on payload data.
  rte_mbuf* header_and_payload(std::uint16_t hdr, std::uint16_t payload, rte_mbuf* data) {
    rte_mbuf* h = segment(hdr, 0);
    rte_mbuf* ind = rte_pktmbuf_alloc(clones_);
    rte_pktmbuf_attach(ind, data);
    rte_pktmbuf_trim(ind, static_cast<std::uint16_t>(rte_pktmbuf_data_len(ind) - payload));
    EXPECT_EQ(rte_pktmbuf_chain(h, ind), 0);
    return h;
  }
  static std::vector<std::uint8_t> bytes(const rte_mbuf* m) {
    std::vector<std::uint8_t> v(rte_pktmbuf_pkt_len(m));
    const void* p = rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(v.size()), v.data());
    if (p != v.data()) std::memcpy(v.data(), p, v.size());
    return v;
  }

  rte_mempool* pool_ = nullptr;
  rte_mempool* clones_ = nullptr;
};

TEST_F(LinearizeBurstTest, SingleSegmentFramesAreUntouched) {
  std::array<rte_mbuf*, 3> b{segment(60, 1), segment(1514, 2), segment(64, 3)};
  const auto before = bytes(b[1]);
  EXPECT_EQ(linearize_burst(b.data(), 3), 3);
  EXPECT_EQ(bytes(b[1]), before);
  for (rte_mbuf* m : b) rte_pktmbuf_free(m);
}

TEST_F(LinearizeBurstTest, HeaderAndIndirectPayloadBecomeOneSegmentWithTheSameBytes) {
  rte_mbuf* data = segment(1460, 100);
  std::array<rte_mbuf*, 2> b{header_and_payload(66, 1460, data), segment(60, 7)};
  const auto before = bytes(b[0]);
  ASSERT_EQ(rte_pktmbuf_pkt_len(b[0]), 66u + 1460u);
  EXPECT_EQ(linearize_burst(b.data(), 2), 2);
  EXPECT_EQ(b[0]->nb_segs, 1);
  EXPECT_EQ(rte_pktmbuf_data_len(b[0]), rte_pktmbuf_pkt_len(b[0]));
  EXPECT_EQ(bytes(b[0]), before);
  EXPECT_EQ(rte_mempool_in_use_count(clones_), 0u) << "the indirect segment is freed";
  EXPECT_EQ(rte_mbuf_refcnt_read(data), 1) << "and lets go of the payload";
  for (rte_mbuf* m : b) rte_pktmbuf_free(m);
  rte_pktmbuf_free(data);
}

TEST_F(LinearizeBurstTest, StopsAtAFrameThatDoesNotFitItsFirstMbuf) {
  rte_mbuf* big = segment(1500, 0);
  EXPECT_EQ(rte_pktmbuf_chain(big, segment(1500, 9)), 0);  // 3000 bytes > one 2048-byte room
  rte_mbuf* data = segment(10, 5);
  std::array<rte_mbuf*, 3> b{header_and_payload(54, 10, data), big, segment(60, 1)};
  EXPECT_EQ(linearize_burst(b.data(), 3), 1);
  EXPECT_EQ(b[0]->nb_segs, 1);
  EXPECT_EQ(big->nb_segs, 2) << "left as it was";
  EXPECT_EQ(linearize_burst(b.data() + 2, 1), 1);
  for (rte_mbuf* m : b) rte_pktmbuf_free(m);
  rte_pktmbuf_free(data);
}

TEST_F(LinearizeBurstTest, StopsAtAChainWhoseFirstSegmentIsShared) {
  rte_mbuf* m = segment(54, 0);
  EXPECT_EQ(rte_pktmbuf_chain(m, segment(100, 3)), 0);
  rte_mbuf_refcnt_update(m, 1);  // someone else reads this header too: it must not be written
  std::array<rte_mbuf*, 1> b{m};
  EXPECT_EQ(linearize_burst(b.data(), 1), 0);
  EXPECT_EQ(m->nb_segs, 2);
  rte_pktmbuf_free(m);
  rte_pktmbuf_free(m);
}

TEST(DeviceArgs, FindsKeysExactly) {
  const std::string d = "net_af_xdp0,iface=veth1,start_queue=2,queue_count=4";
  EXPECT_EQ(device_arg(d, "iface"), "veth1");
  EXPECT_EQ(device_arg(d, "queue_count"), "4");
  EXPECT_EQ(device_arg(d, "start_queue"), "2");
  EXPECT_EQ(device_arg(d, "queue"), std::nullopt) << "a prefix of a key is not the key";
  EXPECT_EQ(device_arg("net_af_xdp0", "iface"), std::nullopt);
  EXPECT_EQ(device_arg("net_af_xdp0,iface=", "iface"), "");
}

TEST(DeviceArgs, AfXdpGetsOneQueuePerWorkerUnlessItSaysOtherwise) {
  EXPECT_EQ(device_with_defaults("net_af_xdp0,iface=e0", 2, "ice"), "net_af_xdp0,iface=e0,queue_count=2");
  EXPECT_EQ(device_with_defaults("net_af_xdp0,iface=e0,queue_count=1", 2, "ice"),
            "net_af_xdp0,iface=e0,queue_count=1");
  EXPECT_EQ(device_with_defaults("net_tap0,iface=t0", 2, ""), "net_tap0,iface=t0");
  EXPECT_TRUE(is_af_xdp("net_af_xdp1,iface=e0"));
  EXPECT_FALSE(is_af_xdp("net_af_packet0,iface=e0"));
}

TEST(DeviceArgs, AfXdpOnAVethGetsNoBusyPollingUnlessItSaysOtherwise) {
  EXPECT_EQ(device_with_defaults("net_af_xdp0,iface=v0", 1, "veth"),
            "net_af_xdp0,iface=v0,queue_count=1,busy_budget=0");
  EXPECT_EQ(device_with_defaults("net_af_xdp0,iface=v0,busy_budget=64", 1, "veth"),
            "net_af_xdp0,iface=v0,busy_budget=64,queue_count=1");
  EXPECT_EQ(device_with_defaults("net_af_xdp0,iface=e0", 1, ""), "net_af_xdp0,iface=e0,queue_count=1")
      << "a driver that cannot be asked keeps the PMD's default";
}

// net_af_packet: one queue pair per worker. The PMD's own default (one) with
// two workers would be refused by EthdevPort::open; more pairs than workers
// would leave a fanout socket nobody polls (docs/ports.md).
TEST(DeviceArgs, AfPacketGetsOneQueuePairPerWorkerUnlessItSaysOtherwise) {
  EXPECT_EQ(device_with_defaults("net_af_packet0,iface=e0", 2, "veth"), "net_af_packet0,iface=e0,qpairs=2");
  EXPECT_EQ(device_with_defaults("net_af_packet0,iface=e0,framecnt=8192", 1, ""),
            "net_af_packet0,iface=e0,framecnt=8192,qpairs=1");
  EXPECT_EQ(device_with_defaults("net_af_packet0,iface=e0,qpairs=2", 1, "veth"),
            "net_af_packet0,iface=e0,qpairs=2")
      << "a given qpairs is kept (check_af_packet_queues refuses it)";
  EXPECT_TRUE(is_af_packet("net_af_packet1,iface=e0"));
  EXPECT_FALSE(is_af_packet("net_af_xdp0,iface=e0"));
}

// af_packet_sndbuf.h: the TX ring a device string asks for, in bytes.
TEST(AfPacketSendBuffers, RingBytesFollowTheDeviceString) {
  EXPECT_EQ(af_packet_ring_bytes("net_af_packet0,iface=e0"), 512u * 2048u) << "the PMD's defaults";
  EXPECT_EQ(af_packet_ring_bytes("net_af_packet0,iface=e0,framecnt=8192"), 8192u * 2048u);
  EXPECT_EQ(af_packet_ring_bytes("net_af_packet0,iface=e0,framesz=4096,framecnt=1024,qpairs=2"),
            1024u * 4096u);
}

int send_buffer_of(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : -1;
}

// The sockets found are this process's packet sockets bound to the
// interface, and only those. Protocol 0: a bound socket that receives nothing.
TEST(AfPacketSendBuffers, RaisesThePacketSocketsBoundToTheInterfaceOnly) {
  const int bound = ::socket(AF_PACKET, SOCK_RAW, 0);
  if (bound < 0) GTEST_SKIP() << "no packet sockets here (CAP_NET_RAW): " << std::strerror(errno);
  const int unbound = ::socket(AF_PACKET, SOCK_RAW, 0);
  const int lo = static_cast<int>(::if_nametoindex("lo"));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = lo;
  ASSERT_EQ(::bind(bound, reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0) << std::strerror(errno);
  const int before = send_buffer_of(unbound);
  constexpr std::uint64_t kRing = 8u << 20;
  const AfPacketSendBuffers b = raise_af_packet_send_buffers(lo, kRing);
  EXPECT_EQ(b.sockets, 1);
  if (b.error == EPERM) {
    EXPECT_EQ(b.raised, 0);
  } else {
    EXPECT_EQ(b.error, 0);
    EXPECT_EQ(b.raised, 1);
    EXPECT_GE(send_buffer_of(bound), static_cast<int>(kRing));
    EXPECT_EQ(b.bytes, send_buffer_of(bound));
  }
  EXPECT_EQ(send_buffer_of(unbound), before) << "a socket on no interface is not the PMD's";
  ::close(bound);
  ::close(unbound);
}

// What a start-up check throws, or "" when it accepts.
template <typename Check>
std::string refusal(Check check) {
  try {
    check();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

std::string af_packet_queues_error(const std::string& device, std::uint16_t queues) {
  return refusal([&] { check_af_packet_queues("p0", device, queues); });
}

TEST(AfPacketQueues, MorePairsThanWorkersIsRefused) {
  // The loss bench's case: the interop scripts' qpairs=2 with one worker.
  const std::string e = af_packet_queues_error("net_af_packet0,iface=v0,qpairs=2,framecnt=8192", 1);
  EXPECT_NE(e.find("port p0 (net_af_packet): qpairs=2 but Tern runs 1 queue(s), one per worker"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("fanout"), std::string::npos) << "says why: " << e;
  EXPECT_NE(e.find("set qpairs=1 or leave it out"), std::string::npos) << e;
  EXPECT_NE(af_packet_queues_error("net_af_packet0,iface=v0,qpairs=1", 2).find("set qpairs=2"),
            std::string::npos);
  EXPECT_NE(af_packet_queues_error("net_af_packet0,iface=v0,qpairs=x", 1).find("not a non-negative integer"),
            std::string::npos);
}

TEST(AfPacketQueues, OnePairPerWorkerOrNoneGivenIsAccepted) {
  EXPECT_EQ(af_packet_queues_error("net_af_packet0,iface=v0,qpairs=2", 2), "");
  EXPECT_EQ(af_packet_queues_error("net_af_packet0,iface=v0", 3), "") << "device_with_defaults adds qpairs=3";
  EXPECT_EQ(af_packet_queues_error("net_af_xdp0,iface=v0,qpairs=2", 1), "") << "not net_af_packet";
  EXPECT_EQ(af_packet_queues_error("net_tap0,iface=t0,qpairs=2", 1), "");
}

TEST(DeviceArgs, InterfaceDriver) {
  EXPECT_EQ(interface_driver("nosuch0"), "");
  EXPECT_EQ(interface_driver(""), "");
  EXPECT_EQ(interface_driver("an-interface-name-too-long"), "");
}

// The messages of check_af_xdp_prerequisites need a kernel with AF_XDP to
// get past its first check; without one, that first check is what is tested.
bool kernel_has_af_xdp() {
  const int fd = ::socket(AF_XDP, SOCK_RAW, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string prerequisite_error(const std::string& device, std::uint16_t queues) {
  return refusal([&] { check_af_xdp_prerequisites("p0", device, queues); });
}

TEST(AfXdpPrerequisites, OtherDevicesAreNotExamined) {
  EXPECT_EQ(prerequisite_error("net_af_packet0,iface=nosuch0", 3), "");
  EXPECT_EQ(prerequisite_error("net_tap0,iface=nosuch0", 1), "");
}

TEST(AfXdpPrerequisites, SaysWhatIsMissing) {
  if (!kernel_has_af_xdp()) {
    EXPECT_NE(prerequisite_error("net_af_xdp0,iface=lo", 1).find("AF_XDP"), std::string::npos);
    GTEST_SKIP() << "no AF_XDP sockets here: only the kernel check was tested";
  }
  EXPECT_EQ(prerequisite_error("net_af_xdp0,iface=lo", 1), "") << "lo exists and has one queue";
  EXPECT_NE(prerequisite_error("net_af_xdp0,iface=nosuch0", 1).find("no interface named 'nosuch0'"),
            std::string::npos);
  EXPECT_NE(prerequisite_error("net_af_xdp0", 1).find("no iface=NAME"), std::string::npos);
  EXPECT_NE(prerequisite_error("net_af_xdp0,iface=lo,queue_count=2", 1).find("set queue_count=1"),
            std::string::npos);
  EXPECT_NE(prerequisite_error("net_af_xdp0,iface=lo", 2).find("1 combined channel(s)"), std::string::npos)
      << "lo reports no channels: one queue, as the PMD counts";
  EXPECT_NE(prerequisite_error("net_af_xdp0,iface=lo,start_queue=-1", 1).find("not a non-negative integer"),
            std::string::npos);
}

}  // namespace
}  // namespace tern
