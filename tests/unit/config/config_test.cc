#include "config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tern {
namespace {

// Renders a document with one [[port]]: the required keys take a default
// unless `port_lines` sets them; `before` goes at the top, `after` after the port.
std::string doc(std::string_view before, std::string_view port_lines = "", std::string_view after = "") {
  std::string out(before);
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += "[[port]]\n";
  auto sets = [&](std::string_view key) {
    const std::string needle = std::string(key) + " =";
    return std::string_view(port_lines).starts_with(needle) ||
           std::string(port_lines).find("\n" + needle) != std::string::npos;
  };
  if (!sets("name")) out += "name = \"tap0\"\n";
  if (!sets("device")) out += "device = \"net_tap0,iface=tern0\"\n";
  if (!sets("address")) out += "address = \"10.77.0.2/24\"\n";
  out += port_lines;
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += after;
  return out;
}

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "tern.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

// A document whose one non-port table is `table`, holding `line`.
std::string in(std::string_view table, std::string_view line) {
  return doc("", "", "[" + std::string(table) + "]\n" + std::string(line) + "\n");
}

// ---- example configs ------------------------------------------------------

TEST(ConfigExamples, EveryExampleParses) {
  const std::filesystem::path dir = TERN_CONFIG_DIR;
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    seen.insert(entry.path().filename().string());
    EXPECT_NO_THROW({
      try {
        load_config(entry.path().string());
      } catch (const ConfigError& e) {
        ADD_FAILURE() << e.what();
      }
    }) << entry.path();
  }
  for (const char* name : {"tap.toml", "af_packet.toml", "af_xdp.toml", "memif.toml", "pci.toml"}) {
    EXPECT_TRUE(seen.count(name)) << name << " missing from " << dir;
  }
}

TEST(ConfigExamples, TapIsWhatTheDocsSay) {
  const Config c = load_config(std::string(TERN_CONFIG_DIR) + "/tap.toml");
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].device, "net_tap0,iface=tern0");
  EXPECT_EQ(format_ipv4_prefix(c.ports[0].address), "10.77.0.2/24");
  EXPECT_EQ(c.runtime.lcores.size(), 2u);
}

TEST(ConfigLoad, MissingFileNamesThePath) {
  try {
    load_config("/nonexistent/tern.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tern.toml: cannot open"), std::string::npos)
        << e.what();
  }
}

// ---- defaults and a full config -------------------------------------------

TEST(ConfigDefaults, MinimalConfigTakesHeaderDefaults) {
  const Config c = parse_config(doc(""), "tern.toml");
  const Config d;
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.eal.file_prefix, d.eal.file_prefix);
  EXPECT_EQ(c.eal.no_huge, d.eal.no_huge);
  EXPECT_EQ(c.eal.memory_mb, 512u);
  EXPECT_TRUE(c.eal.args.empty());
  EXPECT_EQ(c.runtime.lcores, d.runtime.lcores);
  EXPECT_EQ(c.runtime.mbufs_per_worker, 8191u);
  EXPECT_EQ(c.runtime.burst, 32u);
  EXPECT_EQ(c.runtime.steer_ring_size, 1024u);
  ASSERT_EQ(c.ports.size(), 1u);
  const PortConfig& p = c.ports[0];
  EXPECT_EQ(p.name, "tap0");
  EXPECT_EQ(p.queues, 0u);
  EXPECT_EQ(p.mtu, 1500u);
  EXPECT_EQ(p.rx_ring, 1024u);
  EXPECT_EQ(p.tx_ring, 1024u);
  EXPECT_TRUE(p.rx_checksum_offload);
  EXPECT_TRUE(p.tx_checksum_offload);
  EXPECT_TRUE(p.tso);
  EXPECT_FALSE(p.tap_rx_trigger);
  EXPECT_EQ(p.steering, SteeringMode::kAuto);
  EXPECT_EQ(p.address.addr, 0x0a4d0002u);
  EXPECT_EQ(p.address.len, 24);
  EXPECT_FALSE(p.gateway);
  EXPECT_EQ(c.arp.entry_ttl, Duration::s(300));
  EXPECT_EQ(c.arp.retry_interval, Duration::ms(1000));
  EXPECT_EQ(c.arp.max_retries, 3u);
  EXPECT_EQ(c.arp.max_pending, 64u);
  EXPECT_EQ(c.arp.cache_size, 1024u);
  EXPECT_EQ(c.ip.default_ttl, 64);
  EXPECT_EQ(c.ip.frag_max_flows, 1024u);
  EXPECT_EQ(c.ip.frag_max_fragments, kIpFragMaxFrag);
  EXPECT_EQ(c.ip.frag_timeout, Duration::s(30));
  EXPECT_EQ(c.ip.pmtu_cache_entries, 256u);
  EXPECT_EQ(c.ip.pmtu_expires, Duration::s(600));
  EXPECT_EQ(c.ip.frag_high_thresh, 1048576u);
  EXPECT_EQ(c.ip.frag_low_thresh, 786432u);
  EXPECT_EQ(c.impairment.loss, 0);
  EXPECT_EQ(c.impairment.duplicate, 0);
  EXPECT_EQ(c.impairment.reorder, 0);
  EXPECT_EQ(c.impairment.seed, 1u);
  EXPECT_EQ(c.tcp.max_connections, 65536u);
  EXPECT_EQ(c.tcp.mss_clamp, 0u);
  // The values docs/config.md promises, written out so a changed default shows.
  const TcpConfig& t = c.tcp;
  EXPECT_EQ(t.rcv_buf, 262144u);
  EXPECT_EQ(t.snd_buf, 262144u);
  EXPECT_TRUE(t.window_scaling);
  EXPECT_TRUE(t.timestamps);
  EXPECT_TRUE(t.sack);
  EXPECT_TRUE(t.syncookies);
  EXPECT_FALSE(t.nodelay);
  EXPECT_EQ(t.rto_initial, Duration::ms(1000));
  EXPECT_EQ(t.rto_min, Duration::ms(200));
  EXPECT_EQ(t.rto_max, Duration::ms(120000));
  EXPECT_EQ(t.retries, 15u);
  EXPECT_EQ(t.syn_retries, 6u);
  EXPECT_EQ(t.synack_retries, 5u);
  EXPECT_EQ(t.delayed_ack, Duration::ms(40));
  EXPECT_EQ(t.fin_timeout, Duration::s(60));
  EXPECT_EQ(t.time_wait, Duration::s(60));
  EXPECT_EQ(t.max_time_wait, 65536u);
  EXPECT_FALSE(t.keepalive);
  EXPECT_EQ(t.keepalive_idle, Duration::s(7200));
  EXPECT_EQ(t.keepalive_interval, Duration::s(75));
  EXPECT_EQ(t.keepalive_probes, 9u);
  EXPECT_EQ(t.syn_backlog, 1024u);
  EXPECT_EQ(t.max_backlog, 4096u);
  EXPECT_EQ(t.challenge_ack_limit, 1000u);
  EXPECT_EQ(t.ephemeral_first, 32768u);
  EXPECT_EQ(t.ephemeral_last, 60999u);
  EXPECT_EQ(t.dupthresh, 3u);
  EXPECT_EQ(t.congestion, CongestionAlgorithm::kCubic);  // Linux's default
  EXPECT_EQ(t.ofo_max_segments, 256u);
  EXPECT_EQ(t.invalid_ratelimit, Duration::ms(500));
  EXPECT_EQ(t.persist_probes, 15u);
  EXPECT_EQ(t.persist_timeout, Duration::s(120));
  EXPECT_EQ(t.user_timeout, Duration{});  // off, as Linux's TCP_USER_TIMEOUT
  EXPECT_EQ(t.max_orphans, 16384u);
  EXPECT_EQ(t.orphan_retries, 8u);
}

