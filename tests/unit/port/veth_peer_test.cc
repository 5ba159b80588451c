// The veth checksum check (lib/port/veth_peer.h): the device-string parse,
// the advice for each outcome, and the outcomes that need no privileges. The
// namespace search itself is tested over a real veth pair in
// tests/interop/afpacket_checksum_test.sh.
#include "port/veth_peer.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(VethPeer, IfaceFromDeviceString) {
  EXPECT_EQ(socket_pmd_iface("net_af_packet0,iface=veth1,qpairs=2"), "veth1");
  EXPECT_EQ(socket_pmd_iface("net_af_packet0,qpairs=1,iface=tnab12s0"), "tnab12s0");
  EXPECT_EQ(socket_pmd_iface("net_af_xdp0,iface=x0,start_queue=0"), "x0");
  EXPECT_EQ(socket_pmd_iface("net_af_packet0,qpairs=1"), "");
  EXPECT_EQ(socket_pmd_iface("net_af_packet0,xiface=a"), "");  // not a key of its own
  EXPECT_EQ(socket_pmd_iface("net_tap0,iface=t0"), "");        // a tap computes no partial checksums
}

TEST(VethPeer, NoAdviceForOtherInterfaces) {
  VethPeerReport r;
  r.kind = VethPeerReport::Kind::kNotVeth;
  bool warning = true;
  EXPECT_EQ(veth_peer_advice("p0", "net_af_packet", r, &warning), "");
  EXPECT_FALSE(warning);
}

TEST(VethPeer, PeerWithChecksumOffloadOnGetsTheFix) {
  VethPeerReport r;
  r.kind = VethPeerReport::Kind::kPeerFound;
  r.iface = "ta0";
  r.peer = "tp0";
  r.peer_netns = "kernelside";
  r.peer_tx_checksum = true;
  bool warning = false;
  const std::string s = veth_peer_advice("p0", "net_af_packet", r, &warning);
  EXPECT_TRUE(warning);
  EXPECT_NE(s.find("TcpBadChecksum"), std::string::npos) << s;
  EXPECT_NE(s.find("net_af_packet on veth ta0"), std::string::npos) << s;
  EXPECT_NE(s.find("Fix: ip netns exec kernelside ethtool -K tp0 tx off"), std::string::npos) << s;
  r.peer_netns = "";  // the same namespace as Tern: no ip netns exec
  EXPECT_NE(veth_peer_advice("p0", "net_af_packet", r, &warning).find("Fix: ethtool -K tp0 tx off"),
            std::string::npos);
  r.peer_netns = "init";
  EXPECT_NE(veth_peer_advice("p0", "net_af_packet", r, &warning)
                .find("the initial network namespace) has TX checksum offload on"),
            std::string::npos);
}

TEST(VethPeer, PeerWithChecksumOffloadOffIsFine) {
  VethPeerReport r;
  r.kind = VethPeerReport::Kind::kPeerFound;
  r.iface = "ta0";
  r.peer = "tp0";
  bool warning = true;
  const std::string s = veth_peer_advice("p0", "net_af_packet", r, &warning);
  EXPECT_FALSE(warning);
  EXPECT_NE(s.find("offload off"), std::string::npos) << s;
  EXPECT_NE(veth_peer_advice("p0", "net_af_xdp", r, &warning).find("as net_af_xdp needs"), std::string::npos);
}

TEST(VethPeer, PeerNotFoundStillNamesTheFix) {
  VethPeerReport r;
  r.kind = VethPeerReport::Kind::kPeerNotFound;
  r.iface = "ta0";
  r.peer_ifindex = 7;
  r.detail = "somewhere else";
  bool warning = false;
  const std::string s = veth_peer_advice("p0", "net_af_packet", r, &warning);
  EXPECT_TRUE(warning);
  EXPECT_NE(s.find("ifindex 7"), std::string::npos) << s;
  EXPECT_NE(s.find("ethtool -K <peer> tx off"), std::string::npos) << s;
}

TEST(VethPeer, InspectsWhatExists) {
  EXPECT_EQ(inspect_veth_peer("lo").kind, VethPeerReport::Kind::kNotVeth);
  const VethPeerReport r = inspect_veth_peer("tnnosuchif0");
  EXPECT_EQ(r.kind, VethPeerReport::Kind::kError);
  bool warning = false;
  EXPECT_NE(veth_peer_advice("p0", "net_af_packet", r, &warning).find("no interface tnnosuchif0"),
            std::string::npos);
  EXPECT_TRUE(warning);
}

}  // namespace
}  // namespace tern
