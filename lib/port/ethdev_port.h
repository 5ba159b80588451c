#pragma once
// A Port over a DPDK ethdev: any PMD the EAL probed (net_tap, net_af_packet,
// net_memif, net_ring, PCI NICs). Set-up is start-up code and throws
// std::runtime_error with the PMD's own error text; the burst calls do not.
#include <rte_mempool.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "port/port.h"

namespace tern {

class EthdevPort final : public Port {
 public:
  // `pools[q]` feeds RX queue q (one pool per worker keeps mbufs NUMA- and
  // cache-local). The device must already be probed by the EAL.
  static std::unique_ptr<EthdevPort> open(const PortConfig& cfg, std::uint16_t queues,
                                          const std::vector<rte_mempool*>& pools);
  ~EthdevPort() override;

  std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;

  // The start-up summary's lines about this port, as (label, text): the
  // port and its PMD, queues, steering, offloads in use.
  std::vector<std::pair<std::string, std::string>> summary() const;
  const std::string& driver() const noexcept { return driver_; }
  // Frames dropped on `queue` because they could not be made one segment for
  // a PMD without multi-segment TX (see linearize_burst); 0 in practice,
  // since open() refuses an MTU whose frames would not fit one mbuf.
  std::uint64_t tx_unsendable(std::uint16_t queue) const noexcept { return tx_unsendable_[queue].n; }
  // net_af_xdp: objects of the pools kept out of circulation because the
  // PMD's UMEM does not cover them (see withhold_outside_umem).
  std::size_t withheld() const noexcept { return withheld_.size(); }

 private:
  EthdevPort() = default;
  void withhold_outside_umem(rte_mempool* mp);
  void size_af_packet_send_buffers(const std::string& device, int if_index);
  struct alignas(64) QueueCounter {
    std::uint64_t n = 0;  // written by the queue's worker only
  };
  std::uint16_t port_id_ = 0;
  std::string driver_;
  bool started_ = false;
  std::uint16_t rx_desc_ = 0, tx_desc_ = 0;
  // The PMD sends only the first segment of a chain (no RTE_ETH_TX_OFFLOAD_MULTI_SEGS):
  // tx_burst copies chains into their first mbuf first.
  bool single_segment_tx_ = false;
  std::vector<QueueCounter> tx_unsendable_;
  std::vector<std::pair<rte_mempool*, void*>> withheld_;  // returned to their pools at close
  std::string tx_buffer_note_;  // net_af_packet: the start-up line about its sockets' send buffers
};

// Makes the frames of a burst one segment each, in place: a chain's later
// segments are copied into its first mbuf and freed. For PMDs that lack
// multi-segment TX: DPDK 22.11's net_af_xdp sends pkt_len bytes from the first
// segment's buffer, so a chain (Tern's header mbuf + indirect payload) would
// go out with whatever lies beyond the header, and the peer drops it as a bad
// checksum. Stops at the first frame it cannot linearize (its first segment
// is shared, indirect or too small) and returns that frame's index; returns
// n when all are single segments.
std::uint16_t linearize_burst(rte_mbuf** pkts, std::uint16_t n) noexcept;

// The ethdev name the EAL gives a device string: "net_tap0,iface=x" -> "net_tap0".
std::string ethdev_name_of(const std::string& device);
// The value of `key` in a vdev string ("net_af_xdp0,iface=x,queue_count=2"), if given.
std::optional<std::string> device_arg(const std::string& device, const std::string& key);

// net_af_xdp (docs/ports.md). The PMD lends this many mbufs of each queue's
// pool to the kernel's fill ring from start-up on (DPDK 22.11:
// ETH_AF_XDP_DFLT_NUM_DESCS), and takes the RX ring size from Tern's rx_ring.
constexpr std::uint32_t kAfXdpFillMbufs = 2048;
bool is_af_xdp(const std::string& device);
// The device string the EAL gets: for net_af_xdp, queue_count = `queues`
// added when the user gave none (the PMD's default is one queue, Tern wants
// one per worker), and on a veth (`driver` "veth") busy_budget=0 unless
// given: the PMD's preferred busy polling (busy_budget=64) makes every empty
// receive poll a recvfrom() that runs the veth's NAPI from Tern's core, and
// over a veth that more than halved rr and crr (docs/ports.md). For
// net_af_packet, qpairs = `queues` when the user gave none (the PMD's
// default is one; see check_af_packet_queues). Any other device as it is.
std::string device_with_defaults(const std::string& device, std::uint16_t queues, const std::string& driver);
// The kernel driver of interface `iface` in this network namespace
// (ETHTOOL_GDRVINFO: "veth", "ice", ...), or "" if it cannot be asked.
std::string interface_driver(const std::string& iface);
// Before the EAL probes a net_af_xdp device: AF_XDP sockets in this kernel,
// the interface in this network namespace, the queues on it as the PMD counts
// them. Throws std::runtime_error naming what is missing and the fix, where
// the PMD would only log "failed to initialize". Nothing for other devices.
void check_af_xdp_prerequisites(const std::string& port, const std::string& device, std::uint16_t queues);
// net_af_packet (docs/ports.md): when the EAL probes it, DPDK 22.11's PMD
// opens one AF_PACKET socket per queue pair (`qpairs`) and joins them all in
// one PACKET_FANOUT_HASH group, so from then on the kernel hands every socket
// its share of the flows, whether or not a worker ever polls that queue. A
// socket no worker polls loses its flows without a trace in any counter:
// with qpairs=2 and one worker, the kernel's SYNs of about half the
// connections were never answered. Before the EAL probes it: qpairs, if
// given, must be `queues` (one per worker); throws std::runtime_error saying
// so. Nothing for other devices.
bool is_af_packet(const std::string& device);
void check_af_packet_queues(const std::string& port, const std::string& device, std::uint16_t queues);
// True for "0000:03:00.0"-like PCI addresses, false for vdev strings.
bool is_pci_address(const std::string& device);

}  // namespace tern