TEST(ConfigDefaults, EveryKeyLandsInItsField) {
  const Config c = parse_config(R"(
log_level = "debug"
[eal]
file_prefix = "t-1_x"
no_huge = true
memory_mb = 1024
args = ["--in-memory", "--log-level=lib.eal:debug"]
[runtime]
lcores = [3, 1, 2]
mbufs_per_worker = 16383
burst = 64
steer_ring_size = 2048
[[port]]
name = "p-1"
device = "0000:03:00.1,rx_vec_en=0"
queues = 4
mtu = 9000
rx_ring = 4096
tx_ring = 512
rx_checksum_offload = false
tx_checksum_offload = false
tso = false
tap_rx_trigger = true
steering = "software"
address = "192.0.2.10/28"
gateway = "192.0.2.1"
[arp]
entry_ttl_s = 60
retry_ms = 250
retries = 0
pending_packets = 0
cache_entries = 16
[ip]
ttl = 255
frag_max_flows = 1
frag_max_fragments = 1
frag_timeout_s = 120
frag_high_thresh = 65536
frag_low_thresh = 0
pmtu_cache_entries = 0
pmtu_expires_s = 300
[impairment]
loss = 0.25
duplicate = 1
reorder = 0
seed = 0xdeadbeef
[tcp]
max_connections = 16777216
mss_clamp = 1460
rcv_buf = 1048576
snd_buf = 65536
window_scaling = false
timestamps = false
sack = false
syncookies = false
nodelay = true
rto_initial_ms = 3000
rto_min_ms = 1000
rto_max_ms = 60000
tlp_min_ms = 10
tlp_new_segments = 1
pacing = true
pacing_ss_ratio = 300
pacing_ca_ratio = 150
pacing_burst = 4
retries = 8
syn_retries = 3
synack_retries = 2
delayed_ack_ms = 200
fin_timeout_s = 30
time_wait_s = 120
max_time_wait = 0
keepalive = true
keepalive_idle_s = 600
keepalive_interval_s = 10
keepalive_probes = 5
syn_backlog = 128
max_backlog = 512
challenge_ack_limit = 100
ephemeral_ports = [49152, 65535]
dupthresh = 10
ofo_max_segments = 0
)",
                                "full.toml");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.eal.file_prefix, "t-1_x");
  EXPECT_TRUE(c.eal.no_huge);
  EXPECT_EQ(c.eal.memory_mb, 1024u);
  EXPECT_EQ(c.eal.args, (std::vector<std::string>{"--in-memory", "--log-level=lib.eal:debug"}));
  EXPECT_EQ(c.runtime.lcores, (std::vector<unsigned>{3, 1, 2}));
  EXPECT_EQ(c.runtime.mbufs_per_worker, 16383u);
  EXPECT_EQ(c.runtime.burst, 64u);
  EXPECT_EQ(c.runtime.steer_ring_size, 2048u);
  const PortConfig& p = c.ports.at(0);
  EXPECT_EQ(p.name, "p-1");
  EXPECT_EQ(p.device, "0000:03:00.1,rx_vec_en=0");
  EXPECT_EQ(p.queues, 4u);
  EXPECT_EQ(p.mtu, 9000u);
  EXPECT_EQ(p.rx_ring, 4096u);
  EXPECT_EQ(p.tx_ring, 512u);
  EXPECT_FALSE(p.rx_checksum_offload);
  EXPECT_FALSE(p.tx_checksum_offload);
  EXPECT_FALSE(p.tso);
  EXPECT_TRUE(p.tap_rx_trigger);
  EXPECT_EQ(p.steering, SteeringMode::kSoftware);
  EXPECT_EQ(format_ipv4_prefix(p.address), "192.0.2.10/28");
  EXPECT_EQ(p.gateway, 0xc0000201u);
  EXPECT_EQ(c.arp.entry_ttl, Duration::s(60));
  EXPECT_EQ(c.arp.retry_interval, Duration::ms(250));
  EXPECT_EQ(c.arp.max_retries, 0u);
  EXPECT_EQ(c.arp.max_pending, 0u);
  EXPECT_EQ(c.arp.cache_size, 16u);
  EXPECT_EQ(c.ip.default_ttl, 255);
  EXPECT_EQ(c.ip.frag_max_flows, 1u);
  EXPECT_EQ(c.ip.frag_max_fragments, 1u);
  EXPECT_EQ(c.ip.frag_timeout, Duration::s(120));
  EXPECT_EQ(c.ip.frag_high_thresh, 65536u);
  EXPECT_EQ(c.ip.frag_low_thresh, 0u);
  EXPECT_EQ(c.ip.pmtu_cache_entries, 0u);
  EXPECT_EQ(c.ip.pmtu_expires, Duration::s(300));
  EXPECT_EQ(c.impairment.loss, 0.25);
  EXPECT_EQ(c.impairment.duplicate, 1.0);
  EXPECT_EQ(c.impairment.reorder, 0.0);
  EXPECT_EQ(c.impairment.seed, 0xdeadbeefu);
  EXPECT_EQ(c.tcp.max_connections, 16777216u);
  EXPECT_EQ(c.tcp.mss_clamp, 1460u);
  const TcpConfig& t = c.tcp;
  EXPECT_EQ(t.rcv_buf, 1048576u);
  EXPECT_EQ(t.snd_buf, 65536u);
  EXPECT_FALSE(t.window_scaling);
  EXPECT_FALSE(t.timestamps);
  EXPECT_FALSE(t.sack);
  EXPECT_FALSE(t.syncookies);
  EXPECT_TRUE(t.nodelay);
  EXPECT_EQ(t.rto_initial, Duration::ms(3000));
  EXPECT_EQ(t.rto_min, Duration::ms(1000));
  EXPECT_EQ(t.rto_max, Duration::ms(60000));
  EXPECT_EQ(t.tlp_min, Duration::ms(10));
  EXPECT_EQ(t.tlp_new_segments, 1u);
  EXPECT_TRUE(t.pacing);
  EXPECT_EQ(t.pacing_ss_ratio, 300u);
  EXPECT_EQ(t.pacing_ca_ratio, 150u);
  EXPECT_EQ(t.pacing_burst, 4u);
  EXPECT_EQ(t.retries, 8u);
  EXPECT_EQ(t.syn_retries, 3u);
  EXPECT_EQ(t.synack_retries, 2u);
  EXPECT_EQ(t.delayed_ack, Duration::ms(200));
  EXPECT_EQ(t.fin_timeout, Duration::s(30));
  EXPECT_EQ(t.time_wait, Duration::s(120));
  EXPECT_EQ(t.max_time_wait, 0u);
  EXPECT_TRUE(t.keepalive);
  EXPECT_EQ(t.keepalive_idle, Duration::s(600));
  EXPECT_EQ(t.keepalive_interval, Duration::s(10));
  EXPECT_EQ(t.keepalive_probes, 5u);
  EXPECT_EQ(t.syn_backlog, 128u);
  EXPECT_EQ(t.max_backlog, 512u);
  EXPECT_EQ(t.challenge_ack_limit, 100u);
  EXPECT_EQ(t.ephemeral_first, 49152u);
  EXPECT_EQ(t.ephemeral_last, 65535u);
  EXPECT_EQ(t.dupthresh, 10u);
  EXPECT_EQ(t.ofo_max_segments, 0u);
}

