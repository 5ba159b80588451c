// tern-stat's pure parts (apps/stat): the JSON reader on DPDK telemetry's
// replies, the /tern/conns rows, filters, the ss-like and JSON listings, the
// counter deltas of `rates`, and the command line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stat_json.h"
#include "stat_options.h"
#include "stat_views.h"

namespace tern::stat {
namespace {

TEST(StatJson, ReadsTelemetryRepliesKeepingKeyOrder) {
  const auto j =
      parse_json(R"({"/tern/stats": {"RxPackets": 18446744073709551615, "TxPackets": 2, "A": -1.5,)"
                 R"( "s": "a\"b\\c\u0041", "t": true, "n": null, "l": [1, "x", []]}})");
  ASSERT_TRUE(j);
  const Json* s = j->find("/tern/stats");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->object.size(), 7u);
  EXPECT_EQ(s->object[0].first, "RxPackets");
  EXPECT_EQ(s->object[1].first, "TxPackets");
  EXPECT_EQ(*s->find("RxPackets")->integer, UINT64_MAX) << "every digit of a 64-bit counter";
  EXPECT_FALSE(s->find("A")->integer);
  EXPECT_DOUBLE_EQ(s->find("A")->real, -1.5);
  EXPECT_EQ(s->find("s")->string, "a\"b\\cA");
  EXPECT_TRUE(s->find("t")->boolean);
  EXPECT_EQ(s->find("n")->kind, Json::Kind::kNull);
  EXPECT_EQ(s->find("l")->array.size(), 3u);
}

TEST(StatJson, RefusesWhatIsNotOneValue) {
  for (const char* bad : {"", "{", "{\"a\": }", "[1,]", "{\"a\": 1} x", "\"open", "nul", "{'a': 1}", "01x"})
    EXPECT_FALSE(parse_json(bad)) << bad;
  EXPECT_EQ(json_quote("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\u0001\"");
}

// A /tern/conns reply as Tern writes it (telemetry.cc's conns_reply).
Json conns_reply() {
  return *parse_json(R"({"connections": 2, "first": 0, "listed": 2, "left_out": 0,
    "fields": ["worker", "local", "remote", "state", "congestion", "ca_state", "mss", "cwnd", "cwnd_segs",
               "ssthresh", "ssthresh_segs", "srtt_us", "rttvar_us", "rto_us", "min_rtt_us", "pacing_rate",
               "bytes_acked", "bytes_received", "segs_out", "segs_in", "total_retrans", "lost", "reordering",
               "snd_queue", "rcv_queue", "snd_wnd", "rcv_wnd"],
    "c0": ["0", "10.0.0.2:7", "10.0.0.1:40000", "ESTABLISHED", "cubic", "open", "1448", "14480", "10",
           "4294967295", "2966209", "250", "125", "201000", "180", "0", "100", "200", "5", "6", "0", "0", "3",
           "0", "17", "65535", "65535"],
    "c1": ["1", "10.0.0.2:7", "10.0.0.9:40001", "CLOSE_WAIT", "bbr", "recovery", "1448", "28960", "20",
           "14480", "10", "1500", "700", "204000", "1000", "1250000", "0", "0", "1", "1", "2", "1448", "3",
           "4096", "0", "65535", "65535"]})");
}

TEST(StatConns, RowsFromAReply) {
  std::vector<ConnEntry> rows;
  std::string why;
  ASSERT_TRUE(conns_from_reply(conns_reply(), rows, why)) << why;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].get("remote"), "10.0.0.1:40000");
  EXPECT_EQ(rows[1].num("pacing_rate"), 1250000u);
  EXPECT_EQ(rows[0].get("nonesuch"), "");

  EXPECT_FALSE(
      conns_from_reply(*parse_json(R"({"error": "unknown worker 7; workers are 0..1"})"), rows, why));
  EXPECT_EQ(why, "unknown worker 7; workers are 0..1");
  EXPECT_FALSE(conns_from_reply(*parse_json(R"({"fields": ["a"], "listed": 1})"), rows, why))
      << "row missing";
  EXPECT_FALSE(conns_from_reply(Json{}, rows, why)) << "null";
}

