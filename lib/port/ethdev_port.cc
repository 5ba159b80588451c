#include "port/ethdev_port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace tern {
namespace {

[[noreturn]] void fail(const std::string& port, const std::string& what, int rc) {
  throw std::runtime_error("port " + port + ": " + what + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

// A Toeplitz key made of one repeated 16-bit word hashes (a,b) and (b,a) alike,
// so both directions of a flow land on the same queue (symmetric RSS).
std::array<std::uint8_t, 52> symmetric_rss_key() {
  std::array<std::uint8_t, 52> k{};
  for (std::size_t i = 0; i < k.size(); i += 2) {
    k[i] = 0x6d;
    k[i + 1] = 0x5a;
  }
  return k;
}

}  // namespace

std::string ethdev_name_of(const std::string& device) { return device.substr(0, device.find(',')); }

std::uint16_t linearize_burst(rte_mbuf** pkts, std::uint16_t n) noexcept {
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->nb_segs == 1) [[likely]]
      continue;
    // Copying into the first segment writes its buffer: it must be ours alone.
    if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1 || rte_pktmbuf_linearize(m) != 0) return i;
  }
  return n;
}

bool is_pci_address(const std::string& device) {
  // dddd:bb:dd.f or bb:dd.f
  auto n = device.size();
  return (n == 12 || n == 7) && device[n - 2] == '.' && device[n - 5] == ':';
}

std::unique_ptr<EthdevPort> EthdevPort::open(const PortConfig& cfg, std::uint16_t queues,
                                             const std::vector<rte_mempool*>& pools) {
  std::unique_ptr<EthdevPort> p{new EthdevPort};
  const std::string name = ethdev_name_of(cfg.device);
  std::uint16_t id = 0;
  int rc = rte_eth_dev_get_port_by_name(name.c_str(), &id);
  if (rc != 0) fail(cfg.name, "no ethdev named '" + name + "' (was the device probed?)", rc);
  p->port_id_ = id;

  rte_eth_dev_info dev{};
  rc = rte_eth_dev_info_get(id, &dev);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_info_get", rc);
  p->driver_ = dev.driver_name != nullptr ? dev.driver_name : "?";
  if (queues > dev.max_rx_queues || queues > dev.max_tx_queues)
    throw std::runtime_error("port " + cfg.name + ": " + std::to_string(queues) + " queues requested, " +
                             p->driver_ + " offers " + std::to_string(dev.max_rx_queues) + " RX / " +
                             std::to_string(dev.max_tx_queues) + " TX");

  rte_eth_conf conf{};
  const std::uint64_t rss_types =
      RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
  // net_tap advertises RSS, but it needs the tap's eBPF/rte_flow support,
  // which this kernel lacks (no multiq qdisc); af_packet spreads by its own
  // fanout hash. Neither lets us choose a symmetric hash, so both directions of
  // a flow can land on different queues: steer in software.
  const std::string drv = p->driver_;
  const bool kernel_hashed = drv == "net_tap" || drv == "net_af_packet";
  const bool rss_capable =
      !kernel_hashed && (dev.flow_type_rss_offloads & rss_types) != 0 && dev.hash_key_size > 0;
  bool use_rss = false;
  if (cfg.steering == SteeringMode::kRss && !rss_capable)
    throw std::runtime_error("port " + cfg.name + ": steering = \"rss\" but " + p->driver_ +
                             " offers no usable RSS; use \"auto\" or \"software\"");
  if (cfg.steering != SteeringMode::kSoftware && rss_capable && queues > 1) use_rss = true;
  auto key = symmetric_rss_key();
  if (use_rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len =
        static_cast<std::uint8_t>(std::min<std::size_t>(dev.hash_key_size, key.size()));
    conf.rx_adv_conf.rss_conf.rss_hf = rss_types & dev.flow_type_rss_offloads;
  }
  const std::uint64_t rx_ck =
      RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  const std::uint64_t tx_ip = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  const std::uint64_t tx_l4 = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  const std::uint64_t rx_capa = dev.rx_offload_capa | dev.rx_queue_offload_capa;
  const std::uint64_t tx_capa = dev.tx_offload_capa | dev.tx_queue_offload_capa;
  if (cfg.rx_checksum_offload && (rx_capa & rx_ck) == rx_ck) conf.rxmode.offloads |= rx_ck;
  if (cfg.tx_checksum_offload && (tx_capa & tx_ip) == tx_ip) conf.txmode.offloads |= tx_ip;
  if (cfg.tx_checksum_offload && (tx_capa & tx_l4) == tx_l4) conf.txmode.offloads |= tx_l4;
  if (tx_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  // A PMD without multi-segment TX may send only the first segment of a chain
  // (net_af_xdp in 22.11 sends pkt_len bytes from it); net_ring passes the
  // mbuf itself, chain and all.
  p->single_segment_tx_ = (tx_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) == 0 && drv != "net_ring";
  if (p->single_segment_tx_) {
    // Every frame must then fit the first mbuf: Ethernet header + MTU, after
    // the headroom Tern prepends into, within the pool's data room.
    const std::uint32_t room = rte_pktmbuf_data_room_size(pools.front());
    const std::uint32_t frame = std::uint32_t{cfg.mtu} + RTE_ETHER_HDR_LEN + RTE_PKTMBUF_HEADROOM;
    if (frame > room)
      throw std::runtime_error("port " + cfg.name + ": mtu = " + std::to_string(cfg.mtu) + " but " + drv +
                               " sends one-segment frames and an mbuf holds " +
                               std::to_string(room - RTE_PKTMBUF_HEADROOM - RTE_ETHER_HDR_LEN) +
                               " bytes of IP packet; lower the mtu");
  }
  p->tx_unsendable_.resize(queues);

  rc = rte_eth_dev_configure(id, queues, queues, &conf);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_configure", rc);
  std::uint16_t rxd = cfg.rx_ring, txd = cfg.tx_ring;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  const int socket = rte_eth_dev_socket_id(id);
  for (std::uint16_t q = 0; q < queues; ++q) {
    rte_eth_rxconf rxq = dev.default_rxconf;
    rxq.offloads = conf.rxmode.offloads;
    rc = rte_eth_rx_queue_setup(id, q, rxd, socket < 0 ? SOCKET_ID_ANY : socket, &rxq, pools[q]);
    if (rc != 0) fail(cfg.name, "rx queue " + std::to_string(q) + " setup", rc);
    rte_eth_txconf txq = dev.default_txconf;
    txq.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(id, q, txd, socket < 0 ? SOCKET_ID_ANY : socket, &txq);
    if (rc != 0) fail(cfg.name, "tx queue " + std::to_string(q) + " setup", rc);
  }
  rc = rte_eth_dev_set_mtu(id, cfg.mtu);
  if (rc != 0 && rc != -ENOTSUP) fail(cfg.name, "set MTU " + std::to_string(cfg.mtu), rc);
  rc = rte_eth_dev_start(id);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_start", rc);
  p->started_ = true;

  rte_ether_addr mac{};
  rte_eth_macaddr_get(id, &mac);
  std::uint16_t mtu = cfg.mtu;
  rte_eth_dev_get_mtu(id, &mtu);
  PortInfo& info = p->info_;
  info.name = cfg.name;
  info.dpdk_port_id = id;
  std::memcpy(info.mac.b.data(), mac.addr_bytes, 6);
  info.mtu = mtu;
  info.queues = queues;
  info.steering = (use_rss || queues == 1) ? Steering::kRss : Steering::kSoftware;
  info.rx_ip_checksum_offload = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  info.rx_l4_checksum_offload = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
  info.tx_ip_checksum_offload = (conf.txmode.offloads & tx_ip) != 0;
  info.tx_l4_checksum_offload = (conf.txmode.offloads & tx_l4) == tx_l4;
  return p;
}

EthdevPort::~EthdevPort() {
  std::uint64_t unsendable = 0;
  for (const QueueCounter& c : tx_unsendable_) unsendable += c.n;
  if (unsendable != 0)
    std::fprintf(stderr, "TERN: %s: %llu frames dropped: could not be made one segment for %s\n",
                 info_.name.c_str(), static_cast<unsigned long long>(unsendable), driver_.c_str());
  if (started_) {
    rte_eth_dev_stop(port_id_);
    rte_eth_dev_close(port_id_);
  }
}

std::uint16_t EthdevPort::rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  return rte_eth_rx_burst(port_id_, queue, pkts, n);
}

