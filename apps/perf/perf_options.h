#pragma once
// tern-perf's command line, shared by the Tern and the kernel modes.
#include <cstdint>
#include <string>

#include "perf_protocol.h"

namespace tern::perf {

struct Options {
  bool server = false;
  bool client = false;
  std::uint32_t addr = 0;  // client: the server's IPv4 address, host order
  std::uint16_t port = kDefaultPort;
  Mode mode = Mode::kBulk;
  std::uint32_t connections = 1;
  double time_s = 10;
  double interval_s = 1;  // 0: no interval lines
  std::uint32_t size = 64;
  bool json = false;
  bool kernel = false;
  int cpu = -1;            // kernel mode: pin to this CPU
  std::string congestion;  // kernel mode: TCP_CONGESTION on every socket (empty: the system's default)
  std::string start_file;  // client: connect once this file exists
  std::string ready_file;  // kernel server: written once listening (Tern: api::run's --ready-file)
};

// A connection attempt that has not completed after this long fails.
inline constexpr double kConnectTimeoutS = 5;
// After --time, connections get this long to finish (the bulk count, the
// last response) before they are aborted and counted as errors.
inline constexpr double kDrainTimeoutS = 5;

}  // namespace tern::perf
