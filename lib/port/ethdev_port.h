#pragma once
// A Port over a DPDK ethdev: any PMD the EAL probed (net_tap, net_af_packet,
// net_memif, net_ring, PCI NICs). Set-up is start-up code and throws
// std::runtime_error with the PMD's own error text; the burst calls do not.
#include <rte_mempool.h>

#include <memory>
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

  // One line for the start-up log: driver, queues, steering, offloads.
  std::string describe() const;

 private:
  EthdevPort() = default;
  std::uint16_t port_id_ = 0;
  std::string driver_;
  bool started_ = false;
};

// The ethdev name the EAL gives a device string: "net_tap0,iface=x" -> "net_tap0".
std::string ethdev_name_of(const std::string& device);
// True for "0000:03:00.0"-like PCI addresses, false for vdev strings.
bool is_pci_address(const std::string& device);

}  // namespace tern