TEST(StatConns, ListedAsSsDoes) {
  std::vector<ConnEntry> rows;
  std::string why;
  ASSERT_TRUE(conns_from_reply(conns_reply(), rows, why));
  const std::string text = format_conns_text(rows);
  const std::string want_head = "State      Recv-Q  Send-Q  Local Address:Port  Peer Address:Port   Worker\n";
  EXPECT_EQ(text.substr(0, want_head.size()), want_head) << text;
  EXPECT_NE(text.find("\nESTAB      17      0       10.0.0.2:7          10.0.0.1:40000      0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\t cubic rtt:0.250/0.125 rto:201.000 mss:1448 cwnd:10 bytes_acked:100"),
            std::string::npos)
      << text << "(no ssthresh while it is infinite)";
  EXPECT_EQ(text.find("pacing_rate 0"), std::string::npos) << "no pacing rate without pacing";
  EXPECT_NE(text.find("CLOSE-WAIT"), std::string::npos);
  EXPECT_NE(text.find("\t bbr rtt:1.500/0.700 rto:204.000 mss:1448 cwnd:20 ssthresh:10"), std::string::npos)
      << text;
  EXPECT_NE(
      text.find(" pacing_rate 10.0Mbps retrans:2 lost:1448 reordering:3 ca_state:recovery minrtt:1.000"),
      std::string::npos)
      << text;
  EXPECT_EQ(format_conns_text({}), want_head.substr(0, want_head.size())) << "header only";
}

TEST(StatConns, JsonHasNumbersAsNumbers) {
  std::vector<ConnEntry> rows;
  std::string why;
  ASSERT_TRUE(conns_from_reply(conns_reply(), rows, why));
  const auto j = parse_json(format_conns_json(rows, 5, 2));
  ASSERT_TRUE(j) << format_conns_json(rows, 5, 2);
  EXPECT_EQ(*j->find("total")->integer, 5u);
  EXPECT_EQ(*j->find("workers")->integer, 2u);
  const Json& c = j->find("connections")->array.at(0);
  EXPECT_EQ(*c.find("srtt_us")->integer, 250u);
  EXPECT_EQ(c.find("state")->string, "ESTABLISHED");
  EXPECT_EQ(c.find("local")->string, "10.0.0.2:7");
}

TEST(StatConns, Filters) {
  std::vector<ConnEntry> rows;
  std::string why;
  ASSERT_TRUE(conns_from_reply(conns_reply(), rows, why));
  const auto count = [&](const ConnFilter& f) {
    std::size_t n = 0;
    for (const ConnEntry& c : rows) n += f.matches(c) ? 1u : 0u;
    return n;
  };
  EXPECT_EQ(count({}), 2u);
  EXPECT_EQ(count({.states = {"ESTABLISHED"}}), 1u);
  EXPECT_EQ(count({.states = {"ESTABLISHED", "CLOSE_WAIT"}}), 2u);
  EXPECT_EQ(count({.states = {"LAST_ACK"}}), 0u);
  EXPECT_EQ(count({.port = 7}), 2u);
  EXPECT_EQ(count({.port = 40001}), 1u);
  EXPECT_EQ(count({.port = 4000}), 0u) << "whole ports, not prefixes";
  EXPECT_EQ(count({.peer_addr = "10.0.0.9"}), 1u);
  EXPECT_EQ(count({.peer_addr = "10.0.0.1", .peer_port = 40001}), 0u);
  EXPECT_EQ(count({.worker = 1}), 1u);
}

TEST(StatConns, FiltersAnIpv6Peer) {
  std::vector<ConnEntry> rows;
  std::string why;
  ASSERT_TRUE(conns_from_reply(*parse_json(R"({"connections": 2, "first": 0, "listed": 2, "left_out": 0,
    "fields": ["worker", "local", "remote", "state"],
    "c0": ["0", "[2001:db8::2]:5201", "[2001:db8::1]:40000", "ESTABLISHED"],
    "c1": ["0", "10.0.0.2:5201", "10.0.0.1:40000", "ESTABLISHED"]})"),
                               rows, why))
      << why;
  const auto count = [&](const ConnFilter& f) {
    std::size_t n = 0;
    for (const ConnEntry& c : rows) n += f.matches(c) ? 1u : 0u;
    return n;
  };
  EXPECT_EQ(count({.peer_addr = "2001:db8::1"}), 1u);
  EXPECT_EQ(count({.peer_addr = "2001:db8::1", .peer_port = 40000}), 1u);
  EXPECT_EQ(count({.peer_addr = "2001:db8::1", .peer_port = 40001}), 0u);
  EXPECT_EQ(count({.peer_addr = "2001:db8::2"}), 0u) << "the local address is not the peer";
}

