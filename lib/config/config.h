#pragma once
// One TOML file -> one validated Config. Parsing happens once at start-up and
// is the only place Tern throws: ConfigError names the key, the bad value and
// what is allowed, so an operator can fix the file without reading code.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/instant.h"
#include "wire/ipv6.h"

namespace tern {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Ipv4Prefix {
  std::uint32_t addr = 0;  // host byte order
  std::uint8_t len = 0;
};

// An IPv6 interface address and its on-link prefix length (RFC 4291 §2.3).
struct Ipv6Prefix {
  Ipv6Addr addr{};
  std::uint8_t len = 64;
  bool operator==(const Ipv6Prefix&) const noexcept = default;
};
// [[port]] address6: at most this many global addresses per port.
inline constexpr std::size_t kMaxIpv6Addresses = 8;

// Limits that mirror DPDK 22.11 build constants, hard-coded so that parsing a
// config does not need DPDK headers. Code that includes DPDK should
// static_assert against the originals.
// RTE_MAX_LCORE (rte_build_config.h, Debian's DPDK 22.11 build): lcore ids are < 128.
inline constexpr unsigned kMaxLcores = 128;
// The most fragments reassembly takes per datagram ([ip] frag_max_fragments):
// 64 cover a 65,535-byte datagram at any MTU from 1,100 up. Tern reassembles
// itself; rte_ip_frag's limit (RTE_LIBRTE_IP_FRAG_MAX_FRAG, 8 in DPDK 22.11's
// rte_config.h) is compiled into the library (lib/ip/ip_frag.h).
inline constexpr std::uint32_t kIpFragMaxFrag = 64;

struct EalConfig {
  std::vector<std::string> args;     // extra EAL arguments, passed through verbatim
  std::string file_prefix = "tern";  // --file-prefix; telemetry and dpdk-dumpcap find us by it
  bool no_huge = false;              // --no-huge (no dpdk-dumpcap then: no shared memory)
  std::uint32_t memory_mb = 512;     // -m / --socket-mem budget
};

enum class SteeringMode { kAuto, kRss, kSoftware };
std::string_view to_string(SteeringMode m) noexcept;  // "auto", "rss", "software"

struct PortConfig {
  std::string name;                 // label used in logs and telemetry
  std::string device;               // vdev string ("net_tap0,iface=tern0") or PCI address
  std::uint16_t queues = 0;         // 0 = one per worker
  std::uint16_t mtu = 1500;         // 68..9000
  std::uint16_t rx_ring = 1024;     // descriptors per RX queue, power of two, 64..16384
  std::uint16_t tx_ring = 1024;     // descriptors per TX queue, power of two, 64..16384
  bool rx_checksum_offload = true;  // use when the port reports it
  bool tx_checksum_offload = true;
  // Merge each RX burst's in-order TCP/IPv4 segments of a flow with rte_gro
  // before TCP input (runtime/rx_coalesce.h, docs/config.md).
  bool gro = true;
  // Send TCP data (IPv4, IPv6) as super-segments the port cuts (TSO) where it
  // offers RTE_ETH_TX_OFFLOAD_TCP_TSO (TcpStackOptions::tso_max, docs/config.md).
  bool tso = true;
  // Where the port offers no TSO: TCP still sends super-segments, cut into
  // wire frames in software just before the port (runtime/gso_port.h, as
  // Linux's GSO). Off by default until measured on net_af_packet and net_tap.
  bool gso = false;
  bool tap_rx_trigger = false;  // net_tap's per-packet signal; off = plain polling (see docs/ports.md)
  SteeringMode steering = SteeringMode::kAuto;
  Ipv4Prefix address;                    // our address and subnet on this port
  std::optional<std::uint32_t> gateway;  // host byte order; must lie in the subnet
  // IPv6 (issue 15): global addresses with their prefixes; the link-local
  // address is always derived from the MAC (fe80::/64 + modified EUI-64).
  std::vector<Ipv6Prefix> address6;
  std::optional<Ipv6Addr> gateway6;  // link-local, or inside an address6 prefix
};

struct ImpairmentConfig {  // Tern's own netem: applied in the port layer
  double loss = 0;         // probability 0..1, each direction
  double duplicate = 0;    // probability 0..1
  double reorder = 0;      // probability 0..1 that a packet is held back one burst
  std::uint64_t seed = 1;
};

struct ArpConfig {
  Duration entry_ttl = Duration::s(300);         // [arp] entry_ttl_s
  Duration retry_interval = Duration::ms(1000);  // [arp] retry_ms
  std::uint32_t max_retries = 3;                 // [arp] retries
  std::uint32_t max_pending = 64;                // [arp] pending_packets: per worker
  std::uint32_t cache_size = 1024;               // [arp] cache_entries
};

// [nd]: IPv6 neighbour discovery (RFC 4861 §10's constants, Linux's
// net.ipv6.neigh.<dev>.* defaults). Per worker, like [arp].
struct NdConfig {
  Duration base_reachable_time = Duration::s(30);  // [nd] reachable_time_ms (BaseReachableTime)
  Duration retrans_timer = Duration::ms(1000);     // [nd] retrans_ms (RetransTimer)
  Duration delay_first_probe = Duration::s(5);     // [nd] delay_first_probe_s (DELAY_FIRST_PROBE_TIME)
  std::uint8_t multicast_solicit = 3;              // [nd] multicast_solicit (MAX_MULTICAST_SOLICIT)
  std::uint8_t unicast_solicit = 3;                // [nd] unicast_solicit (MAX_UNICAST_SOLICIT)
  std::uint32_t max_pending = 64;                  // [nd] pending_packets: per worker
  std::uint32_t max_pending_per_neighbor = 16;     // [nd] pending_per_neighbor (RFC 4861 §7.2.2)
  std::uint32_t cache_size = 1024;                 // [nd] cache_entries
  std::uint8_t dad_transmits = 1;                  // [nd] dad_transmits (DupAddrDetectTransmits); 0: no DAD
  std::uint8_t router_solicitations = 3;           // [nd] router_solicitations (MAX_RTR_SOLICITATIONS)
};

struct IpConfig {
  std::uint8_t default_ttl = 64;                      // [ip] ttl, 1..255
  std::uint32_t frag_max_flows = 1024;                // [ip] frag_max_flows
  std::uint32_t frag_max_fragments = kIpFragMaxFrag;  // [ip] frag_max_fragments per datagram, 1..64
  Duration frag_timeout = Duration::s(30);            // [ip] frag_timeout_s (RFC 791 suggests 15 s minimum)
  // Truesize (mbuf metadata + data room) reassembly may hold per worker: past
  // high the oldest incomplete datagrams go until it is under low (Linux's
  // ipfrag_high_thresh / ipfrag_low_thresh, sized for an 8191-mbuf pool).
  std::uint64_t frag_high_thresh = 1 << 20;   // [ip] frag_high_thresh, bytes (455 mbufs of 2304)
  std::uint64_t frag_low_thresh = 768 << 10;  // [ip] frag_low_thresh, bytes, <= frag_high_thresh
  // Path MTUs learned per destination (lib/ip/pmtu_cache.h), per worker.
  std::uint32_t pmtu_cache_entries = 256;    // [ip] pmtu_cache_entries, 0..65536 (0: none kept)
  Duration pmtu_expires = Duration::s(600);  // [ip] pmtu_expires_s, 300..86400 (RFC 8201 §4: >= 5 min)
};

struct RuntimeConfig {
  std::vector<unsigned> lcores = {0};  // one worker per listed lcore
  std::uint32_t mbufs_per_worker = 8191;
  std::uint16_t burst = 32;              // 1..512
  std::uint32_t steer_ring_size = 1024;  // power of two
};

// TCP tunables: defaults follow Linux (sysctl net.ipv4.tcp_*) where it has
// the knob, and the RFC named next to each field otherwise. Per worker.
// [tcp] congestion: the controller of new connections (TCP_CONGESTION).
enum class CongestionAlgorithm : std::uint8_t { kNewReno, kCubic, kBbr };

struct TcpConfig {
  std::uint32_t max_connections = 65536;  // [tcp] max_connections: TCB pool per worker
  std::uint16_t mss_clamp = 0;            // [tcp] mss_clamp: 0 = from MTU (TCP_MAXSEG)
  std::uint32_t rcv_buf = 262144;         // [tcp] rcv_buf: receive buffer per connection, bytes
  std::uint32_t rcv_buf_max = 6291456;    // [tcp] rcv_buf_max: autotuning's ceiling (tcp_rmem[2])
  std::uint32_t snd_buf = 262144;         // [tcp] snd_buf: send buffer per connection, bytes
  std::uint32_t snd_buf_max = 4194304;    // [tcp] snd_buf_max: autotuning's ceiling (tcp_wmem[2])
  bool window_scaling = true;             // [tcp] window_scaling (RFC 7323 §2)
  bool timestamps = true;                 // [tcp] timestamps (RFC 7323 §3)
  bool sack = true;                       // [tcp] sack: offer/accept SACK-permitted (RFC 2018)
  bool syncookies = true;                 // [tcp] syncookies: when a SYN queue is full (RFC 4987)
  bool nodelay = false;                   // [tcp] nodelay: default for new connections (Nagle off)
  Duration rto_initial = Duration::s(1);  // [tcp] rto_initial_ms (RFC 6298 §2.1)
  Duration rto_min = Duration::ms(200);   // [tcp] rto_min_ms (Linux TCP_RTO_MIN)
  Duration rto_max = Duration::s(120);    // [tcp] rto_max_ms (Linux TCP_RTO_MAX)
  Duration tlp_min = Duration::ms(2);     // [tcp] tlp_min_ms: the probe timeout's floor (RFC 8985 §7.2)
  std::uint8_t tlp_new_segments = 2;      // [tcp] tlp_new_segments: a probe's new data, 1..2 (RFC 8985 §7.3)
  // [tcp] pacing: window-based controllers (cubic, newreno) pace too, at
  // pacing_ss_ratio / pacing_ca_ratio percent of cwnd / SRTT (Linux's
  // tcp_pacing_ss_ratio, tcp_pacing_ca_ratio), pacing_burst segments at a time.
  bool pacing = false;
  std::uint32_t pacing_ss_ratio = 200;
  std::uint32_t pacing_ca_ratio = 120;
  std::uint32_t pacing_burst = 2;                 // 2..64: the send quantum's floor is two segments
  std::uint32_t retries = 15;                     // [tcp] retries: data RTOs before giving up (tcp_retries2)
  std::uint32_t syn_retries = 6;                  // [tcp] syn_retries (tcp_syn_retries)
  std::uint32_t synack_retries = 5;               // [tcp] synack_retries (tcp_synack_retries)
  Duration delayed_ack = Duration::ms(40);        // [tcp] delayed_ack_ms, 1..200 (RFC 9293 §3.8.6.3 < 0.5 s)
  Duration fin_timeout = Duration::s(60);         // [tcp] fin_timeout_s: FIN_WAIT_2 orphans (tcp_fin_timeout)
  Duration time_wait = Duration::s(60);           // [tcp] time_wait_s: 2MSL (Linux TCP_TIMEWAIT_LEN)
  std::uint32_t max_time_wait = 65536;            // [tcp] max_time_wait: per worker (tcp_max_tw_buckets)
  bool keepalive = false;                         // [tcp] keepalive: default for new connections
  Duration keepalive_idle = Duration::s(7200);    // [tcp] keepalive_idle_s (tcp_keepalive_time)
  Duration keepalive_interval = Duration::s(75);  // [tcp] keepalive_interval_s (tcp_keepalive_intvl)
  std::uint32_t keepalive_probes = 9;             // [tcp] keepalive_probes (tcp_keepalive_probes)
  Duration user_timeout{};                        // [tcp] user_timeout_ms: TCP_USER_TIMEOUT, 0 = off
  std::uint32_t syn_backlog = 1024;               // [tcp] syn_backlog: SYN queue per listener
  std::uint32_t max_backlog = 4096;               // [tcp] max_backlog: accept-queue cap (somaxconn)
  std::uint32_t challenge_ack_limit = 1000;  // [tcp] challenge_ack_limit: per second per worker (RFC 5961 §7)
  std::uint16_t ephemeral_first = 32768;     // [tcp] ephemeral_ports = [first, last] (ip_local_port_range)
  std::uint16_t ephemeral_last = 60999;
  std::uint32_t dupthresh = 3;  // [tcp] dupthresh (RFC 5681 §3.2; tcp_reordering)
  bool undo = true;             // [tcp] undo: undo congestion responses found spurious (D-SACK, Eifel, F-RTO)
  bool frto = true;             // [tcp] frto: F-RTO (RFC 5682) after timeouts without timestamps (tcp_frto)
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;  // [tcp] congestion (tcp_congestion_control)
  std::uint16_t ofo_max_segments = 256;            // [tcp] ofo_max_segments: out-of-order segments held
  Duration invalid_ratelimit = Duration::ms(500);  // [tcp] invalid_ratelimit_ms (tcp_invalid_ratelimit)
  std::uint32_t persist_probes = 15;            // [tcp] persist_probes: zero-window probes before giving up
  Duration persist_timeout = Duration::s(120);  // [tcp] persist_timeout_s: 0 = no time bound
  std::uint32_t max_orphans = 16384;            // [tcp] max_orphans: per worker (tcp_max_orphans)
  std::uint32_t orphan_retries = 8;  // [tcp] orphan_retries: RTOs of an orphan (tcp_orphan_retries)
};

// UDP sockets (lib/udp), per worker.
struct UdpConfig {
  std::uint32_t max_sockets = 1024;  // [udp] max_sockets: socket slots per worker
  std::uint32_t rcv_queue = 256;     // [udp] rcv_queue: datagrams a socket's receive queue holds
  std::uint32_t rcv_buf = 524288;    // [udp] rcv_buf: truesize bytes it holds (SO_RCVBUF)
  // ICMP Destination Unreachable (port) for closed ports, a token bucket per
  // worker (Linux net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst).
  std::uint32_t unreach_per_sec = 1000;  // [udp] unreach_per_sec: 0 = never send
  std::uint32_t unreach_burst = 50;      // [udp] unreach_burst
};

struct Config {
  EalConfig eal;
  RuntimeConfig runtime;
  std::vector<PortConfig> ports;
  ArpConfig arp;
  NdConfig nd;
  IpConfig ip;
  ImpairmentConfig impairment;
  TcpConfig tcp;
  UdpConfig udp;
  std::string log_level = "info";  // error, warning, notice, info, debug
};

// Throws ConfigError. `origin` names the file in messages.
Config parse_config(std::string_view toml_text, std::string_view origin = "<string>");
Config load_config(const std::string& path);

// "192.0.2.1" -> host-order address; nullopt when malformed. Strict dotted
// quad, the same language as inet_pton(AF_INET): exactly four decimal parts
// 0..255, no leading zeros ("01.2.3.4" is rejected: inet_aton would read it as
// octal), no spaces, no shorthand ("1.2.3").
std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept;
std::string format_ipv4(std::uint32_t host_order);
// "10.77.0.2/24" -> {addr, len} with len 0..32 (no leading zeros); nullopt when
// malformed. Only syntax: Config validation adds the rules for an interface address.
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view s) noexcept;
std::string format_ipv4_prefix(Ipv4Prefix p);
// "2001:db8::1/64" -> {addr, len} with len 0..128 (decimal, no leading
// zeros); the address in RFC 4291 text (Ipv6Addr::from_string). Syntax only.
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view s) noexcept;
std::string format_ipv6_prefix(const Ipv6Prefix& p);

}  // namespace tern
