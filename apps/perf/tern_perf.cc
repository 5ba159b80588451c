// tern-perf: an iperf/netperf-like TCP benchmark, client and server, on Tern
// (tern/api.h, one App per worker) or, with --kernel, on Linux sockets with
// epoll, speaking one wire protocol (perf_protocol.h), so one tool drives and
// serves either side of an A/B: Tern against the kernel, and each against itself.
//
//   tern-perf --config FILE --server [--port 5201]
//   tern-perf --config FILE --client ADDR [--mode bulk|rr|crr] [--time 10] ...
//   tern-perf --kernel --server [--port 5201] [--cpu N]
//   tern-perf --kernel --client ADDR [--mode ...] [--cpu N]
//
// The command line is parsed once (tern::api::parse_command_line); --kernel
// then runs without starting DPDK (no EAL, no hugepages).
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
#include "perf_stats.h"
#include "perf_tern.h"
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
      {"--client", "ADDR", "client: connect to the server at ADDR (IPv4)",
       [&o](const std::string& v) {
         auto a = tern::api::parse_ipv4(v);
         if (!a) throw std::invalid_argument("--client = \"" + v + "\": expected an IPv4 address");
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
  };
  spec.flags = {
      {"--server", "server: answer clients of any mode until SIGINT/SIGTERM", [&o] { o.server = true; }},
      {"--json", "print the figures as one JSON object on the last line", [&o] { o.json = true; }},
      {"--kernel", "use Linux sockets (epoll, one thread) instead of Tern; no --config",
       [&o] { o.kernel = true; }},
  };
}

// Both modes: exactly one of --server and --client.
bool check_role(const Options& o) {
  if (o.server == o.client) {
    std::fprintf(stderr, "tern-perf: give exactly one of --server and --client ADDR (--help for usage)\n");
    return false;
  }
  return true;
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
  if (o.kernel) {
    o.ready_file = cl.ready_file;
    return perf::run_kernel(o);
  }

  std::vector<perf::TernPerfClient*> clients;
  std::vector<perf::TernPerfServer*> servers;
  std::unique_ptr<perf::TernClientShared> shared;
  spec.make_app = [&](std::size_t, std::size_t workers) -> std::unique_ptr<api::App> {
    if (o.client) {
      if (!shared) shared = std::make_unique<perf::TernClientShared>(workers);
      auto app = std::make_unique<perf::TernPerfClient>(o, *shared);
      clients.push_back(app.get());
      return app;
    }
    auto app = std::make_unique<perf::TernPerfServer>(o);
    servers.push_back(app.get());
    return app;
  };
  spec.done = [&] {
    if (o.client) return shared && shared->finished();
    return std::any_of(servers.begin(), servers.end(), [](const auto* s) { return s->listen_failed(); });
  };
  spec.report = [&](std::FILE* out) {
    if (o.client) {
      perf::print_summary(out, perf::merge_client_results({clients.begin(), clients.end()}, o), o.json);
    } else {
      perf::print_summary(out, perf::merge_server_results({servers.begin(), servers.end()}), o.json);
    }
  };
  spec.exit_status = [&] {
    if (o.client) {
      const perf::Result r = perf::merge_client_results({clients.begin(), clients.end()}, o);
      return r.errors > 0 || (r.bytes == 0 && r.transactions == 0) ? 1 : 0;
    }
    const bool failed =
        std::any_of(servers.begin(), servers.end(), [](const auto* s) { return s->listen_failed(); });
    return failed ? 1 : 0;
  };
  spec.describe = [&] {
    const std::string where = api::format_ipv4(o.addr) + ":" + std::to_string(o.port);
    return o.client ? "tern-perf client: " + std::string(perf::to_string(o.mode)) + " to " + where + ", " +
                          std::to_string(o.connections) + " connection(s)"
                    : "tern-perf server: listening on port " + std::to_string(o.port);
  };
  return api::run(cl, spec);
}
