// tern::api::run: the start-up every Tern application shares. Command line
// (command_line.cc), config loading with clear errors, the Runtime, one App per
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
#include "runtime/startup_checks.h"
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

// Before the port comes up: a ready file that cannot be written would
// otherwise be noticed only once the stack runs.
std::string ready_file_problem(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), F_OK) != 0)
    return "--ready-file " + path + ": the directory " + dir + " does not exist";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "--ready-file " + path + ": cannot write in " + dir + " (" + std::strerror(errno) + ")";
  return "";
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

// The application's lines under the summary block, indented like it.
std::string indent_lines(const std::string& text) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    out += "  " + text.substr(at, nl == std::string::npos ? std::string::npos : nl - at) + "\n";
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
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
  CommandLine cl;
  if (const int rc = parse_command_line(argc, argv, spec, cl); rc >= 0) return rc;
  return run(cl, spec);
}

int run(const CommandLine& cl, const AppSpec& spec) {
  const char* name = spec.name.c_str();
  if (cl.config_path.empty()) {
    std::fprintf(stderr, "%s: --config FILE is required (--help lists every option)\n", name);
    return 2;
  }
  const std::string& config_path = cl.config_path;
  const std::string& ready_file = cl.ready_file;
  const bool print_eal = cl.print_eal_args;
  if (!ready_file.empty() && !print_eal) {
    if (const std::string why = ready_file_problem(ready_file); !why.empty()) {
      std::fprintf(stderr, "%s: %s\n", name, why.c_str());
      return 2;
    }
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
  int status = 0;
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
    std::printf("%s", rt.describe().c_str());
    if (spec.describe) std::printf("%s", indent_lines(spec.describe()).c_str());
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
    // Here, while the Apps live: exit_status may read their results (the
    // Apps go at the end of this block; read after it, tern-echo's client
    // status came from freed memory and was 1 for a run that succeeded).
    if (spec.exit_status) status = spec.exit_status();
  } catch (const StartupError& e) {
    std::fprintf(stderr, "%s: cannot start: %s\n", name, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  return status;
}

}  // namespace tern::api