// Autotuning's ceilings: Linux's 6 MiB (tcp_rmem[2]) for receiving and
// 4 MiB (tcp_wmem[2]) for sending by default; left unset, never below
// rcv_buf / snd_buf (a larger buffer alone means no autotuning).
TEST(ConfigTcp, BufMaxDefaultsToLinuxAndFollowsALargerBuf) {
  auto tcp = [](std::string_view lines) { return parse_config(in("tcp", lines), "tern.toml").tcp; };
  EXPECT_EQ(tcp("rcv_buf = 262144").rcv_buf_max, 6291456u);
  EXPECT_EQ(tcp("rcv_buf = 8388608").rcv_buf_max, 8388608u);
  EXPECT_EQ(tcp("rcv_buf = 8388608\nrcv_buf_max = 16777216").rcv_buf_max, 16777216u);
  // The send side the same.
  EXPECT_EQ(tcp("snd_buf = 262144").snd_buf_max, 4194304u);
  EXPECT_EQ(tcp("snd_buf = 8388608").snd_buf_max, 8388608u);
  EXPECT_EQ(tcp("snd_buf = 262144\nsnd_buf_max = 262144").snd_buf_max, 262144u);
}

// Each [tcp] key at the ends of its range lands unchanged; the cast to a
// narrower field must not wrap (ofo_max_segments 4096 in a uint16_t, 2^30 in rcv_buf).
TEST(ConfigTcp, RangeEndsLandInTheirFields) {
  auto tcp = [](std::string_view lines) { return parse_config(in("tcp", lines), "tern.toml").tcp; };
  EXPECT_EQ(tcp("rcv_buf = 4096").rcv_buf, 4096u);
  EXPECT_EQ(tcp("rcv_buf = 1073741824").rcv_buf, 1073741824u);
  EXPECT_EQ(tcp("rcv_buf = 4096\nrcv_buf_max = 4096").rcv_buf_max, 4096u);
  EXPECT_EQ(tcp("rcv_buf_max = 1073741824").rcv_buf_max, 1073741824u);
  EXPECT_EQ(tcp("snd_buf = 4096\nsnd_buf_max = 4096").snd_buf_max, 4096u);
  EXPECT_EQ(tcp("snd_buf = 4096").snd_buf, 4096u);
  EXPECT_EQ(tcp("snd_buf = 1073741824").snd_buf, 1073741824u);
  EXPECT_EQ(tcp("rto_min_ms = 1\nrto_initial_ms = 1\nrto_max_ms = 1").rto_max, Duration::ms(1));
  const TcpConfig top = tcp("rto_min_ms = 600000\nrto_initial_ms = 600000\nrto_max_ms = 600000");
  EXPECT_EQ(top.rto_min, Duration::ms(600000));
  EXPECT_EQ(top.rto_initial, Duration::ms(600000));
  EXPECT_EQ(top.rto_max, Duration::ms(600000));
  EXPECT_EQ(tcp("retries = 1").retries, 1u);
  EXPECT_EQ(tcp("retries = 255").retries, 255u);
  EXPECT_EQ(tcp("syn_retries = 127").syn_retries, 127u);
  EXPECT_EQ(tcp("synack_retries = 127").synack_retries, 127u);
  EXPECT_EQ(tcp("delayed_ack_ms = 1").delayed_ack, Duration::ms(1));
  EXPECT_EQ(tcp("fin_timeout_s = 3600").fin_timeout, Duration::s(3600));
  EXPECT_EQ(tcp("time_wait_s = 1").time_wait, Duration::s(1));
  EXPECT_EQ(tcp("time_wait_s = 600").time_wait, Duration::s(600));
  EXPECT_EQ(tcp("max_time_wait = 16777216").max_time_wait, 16777216u);
  EXPECT_EQ(tcp("keepalive_idle_s = 32767").keepalive_idle, Duration::s(32767));
  EXPECT_EQ(tcp("keepalive_interval_s = 1").keepalive_interval, Duration::s(1));
  EXPECT_EQ(tcp("keepalive_probes = 127").keepalive_probes, 127u);
  EXPECT_EQ(tcp("syn_backlog = 1048576").syn_backlog, 1048576u);
  EXPECT_EQ(tcp("max_backlog = 1").max_backlog, 1u);
  EXPECT_EQ(tcp("challenge_ack_limit = 1000000").challenge_ack_limit, 1000000u);
  const TcpConfig one_port = tcp("ephemeral_ports = [1024, 1024]");
  EXPECT_EQ(one_port.ephemeral_first, 1024u);
  EXPECT_EQ(one_port.ephemeral_last, 1024u);
  EXPECT_EQ(tcp("dupthresh = 1000").dupthresh, 1000u);
  EXPECT_TRUE(TcpConfig{}.undo);
  EXPECT_TRUE(TcpConfig{}.frto);
  EXPECT_FALSE(tcp("undo = false").undo);
  EXPECT_FALSE(tcp("frto = false").frto);
  EXPECT_EQ(tcp("congestion = \"newreno\"").congestion, CongestionAlgorithm::kNewReno);
  EXPECT_EQ(tcp("congestion = \"reno\"").congestion, CongestionAlgorithm::kNewReno);
  EXPECT_EQ(tcp("congestion = \"cubic\"").congestion, CongestionAlgorithm::kCubic);
  EXPECT_EQ(tcp("congestion = \"bbr\"").congestion, CongestionAlgorithm::kBbr);
  EXPECT_EQ(tcp("ofo_max_segments = 4096").ofo_max_segments, 4096u);
  EXPECT_EQ(tcp("invalid_ratelimit_ms = 0").invalid_ratelimit, Duration{});
  EXPECT_EQ(tcp("persist_timeout_s = 0").persist_timeout, Duration{});
  EXPECT_EQ(tcp("persist_probes = 255").persist_probes, 255u);
  EXPECT_EQ(tcp("user_timeout_ms = 30000").user_timeout, Duration::ms(30000));
  EXPECT_EQ(tcp("user_timeout_ms = 2147483647").user_timeout, Duration::ms(2147483647));
  // Setting one RTO key leaves the others at their defaults, as long as the order holds.
  const TcpConfig lone = tcp("rto_min_ms = 1000");
  EXPECT_EQ(lone.rto_min, Duration::ms(1000));
  EXPECT_EQ(lone.rto_initial, Duration::ms(1000));
  EXPECT_EQ(lone.rto_max, Duration::ms(120000));
}