TEST(StatConns, StateNamesAsUsersWriteThem) {
  EXPECT_EQ(normalize_state("established"), "ESTABLISHED");
  EXPECT_EQ(normalize_state("ESTAB"), "ESTABLISHED");
  EXPECT_EQ(normalize_state("syn-recv"), "SYN_RECEIVED");
  EXPECT_EQ(normalize_state("fin-wait-1"), "FIN_WAIT_1");
  EXPECT_EQ(normalize_state("Close_Wait"), "CLOSE_WAIT");
  EXPECT_FALSE(normalize_state("estabished"));
  EXPECT_EQ(ss_state("ESTABLISHED"), "ESTAB");
  EXPECT_EQ(ss_state("SYN_RECEIVED"), "SYN-RECV");
  EXPECT_EQ(ss_state("FIN_WAIT_2"), "FIN-WAIT-2");
}

WorkerCounters counters(std::uint64_t rx, std::uint64_t estab, std::uint64_t ooo) {
  return {{{"RxPackets", rx}, {"CurrEstab", estab}, {"TxPackets", 5}},
          {{"TcpOutOfWindow", ooo}, {"IpBadChecksum", 0}}};
}

TEST(StatRates, DeltasPerWorkerAndInTotal) {
  const std::vector<WorkerCounters> before{counters(100, 3, 0), counters(50, 1, 2)};
  const std::vector<WorkerCounters> now{counters(160, 4, 0), counters(51, 0, 5)};
  const std::string text = format_rates_text(before, now, {.seconds = 1.0});
  const std::string want =
      "# change over 1.00 s\n"
      "event                            total    worker 0    worker 1\n"
      "RxPackets                           61          60           1\n"
      "CurrEstab (now)                      4           4           0\n"
      "drop reason                      total    worker 0    worker 1\n"
      "TcpOutOfWindow                       3           0           3\n";
  EXPECT_EQ(text, want);

  const auto j = parse_json(format_rates_json(before, now, {.seconds = 1.0}));
  ASSERT_TRUE(j) << format_rates_json(before, now, {.seconds = 1.0});
  EXPECT_EQ(*j->find("total")->find("events")->find("RxPackets")->integer, 61u);
  EXPECT_EQ(j->find("total")->find("events")->find("TxPackets"), nullptr) << "unchanged: left out";
  EXPECT_EQ(*j->find("total")->find("drops")->find("TcpOutOfWindow")->integer, 3u);
  const Json& w1 = j->find("workers")->array.at(1);
  EXPECT_EQ(*w1.find("worker")->integer, 1u);
  EXPECT_EQ(*w1.find("events")->find("RxPackets")->integer, 1u);
  EXPECT_DOUBLE_EQ(j->find("interval_s")->real, 1.0);
}

TEST(StatRates, ZerosAndNothingChanged) {
  const std::vector<WorkerCounters> same{counters(100, 0, 0)};
  const std::string quiet = format_rates_text(same, same, {.seconds = 2.0});
  EXPECT_EQ(quiet,
            "# change over 2.00 s\n"
            "event                            total\n"
            "  (none changed)\n"
            "drop reason                      total\n"
            "  (none changed)\n");
  const std::string all = format_rates_text(same, same, {.seconds = 2.0, .zeros = true});
  EXPECT_NE(all.find("TxPackets                            0\n"), std::string::npos) << all;
  EXPECT_NE(all.find("IpBadChecksum                        0\n"), std::string::npos) << all;
}

TEST(StatRates, CountersFromAReply) {
  CounterList l;
  std::string why;
  ASSERT_TRUE(counters_from_reply(*parse_json(R"({"RxPackets": 3, "TxPackets": 4})"), l, why));
  EXPECT_EQ(l, (CounterList{{"RxPackets", 3}, {"TxPackets", 4}}));
  EXPECT_FALSE(
      counters_from_reply(*parse_json(R"({"error": "unknown worker 2; workers are 0..1"})"), l, why));
  EXPECT_EQ(why, "unknown worker 2; workers are 0..1");
  EXPECT_FALSE(counters_from_reply(Json{}, l, why));
}

std::string parse(std::vector<const char*> args, StatOptions& o) {
  args.insert(args.begin(), "tern-stat");
  return parse_stat_options(static_cast<int>(args.size()), args.data(), o);
}

TEST(StatOptions, LongShortAndEqualsForms) {
  StatOptions o;
  ASSERT_EQ(
      parse({"-f", "ternx", "--state=estab,close-wait", "--port", "80", "--peer=10.1.2.3:5000", "-j"}, o),
      "");
  EXPECT_EQ(o.prefix, "ternx");
  EXPECT_EQ(o.view, "conns");
  EXPECT_EQ(o.filter.states, (std::vector<std::string>{"ESTABLISHED", "CLOSE_WAIT"}));
  EXPECT_EQ(o.filter.port, 80);
  EXPECT_EQ(o.filter.peer_addr, "10.1.2.3");
  EXPECT_EQ(o.filter.peer_port, 5000);
  EXPECT_TRUE(o.json);
}

