// Telemetry read back over DPDK's own socket, as dpdk-telemetry.py reads it:
// a Runtime over net_ring0 with telemetry enabled (its own executable: the
// EAL starts once per process, with the Runtime's arguments), distinct values
// set in its one worker's counters, then /tern/stats, /tern/drops and
// /tern/info parsed as JSON. Every counter and every drop reason in
// lib/base/counters.h must come back under its own name with its value.
// Also: what DPDK 22.11 would refuse or silently cut (bad key, 257th key,
// a reply past 16 KiB) makes telemetry_add_u64s() fail instead, and its size
// accounting matches DPDK's to the byte.
#include "runtime/telemetry.h"

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_telemetry.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/counters.h"
#include "config/config.h"
#include "runtime/clock.h"
#include "runtime/runtime.h"
#include "stat_json.h"

namespace tern::stat {
std::ostream& operator<<(std::ostream& os, Json::Kind k) {
  constexpr const char* names[] = {"null", "bool", "number", "string", "array", "object"};
  return os << names[static_cast<int>(k)];
}
}  // namespace tern::stat

namespace tern {
namespace {

using stat::Json;

// A whole number as tern-stat's parser keeps it (counters keep every digit);
// UINT64_MAX for anything else, which no expected value equals.
std::uint64_t number(const Json& j) { return j.integer.value_or(UINT64_MAX); }
// The value under `key`, or null.
const Json& at(const Json& j, const std::string& key) {
  static const Json none;
  const Json* v = j.find(key);
  return v == nullptr ? none : *v;
}

// A client of DPDK's telemetry socket (dpdk_telemetry.v2: SOCK_SEQPACKET, one
// message per request and per reply, a greeting first).
class TelemetryClient {
 public:
  explicit TelemetryClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd_ < 0) return;
    timeval tv{10, 0};  // a reply that never comes fails the test rather than hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
      error_ = "connect " + path + ": " + std::strerror(errno);
      return;
    }
    greeting_ = receive();
  }
  ~TelemetryClient() {
    if (fd_ >= 0) close(fd_);
  }
  const std::string& error() const { return error_; }
  const std::string& greeting() const { return greeting_; }

  // The JSON value answered to `request` ("/tern/stats,0"): the reply is
  // {"<command>": value}.
  std::optional<Json> ask(const std::string& request) {
    if (send(fd_, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
      error_ = "send: " + std::string(std::strerror(errno));
      return std::nullopt;
    }
    const std::string reply = receive();
    last_reply_ = reply;
    std::optional<Json> j = stat::parse_json(reply);
    const std::string cmd = request.substr(0, request.find(','));
    const Json* value = j && j->object.size() == 1 ? j->find(cmd) : nullptr;
    if (value == nullptr) {
      error_ = "unexpected reply to " + request + ": " + reply;
      return std::nullopt;
    }
    return *value;
  }
  const std::string& last_reply() const { return last_reply_; }

 private:
  std::string receive() {
    std::vector<char> buf(64 * 1024);
    const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      error_ = "recv: " + std::string(std::strerror(errno));
      return {};
    }
    return std::string(buf.data(), static_cast<std::size_t>(n));
  }

  int fd_ = -1;
  std::string error_;
  std::string greeting_;
  std::string last_reply_;
};

// Distinct, non-zero, and wide enough to need more than 32 bits.
std::uint64_t event_value(std::size_t i) { return 1'000'000'000'000ull + 1000 * i + 1; }
std::uint64_t drop_value(std::size_t i) { return 2'000'000'000'000ull + 1000 * i + 7; }

class TelemetryTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = "terntel" + std::to_string(getpid());
    const Config cfg = parse_config(R"(log_level = "error"
[eal]
file_prefix = ")" + prefix_ + R"("
no_huge = true
memory_mb = 512
args = ["--no-shconf"]
[runtime]
lcores = [0]
mbufs_per_worker = 2048
[[port]]
name = "ring0"
device = "net_ring0"
address = "10.99.0.2/24"
rx_ring = 256
tx_ring = 256
)");
    runtime_ = new Runtime(cfg, "terntel");
    socket_path_ = std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
    set_counters();
  }
  // The worker is not running: nothing else writes these counters (the
  // /tern/conns tests poll it, then set them again). Worker exposes them
  // read-only; the object itself is not const.
  static void set_counters() {
    auto& c = const_cast<Counters&>(runtime_->worker(0).counters());
    for (std::size_t i = 0; i < kCounterCount; ++i) c.events[i] = event_value(i);
    for (std::size_t i = 0; i < kDropCount; ++i) c.drops[i] = drop_value(i);
  }
  static void TearDownTestSuite() {
    const std::string dir = rte_eal_get_runtime_dir();
    delete runtime_;  // also rte_eal_cleanup()
    runtime_ = nullptr;
    // The EAL unlinks its socket at exit; leave no directory behind either.
    unlink(socket_path_.c_str());
    rmdir(dir.c_str());
  }

  static inline std::string prefix_;
  static inline std::string socket_path_;
  static inline Runtime* runtime_ = nullptr;
};

// name(i) is a key of `j` with value(i), for each i < n; `j` has no other key.
void expect_all(const Json& j, std::size_t n, std::string_view (*name)(std::size_t),
                std::uint64_t (*value)(std::size_t), const std::string& what, const std::string& reply) {
  ASSERT_EQ(j.kind, Json::Kind::kObject) << what << ": " << reply;
  EXPECT_EQ(j.object.size(), n) << what << ": other keys than the names in lib/base/counters.h";
  for (std::size_t i = 0; i < n; ++i) {
    const std::string key(name(i));
    const Json* v = j.find(key);
    if (v == nullptr) {
      ADD_FAILURE() << what << ": " << key << " missing";
      continue;
    }
    EXPECT_EQ(v->kind, Json::Kind::kNumber) << what << ": " << key;
    EXPECT_EQ(number(*v), value(i)) << what << ": " << key;
  }
}
std::string_view event_name(std::size_t i) { return counter_name(static_cast<Counter>(i)); }
std::string_view reason_name(std::size_t i) { return drop_name(static_cast<Drop>(i)); }

TEST_F(TelemetryTest, EveryCounterAndDropReasonReadsBack) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "") << "is the EAL's telemetry on?";
  EXPECT_NE(t.greeting().find("max_output_len"), std::string::npos) << t.greeting();

  // Totals (one worker: the same values) and the worker by index.
  for (const std::string suffix : {"", ",0"}) {
    const std::optional<Json> stats = t.ask("/tern/stats" + suffix);
    ASSERT_TRUE(stats) << t.error();
    expect_all(*stats, kCounterCount, event_name, event_value, "/tern/stats" + suffix, t.last_reply());
    const std::optional<Json> drops = t.ask("/tern/drops" + suffix);
    ASSERT_TRUE(drops) << t.error();
    expect_all(*drops, kDropCount, reason_name, drop_value, "/tern/drops" + suffix, t.last_reply());
  }
}

// A bad or unknown argument answers {"error": why}, not a bare null.
TEST_F(TelemetryTest, BadArgumentAnswersAnErrorObject) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::pair<const char*, const char*> cases[] = {
      {"/tern/stats,1", "unknown worker 1; the only worker is 0, or nothing for the total"},
      {"/tern/drops,7", "unknown worker 7; the only worker is 0, or nothing for the total"},
      {"/tern/stats,x", "bad worker 'x'; the only worker is 0, or nothing for the total"},
      {"/tern/drops,-1", "bad worker '-1'; the only worker is 0, or nothing for the total"},
      {"/tern/stats,0x", "bad worker '0x'; the only worker is 0, or nothing for the total"},
      {"/tern/stats,99999999999", "bad worker '99999999999'; the only worker is 0, or nothing for the total"},
      {"/tern/stats,a\"b", "bad worker 'a?b'; the only worker is 0, or nothing for the total"},
      {"/tern/info,3", "/tern/info takes no parameter; got '3'"},
      {"/tern/conns,1", "unknown worker 1; the only worker is 0, or nothing for all"},
      {"/tern/conns,0,x", "bad start 'x'; give WORKER,START (a number)"},
      {"/tern/conns,,5", "bad worker ''; the only worker is 0, or nothing for all"},
  };
  for (const auto& [req, why] : cases) {
    const std::optional<Json> j = t.ask(req);
    ASSERT_TRUE(j) << t.error();
    ASSERT_EQ(j->kind, Json::Kind::kObject) << req << ": " << t.last_reply();
    ASSERT_EQ(j->object.size(), 1u) << req << ": " << t.last_reply();
    EXPECT_EQ(at(*j, "error").string, why) << req;
  }
}