TEST(ConfigValid, EdgeValuesAreAccepted) {
  for (const std::string& text : {
           doc("", "address = \"10.0.0.0/31\"\ngateway = \"10.0.0.1\""),  // RFC 3021
           doc("", "address = \"10.0.0.1/32\""), doc("", "address = \"10.0.0.1/1\""),
           doc("", "device = \"03:00.0\""), doc("", "device = \"net_memif0,role=client,socket=/run/m.sock\""),
           doc("", "device = \"net_ring0\""), doc("", "steering = \"rss\""),
           doc("[runtime]\nlcores = [127]\nsteer_ring_size = 65536\n"),
           doc("[runtime]\nmbufs_per_worker = 1048575\n", "rx_ring = 16384\ntx_ring = 16384"),
           doc("", "", "[tcp]\nmss_clamp = 88\n"), doc("", "", "[tcp]\nmss_clamp = 65495\n"),
           doc("", "", "[ip]\nfrag_max_fragments = 8\n"),
           doc("eal.no_huge = true\nruntime.burst = 512\n"),  // dotted keys work too
       }) {
    EXPECT_EQ(error_of(text), "<no error>") << text;
  }
}

// ---- bad values -------------------------------------------------------------

struct BadValue {
  std::string text;   // the whole document
  std::string key;    // full key path
  std::string value;  // as written
  std::string allowed;
};