std::uint16_t EthdevPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  if (!single_segment_tx_) return rte_eth_tx_burst(port_id_, queue, pkts, n);
  std::uint16_t done = 0;
  for (;;) {
    const auto ready = linearize_burst(pkts + done, static_cast<std::uint16_t>(n - done));
    const std::uint16_t sent = rte_eth_tx_burst(port_id_, queue, pkts + done, ready);
    done = static_cast<std::uint16_t>(done + sent);
    if (sent < ready || done == n) return done;
    // pkts[done] cannot be made one segment: the port takes it and drops it
    // (counted), so that it does not block the caller's queue forever.
    rte_pktmbuf_free(pkts[done]);
    ++tx_unsendable_[queue].n;
    ++done;
  }
}

std::string EthdevPort::describe() const {
  const PortInfo& i = info_;
  std::string s = i.name + ": " + driver_ + " port " + std::to_string(port_id_) + ", mac " +
                  i.mac.to_string() + ", mtu " + std::to_string(i.mtu) + ", " + std::to_string(i.queues) +
                  " queue(s), steering " +
                  (i.queues == 1 ? "none needed (one queue)"
                   : i.steering == Steering::kRss
                       ? "RSS (symmetric Toeplitz)"
                       : "software (no usable RSS; frames forwarded to their owner over rings)");
  s += ", checksum offload rx ";
  s += i.rx_ip_checksum_offload ? "on" : "off";
  s += " tx ";
  s += i.tx_ip_checksum_offload ? (i.tx_l4_checksum_offload ? "ip+l4" : "ip") : "off";
  return s;
}

}  // namespace tern
