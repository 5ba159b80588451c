// tern-perf: an iperf/netperf-like TCP benchmark, client and server, on Tern
// (tern/api.h, one App per worker) or, with --kernel, on Linux sockets with
// epoll, speaking one wire protocol (perf_protocol.h), so one tool drives and
// serves either side of an A/B: Tern against the kernel, and each against itself.
//
//   tern-perf --config FILE --server [--port 5201]
//   tern-perf --config FILE --client ADDR [--mode bulk|rr|crr] [--time 10] [-R | --bidir] [-n BYTES]
//             [--zerocopy] [--json] [--plot FILE.png] ...
//   tern-perf --kernel --server [--port 5201] [--cpu N] [--reuseport]
//   tern-perf --kernel --client ADDR [--mode ...] [--cpu N]
//
// The command line is parsed once (tern::api::parse_command_line); --kernel
// then runs without starting DPDK (no EAL, no hugepages).
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "perf_kernel.h"
#include "perf_options.h"
#include "perf_plot.h"
#include "perf_stats.h"
#include "perf_tern.h"
#include "perf_udp.h"
#include "perf_udp_kernel.h"
#include "perf_udp_tern.h"
#include "tern/api.h"

namespace {

using tern::perf::Options;

double parse_seconds(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(d) || d < lo || d > hi)
    throw std::invalid_argument(flag + " = \"" + v + "\": expected seconds in [" +
                                std::to_string(lo).substr(0, 4) + ", " +
                                std::to_string(static_cast<long>(hi)) + "]");
  return d;
}

