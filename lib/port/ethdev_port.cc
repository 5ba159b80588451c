#include "port/ethdev_port.h"

#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_version.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "port/af_packet_sndbuf.h"
#include "wire/ipv6.h"

namespace tern {
namespace {

[[noreturn]] void fail(const std::string& port, const std::string& what, int rc) {
  throw std::runtime_error("port " + port + ": " + what + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

// IPv6 neighbour discovery needs the all-nodes group and the solicited-node
// group of each of our addresses (RFC 4861 §7.2.1, RFC 2464 §7). Asks for
// exactly those; a PMD without a multicast list (af_packet, some virtual
// devices) gets all multicast, and one refusing that too must already be
// promiscuous. Returns how it went, for the start-up summary.
std::string accept_ipv6_multicast(std::uint16_t id, const MacAddr& mac,
                                  const std::vector<Ipv6Prefix>& addrs) {
  std::vector<rte_ether_addr> list;
  const auto add = [&](const Ipv6Addr& group) {
    rte_ether_addr e{};
    const MacAddr m = multicast_mac(group);
    std::memcpy(e.addr_bytes, m.b.data(), 6);
    for (const rte_ether_addr& x : list)
      if (std::memcmp(x.addr_bytes, e.addr_bytes, 6) == 0) return;
    list.push_back(e);
  };
  add(Ipv6Addr::all_nodes());
  add(solicited_node(link_local_from_mac(mac)));
  for (const Ipv6Prefix& a : addrs) add(solicited_node(a.addr));
  const int rc = rte_eth_dev_set_mc_addr_list(id, list.data(), static_cast<std::uint32_t>(list.size()));
  if (rc == 0) return "mc_addr_list (" + std::to_string(list.size()) + " groups)";
  if (rte_eth_allmulticast_enable(id) == 0 && rte_eth_allmulticast_get(id) == 1) return "allmulticast";
  if (rte_eth_promiscuous_get(id) == 1) return "promiscuous";
  return "NOT ACCEPTED (set_mc_addr_list: " + std::string(rte_strerror(rc < 0 ? -rc : rc)) +
         "; allmulticast refused): IPv6 neighbour discovery needs the port in promiscuous mode";
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

std::optional<std::string> device_arg(const std::string& device, const std::string& key) {
  std::size_t at = device.find(',');
  while (at != std::string::npos) {
    const std::size_t next = device.find(',', at + 1);
    const std::string kv =
        device.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=')
      return kv.substr(key.size() + 1);
    at = next;
  }
  return std::nullopt;
}

bool is_af_xdp(const std::string& device) { return device.rfind("net_af_xdp", 0) == 0; }
bool is_af_packet(const std::string& device) { return device.rfind("net_af_packet", 0) == 0; }

std::string device_with_defaults(const std::string& device, std::uint16_t queues, const std::string& driver) {
  if (is_af_packet(device))
    return device_arg(device, "qpairs") ? device : device + ",qpairs=" + std::to_string(queues);
  if (!is_af_xdp(device)) return device;
  std::string d = device;
  if (!device_arg(d, "queue_count")) d += ",queue_count=" + std::to_string(queues);
  if (driver == "veth" && !device_arg(d, "busy_budget")) d += ",busy_budget=0";
  return d;
}

std::string interface_driver(const std::string& iface) {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq ifr{};
  if (iface.empty() || iface.size() >= sizeof ifr.ifr_name) return "";
  std::memcpy(ifr.ifr_name, iface.data(), iface.size());
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  const bool ok = ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
  ::close(fd);
  if (!ok) return "";
  info.driver[sizeof info.driver - 1] = '\0';
  return info.driver;
}

namespace {

// A non-negative integer vdev argument, or `fallback` when absent.
int int_arg(const std::string& port, const std::string& device, const std::string& key, int fallback) {
  const auto v = device_arg(device, key);
  if (!v) return fallback;
  int n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || end != v->data() + v->size() || n < 0)
    throw std::runtime_error("port " + port + ": " + key + "=" + *v + " in \"" + device +
                             "\" is not a non-negative integer");
  return n;
}

// A socket PMD's queue count argument `key`: absent (device_with_defaults
// adds it) or `queues`, one per worker; anything else is refused, `why`
// added to the message.
int queue_count_arg(const std::string& port, const std::string& where, const std::string& device,
                    const std::string& key, std::uint16_t queues, const std::string& why) {
  const int count = int_arg(port, device, key, queues);
  if (count != queues)
    throw std::runtime_error(where + key + "=" + std::to_string(count) + " but Tern runs " +
                             std::to_string(queues) + " queue(s), one per worker" + why + ": set " + key +
                             "=" + std::to_string(queues) + " or leave it out");
  return count;
}

}  // namespace

void check_af_packet_queues(const std::string& port, const std::string& device, std::uint16_t queues) {
  if (!is_af_packet(device)) return;
  queue_count_arg(port, "port " + port + " (net_af_packet): ", device, "qpairs", queues,
                  " (the PMD opens a socket per queue pair and the kernel's fanout hash gives each its "
                  "share of the flows: the flows of a socket no worker polls are lost, their SYNs never "
                  "answered)");
}

void check_af_xdp_prerequisites(const std::string& port, const std::string& device, std::uint16_t queues) {
  if (!is_af_xdp(device)) return;
  const std::string where = "port " + port + " (net_af_xdp): ";
  const int xsk = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (xsk < 0) {
    const int e = errno;
    if (e == EAFNOSUPPORT)
      throw std::runtime_error(where +
                               "this kernel has no AF_XDP sockets (socket(AF_XDP): " + std::strerror(e) +
                               "); it needs Linux 5.4 or later built with CONFIG_XDP_SOCKETS=y. "
                               "Use net_af_packet instead (docs/ports.md)");
    throw std::runtime_error(where + "cannot open an AF_XDP socket: " + std::strerror(e) +
                             (e == EPERM || e == EACCES
                                  ? "; it needs CAP_NET_RAW, and CAP_NET_ADMIN + CAP_BPF (or root) to attach "
                                    "the XDP program"
                                  : ""));
  }
  ::close(xsk);
  const auto iface = device_arg(device, "iface");
  if (!iface || iface->empty()) throw std::runtime_error(where + "no iface=NAME in \"" + device + "\"");
  if (::if_nametoindex(iface->c_str()) == 0)
    throw std::runtime_error(where + "no interface named '" + *iface +
                             "' in this network namespace (run Tern in the namespace that holds it)");
  const int start = int_arg(port, device, "start_queue", 0);
  const int count = queue_count_arg(port, where, device, "queue_count", queues, "");
  // How the PMD counts queues: ETHTOOL_GCHANNELS's combined channels, one
  // where the device reports none (a veth has separate RX/TX channels).
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface->c_str());
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const bool got = fd >= 0 && ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
  if (fd >= 0) ::close(fd);
  const int available = got && ch.max_combined != 0 ? static_cast<int>(ch.combined_count) : 1;
  if (count > available)
    throw std::runtime_error(
        where + std::to_string(count) + " queue(s) asked for but " + *iface + " has " +
        std::to_string(available) + " combined channel(s) as DPDK 22.11's net_af_xdp counts them" +
        (got && ch.max_combined == 0
             ? " (it reports separate RX/TX channels, as a veth does: one queue, so run one worker)"
             : "; give it more with `ethtool -L " + *iface + " combined " + std::to_string(count) +
                   "` or run fewer workers"));
  if (got && ch.max_combined != 0 && start + count > static_cast<int>(ch.combined_count))
    throw std::runtime_error(where + "start_queue=" + std::to_string(start) +
                             " + queue_count=" + std::to_string(count) + " runs past the " +
                             std::to_string(ch.combined_count) + " combined channel(s) of " + *iface);
}

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
  const std::uint64_t rss_types = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                                  RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 |
                                  RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;
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
  // net_tap sums TCP/UDP in software in its TX path, and DPDK 22.11's sum
  // goes wrong over a chain with an odd-length segment before the last (it
  // restarts word alignment at each segment): Tern's own software checksum
  // costs the same and is right.
  if (cfg.tx_checksum_offload && (tx_capa & tx_l4) == tx_l4 && drv != "net_tap")
    conf.txmode.offloads |= tx_l4;
  if (tx_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  // TCP segmentation offload ([port] tso) where the port offers it with both
  // checksum offloads, which it implies. Not net_tap: DPDK 22.11's compares
  // each wire segment, Ethernet header included, with the MTU, so it
  // refuses full-sized segments (tso_segsz + 54..74 > 1500) and counts an
  // error for the whole frame.
  if (cfg.tso && (tx_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0 && (conf.txmode.offloads & tx_ip) != 0 &&
      (conf.txmode.offloads & tx_l4) == tx_l4 &&
      (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0 && drv != "net_tap")
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
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

  if (drv == "net_af_xdp") {
    // The PMD fills each queue's fill ring from that queue's pool at set-up
    // and fails with a bare EINVAL when the pool runs short.
    const std::uint32_t need = kAfXdpFillMbufs + cfg.tx_ring + 512;
    for (std::uint16_t q = 0; q < queues; ++q)
      if (pools[q]->size < need)
        throw std::runtime_error(
            "port " + cfg.name + ": net_af_xdp lends " + std::to_string(kAfXdpFillMbufs) +
            " mbufs per queue to the kernel's fill ring and up to tx_ring (" + std::to_string(cfg.tx_ring) +
            ") to frames in flight: mbufs_per_worker = " + std::to_string(pools[q]->size) +
            " is too few, give at least " + std::to_string(need));
  }
  if (drv == "net_af_xdp")
    for (std::uint16_t q = 0; q < queues; ++q) p->withhold_outside_umem(pools[q]);
  rc = rte_eth_dev_configure(id, queues, queues, &conf);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_configure", rc);
  std::uint16_t rxd = cfg.rx_ring, txd = cfg.tx_ring;
  // net_af_xdp sizes both of a socket's rings from the RX count, and its fill
  // ring holds kAfXdpFillMbufs frames: an RX ring smaller than that drops
  // what the fill ring could still take while the worker is off its core.
  if (drv == "net_af_xdp" && rxd < kAfXdpFillMbufs) rxd = static_cast<std::uint16_t>(kAfXdpFillMbufs);
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
  if (rc != 0) fail(cfg.name, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  p->rx_desc_ = rxd;
  p->tx_desc_ = txd;
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
  if (drv == "net_af_packet") p->size_af_packet_send_buffers(cfg.device, static_cast<int>(dev.if_index));

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
  info.ipv6_multicast = accept_ipv6_multicast(id, info.mac, cfg.address6);
  info.steering = (use_rss || queues == 1) ? Steering::kRss : Steering::kSoftware;
  info.rx_ip_checksum_offload = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  info.rx_l4_checksum_offload = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
  info.tx_ip_checksum_offload = (conf.txmode.offloads & tx_ip) != 0;
  info.tx_l4_checksum_offload = (conf.txmode.offloads & tx_l4) == tx_l4;
  info.tx_tso = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0;
  const rte_bus* bus = dev.device != nullptr ? rte_dev_bus(dev.device) : nullptr;
  info.tx_gathers_by_dma = !p->single_segment_tx_ &&
                           (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0 && bus != nullptr &&
                           std::strcmp(rte_bus_name(bus), "pci") == 0;
  return p;
}

void EthdevPort::withhold_outside_umem(rte_mempool* mp) {
#if RTE_VERSION < RTE_VERSION_NUM(24, 7, 0, 0)
  // DPDK before 24.07 (fixed by "net/af_xdp: parse UMEM map info from
  // mempool") registers as UMEM the pool's first memory chunk, page-aligned,
  // for populated_size objects back to back. A pool over 2 MB hugepages is
  // several chunks, each page ending in a gap no object straddles, so the
  // last objects lie past the UMEM's end: the kernel drops a fill or TX
  // descriptor that points there without a word (a TX frame is then never
  // completed, and a bulk sender over a veth stalled for good after ~11,000
  // frames). Take those objects out of circulation until the port closes.
  const rte_mempool_memhdr* first = STAILQ_FIRST(&mp->mem_list);
  if (first == nullptr) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<std::uintptr_t>(first->addr);
  const std::uintptr_t base = start & ~(page - 1);
  const std::uint32_t obj = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, nullptr);
  const std::uintptr_t end = base + std::uintptr_t{mp->populated_size} * obj + (start - base);
  std::vector<void*> all(mp->populated_size);
  // A fresh pool: every object is in the common pool, none in a cache.
  if (rte_mempool_generic_get(mp, all.data(), static_cast<unsigned>(all.size()), nullptr) != 0)
    throw std::runtime_error("pool " + std::string(mp->name) +
                             ": cannot take its objects to check them against "
                             "the AF_XDP UMEM (is it in use already?)");
  std::vector<void*> keep;
  keep.reserve(all.size());
  for (void* o : all) {
    const auto elt = reinterpret_cast<std::uintptr_t>(o) - mp->header_size;  // object header first
    if (elt >= base && elt + obj <= end)
      keep.push_back(o);
    else
      withheld_.push_back({mp, o});
  }
  rte_mempool_generic_put(mp, keep.data(), static_cast<unsigned>(keep.size()), nullptr);
#else
  (void)mp;
#endif
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
  for (auto& [mp, o] : withheld_) rte_mempool_generic_put(mp, &o, 1, nullptr);
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

std::vector<std::pair<std::string, std::string>> EthdevPort::summary() const {
  const PortInfo& i = info_;
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("port", i.name + ": " + driver_ + " (DPDK port " + std::to_string(port_id_) + "), mac " +
                               i.mac.to_string() + ", mtu " + std::to_string(i.mtu));
  out.emplace_back("queues", std::to_string(i.queues) + " RX + " + std::to_string(i.queues) +
                                 " TX, one pair per worker; " + std::to_string(rx_desc_) + " RX / " +
                                 std::to_string(tx_desc_) + " TX descriptors each");
  out.emplace_back("steering",
                   i.queues == 1 ? "none needed (one queue)"
                   : i.steering == Steering::kRss
                       ? "RSS (symmetric Toeplitz key: both directions of a flow on one queue)"
                       : "software (" + driver_ +
                             " has no usable RSS: a frame is forwarded to its flow's worker over a "
                             "ring)");
  std::string off = "IPv4 checksum RX ";
  off += i.rx_ip_checksum_offload ? (i.rx_l4_checksum_offload ? "ip+l4" : "ip") : "off";
  off += ", TX ";
  off += i.tx_ip_checksum_offload ? (i.tx_l4_checksum_offload ? "ip+l4" : "ip") : "off";
  if (single_segment_tx_) off += "; TX chains copied into one segment (no multi-segment TX)";
  off += i.tx_tso ? "; TSO: TCP/IPv4 sent as super-segments the port cuts" : "; no TSO";
  off += i.tx_gathers_by_dma ? "; TCP payloads sent as slices (DMA gather)"
                             : "; TCP payloads copied into one segment";
  if (!withheld_.empty())
    off += "; " + std::to_string(withheld_.size()) +
           " mbufs withheld (outside the UMEM DPDK 22.11's PMD registers)";
  out.emplace_back("offloads", off);
  if (!tx_buffer_note_.empty()) out.emplace_back("tx ring", tx_buffer_note_);
  return out;
}

// af_packet_sndbuf.h: without a send buffer that covers the TX ring, a
// kick leaves frames in the ring that only the next burst sends.
void EthdevPort::size_af_packet_send_buffers(const std::string& device, int if_index) {
  const std::uint64_t ring = af_packet_ring_bytes(device);
  const AfPacketSendBuffers b = raise_af_packet_send_buffers(if_index, ring);
  const std::string each = std::to_string(b.sockets) + " packet socket(s), send buffer " +
                           std::to_string(b.bytes) + " bytes each for a ring of " + std::to_string(ring) +
                           " bytes";
  if (b.sockets > 0 && b.raised == b.sockets) {
    tx_buffer_note_ = each;
    return;
  }
  tx_buffer_note_ =
      "WARNING: " + each +
      (b.error != 0 ? std::string(" (SO_SNDBUFFORCE: ") + std::strerror(b.error) + ")" : "") +
      ": a kick may leave frames in the ring until the next burst, and a TCP sender whose window "
      "they hold waits for its retransmission timeout (run with CAP_NET_ADMIN)";
  std::fprintf(stderr, "TERN: %s: %s\n", info_.name.c_str(), tx_buffer_note_.c_str());
}

}  // namespace tern