TEST(StatOptions, PeerTakesIpv6AsTernPrintsIt) {
  StatOptions o;
  ASSERT_EQ(parse({"--peer", "[2001:DB8:0::1]:5201"}, o), "");
  EXPECT_EQ(o.filter.peer_addr, "2001:db8::1");  // RFC 5952 form: what the connection's remote reads
  EXPECT_EQ(o.filter.peer_port, 5201);
  StatOptions bare;
  ASSERT_EQ(parse({"--peer=2001:db8:0:0:0:0:0:2"}, bare), "");
  EXPECT_EQ(bare.filter.peer_addr, "2001:db8::2");
  EXPECT_FALSE(bare.filter.peer_port);
  StatOptions brackets;
  ASSERT_EQ(parse({"--peer", "[fe80::1]"}, brackets), "");
  EXPECT_EQ(brackets.filter.peer_addr, "fe80::1");
  EXPECT_FALSE(brackets.filter.peer_port);

  StatOptions r;
  ASSERT_EQ(parse({"rates", "-fternz", "-i", "0.5", "--count=3", "-z", "-w", "1"}, r), "");
  EXPECT_EQ(r.view, "rates");
  EXPECT_EQ(r.prefix, "ternz");
  EXPECT_DOUBLE_EQ(r.interval_s, 0.5);
  EXPECT_EQ(r.count, 3u);
  EXPECT_TRUE(r.zeros);
  EXPECT_EQ(r.filter.worker, 1u);

  StatOptions h;
  ASSERT_EQ(parse({"--help"}, h), "");
  EXPECT_TRUE(h.help);
  StatOptions v;
  ASSERT_EQ(parse({"-V"}, v), "");
  EXPECT_TRUE(v.version);
}

TEST(StatOptions, ClearErrorsWithSuggestions) {
  const std::pair<std::vector<const char*>, const char*> cases[] = {
      {{"--jsno"}, "unknown option --jsno (did you mean --json?)"},
      {{"--intervall", "2"}, "unknown option --intervall (did you mean --interval?)"},
      {{"rate"}, "unknown view 'rate' (did you mean rates?); views: conns (the default), rates"},
      {{"-x"}, "unknown option -x"},
      {{"-f"}, "--file-prefix needs a value"},
      {{"--json=1"}, "--json takes no value"},
      {{"--port", "0"}, "--port: a port is 1..65535, got '0'"},
      {{"--port=70000"}, "--port: a port is 1..65535, got '70000'"},
      {{"--peer", "10.1.2"}, "--peer: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '10.1.2'"},
      {{"--peer", "[2001:db8::1"}, "--peer: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '[2001:db8::1'"},
      {{"--peer", "[2001:db8::1]80"},
       "--peer: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '[2001:db8::1]80'"},
      {{"--peer", "2001:db8::g"}, "--peer: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '2001:db8::g'"},
      {{"--peer", "[10.1.2.3]:80"}, "--peer: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT, got '[10.1.2.3]:80'"},
      {{"--peer", "[2001:db8::1]:0"}, "--peer: a port is 1..65535, got '[2001:db8::1]:0'"},
      {{"rates", "-i", "0"}, "--interval: seconds between samples, 0.1..3600, got '0'"},
      {{"rates", "-c", "x"}, "--count: how many samples (1 or more), got 'x'"},
      {{"rates", "--state", "estab"}, "--state, --port and --peer filter connections; rates lists counters"},
      {{"conns", "rates"}, "one view at a time: got 'conns' and 'rates'"},
  };
  for (const auto& [args, want] : cases) {
    StatOptions o;
    EXPECT_EQ(parse(args, o), want) << args.front();
  }
  StatOptions o;
  const std::string why = parse({"--state", "estabished"}, o);
  EXPECT_EQ(
      why.rfind("--state: unknown state 'estabished' (did you mean ESTABLISHED?); states: SYN_SENT, ", 0), 0u)
      << why;
}

TEST(StatOptions, UsageNamesEveryOption) {
  const std::string u = stat_usage();
  for (const char* f : {"--file-prefix", "--socket", "--json", "--state", "--port", "--peer", "--worker",
                        "--interval", "--count", "--zeros", "--help", "--version", "rates", "conns"})
    EXPECT_NE(u.find(f), std::string::npos) << f;
}

}  // namespace
}  // namespace tern::stat
