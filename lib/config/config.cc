// The TOML schema of Tern's config file and its validation. docs/config.md
// documents every key; keep the two in step.
#include "config/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/ipv6_config.h"
#include "config/reader.h"

namespace tern {
namespace {

using config_internal::Document;
using config_internal::range_text;
using config_internal::Section;
using config_internal::TableSchema;

constexpr std::string_view kTopKeys[] = {"log_level", "eal", "runtime",    "port", "arp",
                                         "nd",        "ip",  "impairment", "tcp",  "udp"};
constexpr std::string_view kEalKeys[] = {"file_prefix", "no_huge", "memory_mb", "args"};
constexpr std::string_view kRuntimeKeys[] = {"lcores", "mbufs_per_worker", "burst", "steer_ring_size"};
constexpr std::string_view kPortKeys[] = {"name",
                                          "device",
                                          "queues",
                                          "mtu",
                                          "rx_ring",
                                          "tx_ring",
                                          "rx_checksum_offload",
                                          "tx_checksum_offload",
                                          "gro",
                                          "tso",
                                          "gso",
                                          "tap_rx_trigger",
                                          "steering",
                                          "address",
                                          "gateway",
                                          "address6",
                                          "gateway6"};
constexpr std::string_view kArpKeys[] = {"entry_ttl_s", "retry_ms", "retries", "pending_packets",
                                         "cache_entries"};
constexpr std::string_view kNdKeys[] = {"reachable_time_ms",    "retrans_ms",      "delay_first_probe_s",
                                        "multicast_solicit",    "unicast_solicit", "pending_packets",
                                        "pending_per_neighbor", "cache_entries",   "dad_transmits",
                                        "router_solicitations"};
constexpr std::string_view kIpKeys[] = {"ttl",
                                        "frag_max_flows",
                                        "frag_max_fragments",
                                        "frag_timeout_s",
                                        "frag_high_thresh",
                                        "frag_low_thresh",
                                        "pmtu_cache_entries",
                                        "pmtu_expires_s"};
constexpr std::string_view kImpairmentKeys[] = {"loss", "duplicate", "reorder", "seed"};
constexpr std::string_view kTcpKeys[] = {"max_connections",
                                         "mss_clamp",
                                         "rcv_buf",
                                         "rcv_buf_max",
                                         "snd_buf",
                                         "snd_buf_max",
                                         "window_scaling",
                                         "timestamps",
                                         "sack",
                                         "syncookies",
                                         "nodelay",
                                         "rto_initial_ms",
                                         "rto_min_ms",
                                         "rto_max_ms",
                                         "tlp_min_ms",
                                         "tlp_new_segments",
                                         "pacing",
                                         "pacing_ss_ratio",
                                         "pacing_ca_ratio",
                                         "pacing_burst",
                                         "retries",
                                         "syn_retries",
                                         "synack_retries",
                                         "delayed_ack_ms",
                                         "fin_timeout_s",
                                         "time_wait_s",
                                         "max_time_wait",
                                         "keepalive",
                                         "keepalive_idle_s",
                                         "keepalive_interval_s",
                                         "keepalive_probes",
                                         "user_timeout_ms",
                                         "syn_backlog",
                                         "max_backlog",
                                         "challenge_ack_limit",
                                         "ephemeral_ports",
                                         "dupthresh",
                                         "undo",
                                         "frto",
                                         "congestion",
                                         "ofo_max_segments",
                                         "invalid_ratelimit_ms",
                                         "persist_probes",
                                         "persist_timeout_s",
                                         "max_orphans",
                                         "orphan_retries"};

constexpr std::string_view kUdpKeys[] = {"max_sockets", "rcv_queue", "rcv_buf", "unreach_per_sec",
                                         "unreach_burst"};

constexpr TableSchema kSchema[] = {
    {"", "the top level", kTopKeys},
    {"eal", "[eal]", kEalKeys},
    {"runtime", "[runtime]", kRuntimeKeys},
    {"port", "[[port]]", kPortKeys},
    {"arp", "[arp]", kArpKeys},
    {"nd", "[nd]", kNdKeys},
    {"ip", "[ip]", kIpKeys},
    {"impairment", "[impairment]", kImpairmentKeys},
    {"tcp", "[tcp]", kTcpKeys},
    {"udp", "[udp]", kUdpKeys},
};

// ---- small syntax checks ------------------------------------------------

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_name(std::string_view s, std::size_t max_len) noexcept {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

bool is_hex(std::string_view s, std::size_t len) noexcept {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// What rte_pci_addr_parse() accepts: "DDDD:BB:DD.F" or "BB:DD.F", device
// 0..0x1f, function 0..7.
bool is_pci_address(std::string_view s) noexcept {
  if (s.size() == 12) {
    if (!is_hex(s.substr(0, 4), 4) || s[4] != ':') return false;
    s.remove_prefix(5);
  }
  if (s.size() != 7 || !is_hex(s.substr(0, 2), 2) || s[2] != ':' || !is_hex(s.substr(3, 2), 2) ||
      s[5] != '.') {
    return false;
  }
  const unsigned dev = static_cast<unsigned>(std::stoul(std::string(s.substr(3, 2)), nullptr, 16));
  return dev <= 0x1f && s[6] >= '0' && s[6] <= '7';
}

// A vdev driver name as DPDK registers them: net_tap0, net_af_packet1, net_memif.
bool is_vdev_name(std::string_view s) noexcept {
  if (!s.starts_with("net_") || s.size() == 4) return false;
  for (char c : s) {
    if (!is_name_char(c) || c == '-') return false;
  }
  return true;
}

constexpr std::string_view kDeviceAllowed =
    "must be a DPDK vdev string like \"net_tap0,iface=tern0\" (net_tap*, net_af_packet*, net_memif*, "
    "net_ring*, ...) or a PCI address like \"0000:03:00.0\", optionally followed by \",key=value\" "
    "device arguments";

// nullopt when fine, else what is wrong.
std::optional<std::string> device_problem(std::string_view dev) {
  const std::size_t comma = dev.find(',');
  const std::string_view head = dev.substr(0, comma);
  if (!is_vdev_name(head) && !is_pci_address(head)) return std::string(kDeviceAllowed);
  std::string_view args = comma == std::string_view::npos ? std::string_view{} : dev.substr(comma + 1);
  while (comma != std::string_view::npos) {
    const std::size_t next = args.find(',');
    const std::string_view kv = args.substr(0, next);
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0 || !is_name(kv.substr(0, eq), 64) ||
        kv.find_first_of(" \t") != std::string_view::npos) {
      return "device argument \"" + std::string(kv) +
             "\" must be key=value without spaces; arguments are separated by commas";
    }
    // Linux IFNAMSIZ is 16 including the NUL: names are 1..15 bytes.
    if (kv.substr(0, eq) == "iface" && (kv.size() - eq - 1 == 0 || kv.size() - eq - 1 > 15)) {
      return "iface must name a Linux interface: 1..15 characters (IFNAMSIZ)";
    }
    if (next == std::string_view::npos) break;
    args.remove_prefix(next + 1);
  }
  return std::nullopt;
}

// EAL options that Tern derives from typed keys; passing them again in
// eal.args would silently fight the typed value.
struct ManagedEalOption {
  std::string_view option;
  std::string_view key;
};
constexpr ManagedEalOption kManagedEal[] = {
    {"-l", "runtime.lcores"},          {"--lcores", "runtime.lcores"},
    {"-c", "runtime.lcores"},          {"--file-prefix", "eal.file_prefix"},
    {"--no-huge", "eal.no_huge"},      {"-m", "eal.memory_mb"},
    {"--socket-mem", "eal.memory_mb"},
};

bool matches_option(std::string_view arg, std::string_view option) noexcept {
  if (option.starts_with("--"))
    return arg == option || (arg.starts_with(option) && arg[option.size()] == '=');
  return arg.starts_with(option);  // "-l0-3" as well as "-l"
}

// ---- sections -----------------------------------------------------------

EalConfig read_eal(const Section& s) {
  EalConfig e;
  if (auto prefix = s.string("file_prefix", "must be 1..32 characters from [A-Za-z0-9_-]")) {
    if (!is_name(*prefix, 32))
      s.fail("file_prefix", *s.find("file_prefix"), "must be 1..32 characters from [A-Za-z0-9_-]");
    e.file_prefix = *prefix;
  }
  e.no_huge = s.boolean("no_huge", e.no_huge);
  e.memory_mb = static_cast<std::uint32_t>(s.integer("memory_mb", e.memory_mb, 64, 65536));
  if (const toml::array* args =
          s.array("args", "must be an array of strings, like [\"--log-level=pmd.net.tap:debug\"]")) {
    for (std::size_t i = 0; i < args->size(); ++i) {
      const toml::node& n = (*args)[i];
      const std::string path = "eal.args[" + std::to_string(i) + ']';
      const auto* str = n.as_string();
      if (!str || str->get().empty()) s.doc().fail_value(path, n, "must be a non-empty string");
      for (const auto& m : kManagedEal) {
        if (matches_option(str->get(), m.option)) {
          s.doc().fail_value(
              path, n,
              "Tern sets " + std::string(m.option) + " itself: set " + std::string(m.key) + " instead");
        }
      }
      e.args.push_back(str->get());
    }
  }
  return e;
}

RuntimeConfig read_runtime(const Section& s) {
  RuntimeConfig r;
  const std::string lcores_allowed =
      "must be a non-empty array of unique lcore ids in " + range_text(0, kMaxLcores - 1) + ", like [0, 1]";
  if (const toml::array* a = s.array("lcores", lcores_allowed)) {
    if (a->empty()) s.fail("lcores", *s.find("lcores"), lcores_allowed);
    r.lcores.clear();
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& n = (*a)[i];
      const std::string path = "runtime.lcores[" + std::to_string(i) + ']';
      const auto* v = n.as_integer();
      if (!v || v->get() < 0 || v->get() >= kMaxLcores) {
        s.doc().fail_value(path, n,
                           "must be an integer in " + range_text(0, kMaxLcores - 1) + " (RTE_MAX_LCORE)");
      }
      const auto id = static_cast<unsigned>(v->get());
      for (std::size_t j = 0; j < r.lcores.size(); ++j) {
        if (r.lcores[j] == id) {
          s.doc().fail_value(
              path, n, "duplicate of runtime.lcores[" + std::to_string(j) + "]: lcore ids must be unique");
        }
      }
      r.lcores.push_back(id);
    }
  }
  r.mbufs_per_worker =
      static_cast<std::uint32_t>(s.integer("mbufs_per_worker", r.mbufs_per_worker, 1024, 1048575));
  r.burst = static_cast<std::uint16_t>(s.integer("burst", r.burst, 1, 512));
  r.steer_ring_size =
      static_cast<std::uint32_t>(s.power_of_two("steer_ring_size", r.steer_ring_size, 64, 65536));
  return r;
}

constexpr std::string_view kAddressAllowed =
    "must be an interface address with prefix length 1..32, like \"10.77.0.2/24\"";

Ipv4Prefix read_address(const Section& s) {
  const auto text = s.string("address", kAddressAllowed);
  if (!text) s.missing("address", kAddressAllowed);
  const toml::node& n = *s.find("address");
  const auto p = parse_ipv4_prefix(*text);
  if (!p || p->len == 0) s.fail("address", n, kAddressAllowed);

  const std::uint32_t a = p->addr;
  const std::uint32_t mask = ~std::uint32_t{0} << (32 - p->len);
  const std::string subnet = format_ipv4_prefix({a & mask, p->len});
  auto reject = [&](const std::string& why) {
    s.fail("address", n, "must be a unicast host address: " + why);
  };
  if ((a >> 24) == 0) reject("0.0.0.0/8 means \"this network\" (RFC 1122 3.2.1.3)");
  if ((a >> 24) == 127) reject("127.0.0.0/8 is loopback (RFC 1122 3.2.1.3)");
  if ((a >> 28) == 0xe) reject("224.0.0.0/4 is multicast (RFC 5771)");
  if (a == 0xffffffff) reject("255.255.255.255 is the limited broadcast address (RFC 919)");
  // RFC 3021: a /31 has no network or broadcast address; a /32 is one host.
  if (p->len < 31 && (a & ~mask) == 0) reject(format_ipv4(a) + " is the network address of " + subnet);
  if (p->len < 31 && (a & ~mask) == ~mask) reject(format_ipv4(a) + " is the broadcast address of " + subnet);
  return *p;
}

std::optional<std::uint32_t> read_gateway(const Section& s, Ipv4Prefix addr) {
  const std::uint32_t mask = ~std::uint32_t{0} << (32 - addr.len);
  const std::string subnet = format_ipv4_prefix({addr.addr & mask, addr.len});
  const std::string allowed = "must be an IPv4 address inside " + subnet + " (the subnet of " +
                              s.key_path("address") + "), like \"" + format_ipv4((addr.addr & mask) | 1) +
                              '"';
  const auto text = s.string("gateway", allowed);
  if (!text) return std::nullopt;
  const toml::node& n = *s.find("gateway");
  const auto gw = parse_ipv4(*text);
  if (!gw || ((*gw ^ addr.addr) & mask) != 0) s.fail("gateway", n, allowed);
  if (*gw == addr.addr)
    s.fail("gateway", n, "must differ from " + s.key_path("address") + " (" + format_ipv4(addr.addr) + ')');
  if (addr.len < 31 && ((*gw & ~mask) == 0 || (*gw & ~mask) == ~mask)) {
    s.fail("gateway", n, "must be a host of " + subnet + ", not its network or broadcast address");
  }
  return gw;
}

PortConfig read_port(const Section& s) {
  PortConfig p;
  constexpr std::string_view kNameAllowed = "must be 1..32 characters from [A-Za-z0-9_-], like \"tap0\"";
  const auto name = s.string("name", kNameAllowed);
  if (!name) s.missing("name", kNameAllowed);
  if (!is_name(*name, 32)) s.fail("name", *s.find("name"), kNameAllowed);
  p.name = *name;

  const auto device = s.string("device", kDeviceAllowed);
  if (!device) s.missing("device", kDeviceAllowed);
  if (auto problem = device_problem(*device)) s.fail("device", *s.find("device"), *problem);
  p.device = *device;

  p.queues = static_cast<std::uint16_t>(s.integer("queues", p.queues, 0, 64));
  p.mtu = static_cast<std::uint16_t>(s.integer("mtu", p.mtu, 68, 9000));
  p.rx_ring = static_cast<std::uint16_t>(s.power_of_two("rx_ring", p.rx_ring, 64, 16384));
  p.tx_ring = static_cast<std::uint16_t>(s.power_of_two("tx_ring", p.tx_ring, 64, 16384));
  p.rx_checksum_offload = s.boolean("rx_checksum_offload", p.rx_checksum_offload);
  p.tx_checksum_offload = s.boolean("tx_checksum_offload", p.tx_checksum_offload);
  p.gro = s.boolean("gro", p.gro);
  p.tso = s.boolean("tso", p.tso);
  p.gso = s.boolean("gso", p.gso);
  p.tap_rx_trigger = s.boolean("tap_rx_trigger", p.tap_rx_trigger);
  const std::string_view steering = s.choice("steering", "auto", {"auto", "rss", "software"});
  p.steering = steering == "rss"        ? SteeringMode::kRss
               : steering == "software" ? SteeringMode::kSoftware
                                        : SteeringMode::kAuto;
  p.address = read_address(s);
  p.gateway = read_gateway(s, p.address);
  config_internal::read_port_ipv6(s, p);
  return p;
}

ArpConfig read_arp(const Section& s) {
  ArpConfig a;
  a.entry_ttl = Duration::s(s.integer("entry_ttl_s", a.entry_ttl.count_ns() / 1'000'000'000, 1, 86400));
  a.retry_interval = Duration::ms(s.integer("retry_ms", a.retry_interval.count_ms(), 10, 60000));
  a.max_retries = static_cast<std::uint32_t>(s.integer("retries", a.max_retries, 0, 20));
  a.max_pending = static_cast<std::uint32_t>(s.integer("pending_packets", a.max_pending, 0, 65536));
  a.cache_size = static_cast<std::uint32_t>(s.integer("cache_entries", a.cache_size, 16, 1048576));
  return a;
}

// Requires lo <= hi for two keys of one table, each already range-checked.
// Blames the key the file sets (the defaults are in order, so at least one is
// set when they are not) and names the other with its value.
void check_order(const Section& s, std::string_view lo_key, std::int64_t lo, std::string_view hi_key,
                 std::int64_t hi) {
  if (lo <= hi) return;
  auto other = [&](std::string_view key, std::int64_t v) {
    return s.key_path(key) + " = " + std::to_string(v) + (s.find(key) ? "" : " (default)");
  };
  if (const toml::node* n = s.find(lo_key)) s.fail(lo_key, *n, "must be at most " + other(hi_key, hi));
  if (const toml::node* n = s.find(hi_key)) s.fail(hi_key, *n, "must be at least " + other(lo_key, lo));
  s.doc().fail({}, s.key_path(lo_key) + " > " + s.key_path(hi_key) + " in the defaults");
}

// frag_high_thresh / frag_low_thresh: up to 1 GiB (a MemAccount charge is 32 bits).
constexpr std::int64_t kMaxFragThresh = std::int64_t{1} << 30;
constexpr IpConfig kIpDefaults{};
static_assert(kIpDefaults.frag_low_thresh <= kIpDefaults.frag_high_thresh);

IpConfig read_ip(const Section& s) {
  IpConfig ip;
  ip.default_ttl = static_cast<std::uint8_t>(s.integer("ttl", ip.default_ttl, 1, 255));
  ip.frag_max_flows = static_cast<std::uint32_t>(s.integer("frag_max_flows", ip.frag_max_flows, 1, 65536));
  ip.frag_max_fragments =
      static_cast<std::uint32_t>(s.integer("frag_max_fragments", ip.frag_max_fragments, 1, kIpFragMaxFrag));
  ip.frag_timeout =
      Duration::s(s.integer("frag_timeout_s", ip.frag_timeout.count_ns() / 1'000'000'000, 1, 120));
  // At least 64 KiB: room for a few datagrams of 8 fragments (18,432 bytes
  // each at 2,304 bytes of truesize per mbuf).
  ip.frag_high_thresh = static_cast<std::uint64_t>(
      s.integer("frag_high_thresh", static_cast<std::int64_t>(ip.frag_high_thresh), 65536, kMaxFragThresh));
  ip.frag_low_thresh = static_cast<std::uint64_t>(
      s.integer("frag_low_thresh", static_cast<std::int64_t>(ip.frag_low_thresh), 0, kMaxFragThresh));
  check_order(s, "frag_low_thresh", static_cast<std::int64_t>(ip.frag_low_thresh), "frag_high_thresh",
              static_cast<std::int64_t>(ip.frag_high_thresh));
  ip.pmtu_cache_entries =
      static_cast<std::uint32_t>(s.integer("pmtu_cache_entries", ip.pmtu_cache_entries, 0, 65536));
  // RFC 8201 §4 / RFC 1191 §6.3: no increase sooner than 5 minutes after a
  // decrease.
  ip.pmtu_expires =
      Duration::s(s.integer("pmtu_expires_s", ip.pmtu_expires.count_ns() / 1'000'000'000, 300, 86400));
  return ip;
}

ImpairmentConfig read_impairment(const Section& s) {
  ImpairmentConfig im;
  im.loss = s.probability("loss", im.loss);
  im.duplicate = s.probability("duplicate", im.duplicate);
  im.reorder = s.probability("reorder", im.reorder);
  im.seed = static_cast<std::uint64_t>(
      s.integer("seed", static_cast<std::int64_t>(im.seed), 0, std::numeric_limits<std::int64_t>::max()));
  return im;
}

Duration read_ms(const Section& s, std::string_view key, Duration def, std::int64_t lo, std::int64_t hi) {
  return Duration::ms(s.integer(key, def.count_ms(), lo, hi));
}

Duration read_s(const Section& s, std::string_view key, Duration def, std::int64_t lo, std::int64_t hi) {
  return Duration::s(s.integer(key, def.count_ns() / 1'000'000'000, lo, hi));
}

constexpr TcpConfig kTcpDefaults{};
static_assert(kTcpDefaults.rto_min <= kTcpDefaults.rto_initial &&
              kTcpDefaults.rto_initial <= kTcpDefaults.rto_max);
static_assert(kTcpDefaults.ephemeral_first <= kTcpDefaults.ephemeral_last);

// ephemeral_ports = [first, last], like Linux net.ipv4.ip_local_port_range.
// Below 1024 are the system ports (RFC 6335 §6) that a listener may own.
void read_ephemeral_ports(const Section& s, TcpConfig& t) {
  constexpr std::string_view kAllowed =
      "must be [first, last]: two integers with 1024 <= first <= last <= 65535, like [32768, 60999]";
  const toml::array* a = s.array("ephemeral_ports", kAllowed);
  if (!a) return;
  if (a->size() != 2) s.fail("ephemeral_ports", *s.find("ephemeral_ports"), kAllowed);
  std::int64_t port[2] = {};
  for (std::size_t i = 0; i < 2; ++i) {
    const toml::node& n = (*a)[i];
    const auto* v = n.as_integer();
    if (!v || v->get() < 1024 || v->get() > 65535) {
      s.doc().fail_value(s.key_path("ephemeral_ports") + '[' + std::to_string(i) + ']', n,
                         "must be an integer in " + range_text(1024, 65535));
    }
    port[i] = v->get();
  }
  if (port[0] > port[1]) {
    s.fail("ephemeral_ports", *s.find("ephemeral_ports"),
           "first (" + s.key_path("ephemeral_ports") + "[0]) must not exceed last (" +
               s.key_path("ephemeral_ports") + "[1]); " + std::string(kAllowed));
  }
  t.ephemeral_first = static_cast<std::uint16_t>(port[0]);
  t.ephemeral_last = static_cast<std::uint16_t>(port[1]);
}

UdpConfig read_udp(const Section& s) {
  UdpConfig u;
  u.max_sockets = static_cast<std::uint32_t>(s.integer("max_sockets", u.max_sockets, 1, 65536));
  u.rcv_queue = static_cast<std::uint32_t>(s.integer("rcv_queue", u.rcv_queue, 1, 65536));
  // At least one mbuf's truesize (2,304 bytes); a datagram is queued while
  // the queue holds less than this, so any one datagram fits an empty queue.
  u.rcv_buf = static_cast<std::uint32_t>(s.integer("rcv_buf", u.rcv_buf, 2304, 1 << 30));
  u.unreach_per_sec = static_cast<std::uint32_t>(s.integer("unreach_per_sec", u.unreach_per_sec, 0, 1000000));
  u.unreach_burst = static_cast<std::uint32_t>(s.integer("unreach_burst", u.unreach_burst, 1, 1000000));
  return u;
}

TcpConfig read_tcp(const Section& s) {
  TcpConfig t;
  t.max_connections =
      static_cast<std::uint32_t>(s.integer("max_connections", t.max_connections, 1, 16777216));
  // 88 is Linux's TCP_MIN_MSS; 65495 = 65535 - 20 (IPv4) - 20 (TCP).
  const std::int64_t clamp = s.integer("mss_clamp", t.mss_clamp, 0, 65495);
  if (clamp != 0 && clamp < 88) {
    s.fail("mss_clamp", *s.find("mss_clamp"), "must be 0 (derive from the MTU) or an integer in 88..65495");
  }
  t.mss_clamp = static_cast<std::uint16_t>(clamp);

  // 2^30 is the largest window RFC 7323 §2.3 can advertise (shift 14).
  t.rcv_buf = static_cast<std::uint32_t>(s.integer("rcv_buf", t.rcv_buf, 4096, 1 << 30));
  // Autotuning grows a connection's buffer up to `key` (Linux's tcp_rmem[2]
  // and tcp_wmem[2]). Left unset, a ceiling below the buffer is the buffer
  // itself: no autotuning; set below it, it is a mistake.
  const auto ceiling = [&s](std::string_view key, std::uint32_t def, std::uint32_t buf,
                            std::string_view why) {
    const auto v = static_cast<std::uint32_t>(s.integer(key, def, 4096, 1 << 30));
    if (s.find(key) != nullptr && v < buf) s.fail(key, *s.find(key), why);
    return std::max(v, buf);
  };
  t.rcv_buf_max = ceiling("rcv_buf_max", t.rcv_buf_max, t.rcv_buf,
                          "must be at least rcv_buf (equal to it: no autotuning)");
  t.snd_buf = static_cast<std::uint32_t>(s.integer("snd_buf", t.snd_buf, 4096, 1 << 30));
  t.snd_buf_max = ceiling("snd_buf_max", t.snd_buf_max, t.snd_buf,
                          "must be at least snd_buf (equal to it: no autotuning)");
  t.window_scaling = s.boolean("window_scaling", t.window_scaling);
  t.timestamps = s.boolean("timestamps", t.timestamps);
  t.sack = s.boolean("sack", t.sack);
  t.syncookies = s.boolean("syncookies", t.syncookies);
  t.nodelay = s.boolean("nodelay", t.nodelay);

  // RFC 6298 §2.5 allows a ceiling on the RTO as long as it is at least 60 s.
  t.rto_initial = read_ms(s, "rto_initial_ms", t.rto_initial, 1, 600000);
  t.rto_min = read_ms(s, "rto_min_ms", t.rto_min, 1, 600000);
  t.rto_max = read_ms(s, "rto_max_ms", t.rto_max, 1, 600000);
  check_order(s, "rto_min_ms", t.rto_min.count_ms(), "rto_initial_ms", t.rto_initial.count_ms());
  check_order(s, "rto_initial_ms", t.rto_initial.count_ms(), "rto_max_ms", t.rto_max.count_ms());
  // RFC 8985 §7.2 sets no floor under 2 * SRTT; a probe later than the RTO
  // never fires, so a floor past rto_min would only turn probes off.
  t.tlp_min = read_ms(s, "tlp_min_ms", t.tlp_min, 1, 1000);
  t.tlp_new_segments = static_cast<std::uint8_t>(s.integer("tlp_new_segments", t.tlp_new_segments, 1, 2));
  t.pacing = s.boolean("pacing", t.pacing);
  // Linux bounds both sysctls at 0..1000 %; below 100 % a window-limited
  // sender could never send its window in an RTT.
  t.pacing_ss_ratio = static_cast<std::uint32_t>(s.integer("pacing_ss_ratio", t.pacing_ss_ratio, 100, 1000));
  t.pacing_ca_ratio = static_cast<std::uint32_t>(s.integer("pacing_ca_ratio", t.pacing_ca_ratio, 100, 1000));
  t.pacing_burst = static_cast<std::uint32_t>(s.integer("pacing_burst", t.pacing_burst, 2, 64));
  t.retries = static_cast<std::uint32_t>(s.integer("retries", t.retries, 1, 255));
  // 127 is Linux's MAX_TCP_SYNCNT.
  t.syn_retries = static_cast<std::uint32_t>(s.integer("syn_retries", t.syn_retries, 1, 127));
  t.synack_retries = static_cast<std::uint32_t>(s.integer("synack_retries", t.synack_retries, 1, 127));
  // RFC 9293 §3.8.6.3: an ACK must not be delayed more than 0.5 s; 200 ms is
  // Linux's TCP_DELACK_MAX.
  t.delayed_ack = read_ms(s, "delayed_ack_ms", t.delayed_ack, 1, 200);
  t.fin_timeout = read_s(s, "fin_timeout_s", t.fin_timeout, 1, 3600);
  t.time_wait = read_s(s, "time_wait_s", t.time_wait, 1, 600);
  t.max_time_wait = static_cast<std::uint32_t>(s.integer("max_time_wait", t.max_time_wait, 0, 16777216));

  // 32767 and 127 are Linux's MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL / MAX_TCP_KEEPCNT.
  t.keepalive = s.boolean("keepalive", t.keepalive);
  t.keepalive_idle = read_s(s, "keepalive_idle_s", t.keepalive_idle, 1, 32767);
  t.keepalive_interval = read_s(s, "keepalive_interval_s", t.keepalive_interval, 1, 32767);
  t.keepalive_probes = static_cast<std::uint32_t>(s.integer("keepalive_probes", t.keepalive_probes, 1, 127));
  // TCP_USER_TIMEOUT takes an int of milliseconds: INT_MAX is Linux's bound.
  t.user_timeout = read_ms(s, "user_timeout_ms", t.user_timeout, 0, 2147483647);

  t.syn_backlog = static_cast<std::uint32_t>(s.integer("syn_backlog", t.syn_backlog, 1, 1048576));
  t.max_backlog = static_cast<std::uint32_t>(s.integer("max_backlog", t.max_backlog, 1, 1048576));
  t.challenge_ack_limit =
      static_cast<std::uint32_t>(s.integer("challenge_ack_limit", t.challenge_ack_limit, 1, 1000000));
  read_ephemeral_ports(s, t);
  t.dupthresh = static_cast<std::uint32_t>(s.integer("dupthresh", t.dupthresh, 1, 1000));
  t.undo = s.boolean("undo", t.undo);
  t.frto = s.boolean("frto", t.frto);
  // Linux's names; "reno" is Linux's name for the same NewReno.
  const std::string_view cc = s.choice("congestion",
                                       t.congestion == CongestionAlgorithm::kCubic ? "cubic"
                                       : t.congestion == CongestionAlgorithm::kBbr ? "bbr"
                                                                                   : "newreno",
                                       {"cubic", "newreno", "reno", "bbr"});
  t.congestion = cc == "cubic" ? CongestionAlgorithm::kCubic
                 : cc == "bbr" ? CongestionAlgorithm::kBbr
                               : CongestionAlgorithm::kNewReno;
  t.ofo_max_segments = static_cast<std::uint16_t>(s.integer("ofo_max_segments", t.ofo_max_segments, 0, 4096));
  t.invalid_ratelimit = read_ms(s, "invalid_ratelimit_ms", t.invalid_ratelimit, 0, 60000);
  t.persist_probes = static_cast<std::uint32_t>(s.integer("persist_probes", t.persist_probes, 1, 255));
  t.persist_timeout = read_s(s, "persist_timeout_s", t.persist_timeout, 0, 86400);
  t.max_orphans = static_cast<std::uint32_t>(s.integer("max_orphans", t.max_orphans, 0, 16777216));
  t.orphan_retries = static_cast<std::uint32_t>(s.integer("orphan_retries", t.orphan_retries, 1, 255));
  return t;
}

// A worker's mbuf pool fills its RX ring, backs its TX ring and holds a burst
// in flight; with fewer mbufs queue setup fails or RX starves under load.
void check_mbufs(const Document& doc, const toml::table& root, const Config& c) {
  const PortConfig& p = c.ports.front();
  const std::uint64_t need = std::uint64_t{p.rx_ring} + p.tx_ring + c.runtime.burst;
  if (c.runtime.mbufs_per_worker >= need) return;
  const std::string what =
      "must be at least port[0].rx_ring + port[0].tx_ring + runtime.burst = " + std::to_string(need) +
      " (a worker's pool fills its RX ring and TX ring)";
  if (const toml::node* n = root.at_path("runtime.mbufs_per_worker").node()) {
    doc.fail_value("runtime.mbufs_per_worker", *n, what);
  }
  doc.fail(
      {}, "runtime.mbufs_per_worker = " + std::to_string(c.runtime.mbufs_per_worker) + " (default): " + what);
}

}  // namespace

std::string_view to_string(SteeringMode m) noexcept {
  switch (m) {
    case SteeringMode::kAuto:
      return "auto";
    case SteeringMode::kRss:
      return "rss";
    case SteeringMode::kSoftware:
      return "software";
  }
  return "?";
}

Config parse_config(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::string where(origin);
    if (e.source().begin.line > 0) {
      where += ':' + std::to_string(e.source().begin.line) + ':' + std::to_string(e.source().begin.column);
    }
    throw ConfigError(where + ": TOML syntax error: " + std::string(e.description()));
  }

  const Document doc(toml_text, origin, kSchema);
  const Section top(doc, root, "", "");
  Config c;
  c.log_level = top.choice("log_level", c.log_level, {"error", "warning", "notice", "info", "debug"});
  if (const toml::table* t = top.subtable("eal")) c.eal = read_eal(Section(doc, *t, "eal", "eal"));
  if (const toml::table* t = top.subtable("runtime"))
    c.runtime = read_runtime(Section(doc, *t, "runtime", "runtime"));

  const toml::array* ports = top.table_array("port");
  if (!ports || ports->empty()) {
    doc.fail({}, "no [[port]] table: exactly one [[port]] with name, device and address is required");
  }
  if (ports->size() > 1) {
    doc.fail((*ports)[1].source().begin, "port[1]: only one [[port]] is supported in this version; found " +
                                             std::to_string(ports->size()));
  }
  c.ports.push_back(read_port(Section(doc, *(*ports)[0].as_table(), "port", "port[0]")));

  if (const toml::table* t = top.subtable("arp")) c.arp = read_arp(Section(doc, *t, "arp", "arp"));
  if (const toml::table* t = top.subtable("nd"))
    c.nd = config_internal::read_nd(Section(doc, *t, "nd", "nd"));
  if (const toml::table* t = top.subtable("ip")) c.ip = read_ip(Section(doc, *t, "ip", "ip"));
  if (const toml::table* t = top.subtable("impairment")) {
    c.impairment = read_impairment(Section(doc, *t, "impairment", "impairment"));
  }
  if (const toml::table* t = top.subtable("tcp")) c.tcp = read_tcp(Section(doc, *t, "tcp", "tcp"));
  if (const toml::table* t = top.subtable("udp")) c.udp = read_udp(Section(doc, *t, "udp", "udp"));
  check_mbufs(doc, root, c);
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  return parse_config(text.str(), path);
}

}  // namespace tern