TEST_F(TelemetryTest, Info) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::optional<Json> info = t.ask("/tern/info");
  ASSERT_TRUE(info) << t.error();
  ASSERT_EQ(info->kind, Json::Kind::kObject) << t.last_reply();
  EXPECT_EQ(number(at(*info, "workers")), 1u);
  EXPECT_EQ(at(*info, "address").string, "10.99.0.2/24");
  EXPECT_EQ(at(*info, "mac").string, runtime_->port().info().mac.to_string());
  EXPECT_EQ(at(*info, "port").string, runtime_->port().info().name);
  EXPECT_EQ(number(at(*info, "mtu")), runtime_->port().info().mtu);
  EXPECT_EQ(at(*info, "steering").string, "single-queue");
}

TEST_F(TelemetryTest, AllCommandsListed) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::optional<Json> list = t.ask("/");
  ASSERT_TRUE(list) << t.error();
  std::vector<std::string> cmds;
  for (const Json& c : list->array) cmds.push_back(c.string);
  for (const char* cmd : {"/tern/stats", "/tern/drops", "/tern/info", "/tern/conns"})
    EXPECT_NE(std::find(cmds.begin(), cmds.end(), cmd), cmds.end()) << cmd << " not in " << t.last_reply();
}

// What DPDK 22.11 refuses comes back as an error, never as a shorter reply.
struct TelData {
  rte_tel_data* d = rte_tel_data_alloc();
  TelData() { rte_tel_data_start_dict(d); }
  ~TelData() { rte_tel_data_free(d); }
};

TEST_F(TelemetryTest, AddU64sRefusesWhatDpdkWouldLose) {
  const std::uint64_t v[300] = {};
  {
    TelData t;  // '.' is not in DPDK's key alphabet (the old "Drop.<Reason>")
    const std::string_view names[] = {"RxPackets", "Drop.TcpOutOfWindow"};
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", names, std::span(v, 2)), -EINVAL);
  }
  {
    TelData t;
    const std::string_view names[] = {"a-b"};
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", names, std::span(v, 1)), -EINVAL);
  }
  {
    TelData t;
    const std::string_view names[] = {"a", "b"};
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", names, std::span(v, 1)), -EINVAL);
  }
  std::vector<std::string> storage;
  for (int i = 0; i < 300; ++i) storage.push_back("k" + std::to_string(i));
  std::vector<std::string_view> names(storage.begin(), storage.end());
  {
    TelData t;  // RTE_TEL_MAX_DICT_ENTRIES
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", std::span(names).first(RTE_TEL_MAX_DICT_ENTRIES),
                                 std::span(v, RTE_TEL_MAX_DICT_ENTRIES)),
              0);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", std::span(names).first(RTE_TEL_MAX_DICT_ENTRIES + 1),
                                 std::span(v, RTE_TEL_MAX_DICT_ENTRIES + 1)),
              -ENOSPC);
  }
  {
    TelData t;  // a name DPDK would truncate
    const std::string long_name(RTE_TEL_MAX_STRING_LEN, 'a');
    const std::string_view one[] = {long_name};
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", one, std::span(v, 1)), -E2BIG);
  }
  {
    TelData t;  // 200 keys of 100 characters: over the 16 KiB DPDK writes
    std::vector<std::string> big;
    for (int i = 0; i < 200; ++i) big.push_back(std::string(97, 'k') + std::to_string(100 + i));
    std::vector<std::string_view> big_names(big.begin(), big.end());
    EXPECT_EQ(telemetry_add_u64s(t.d, "/x", big_names, std::span(v, 200)), -E2BIG);
  }
}

