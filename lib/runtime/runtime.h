#pragma once
// Brings a Config to life: starts the EAL, creates per-worker mbuf pools,
// opens the port, wires workers and their steering rings, registers
// telemetry and packet capture, then runs one worker per lcore until stop().
// Everything here is start-up or shutdown code and may throw.
#include <rte_mempool.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/counters.h"
#include "config/config.h"
#include "port/port.h"
#include "runtime/startup_checks.h"
#include "runtime/worker.h"

namespace tern {

class Runtime {
 public:
  explicit Runtime(const Config& cfg, const char* program = "tern");
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs every worker on its lcore (worker 0 on the calling, main lcore) until
  // stop() is called, then returns after all workers have left their loops.
  void run();
  // Async-signal-safe: workers leave their loops at the next iteration.
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }

  std::size_t workers() const noexcept { return workers_.size(); }
  const Worker& worker(std::size_t i) const noexcept { return *workers_[i]; }
  Worker& worker(std::size_t i) noexcept { return *workers_[i]; }
  Counters totals() const noexcept;
  const Port& port() const noexcept { return *port_; }
  const Config& config() const noexcept { return cfg_; }
  // The start-up summary, a block of lines: program and version, lcores,
  // port and PMD, queues, steering, offloads, addresses, mbufs and memory.
  std::string describe() const;

  // The EAL arguments a config turns into (exposed for tests and --dry-run).
  static std::vector<std::string> eal_args(const Config& cfg, const char* program);

 private:
  static int lcore_main(void* arg);
  void worker_loop(std::size_t index);

  Config cfg_;
  std::string program_;
  InterfaceClaims claims_;  // before the EAL creates the port's interface
  std::vector<std::pair<std::string, std::string>> port_summary_;
  std::uint32_t lendable_mbufs_ = 0;  // per worker: what queues may hold before memory pressure
  std::atomic<bool> stop_{false};
  std::vector<rte_mempool*> pools_;
  rte_mempool* indirect_pool_ = nullptr;
  std::vector<rte_mempool*> clone_pools_;
  std::unique_ptr<Port> port_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<rte_ring*> rings_;
  bool pdump_ = false;
};

// Prints every non-zero counter and drop reason, one per line, "name value".
std::string format_counters(const Counters& c);

}  // namespace tern
