// tern::api::run: the start-up every Tern application shares. Command line
// (--config, --ready-file, --print-eal-args and the application's own
// options), config loading with clear errors, the Runtime, one App per
// worker, SIGINT/SIGTERM to stop, SIGUSR1 to print the counters (from a
// control thread, never from a signal handler or a worker), and the counters
// printed on exit.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "api/adapter.h"
#include "config/config.h"
#include "runtime/runtime.h"
#include "tern/api.h"

namespace tern::api {
namespace {

// Signal handlers can only reach the process through globals; these two are
// the only ones, and only the handlers and app_main touch them.
std::atomic<Runtime*> g_runtime{nullptr};
std::atomic<bool> g_print_requested{false};

void on_stop_signal(int) {
  if (Runtime* rt = g_runtime.load()) rt->stop();
}
void on_usr1(int) { g_print_requested.store(true); }

int usage(const AppSpec& spec, const char* argv0) {
  std::fprintf(stderr, "%s: %s\nusage: %s --config FILE [--ready-file PATH] [--print-eal-args]",
               spec.name.c_str(), spec.summary.c_str(), argv0);
  for (const AppOption& o : spec.options) std::fprintf(stderr, " [%s %s]", o.flag.c_str(), o.metavar.c_str());
  for (const AppFlag& f : spec.flags) std::fprintf(stderr, " [%s]", f.flag.c_str());
  std::fprintf(stderr,
               "\n  --config FILE       TOML configuration (see docs/config.md)\n"
               "  --ready-file PATH   write our pid to PATH once the port is up (for scripts)\n"
               "  --print-eal-args    print the EAL arguments the config yields and exit\n");
  for (const AppOption& o : spec.options)
    std::fprintf(stderr, "  %-19s %s\n", (o.flag + " " + o.metavar).c_str(), o.help.c_str());
  for (const AppFlag& f : spec.flags) std::fprintf(stderr, "  %-19s %s\n", f.flag.c_str(), f.help.c_str());
  std::fprintf(stderr, "Signals: SIGINT/SIGTERM stop (counters printed), SIGUSR1 prints the counters.\n");
  return 2;
}

// Written under a temporary name and renamed, so a script polling for the
// file never reads it half-written.
void write_ready_file(const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << getpid() << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

// "name value" lines for the totals and then each worker.
void print_counters(const Runtime& rt, std::FILE* out) {
  std::fprintf(out, "--- tern counters (total over %zu workers) ---\n%s", rt.workers(),
               format_counters(rt.totals()).c_str());
  for (std::size_t w = 0; w < rt.workers(); ++w)
    std::fprintf(out, "--- worker %zu ---\n%s", w, format_counters(rt.worker(w).counters()).c_str());
  std::fflush(out);
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept { return tern::parse_ipv4(s); }
std::string format_ipv4(std::uint32_t host_order) { return tern::format_ipv4(host_order); }

long parse_int_option(const std::string& flag, const std::string& value, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw std::invalid_argument(flag + " = \"" + value + "\": expected an integer in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  return v;
}

int run(int argc, char** argv, const AppSpec& spec) {
  const char* name = spec.name.c_str();
  std::string config_path, ready_file;
  bool print_eal = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if ((arg == "--config" || arg == "-c") && has_value) {
      config_path = argv[++i];
    } else if (arg == "--ready-file" && has_value) {
      ready_file = argv[++i];
    } else if (arg == "--print-eal-args") {
      print_eal = true;
    } else if (arg == "--help" || arg == "-h") {
      return usage(spec, argv[0]);
    } else if (auto f = std::find_if(spec.flags.begin(), spec.flags.end(),
                                     [&](const AppFlag& x) { return x.flag == arg; });
               f != spec.flags.end()) {
      f->set();
    } else {
      const AppOption* opt = nullptr;
      for (const AppOption& o : spec.options)
        if (o.flag == arg) opt = &o;
      if (opt == nullptr || !has_value) {
        std::fprintf(stderr, "%s: %s '%s'\n", name, opt == nullptr ? "unknown option" : "missing value for",
                     arg.c_str());
        return usage(spec, argv[0]);
      }
      try {
        opt->set(argv[++i]);
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 2;
      }
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "%s: --config FILE is required\n", name);
    return usage(spec, argv[0]);
  }

  Config cfg;
  try {
    cfg = load_config(config_path);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: configuration error: %s\n", name, e.what());
    return 2;
  }
  if (print_eal) {
    for (const auto& a : Runtime::eal_args(cfg, name)) std::printf("%s ", a.c_str());
    std::printf("\n");
    return 0;
  }
  try {
    Runtime rt(cfg, name);
    // Declared after the Runtime so they go first: an app may hold mbufs
    // from the Runtime's pools and TCBs of its workers.
    std::vector<std::unique_ptr<WorkerApp>> apps;
    for (std::size_t w = 0; w < rt.workers(); ++w) {
      std::unique_ptr<App> app = spec.make_app ? spec.make_app(w, rt.workers()) : nullptr;
      apps.push_back(
          app ? std::make_unique<WorkerAppAdapter>(rt.worker(w), rt.worker(w).pool(), std::move(app))
              : nullptr);
      rt.worker(w).set_app(apps.back().get());
    }
    g_runtime.store(&rt);
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    signal(SIGUSR1, on_usr1);
    std::printf("%s\n", rt.describe().c_str());
    std::fflush(stdout);
    if (!ready_file.empty()) write_ready_file(ready_file);
    std::thread control([&rt, &spec] {
      while (!rt.stopping()) {
        if (g_print_requested.exchange(false)) print_counters(rt, stdout);
        if (spec.done && spec.done()) rt.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    rt.run();
    control.join();
    g_runtime.store(nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    print_counters(rt, stdout);
    if (spec.report) {
      spec.report(stdout);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  return spec.exit_status ? spec.exit_status() : 0;
}

}  // namespace tern::api
