#pragma once
// The start-up every Tern application shares: command line (--config,
// --ready-file, --print-eal-args and the application's own options), config
// loading with clear errors, the Runtime, one WorkerApp per worker,
// SIGINT/SIGTERM to stop, SIGUSR1 to print the counters (from a control
// thread, never from a signal handler or a worker), and the counters printed
// on exit. An application's main() is a call to app_main().
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/worker.h"

namespace tern {

// An application option that takes a value ("--port 7"). `set` throws
// std::invalid_argument with a message when the value is not acceptable.
struct AppOption {
  std::string flag;  // "--port"
  std::string metavar;
  std::string help;
  std::function<void(const std::string& value)> set;
};

struct AppSpec {
  std::string name;  // "tern-echo": messages, EAL program name
  std::string summary;
  std::vector<AppOption> options;
  // Called once the Runtime is up, before the workers run: the application
  // for worker i (nullptr for none). The apps outlive the workers' loops and
  // are destroyed before the Runtime, so they may hold mbufs.
  std::function<std::unique_ptr<WorkerApp>(Runtime& rt, std::size_t worker)> make_app;
  // Optional: extra lines printed on exit, after the counters, once the
  // workers have stopped (so reading the apps' own state is race-free).
  std::function<void(std::FILE* out)> report;
};

// Returns the process exit status: 0, 1 (runtime failure), 2 (usage or config).
int app_main(int argc, char** argv, const AppSpec& spec);

// "name value" lines for the totals and then each worker.
void print_counters(const Runtime& rt, std::FILE* out);

// Parses a decimal integer in [lo, hi]; throws std::invalid_argument.
long parse_int_option(const std::string& flag, const std::string& value, long lo, long hi);

}  // namespace tern
