#pragma once
// The checksum trap of net_af_packet (and net_af_xdp) over a veth pair
// (docs/ports.md): a kernel peer with TX checksum offload on hands its TCP
// segments over with the checksum not yet filled in (CHECKSUM_PARTIAL). The
// packet socket flags them TP_STATUS_CSUMNOTREADY, but DPDK 22.11's
// net_af_packet does not pass that on (and an XDP socket has no such flag),
// so Tern sees a wrong checksum and drops every segment as TcpBadChecksum. Nothing on the data path can tell
// these from corrupt segments cheaply, so Tern looks at start-up: is the interface a veth, where is its peer,
// and is the peer's TX checksum offload on? Start-up code only (ioctls, a short-lived thread that enters
// other network namespaces).
#include <string>

namespace tern {

struct VethPeerReport {
  enum class Kind {
    kNotVeth,       // not a veth (a NIC computes checksums before the wire): nothing to say
    kPeerFound,     // the peer and its TX checksum state are known
    kPeerNotFound,  // a veth whose peer is in a namespace Tern cannot enter or find
    kError,         // the interface itself could not be examined
  };
  Kind kind = Kind::kError;
  std::string iface;  // the interface the PMD binds
  std::string peer;   // the peer's name (kPeerFound)
  int peer_ifindex = 0;
  // Where the peer lives: empty for Tern's own namespace, a name under
  // /run/netns (`ip netns`), or "init" for the initial namespace (pid 1's).
  std::string peer_netns;
  bool peer_tx_checksum = false;  // kPeerFound: ethtool's tx-checksumming
  std::string detail;             // kError / kPeerNotFound: why
};

// The value of `iface=` in a net_af_packet or net_af_xdp device string; ""
// for other devices or none given.
std::string socket_pmd_iface(const std::string& device);

// Examines `iface` (a name in the calling thread's network namespace).
// Looking for the peer enters each namespace under /run/netns and pid 1's
// (needs CAP_SYS_ADMIN; without it the peer is reported not found) on a
// thread of its own, so the caller's namespace never changes.
VethPeerReport inspect_veth_peer(const std::string& iface);

// The line to log for `r` on port `port` (driven by `pmd`, e.g.
// "net_af_packet"): the problem and the command that fixes it, or a
// confirmation; `warning` says which of the two it is. Empty for kNotVeth.
std::string veth_peer_advice(const std::string& port, const std::string& pmd, const VethPeerReport& r,
                             bool* warning);

}  // namespace tern