std::vector<BadValue> bad_values() {
  const std::string kInt = "must be an integer in ";
  const std::string kPow2 = "must be a power of two in ";
  const std::string kBool = "must be true or false";
  const std::string kProb = "must be a number in 0..1";
  const std::string kHost = "must be a unicast host address";
  return {
      {doc("log_level = \"loud\""), "log_level", "\"loud\"",
       "must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\""},
      {doc("log_level = 3"), "log_level", "3", "must be one of"},
      {in("eal", "file_prefix = \"a b\""), "eal.file_prefix", "\"a b\"",
       "1..32 characters from [A-Za-z0-9_-]"},
      {in("eal", "file_prefix = \"\""), "eal.file_prefix", "\"\"", "1..32 characters"},
      {in("eal", "file_prefix = \"" + std::string(33, 'a') + "\""), "eal.file_prefix", "\"aaaa",
       "1..32 characters"},
      {in("eal", "no_huge = \"yes\""), "eal.no_huge", "\"yes\"", kBool},
      {in("eal", "memory_mb = 63"), "eal.memory_mb", "63", kInt + "64..65536"},
      {in("eal", "memory_mb = 65537"), "eal.memory_mb", "65537", kInt + "64..65536"},
      {in("eal", "memory_mb = \"512\""), "eal.memory_mb", "\"512\"", kInt + "64..65536"},
      {in("eal", "memory_mb = 512.0"), "eal.memory_mb", "512.0", kInt + "64..65536"},
      {in("eal", "args = \"--in-memory\""), "eal.args", "\"--in-memory\"", "must be an array of strings"},
      {in("eal", "args = [\"--in-memory\", 5]"), "eal.args[1]", "5", "must be a non-empty string"},
      {in("eal", "args = [\"\"]"), "eal.args[0]", "\"\"", "must be a non-empty string"},
      {in("eal", "args = [\"--file-prefix=x\"]"), "eal.args[0]", "\"--file-prefix=x\"",
       "set eal.file_prefix instead"},
      {in("eal", "args = [\"-l0-3\"]"), "eal.args[0]", "\"-l0-3\"", "set runtime.lcores instead"},
      {in("eal", "args = [\"-m\", \"64\"]"), "eal.args[0]", "\"-m\"", "set eal.memory_mb instead"},
      {in("runtime", "lcores = []"), "runtime.lcores", "[]", "non-empty array of unique lcore ids in 0..127"},
      {in("runtime", "lcores = 0"), "runtime.lcores", "0", "non-empty array of unique lcore ids in 0..127"},
      {in("runtime", "lcores = [0, 128]"), "runtime.lcores[1]", "128", kInt + "0..127"},
      {in("runtime", "lcores = [0, -1]"), "runtime.lcores[1]", "-1", kInt + "0..127"},
      {in("runtime", "lcores = [\"0\"]"), "runtime.lcores[0]", "\"0\"", kInt + "0..127"},
      {in("runtime", "lcores = [0, 1, 1]"), "runtime.lcores[2]", "1", "duplicate of runtime.lcores[1]"},
      {in("runtime", "mbufs_per_worker = 1023"), "runtime.mbufs_per_worker", "1023", kInt + "1024..1048575"},
      {in("runtime", "mbufs_per_worker = 1048576"), "runtime.mbufs_per_worker", "1048576",
       kInt + "1024..1048575"},
      {in("runtime", "burst = 0"), "runtime.burst", "0", kInt + "1..512"},
      {in("runtime", "burst = 513"), "runtime.burst", "513", kInt + "1..512"},
      {in("runtime", "steer_ring_size = 1000"), "runtime.steer_ring_size", "1000", kPow2 + "64..65536"},
      {in("runtime", "steer_ring_size = 32"), "runtime.steer_ring_size", "32", kPow2 + "64..65536"},
      {in("runtime", "steer_ring_size = 131072"), "runtime.steer_ring_size", "131072", kPow2 + "64..65536"},
      {doc("[runtime]\nmbufs_per_worker = 2048", "rx_ring = 2048"), "runtime.mbufs_per_worker", "2048",
       "must be at least port[0].rx_ring + port[0].tx_ring + runtime.burst = 3104"},
      {doc("", "rx_ring = 8192\ntx_ring = 8192"), "runtime.mbufs_per_worker", "8191 (default)",
       "must be at least port[0].rx_ring + port[0].tx_ring + runtime.burst = 16416"},
      {doc("", "name = \"tap 0\""), "port[0].name", "\"tap 0\"", "1..32 characters from [A-Za-z0-9_-]"},
      {doc("", "name = 7"), "port[0].name", "7", "1..32 characters from [A-Za-z0-9_-]"},
      {doc("", "device = \"eth0\""), "port[0].device", "\"eth0\"", "a PCI address like \"0000:03:00.0\""},
      {doc("", "device = \"net_\""), "port[0].device", "\"net_\"", "DPDK vdev string"},
      {doc("", "device = \"0000:03:20.0\""), "port[0].device", "\"0000:03:20.0\"", "a PCI address like"},
      {doc("", "device = \"0000:03:00.8\""), "port[0].device", "\"0000:03:00.8\"", "a PCI address like"},
      {doc("", "device = \"net_tap0,iface=averyveryverylongname\""), "port[0].device",
       "\"net_tap0,iface=averyveryverylongname\"", "1..15 characters (IFNAMSIZ)"},
      {doc("", "device = \"net_tap0,iface\""), "port[0].device", "\"net_tap0,iface\"", "must be key=value"},
      {doc("", "device = \"net_tap0,iface=tern0,\""), "port[0].device", "\"net_tap0,iface=tern0,\"",
       "must be key=value"},
      {doc("", "queues = 65"), "port[0].queues", "65", kInt + "0..64"},
      {doc("", "queues = -1"), "port[0].queues", "-1", kInt + "0..64"},
      {doc("", "mtu = 20"), "port[0].mtu", "20", kInt + "68..9000"},
      {doc("", "mtu = 9001"), "port[0].mtu", "9001", kInt + "68..9000"},
      {doc("", "mtu = \"1500\""), "port[0].mtu", "\"1500\"", kInt + "68..9000"},
      {doc("", "mtu = 0x14"), "port[0].mtu", "0x14", kInt + "68..9000"},  // quoted as written
      {doc("", "rx_ring = 1000"), "port[0].rx_ring", "1000", kPow2 + "64..16384"},
      {doc("", "rx_ring = 32768"), "port[0].rx_ring", "32768", kPow2 + "64..16384"},
      {doc("", "tx_ring = 32"), "port[0].tx_ring", "32", kPow2 + "64..16384"},
      {doc("", "rx_checksum_offload = 1"), "port[0].rx_checksum_offload", "1", kBool},
      {doc("", "tx_checksum_offload = \"true\""), "port[0].tx_checksum_offload", "\"true\"", kBool},
      {doc("", "tap_rx_trigger = 'no'"), "port[0].tap_rx_trigger", "'no'", kBool},
      {doc("", "steering = \"fast\""), "port[0].steering", "\"fast\"",
       "must be one of \"auto\", \"rss\", \"software\""},
      {doc("", "address = \"10.77.0.2\""), "port[0].address", "\"10.77.0.2\"", "prefix length 1..32"},
      {doc("", "address = \"10.77.0.2/0\""), "port[0].address", "\"10.77.0.2/0\"", "prefix length 1..32"},
      {doc("", "address = \"10.77.0.2/33\""), "port[0].address", "\"10.77.0.2/33\"", "prefix length 1..32"},
      {doc("", "address = \"10.77.0.2/24 \""), "port[0].address", "\"10.77.0.2/24 \"", "prefix length 1..32"},
      {doc("", "address = 10"), "port[0].address", "10", "prefix length 1..32"},
      {doc("", "address = \"10.77.0.0/24\""), "port[0].address", "\"10.77.0.0/24\"",
       kHost + ": 10.77.0.0 is the network address of 10.77.0.0/24"},
      {doc("", "address = \"10.77.0.255/24\""), "port[0].address", "\"10.77.0.255/24\"",
       kHost + ": 10.77.0.255 is the broadcast address of 10.77.0.0/24"},
      {doc("", "address = \"0.0.0.0/24\""), "port[0].address", "\"0.0.0.0/24\"", kHost + ": 0.0.0.0/8"},
      {doc("", "address = \"127.0.0.1/8\""), "port[0].address", "\"127.0.0.1/8\"", "loopback"},
      {doc("", "address = \"224.0.0.5/24\""), "port[0].address", "\"224.0.0.5/24\"", "multicast"},
      {doc("", "address = \"255.255.255.255/32\""), "port[0].address", "\"255.255.255.255/32\"",
       "limited broadcast"},
      {doc("", "gateway = \"10.78.0.1\""), "port[0].gateway", "\"10.78.0.1\"",
       "must be an IPv4 address inside 10.77.0.0/24"},
      {doc("", "gateway = \"10.77.0\""), "port[0].gateway", "\"10.77.0\"", "inside 10.77.0.0/24"},
      {doc("", "gateway = \"\""), "port[0].gateway", "\"\"", "inside 10.77.0.0/24"},
      {doc("", "gateway = \"10.77.0.2\""), "port[0].gateway", "\"10.77.0.2\"",
       "must differ from port[0].address"},
      {doc("", "gateway = \"10.77.0.255\""), "port[0].gateway", "\"10.77.0.255\"",
       "not its network or broadcast address"},
      {doc("", "address = \"10.0.0.1/32\"\ngateway = \"10.0.0.2\""), "port[0].gateway", "\"10.0.0.2\"",
       "inside 10.0.0.1/32"},
      {in("arp", "entry_ttl_s = 0"), "arp.entry_ttl_s", "0", kInt + "1..86400"},
      {in("arp", "entry_ttl_s = 86401"), "arp.entry_ttl_s", "86401", kInt + "1..86400"},
      {in("arp", "retry_ms = 9"), "arp.retry_ms", "9", kInt + "10..60000"},
      {in("arp", "retries = 21"), "arp.retries", "21", kInt + "0..20"},
      {in("arp", "pending_packets = 65537"), "arp.pending_packets", "65537", kInt + "0..65536"},
      {in("arp", "cache_entries = 15"), "arp.cache_entries", "15", kInt + "16..1048576"},
      {in("ip", "ttl = 0"), "ip.ttl", "0", kInt + "1..255"},
      {in("ip", "ttl = 256"), "ip.ttl", "256", kInt + "1..255"},
      {in("ip", "frag_max_flows = 0"), "ip.frag_max_flows", "0", kInt + "1..65536"},
      {in("ip", "frag_max_fragments = 65"), "ip.frag_max_fragments", "65", kInt + "1..64"},
      {in("ip", "frag_max_fragments = 0"), "ip.frag_max_fragments", "0", kInt + "1..64"},
      {in("ip", "frag_timeout_s = 121"), "ip.frag_timeout_s", "121", kInt + "1..120"},
      {in("ip", "pmtu_cache_entries = 65537"), "ip.pmtu_cache_entries", "65537", kInt + "0..65536"},
      // RFC 8201 §4: no increase sooner than 5 minutes after a decrease.
      {in("ip", "pmtu_expires_s = 299"), "ip.pmtu_expires_s", "299", kInt + "300..86400"},
      {in("ip", "frag_high_thresh = 65535"), "ip.frag_high_thresh", "65535", kInt + "65536..1073741824"},
      {in("ip", "frag_high_thresh = 1073741825"), "ip.frag_high_thresh", "1073741825",
       kInt + "65536..1073741824"},
      {in("ip", "frag_low_thresh = -1"), "ip.frag_low_thresh", "-1", kInt + "0..1073741824"},
      {in("ip", "frag_low_thresh = 1073741825"), "ip.frag_low_thresh", "1073741825", kInt + "0..1073741824"},
      // low <= high: the key the file sets is blamed, the other named with its value.
      {in("ip", "frag_low_thresh = 2097152"), "ip.frag_low_thresh", "2097152",
       "must be at most ip.frag_high_thresh = 1048576 (default)"},
      {in("ip", "frag_high_thresh = 524288"), "ip.frag_high_thresh", "524288",
       "must be at least ip.frag_low_thresh = 786432 (default)"},
      {in("ip", "frag_high_thresh = 131072\nfrag_low_thresh = 131073"), "ip.frag_low_thresh", "131073",
       "must be at most ip.frag_high_thresh = 131072"},
      {in("impairment", "loss = 1.5"), "impairment.loss", "1.5", kProb},
      {in("impairment", "duplicate = -0.1"), "impairment.duplicate", "-0.1", kProb},
      {in("impairment", "reorder = nan"), "impairment.reorder", "nan", kProb},
      {in("impairment", "loss = inf"), "impairment.loss", "inf", kProb},
      {in("impairment", "loss = \"0.1\""), "impairment.loss", "\"0.1\"", kProb},
      {in("impairment", "seed = -1"), "impairment.seed", "-1", kInt + "0..9223372036854775807"},
      {in("tcp", "max_connections = 0"), "tcp.max_connections", "0", kInt + "1..16777216"},
      {in("tcp", "max_connections = 16777217"), "tcp.max_connections", "16777217", kInt + "1..16777216"},
      {in("tcp", "mss_clamp = 87"), "tcp.mss_clamp", "87",
       "must be 0 (derive from the MTU) or an integer in 88..65495"},
      {in("tcp", "mss_clamp = 65496"), "tcp.mss_clamp", "65496", kInt + "0..65495"},
      {in("tcp", "rcv_buf = 4095"), "tcp.rcv_buf", "4095", kInt + "4096..1073741824"},
      {in("tcp", "rcv_buf = 1073741825"), "tcp.rcv_buf", "1073741825", kInt + "4096..1073741824"},
      {in("tcp", "rcv_buf_max = 4095"), "tcp.rcv_buf_max", "4095", kInt + "4096..1073741824"},
      {in("tcp", "rcv_buf = 65536\nrcv_buf_max = 65535"), "tcp.rcv_buf_max", "65535",
       "must be at least rcv_buf (equal to it: no autotuning)"},
      {in("tcp", "snd_buf_max = 1073741825"), "tcp.snd_buf_max", "1073741825", kInt + "4096..1073741824"},
      {in("tcp", "snd_buf = 65536\nsnd_buf_max = 4096"), "tcp.snd_buf_max", "4096",
       "must be at least snd_buf (equal to it: no autotuning)"},
      {in("tcp", "snd_buf = 4095"), "tcp.snd_buf", "4095", kInt + "4096..1073741824"},
      {in("tcp", "snd_buf = 1073741825"), "tcp.snd_buf", "1073741825", kInt + "4096..1073741824"},
      {in("tcp", "snd_buf = \"256k\""), "tcp.snd_buf", "\"256k\"", kInt + "4096..1073741824"},
      {in("tcp", "window_scaling = 1"), "tcp.window_scaling", "1", kBool},
      {in("tcp", "timestamps = \"on\""), "tcp.timestamps", "\"on\"", kBool},
      {in("tcp", "sack = 0"), "tcp.sack", "0", kBool},
      {in("tcp", "syncookies = \"false\""), "tcp.syncookies", "\"false\"", kBool},
      {in("tcp", "nodelay = 'yes'"), "tcp.nodelay", "'yes'", kBool},
      {in("tcp", "keepalive = []"), "tcp.keepalive", "[]", kBool},
      {in("tcp", "rto_initial_ms = 0"), "tcp.rto_initial_ms", "0", kInt + "1..600000"},
      {in("tcp", "rto_initial_ms = 600001"), "tcp.rto_initial_ms", "600001", kInt + "1..600000"},
      {in("tcp", "rto_min_ms = 0"), "tcp.rto_min_ms", "0", kInt + "1..600000"},
      {in("tcp", "rto_max_ms = 600001"), "tcp.rto_max_ms", "600001", kInt + "1..600000"},
      {in("tcp", "tlp_min_ms = 0"), "tcp.tlp_min_ms", "0", kInt + "1..1000"},
      {in("tcp", "tlp_new_segments = 3"), "tcp.tlp_new_segments", "3", kInt + "1..2"},
      {in("tcp", "pacing_ss_ratio = 99"), "tcp.pacing_ss_ratio", "99", kInt + "100..1000"},
      {in("tcp", "pacing_ca_ratio = 1001"), "tcp.pacing_ca_ratio", "1001", kInt + "100..1000"},
      {in("tcp", "pacing_burst = 1"), "tcp.pacing_burst", "1", kInt + "2..64"},
      {in("tcp", "rto_max_ms = 1.5"), "tcp.rto_max_ms", "1.5", kInt + "1..600000"},
      // RTO order: the key the file sets is blamed, the other named with its value.
      {in("tcp", "rto_min_ms = 2000"), "tcp.rto_min_ms", "2000",
       "must be at most tcp.rto_initial_ms = 1000 (default)"},
      {in("tcp", "rto_initial_ms = 100"), "tcp.rto_initial_ms", "100",
       "must be at least tcp.rto_min_ms = 200 (default)"},
      {in("tcp", "rto_initial_ms = 500\nrto_min_ms = 600"), "tcp.rto_min_ms", "600",
       "must be at most tcp.rto_initial_ms = 500"},
      {in("tcp", "rto_initial_ms = 200000"), "tcp.rto_initial_ms", "200000",
       "must be at most tcp.rto_max_ms = 120000 (default)"},
      {in("tcp", "rto_max_ms = 500"), "tcp.rto_max_ms", "500",
       "must be at least tcp.rto_initial_ms = 1000 (default)"},
      {in("tcp", "rto_min_ms = 100\nrto_initial_ms = 150\nrto_max_ms = 120"), "tcp.rto_initial_ms", "150",
       "must be at most tcp.rto_max_ms = 120"},
      {in("tcp", "retries = 0"), "tcp.retries", "0", kInt + "1..255"},
      {in("tcp", "retries = 256"), "tcp.retries", "256", kInt + "1..255"},
      {in("tcp", "syn_retries = 0"), "tcp.syn_retries", "0", kInt + "1..127"},
      {in("tcp", "syn_retries = 128"), "tcp.syn_retries", "128", kInt + "1..127"},
      {in("tcp", "synack_retries = 0"), "tcp.synack_retries", "0", kInt + "1..127"},
      {in("tcp", "synack_retries = 128"), "tcp.synack_retries", "128", kInt + "1..127"},
      {in("tcp", "delayed_ack_ms = 0"), "tcp.delayed_ack_ms", "0", kInt + "1..200"},
      {in("tcp", "delayed_ack_ms = 201"), "tcp.delayed_ack_ms", "201", kInt + "1..200"},
      {in("tcp", "fin_timeout_s = 0"), "tcp.fin_timeout_s", "0", kInt + "1..3600"},
      {in("tcp", "fin_timeout_s = 3601"), "tcp.fin_timeout_s", "3601", kInt + "1..3600"},
      {in("tcp", "time_wait_s = 0"), "tcp.time_wait_s", "0", kInt + "1..600"},
      {in("tcp", "time_wait_s = 601"), "tcp.time_wait_s", "601", kInt + "1..600"},
      {in("tcp", "max_time_wait = -1"), "tcp.max_time_wait", "-1", kInt + "0..16777216"},
      {in("tcp", "max_time_wait = 16777217"), "tcp.max_time_wait", "16777217", kInt + "0..16777216"},
      {in("tcp", "keepalive_idle_s = 0"), "tcp.keepalive_idle_s", "0", kInt + "1..32767"},
      {in("tcp", "keepalive_idle_s = 32768"), "tcp.keepalive_idle_s", "32768", kInt + "1..32767"},
      {in("tcp", "keepalive_interval_s = 0"), "tcp.keepalive_interval_s", "0", kInt + "1..32767"},
      {in("tcp", "keepalive_interval_s = 32768"), "tcp.keepalive_interval_s", "32768", kInt + "1..32767"},
      {in("tcp", "keepalive_probes = 0"), "tcp.keepalive_probes", "0", kInt + "1..127"},
      {in("tcp", "keepalive_probes = 128"), "tcp.keepalive_probes", "128", kInt + "1..127"},
      {in("tcp", "syn_backlog = 0"), "tcp.syn_backlog", "0", kInt + "1..1048576"},
      {in("tcp", "syn_backlog = 1048577"), "tcp.syn_backlog", "1048577", kInt + "1..1048576"},
      {in("tcp", "max_backlog = 0"), "tcp.max_backlog", "0", kInt + "1..1048576"},
      {in("tcp", "max_backlog = 1048577"), "tcp.max_backlog", "1048577", kInt + "1..1048576"},
      {in("tcp", "challenge_ack_limit = 0"), "tcp.challenge_ack_limit", "0", kInt + "1..1000000"},
      {in("tcp", "challenge_ack_limit = 1000001"), "tcp.challenge_ack_limit", "1000001", kInt + "1..1000000"},
      {in("tcp", "dupthresh = 0"), "tcp.dupthresh", "0", kInt + "1..1000"},
      {in("tcp", "dupthresh = 1001"), "tcp.dupthresh", "1001", kInt + "1..1000"},
      {in("tcp", "congestion = \"vegas\""), "tcp.congestion", "\"vegas\"",
       "must be one of \"cubic\", \"newreno\", \"reno\", \"bbr\""},
      {in("tcp", "ofo_max_segments = -1"), "tcp.ofo_max_segments", "-1", kInt + "0..4096"},
      {in("tcp", "ofo_max_segments = 4097"), "tcp.ofo_max_segments", "4097", kInt + "0..4096"},
      {in("tcp", "invalid_ratelimit_ms = 60001"), "tcp.invalid_ratelimit_ms", "60001", kInt + "0..60000"},
      {in("tcp", "persist_probes = 0"), "tcp.persist_probes", "0", kInt + "1..255"},
      {in("tcp", "persist_timeout_s = 86401"), "tcp.persist_timeout_s", "86401", kInt + "0..86400"},
      {in("tcp", "user_timeout_ms = -1"), "tcp.user_timeout_ms", "-1", kInt + "0..2147483647"},
      {in("tcp", "user_timeout_ms = 2147483648"), "tcp.user_timeout_ms", "2147483648",
       kInt + "0..2147483647"},
      {in("tcp", "orphan_retries = 0"), "tcp.orphan_retries", "0", kInt + "1..255"},
      {in("tcp", "max_orphans = -1"), "tcp.max_orphans", "-1", kInt + "0..16777216"},
      {in("tcp", "ephemeral_ports = 32768"), "tcp.ephemeral_ports", "32768",
       "must be [first, last]: two integers with 1024 <= first <= last <= 65535"},
      {in("tcp", "ephemeral_ports = []"), "tcp.ephemeral_ports", "[]", "must be [first, last]"},
      {in("tcp", "ephemeral_ports = [32768]"), "tcp.ephemeral_ports", "[32768]", "must be [first, last]"},
      {in("tcp", "ephemeral_ports = [1, 2, 3]"), "tcp.ephemeral_ports", "[1, 2, 3]", "must be [first, last]"},
      {in("tcp", "ephemeral_ports = [1023, 2000]"), "tcp.ephemeral_ports[0]", "1023", kInt + "1024..65535"},
      {in("tcp", "ephemeral_ports = [2000, 65536]"), "tcp.ephemeral_ports[1]", "65536", kInt + "1024..65535"},
      {in("tcp", "ephemeral_ports = [\"1024\", 2000]"), "tcp.ephemeral_ports[0]", "\"1024\"",
       kInt + "1024..65535"},
      {in("tcp", "ephemeral_ports = [40000, 30000]"), "tcp.ephemeral_ports", "[40000, 30000]",
       "first (tcp.ephemeral_ports[0]) must not exceed last (tcp.ephemeral_ports[1])"},
  };
}