void add_options(tern::api::AppSpec& spec, Options& o) {
  using tern::api::parse_int_option;
  spec.options = {
      {"--client", "ADDR", "client: connect to the server at ADDR (IPv4 or IPv6)",
       [&o](const std::string& v) {
         auto a = tern::IpAddr::parse(v);
         if (!a || a->is_unspecified() || a->is_multicast())
           throw std::invalid_argument("--client = \"" + v + "\": expected a unicast IPv4 or IPv6 address");
         o.addr = *a;
         o.client = true;
       }},
      {"--port", "N", "TCP port to listen on or connect to (default 5201)",
       [&o](const std::string& v) {
         o.port = static_cast<std::uint16_t>(parse_int_option("--port", v, 1, 65535));
       }},
      {"--mode", "MODE", "client: bulk (Gbps) | rr (request/response) | crr (connect/request/response/close)",
       [&o](const std::string& v) {
         auto m = tern::perf::parse_mode(v);
         if (!m) throw std::invalid_argument("--mode = \"" + v + "\": expected bulk, rr or crr");
         o.mode = *m;
       }},
      {"--connections", "N", "client: concurrent connections, spread over the workers (default 1)",
       [&o](const std::string& v) {
         o.connections = static_cast<std::uint32_t>(parse_int_option("--connections", v, 1, 100000));
       }},
      {"--time", "SECONDS", "client: how long to run (default 10)",
       [&o](const std::string& v) { o.time_s = parse_seconds("--time", v, 0.1, 86400); }},
      {"--interval", "SECONDS", "client: a progress line every SECONDS, 0 for none (default 1)",
       [&o](const std::string& v) {
         o.interval_s = v == "0" ? 0 : parse_seconds("--interval", v, 0.1, 86400);
       }},
      {"--size", "BYTES", "client, rr and crr: request and response size (default 64)",
       [&o](const std::string& v) {
         o.size = static_cast<std::uint32_t>(parse_int_option("--size", v, 1, tern::perf::kMaxSize));
       }},
      {"--cpu", "N", "--kernel: pin the thread to CPU N",
       [&o](const std::string& v) {
         o.cpu = static_cast<int>(parse_int_option("--cpu", v, 0, CPU_SETSIZE - 1));
       }},
      {"--congestion", "NAME",
       "--kernel: the congestion control of every socket (setsockopt TCP_CONGESTION, e.g. cubic); "
       "algorithms outside net.ipv4.tcp_allowed_congestion_control need CAP_NET_ADMIN",
       [&o](const std::string& v) {
         if (v.empty() || v.size() >= 16)
           throw std::invalid_argument("--congestion = \"" + v + "\": expected an algorithm name");
         o.congestion = v;
       }},
      {"--start-file", "PATH",
       "client: connect once PATH exists (for scripts that set up the peer after Tern)",
       [&o](const std::string& v) { o.start_file = v; }},
      {"--bytes", "BYTES",
       "client, bulk: send (with --reverse, receive) BYTES in all (K, M, G suffixes), then stop, "
       "instead of --time",
       [&o](const std::string& v) { o.bytes = tern::perf::parse_bytes("--bytes", v); }},
      {"-n", "BYTES", "same as --bytes",
       [&o](const std::string& v) { o.bytes = tern::perf::parse_bytes("-n", v); }},
      {"--plot", "FILE.png",
       "client: draw throughput and RTT over time (the interval lines) into FILE.png with gnuplot",
       [&o](const std::string& v) {
         if (v.size() < 5 || v.substr(v.size() - 4) != ".png" || v.find('\'') != std::string::npos)
           throw std::invalid_argument("--plot = \"" + v + "\": expected a FILE.png (no quote in its name)");
         if (!tern::perf::gnuplot_available())
           throw std::invalid_argument("--plot needs gnuplot (Debian: apt-get install gnuplot-nox)");
         o.plot = v;
       }},
      {"--bitrate", "BITS",
       "client, --udp: send at BITS/s of UDP payload (K, M, G: powers of 1000; default 1M as iperf3 -u), "
       "0: as fast as the stack takes them",
       [&o](const std::string& v) {
         o.bitrate = tern::perf::parse_bitrate("--bitrate", v);
         o.bitrate_given = true;
       }},
      {"-b", "BITS", "same as --bitrate",
       [&o](const std::string& v) {
         o.bitrate = tern::perf::parse_bitrate("-b", v);
         o.bitrate_given = true;
       }},
      {"--length", "BYTES",
       "client, --udp: datagram payload bytes (default 1460, 1452 to an IPv6 server: what fits a 1500-byte "
       "MTU)",
       [&o](const std::string& v) {
         o.length = static_cast<std::uint32_t>(
             parse_int_option("--length", v, tern::perf::kUdpMinLength, tern::perf::kUdpMaxLength));
       }},
      {"-l", "BYTES", "same as --length",
       [&o](const std::string& v) {
         o.length = static_cast<std::uint32_t>(
             parse_int_option("-l", v, tern::perf::kUdpMinLength, tern::perf::kUdpMaxLength));
       }},
  };
  spec.flags = {
      {"--udp",
       "UDP datagrams with loss, out-of-order and RFC 3550 jitter (iperf3 -u) instead of TCP; the server too",
       [&o] { o.udp = true; }},
      {"-u", "same as --udp", [&o] { o.udp = true; }},
      {"--server", "server: answer clients of any mode until SIGINT/SIGTERM", [&o] { o.server = true; }},
      {"--json", "print the figures as JSON too: one object per interval, and the summary as the last line",
       [&o] { o.json = true; }},
      {"--kernel", "use Linux sockets (epoll, one thread) instead of Tern; no --config",
       [&o] { o.kernel = true; }},
      {"--reuseport",
       "--kernel --server: SO_REUSEPORT on the listener, so that several servers, one pinned per core, share "
       "the port (the kernel spreads connections over them by hash, as multi-core kernel servers do)",
       [&o] { o.reuseport = true; }},
      {"--reverse", "client, bulk: the server sends and the client receives (iperf3 -R)",
       [&o] { o.reverse = true; }},
      {"-R", "same as --reverse", [&o] { o.reverse = true; }},
      {"--bidir", "client, bulk: both ways at once, --connections each way (iperf3 --bidir)",
       [&o] { o.bidir = true; }},
      {"--zerocopy",
       "client, bulk, Tern: send from memory registered once (SendRegion) instead of copying into the send "
       "queue (sendfile-like; not with --kernel or --reverse)",
       [&o] { o.zerocopy = true; }},
  };
}

