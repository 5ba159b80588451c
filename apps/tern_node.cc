// tern-node: brings Tern up on the configured port and serves ARP and ICMP
// echo (the TCP applications build on the same runtime). Prints its counters
// on exit and whenever it receives SIGUSR1.
//
//   tern-node --config config/tap.toml [--ready-file PATH] [--print-eal-args]
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "config/config.h"
#include "runtime/runtime.h"

namespace {

std::atomic<tern::Runtime*> g_rt{nullptr};
std::atomic<bool> g_print{false};

void on_stop(int) {
  if (tern::Runtime* rt = g_rt.load()) rt->stop();
}
void on_usr1(int) { g_print.store(true); }

int usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s --config FILE [--ready-file PATH] [--print-eal-args]\n"
               "  --config FILE       TOML configuration (see docs/config.md)\n"
               "  --ready-file PATH   write PATH once the port is up (for scripts)\n"
               "  --print-eal-args    print the EAL arguments the config yields and exit\n",
               prog);
  return 2;
}

void print_counters(const tern::Runtime& rt) {
  std::printf("--- tern counters (total over %zu workers) ---\n%s", rt.workers(),
              tern::format_counters(rt.totals()).c_str());
  for (std::size_t w = 0; w < rt.workers(); ++w)
    std::printf("--- worker %zu ---\n%s", w, tern::format_counters(rt.worker(w).counters()).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, ready_file;
  bool print_eal = false;
  for (int i = 1; i < argc; ++i) {
    if ((!std::strcmp(argv[i], "--config") || !std::strcmp(argv[i], "-c")) && i + 1 < argc)
      config_path = argv[++i];
    else if (!std::strcmp(argv[i], "--ready-file") && i + 1 < argc)
      ready_file = argv[++i];
    else if (!std::strcmp(argv[i], "--print-eal-args"))
      print_eal = true;
    else
      return usage(argv[0]);
  }
  if (config_path.empty()) return usage(argv[0]);

  tern::Config cfg;
  try {
    cfg = tern::load_config(config_path);
  } catch (const tern::ConfigError& e) {
    std::fprintf(stderr, "tern-node: %s\n", e.what());
    return 2;
  }
  if (print_eal) {
    for (const auto& a : tern::Runtime::eal_args(cfg, "tern-node")) std::printf("%s ", a.c_str());
    std::printf("\n");
    return 0;
  }
  try {
    tern::Runtime rt(cfg, "tern-node");
    g_rt.store(&rt);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGUSR1, on_usr1);
    std::printf("%s\n", rt.describe().c_str());
    std::fflush(stdout);
    if (!ready_file.empty()) std::ofstream(ready_file) << getpid() << "\n";
    // Control thread: printing is not done from a signal handler or a worker.
    std::thread control([&rt] {
      while (!rt.stopping()) {
        if (g_print.exchange(false)) print_counters(rt);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    rt.run();
    control.join();
    g_rt.store(nullptr);
    print_counters(rt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern-node: %s\n", e.what());
    return 1;
  }
  return 0;
}