// The reply-size accounting against DPDK itself: entries that fill its 16 KiB
// exactly come back whole; one byte more, telemetry_add_u64s() refuses them,
// and DPDK given them anyway (as the old code would) silently drops one.
std::vector<std::string> fill_names(std::string_view cmd, std::size_t extra) {
  // Each entry takes name + 5 bytes (value 0); the overhead is cmd + 7.
  std::size_t left = kTelemetryMaxReply - (cmd.size() + 7) + extra;
  std::vector<std::string> names;
  while (left > 0) {
    const std::size_t len = std::min<std::size_t>(100, left - 5);
    std::string n = "k" + std::to_string(1000 + names.size());
    n.resize(len, 'x');
    names.push_back(n);
    left -= len + 5;
  }
  return names;
}
const char* const kFitCmd = "/terntest/fit";
const char* const kOverCmd = "/terntest/over";
const char* const kRawOverCmd = "/terntest/raw_over";
int fill(std::string_view cmd, std::size_t extra, rte_tel_data* d) {
  const std::vector<std::string> names = fill_names(cmd, extra);
  const std::vector<std::string_view> views(names.begin(), names.end());
  const std::vector<std::uint64_t> zeros(names.size(), 0);
  rte_tel_data_start_dict(d);
  return telemetry_add_u64s(d, cmd, views, zeros);
}
int fit_cmd(const char*, const char*, rte_tel_data* d) { return fill(kFitCmd, 0, d); }
int over_cmd(const char*, const char*, rte_tel_data* d) { return fill(kOverCmd, 1, d); }
int raw_over_cmd(const char*, const char*, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  for (const std::string& n : fill_names(kRawOverCmd, 1))
    if (rte_tel_data_add_dict_u64(d, n.c_str(), 0) != 0) return -EINVAL;
  return 0;
}