// Both modes: exactly one of --server and --client, and client options that go together.
bool check_role(const Options& o) {
  const auto bad = [](const char* what) {
    std::fprintf(stderr, "tern-perf: %s (--help for usage)\n", what);
    return false;
  };
  if (o.server == o.client) return bad("give exactly one of --server and --client ADDR");
  if (o.udp && (o.reverse || o.bidir || o.bytes > 0 || !o.plot.empty() || o.mode != tern::perf::Mode::kBulk ||
                o.connections != 1))
    return bad(
        "--udp sends one flow for --time: --mode, --connections, --reverse, --bidir, --bytes and --plot "
        "are TCP options");
  if (!o.udp && (o.length != 0 || o.bitrate_given)) return bad("--bitrate and --length need --udp");
  if (o.server && (o.length != 0 || o.bitrate_given)) return bad("--bitrate and --length are client options");
  if (o.server && (o.reverse || o.bidir || o.bytes > 0 || !o.plot.empty()))
    return bad("--reverse, --bidir, --bytes and --plot are client options: the client decides the test");
  if (o.mode != tern::perf::Mode::kBulk && (o.reverse || o.bidir || o.bytes > 0))
    return bad("--reverse, --bidir and --bytes are for --mode bulk");
  if (o.reverse && o.bidir) return bad("give one of --reverse and --bidir");
  if (o.zerocopy && (o.server || o.kernel || o.udp || o.mode != tern::perf::Mode::kBulk || o.reverse))
    return bad(
        "--zerocopy is for Tern's bulk client that sends (not --server, --kernel, --udp or --reverse)");
  if (!o.plot.empty() && o.interval_s <= 0)
    return bad("--plot draws the interval lines: it needs --interval > 0");
  if (o.bytes > 0 && o.receives() && (o.bytes + o.connections - 1) / o.connections >= (1ull << 32))
    return bad("--bytes with --reverse or --bidir: at most 4 GiB per connection (more --connections)");
  if (o.bytes > 0 && o.bytes < o.connections) return bad("--bytes: fewer bytes than --connections");
  // Tern's server spreads connections over its workers itself; UDP has no listener.
  if (o.reuseport && (!o.kernel || !o.server || o.udp))
    return bad("--reuseport is for --kernel --server (TCP)");
  return true;
}

// The run's test id: random, never 0 (0: none).
std::uint32_t new_test_id() {
  std::uint32_t id = 0;
  while (id == 0)
    if (getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id))
      id = static_cast<std::uint32_t>(getpid());
  return id;
}

std::string plot_title(const Options& o, const char* stack) {
  return std::string("tern-perf ") + stack + " " + std::string(tern::perf::to_string(o.mode)) +
         " client to " + o.addr.to_string() + ", " + std::to_string(o.connections) + " connection(s)" +
         (o.mode == tern::perf::Mode::kBulk ? std::string(", ") + o.direction() : std::string());
}