TEST(ConfigBadValue, MessageNamesKeyValueAndAllowed) {
  for (const BadValue& c : bad_values()) {
    const std::string msg = error_of(c.text);
    SCOPED_TRACE(c.text);
    EXPECT_TRUE(msg.starts_with("tern.toml")) << msg;
    EXPECT_NE(msg.find(c.key + " = " + c.value), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.allowed), std::string::npos) << msg;
  }
}

TEST(ConfigBadValue, ExactMessageCarriesFileLineAndColumn) {
  EXPECT_EQ(
      error_of("[[port]]\nname = \"tap0\"\ndevice = \"net_tap0\"\naddress = \"10.77.0.2/24\"\nmtu = 20\n"),
      "tern.toml:5:7: port[0].mtu = 20: must be an integer in 68..9000");
}

TEST(ConfigBadValue, LongValuesAreShortenedOnOneLine) {
  const std::string msg =
      error_of(in("eal", "args = [\n  \"--a\",\n  \"-l" + std::string(100, '1') + "\",\n]"));
  EXPECT_NE(msg.find("eal.args[1] = \"-l111"), std::string::npos) << msg;
  EXPECT_NE(msg.find("...: Tern sets -l itself"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// ---- structure: ports, tables, missing and unknown keys ----------------------

struct Structural {
  std::string text;
  std::vector<std::string> expect;  // substrings of the message
};

TEST(ConfigStructure, ErrorsSayWhatIsWrong) {
  const std::vector<Structural> cases = {
      {"log_level = \"info\"\n", {"tern.toml: no [[port]] table", "exactly one [[port]]"}},
      {"port = []\n", {"no [[port]] table"}},
      {doc("", "", "[[port]]\nname = \"b\"\n"),
       {"tern.toml:5:1: port[1]: only one [[port]] is supported in this version; found 2"}},
      {"[port]\nname = \"tap0\"\n",
       {"tern.toml:1:1: port: must be an array of tables: write [[port]], not [port]"}},
      {"port = [1]\n", {"port[0] = 1: must be a table: write [[port]]"}},
      {doc("eal = 5"), {"tern.toml:1:7: eal = 5: must be a table: write [eal]"}},
      {"[[port]]\ndevice = \"net_tap0\"\naddress = \"10.77.0.2/24\"\n",
       {"tern.toml:1:1: missing required key port[0].name: must be 1..32 characters"}},
      {"[[port]]\nname = \"a\"\naddress = \"10.77.0.2/24\"\n",
       {"missing required key port[0].device: must be a DPDK vdev string"}},
      {"[[port]]\nname = \"a\"\ndevice = \"net_tap0\"\n",
       {"missing required key port[0].address: must be an interface address with prefix length 1..32"}},
      // Typo protection, with a suggestion where one is near.
      {doc("", "mtuu = 1500"),
       {"tern.toml:5:1: unknown key port[0].mtuu; did you mean port[0].mtu?",
        "(known in [[port]]: name, device,"}},
      {doc("", "adress = \"10.77.0.2/24\""), {"unknown key port[0].adress; did you mean port[0].address?"}},
      {in("tpc", "max_connections = 1"), {"tern.toml:5:1: unknown table [tpc]; did you mean [tcp]?"}},
      {doc("", "", "[[ports]]\nname = \"x\"\n"), {"unknown table [[ports]]; did you mean [[port]]?"}},
      {in("eal", "no_hugepages = true"),
       {"unknown key eal.no_hugepages (known in [eal]: file_prefix, no_huge"}},
      {in("eal", "File_Prefix = \"x\""), {"unknown key eal.File_Prefix; did you mean eal.file_prefix?"}},
      {in("runtime", "lcore = [0]"), {"unknown key runtime.lcore; did you mean runtime.lcores?"}},
      {in("arp", "retires = 3"), {"unknown key arp.retires; did you mean arp.retries?"}},
      {in("arp", "retry = 3"), {"unknown key arp.retry (known in [arp]: entry_ttl_s, retry_ms, retries,"}},
      {in("impairment", "los = 0.1"), {"unknown key impairment.los; did you mean impairment.loss?"}},
      {in("tcp", "time_wait = 60"), {"unknown key tcp.time_wait; did you mean tcp.time_wait_s?"}},
      {in("tcp", "sacks = true"), {"unknown key tcp.sacks; did you mean tcp.sack?"}},
      {doc("rto_min_ms = 200"), {"unknown key rto_min_ms; rto_min_ms belongs in [tcp]"}},
      {in("eal.extra", "x = 1"), {"unknown table [eal.extra]"}},
      {doc("speed = 10"),
       {"tern.toml:1:1: unknown key speed (known at the top level: log_level, [eal], [runtime], [[port]],"}},
      // A key in the wrong table says where it belongs.
      {doc("ttl = 64"), {"unknown key ttl; ttl belongs in [ip]"}},
      {doc("", "log_level = \"debug\""),
       {"unknown key port[0].log_level; log_level belongs at the top level, before the first [table]"}},
      // The first unknown key in the file is reported, not the first in key order.
      {doc("", "zzz = 1\naaa = 2"), {"unknown key port[0].zzz"}},
  };
  for (const Structural& c : cases) {
    const std::string msg = error_of(c.text);
    for (const std::string& e : c.expect)
      EXPECT_NE(msg.find(e), std::string::npos) << c.text << "\n -> " << msg;
  }
}

// The keys docs/config.md's table for [`table`] lists.
std::set<std::string> documented_keys(std::string_view table) {
  std::ifstream f(std::string(TERN_DOCS_DIR) + "/config.md");
  EXPECT_TRUE(f) << TERN_DOCS_DIR "/config.md";
  const std::string heading = "## `[" + std::string(table) + "]`";
  std::set<std::string> documented;
  bool in_table = false;
  for (std::string line; std::getline(f, line);) {
    if (line.starts_with("## ")) in_table = line.starts_with(heading);
    if (in_table && line.starts_with("| `")) documented.insert(line.substr(3, line.find('`', 3) - 3));
  }
  return documented;
}

// The parser's own list for [`table`], as its unknown-key message gives it.
std::set<std::string> known_keys(std::string_view table) {
  const std::string msg = error_of(in(table, "zzzzzzzz = 1"));
  const std::string head = "(known in [" + std::string(table) + "]: ";
  const std::size_t b = msg.find(head);
  EXPECT_NE(b, std::string::npos) << msg;
  if (b == std::string::npos) return {};
  std::set<std::string> known;
  std::stringstream list(msg.substr(b + head.size(), msg.rfind(')') - b - head.size()));
  for (std::string k; std::getline(list >> std::ws, k, ',');) known.insert(k);
  return known;
}

// docs/config.md lists exactly the keys the parser knows in [tcp].
TEST(ConfigDocs, TcpTableMatchesTheSchema) {
  const std::set<std::string> known = known_keys("tcp");
  EXPECT_EQ(known.size(), 46u);
  EXPECT_EQ(documented_keys("tcp"), known);
}

// ...and in [ip].
TEST(ConfigDocs, IpTableMatchesTheSchema) {
  const std::set<std::string> known = known_keys("ip");
  EXPECT_EQ(known.size(), 8u);
  EXPECT_EQ(documented_keys("ip"), known);
}

TEST(ConfigSyntax, ReportsFileLineAndColumn) {
  EXPECT_EQ(error_of("log_level = \"info\"\n\n[eal\nno_huge = true\n").substr(0, 13), "tern.toml:3:5");
  const std::string bad_value = error_of("[eal]\nno_huge = yes\n");
  EXPECT_TRUE(bad_value.starts_with("tern.toml:2:11: TOML syntax error: ")) << bad_value;
  const std::string dup = error_of("[eal]\nno_huge = true\nno_huge = false\n");
  EXPECT_TRUE(dup.starts_with("tern.toml:3:")) << dup;
  EXPECT_NE(dup.find("no_huge"), std::string::npos) << dup;
  const std::string huge = error_of("[eal]\nmemory_mb = 99999999999999999999\n");
  EXPECT_TRUE(huge.starts_with("tern.toml:2:")) << huge;
}

}  // namespace
}  // namespace tern