TEST_F(TelemetryTest, ReplySizeAccountingMatchesDpdk) {
  ASSERT_EQ(rte_telemetry_register_cmd(kFitCmd, fit_cmd, "test"), 0);
  ASSERT_EQ(rte_telemetry_register_cmd(kOverCmd, over_cmd, "test"), 0);
  ASSERT_EQ(rte_telemetry_register_cmd(kRawOverCmd, raw_over_cmd, "test"), 0);
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");

  const std::optional<Json> fit = t.ask(kFitCmd);
  ASSERT_TRUE(fit) << t.error();
  ASSERT_EQ(fit->kind, Json::Kind::kObject) << t.last_reply();
  EXPECT_EQ(fit->object.size(), fill_names(kFitCmd, 0).size());
  EXPECT_EQ(t.last_reply().size(), kTelemetryMaxReply - 1);  // DPDK's buffer, less the NUL

  const std::optional<Json> over = t.ask(kOverCmd);
  ASSERT_TRUE(over) << t.error();
  EXPECT_EQ(over->kind, Json::Kind::kNull) << t.last_reply();

  const std::optional<Json> raw = t.ask(kRawOverCmd);
  ASSERT_TRUE(raw) << t.error();
  ASSERT_EQ(raw->kind, Json::Kind::kObject) << t.last_reply();
  EXPECT_EQ(raw->object.size() + 1, fill_names(kRawOverCmd, 1).size()) << "DPDK no longer drops silently?";
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

// ---- /tern/conns --------------------------------------------------------------

// The worker answers /tern/conns in its loop: the client asks from a thread
// while this one runs worker 0's iterations, as its lcore would. Aborts the
// connections it opened and sets the counters back when done.
struct Conns {
  explicit Conns(Runtime& rt) : rt_(rt) {}
  ~Conns() {
    Worker& w = rt_.worker(0);
    for (Tcb* c : conns_) w.tcp()->abort(*c, clock_.now());
    for (int i = 0; i < 10; ++i) w.poll_once(clock_.now());
    auto& c = const_cast<Counters&>(w.counters());
    for (std::size_t i = 0; i < kCounterCount; ++i) c.events[i] = event_value(i);
    for (std::size_t i = 0; i < kDropCount; ++i) c.drops[i] = drop_value(i);
  }
  void open(std::size_t n) {
    const std::uint32_t peer = *parse_ipv4("10.99.0.7");
    for (std::size_t i = 0; i < n; ++i) {
      Tcb* c = rt_.worker(0).tcp()->connect(peer, static_cast<std::uint16_t>(8000 + i), clock_.now());
      ASSERT_NE(c, nullptr);
      conns_.push_back(c);
    }
  }
  std::optional<Json> ask_polling(TelemetryClient& t, const std::string& req) {
    std::atomic<bool> done{false};
    std::optional<Json> j;
    std::thread asker([&] {
      j = t.ask(req);
      done = true;
    });
    while (!done) rt_.worker(0).poll_once(clock_.now());
    asker.join();
    return j;
  }

  Runtime& rt_;
  TscClock clock_;
  std::vector<Tcb*> conns_;
};

TEST_F(TelemetryTest, ConnsListsEachConnectionWithItsFigures) {
  Conns conns(*runtime_);
  conns.open(3);
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  for (const std::string req : {"/tern/conns", "/tern/conns,0"}) {
    const std::optional<Json> j = conns.ask_polling(t, req);
    ASSERT_TRUE(j) << t.error();
    ASSERT_EQ(j->kind, Json::Kind::kObject) << t.last_reply();
    EXPECT_EQ(number(at(*j, "connections")), 3u) << t.last_reply();
    EXPECT_EQ(number(at(*j, "listed")), 3u);
    EXPECT_EQ(number(at(*j, "left_out")), 0u);
    const Json& fields = at(*j, "fields");
    ASSERT_EQ(fields.array.size(), conn_fields().size()) << t.last_reply();
    for (std::size_t f = 0; f < fields.array.size(); ++f) EXPECT_EQ(fields.array[f].string, conn_fields()[f]);
    EXPECT_EQ(number(at(*j, "first")), 0u);
    EXPECT_EQ(j->object.size(), 5u + 3u) << "connections, first, listed, left_out, fields, c0..c2";
    std::set<std::string> remotes;
    for (int r = 0; r < 3; ++r) {
      const Json& row = at(*j, "c" + std::to_string(r));
      ASSERT_EQ(row.array.size(), fields.array.size()) << t.last_reply();
      std::map<std::string, std::string> v;
      for (std::size_t f = 0; f < row.array.size(); ++f) v[fields.array[f].string] = row.array[f].string;
      remotes.insert(v["remote"]);
      EXPECT_EQ(v["worker"], "0");
      EXPECT_EQ(v["local"].rfind("10.99.0.2:", 0), 0u) << v["local"];
      EXPECT_EQ(v["state"], "SYN_SENT");
      EXPECT_EQ(v["congestion"], "cubic");
      EXPECT_EQ(v["ca_state"], "open");
      EXPECT_EQ(v["segs_out"], "1") << "the SYN";
      EXPECT_EQ(v["total_retrans"], "0");
      EXPECT_EQ(v["pacing_rate"], "0");
    }
    EXPECT_EQ(remotes, (std::set<std::string>{"10.99.0.7:8000", "10.99.0.7:8001", "10.99.0.7:8002"}));
  }
}

// More connections than one reply holds: as many rows as fit, the rest
// counted, and the reply still whole JSON within DPDK's 16 KiB.
TEST_F(TelemetryTest, ConnsListIsBoundedAndSaysHowManyWereLeftOut) {
  Conns conns(*runtime_);
  conns.open(100);
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::optional<Json> j = conns.ask_polling(t, "/tern/conns,0");
  ASSERT_TRUE(j) << t.error();
  ASSERT_EQ(j->kind, Json::Kind::kObject) << t.last_reply();
  const std::uint64_t listed = number(at(*j, "listed"));
  EXPECT_EQ(number(at(*j, "connections")), 100u);
  EXPECT_GT(listed, 10u);
  EXPECT_LE(listed, Worker::kSnapshotMax);
  EXPECT_EQ(number(at(*j, "left_out")), 100u - listed);
  EXPECT_EQ(j->object.size(), 5u + listed) << "one row per connection listed";
  EXPECT_LT(t.last_reply().size(), kTelemetryMaxReply);
}

// "worker,start" pages through a worker's connections: every connection
// once over the pages (none opens or closes meanwhile), and a page past the
// end lists nothing.
TEST_F(TelemetryTest, ConnsPagesThroughEveryConnection) {
  Conns conns(*runtime_);
  conns.open(150);
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  std::set<std::string> remotes;
  std::uint64_t start = 0, pages = 0;
  for (;;) {
    const std::optional<Json> j = conns.ask_polling(t, "/tern/conns,0," + std::to_string(start));
    ASSERT_TRUE(j) << t.error();
    ASSERT_EQ(j->kind, Json::Kind::kObject) << t.last_reply();
    ASSERT_EQ(number(at(*j, "connections")), 150u);
    EXPECT_EQ(number(at(*j, "first")), start);
    const std::uint64_t listed = number(at(*j, "listed"));
    EXPECT_EQ(number(at(*j, "left_out")), 150u - start - listed);
    const Json& fields = at(*j, "fields");
    const auto remote = std::find_if(fields.array.begin(), fields.array.end(),
                                     [](const Json& f) { return f.string == "remote"; }) -
                        fields.array.begin();
    for (std::uint64_t r = 0; r < listed; ++r)
      EXPECT_TRUE(remotes.insert(at(*j, "c" + std::to_string(r)).array.at(remote).string).second)
          << "listed twice";
    ++pages;
    if (listed == 0) break;
    start += listed;
  }
  EXPECT_EQ(remotes.size(), 150u);
  EXPECT_GE(pages, 4u) << "150 connections take 3 pages or more, and an empty one ends";
  const std::optional<Json> past = conns.ask_polling(t, "/tern/conns,0,1000");
  ASSERT_TRUE(past) << t.error();
  EXPECT_EQ(number(at(*past, "listed")), 0u);
  EXPECT_EQ(number(at(*past, "left_out")), 0u);
}

TEST_F(TelemetryTest, ConnsUnknownWorkerOrBadParameterIsAnError) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  for (const char* req : {"/tern/conns,1", "/tern/conns,x", "/tern/conns,-1", "/tern/conns,0x"}) {
    const std::optional<Json> j = t.ask(req);  // answered without the worker
    ASSERT_TRUE(j) << t.error();
    ASSERT_EQ(j->kind, Json::Kind::kObject) << req << ": " << t.last_reply();
    EXPECT_NE(at(*j, "error").string.find(" worker "), std::string::npos) << req << ": " << t.last_reply();
  }
}