// --udp on Tern: worker 0 of the client sends; a server on every worker.
int run_tern_udp(const Options& o, const tern::api::CommandLine& cl, tern::api::AppSpec& spec) {
  using namespace tern;
  perf::TernUdpShared shared;
  std::vector<perf::TernUdpServer*> servers;
  spec.make_app = [&](std::size_t, std::size_t) -> std::unique_ptr<api::App> {
    if (o.client) return std::make_unique<perf::TernUdpClient>(o, shared);
    auto app = std::make_unique<perf::TernUdpServer>(o);
    servers.push_back(app.get());
    return app;
  };
  const auto open_failed = [&] {
    return std::any_of(servers.begin(), servers.end(), [](const auto* s) { return s->open_failed(); });
  };
  spec.done = [&] { return o.client ? shared.finished() : open_failed(); };
  // exit_status runs after the Apps are gone (api::run destroys them
  // first): what it needs is taken here, in report.
  bool failed = false;
  spec.report = [&](std::FILE* out) {
    failed = open_failed();
    if (o.client) {
      if (shared.finished()) perf::print_udp_summary(out, shared.summary(), o.json);
      return;
    }
    perf::UdpServerTotals t;
    for (const auto* s : servers) {
      t.datagrams += s->totals().datagrams;
      t.bytes += s->totals().bytes;
      t.tests += s->totals().tests;
      t.ignored += s->totals().ignored;
    }
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(
        out,
        "tern-perf udp server (tern stack): %llu tests ended, %llu datagrams, %llu bytes, %llu ignored\n",
        u(t.tests), u(t.datagrams), u(t.bytes), u(t.ignored));
    if (o.json)
      std::fprintf(out,
                   "{\"type\": \"summary\", \"mode\": \"udp\", \"stack\": \"tern\", \"role\": \"server\", "
                   "\"tests\": %llu, \"received\": %llu, \"bytes\": %llu, \"ignored\": %llu}\n",
                   u(t.tests), u(t.datagrams), u(t.bytes), u(t.ignored));
  };
  spec.exit_status = [&] {
    if (o.client) {
      const auto r = shared.finished() ? shared.summary().report : std::nullopt;
      return r && r->received > 0 ? 0 : 1;
    }
    return failed ? 1 : 0;
  };
  spec.describe = [&] {
    return o.client ? "tern-perf udp client to " + Endpoint{o.addr, o.port}.to_string()
                    : "tern-perf udp server: port " + std::to_string(o.port);
  };
  return api::run(cl, spec);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tern;
  Options o;
  api::AppSpec spec;
  spec.name = "tern-perf";
  spec.summary = "TCP benchmark (bulk, rr, crr), client and server, on Tern or (--kernel) Linux sockets";
  add_options(spec, o);

  // One parser for both modes (tern/api.h); kernel mode then never starts
  // DPDK (no EAL, no hugepages) and takes no --config.
  api::CommandLine cl;
  if (const int rc = api::parse_command_line(argc, argv, spec, cl); rc >= 0) return rc;
  if (o.kernel && (!cl.config_path.empty() || cl.print_eal_args)) {
    std::fprintf(stderr,
                 "tern-perf: --kernel takes no --config or --print-eal-args (it does not start Tern)\n");
    return 2;
  }
  if (!cl.print_eal_args && !check_role(o)) return 2;
  if (o.client) o.test = new_test_id();
  if (o.kernel) {
    o.ready_file = cl.ready_file;
    return o.udp ? perf::run_kernel_udp(o) : perf::run_kernel(o);
  }
  if (o.udp) return run_tern_udp(o, cl, spec);

  std::vector<perf::TernPerfClient*> clients;
  std::vector<perf::TernPerfServer*> servers;
  std::unique_ptr<perf::TernClientShared> shared;
  std::unique_ptr<perf::TestTable> tests;
  bool plot_failed = false;
  spec.make_app = [&](std::size_t, std::size_t workers) -> std::unique_ptr<api::App> {
    if (o.client) {
      if (!shared) shared = std::make_unique<perf::TernClientShared>(workers);
      auto app = std::make_unique<perf::TernPerfClient>(o, *shared);
      clients.push_back(app.get());
      return app;
    }
    if (!tests) tests = std::make_unique<perf::TestTable>(workers);
    auto app = std::make_unique<perf::TernPerfServer>(o, *tests);
    servers.push_back(app.get());
    return app;
  };
  spec.done = [&] {
    if (o.client) return shared && shared->finished();
    return std::any_of(servers.begin(), servers.end(), [](const auto* s) { return s->listen_failed(); });
  };
  // exit_status runs after the Apps are gone (api::run destroys them
  // first): the servers' listen failure is taken here, in report.
  bool listen_failed = false;
  bool client_failed = true;  // no report: nothing measured
  spec.report = [&](std::FILE* out) {
    listen_failed =
        std::any_of(servers.begin(), servers.end(), [](const auto* s) { return s->listen_failed(); });
    if (o.client) {
      if (!o.plot.empty() && !clients.empty())
        plot_failed = !perf::plot_intervals(o.plot, clients.front()->interval_points(),
                                            clients.front()->rx_interval_points(),
                                            o.mode == perf::Mode::kBulk, plot_title(o, "Tern"));
      const perf::Result r = perf::merge_client_results({clients.begin(), clients.end()}, o);
      client_failed = r.errors > 0 || (r.bytes == 0 && r.transactions == 0);
      perf::print_summary(out, r, o.json);
    } else {
      perf::print_summary(out, perf::merge_server_results({servers.begin(), servers.end()}), o.json);
    }
  };
  spec.exit_status = [&] {
    if (o.client) return client_failed || plot_failed ? 1 : 0;
    return listen_failed ? 1 : 0;
  };
  spec.describe = [&] {
    const std::string where = Endpoint{o.addr, o.port}.to_string();
    return o.client ? "tern-perf client: " + std::string(perf::to_string(o.mode)) + " to " + where + ", " +
                          std::to_string(o.connections) + " connection(s)" +
                          (o.mode == perf::Mode::kBulk ? std::string(", ") + o.direction() : std::string())
                    : "tern-perf server: listening on port " + std::to_string(o.port);
  };
  return api::run(cl, spec);
}
