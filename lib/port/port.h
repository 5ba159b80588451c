#pragma once
// A Port moves bursts of frames between a NIC queue and a worker. Workers talk
// to any PMD (tap, af_packet, memif, ring, real NICs) and to the in-process
// link used by tests and the simulator through this one interface. The
// virtual call is per burst, not per packet.
#include <rte_mbuf.h>

#include <cstdint>
#include <string>

#include "wire/ethernet.h"

namespace tern {

enum class Steering : std::uint8_t {
  kRss,       // the NIC spreads flows with a symmetric key: each queue's owner is final
  kSoftware,  // the receiving worker hashes each frame and forwards it to its owner
};

struct PortInfo {
  std::string name;
  int dpdk_port_id = -1;  // -1 for ports that are not ethdevs (link pair)
  MacAddr mac{};
  std::uint16_t mtu = 1500;
  std::uint16_t queues = 1;
  Steering steering = Steering::kSoftware;
  bool rx_ip_checksum_offload = false;  // RX flags tell a good/bad IPv4 header checksum
  bool rx_l4_checksum_offload = false;  // ... and TCP/UDP checksums
  bool tx_ip_checksum_offload = false;  // the NIC fills the IPv4 header checksum
  bool tx_l4_checksum_offload = false;  // ... and TCP/UDP checksums from a pseudo-header sum
  // The port cuts a TCP/IPv4 segment longer than the MTU into wire segments
  // of tso_segsz (RTE_MBUF_F_TX_TCP_SEG, RTE_ETH_TX_OFFLOAD_TCP_TSO): TCP
  // then builds one super-segment where it would build many
  // (TcpStackOptions::tso_max).
  bool tx_tso = false;
  // The NIC reads a chain's segments by DMA (a PCI device with multi-segment
  // TX), so a payload attached as a slice of the send queue is never copied.
  // Software ports (tap, af_packet, af_xdp, the in-process link) copy every
  // frame into one buffer anyway: there TCP copies payloads into the header
  // mbuf itself and saves the slice's mbuf and reference counts
  // (TcpStackOptions::tx_copy_max).
  bool tx_gathers_by_dma = false;
  // The port may hold a transmitted frame back (impairment's reordering):
  // the worker then also calls tx_burst with no frames when it has nothing
  // to send, so a held frame is not stuck until the next transmission.
  bool holds_tx = false;
  // How the port lets in the IPv6 multicast groups Tern listens to
  // (all-nodes, solicited-node): "mc_addr_list", "allmulticast",
  // "promiscuous", or a warning when none worked. Empty: not an ethdev.
  std::string ipv6_multicast;
};

class Port {
 public:
  virtual ~Port() = default;
  // Returns how many frames were written to `pkts`; ownership passes to the caller.
  virtual std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept = 0;
  // Returns how many frames the port took; the caller still owns the rest.
  virtual std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept = 0;
  const PortInfo& info() const noexcept { return info_; }

 protected:
  PortInfo info_;
};

}  // namespace tern