TEST_F(TelemetryTest, ConnsWorkerThatDoesNotAnswerIsAnError) {
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::optional<Json> j = t.ask("/tern/conns,0");  // nobody runs the worker's loop
  ASSERT_TRUE(j) << t.error();
  ASSERT_EQ(j->kind, Json::Kind::kObject) << t.last_reply();
  EXPECT_NE(at(*j, "error").string.find("did not answer"), std::string::npos) << t.last_reply();
  // The late answer does not confuse the next request.
  Conns conns(*runtime_);
  conns.open(1);
  const std::optional<Json> k = conns.ask_polling(t, "/tern/conns,0");
  ASSERT_TRUE(k) << t.error();
  EXPECT_EQ(number(at(*k, "listed")), 1u) << t.last_reply();
}

// conns_reply's size accounting against DPDK: rows of 120-character values
// fill the reply; whatever is listed comes back whole, and the remainder is
// counted as left out.
const char* const kConnsFillCmd = "/terntest/conns_fill";
int conns_fill_cmd(const char*, const char*, rte_tel_data* d) {
  std::vector<ConnRow> rows(200, ConnRow(conn_fields().size(), std::string(120, 'v')));
  return conns_reply(d, rows, 200);
}

TEST_F(TelemetryTest, ConnsReplyAccountingMatchesDpdk) {
  ASSERT_EQ(rte_telemetry_register_cmd(kConnsFillCmd, conns_fill_cmd, "test"), 0);
  TelemetryClient t(socket_path_);
  ASSERT_EQ(t.error(), "");
  const std::optional<Json> j = t.ask(kConnsFillCmd);
  ASSERT_TRUE(j) << t.error();
  ASSERT_EQ(j->kind, Json::Kind::kObject) << t.last_reply();
  const std::uint64_t listed = number(at(*j, "listed"));
  EXPECT_GE(listed, 3u);
  EXPECT_EQ(number(at(*j, "left_out")), 200u - listed);
  EXPECT_EQ(j->object.size(), 5u + listed) << "a row DPDK dropped silently";
  for (std::uint64_t r = 0; r < listed; ++r)
    EXPECT_EQ(at(*j, "c" + std::to_string(r)).array.size(), conn_fields().size());
  // One row more would not have fitted.
  EXPECT_GT(t.last_reply().size() + (conn_fields().size() * 123 + 8), kTelemetryMaxReply);
}

}  // namespace
}  // namespace tern
