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
// --kernel is recognised here, before tern::api::run, so kernel mode never
// starts DPDK (no EAL, no hugepages).
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

int usage_kernel(const tern::api::AppSpec& spec, const char* argv0) {
  std::fprintf(stderr, "%s: %s\nusage: %s --kernel (--server | --client ADDR) [--ready-file PATH]",
               spec.name.c_str(), spec.summary.c_str(), argv0);
  for (const auto& opt : spec.options)
    std::fprintf(stderr, " [%s %s]", opt.flag.c_str(), opt.metavar.c_str());
  std::fprintf(stderr, "\n  --ready-file PATH   server: write our pid to PATH once listening\n");
  for (const auto& opt : spec.options)
    std::fprintf(stderr, "  %-19s %s\n", (opt.flag + " " + opt.metavar).c_str(), opt.help.c_str());
  for (const auto& f : spec.flags) std::fprintf(stderr, "  %-19s %s\n", f.flag.c_str(), f.help.c_str());
  return 2;
}

// The command line, checked before anything starts. Kernel mode takes the
// same options as Tern mode without --config; in Tern mode api::run parses
// it again (setting the same values) and owns --config, --ready-file,
// --print-eal-args and --help. Returns -1 to go on, else the exit status.
int parse_args(int argc, char** argv, const tern::api::AppSpec& spec, Options& o, bool kernel) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return kernel ? usage_kernel(spec, argv[0]) : -1;
    if (arg == "--config" || arg == "-c") {
      if (kernel) {
        std::fprintf(stderr, "tern-perf: --kernel does not take --config (it does not start Tern)\n");
        return 2;
      }
      ++i;
      continue;
    }
    if (arg == "--ready-file" && i + 1 < argc) {
      o.ready_file = argv[++i];
      continue;
    }
    if (arg == "--print-eal-args" && !kernel) continue;
    if (auto f =
            std::find_if(spec.flags.begin(), spec.flags.end(), [&](const auto& x) { return x.flag == arg; });
        f != spec.flags.end()) {
      f->set();
      continue;
    }
    auto opt =
        std::find_if(spec.options.begin(), spec.options.end(), [&](const auto& x) { return x.flag == arg; });
    if (opt == spec.options.end() || i + 1 >= argc) {
      if (!kernel) return -1;  // api::run reports it, with its usage
      std::fprintf(stderr, "tern-perf: %s '%s'\n",
                   opt == spec.options.end() ? "unknown option" : "missing value for", arg.c_str());
      return usage_kernel(spec, argv[0]);
    }
    try {
      opt->set(argv[++i]);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "tern-perf: %s\n", e.what());
      return 2;
    }
  }
  return -1;
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

  const bool kernel =
      std::any_of(argv + 1, argv + argc, [](const char* a) { return std::strcmp(a, "--kernel") == 0; });
  const bool help = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0 ||
           std::strcmp(a, "--print-eal-args") == 0;
  });
  if (int rc = parse_args(argc, argv, spec, o, kernel); rc >= 0) return rc;
  if (!help && !check_role(o)) return 2;
  if (kernel) return perf::run_kernel(o);

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
  return api::run(argc, argv, spec);
}
