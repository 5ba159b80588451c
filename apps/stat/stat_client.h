#pragma once
// A client of a running Tern process's DPDK telemetry socket (DPDK 22.11's
// dpdk_telemetry.v2: SOCK_SEQPACKET, a greeting, then one message per
// request and per reply), found by the EAL file prefix as
// dpdk-telemetry.py finds it. No other IPC: tern-stat reads what
// /tern/info, /tern/stats, /tern/drops and /tern/conns answer.
#include <optional>
#include <string>
#include <vector>

#include "stat_json.h"

namespace tern::stat {

// The socket of the process started with `[eal] file_prefix = prefix`: the
// EAL's runtime directory ($RUNTIME_DIRECTORY, else /var/run for root and
// $XDG_RUNTIME_DIR or /tmp for others) + /dpdk/<prefix>/dpdk_telemetry.v2.
std::string telemetry_socket_path(const std::string& prefix);
// The prefixes with a telemetry socket in that directory, sorted (a socket
// may be left behind by a process that has exited).
std::vector<std::string> telemetry_prefixes();

class TelemetryClient {
 public:
  TelemetryClient() = default;
  ~TelemetryClient();
  TelemetryClient(const TelemetryClient&) = delete;
  TelemetryClient& operator=(const TelemetryClient&) = delete;

  // Connects and reads the greeting. False with error() saying why in a
  // user's words (no such process, not allowed, not a telemetry socket).
  bool connect(const std::string& path, const std::string& prefix);

  // The value of the reply {"<command>": value} to `request`
  // ("/tern/stats,0"); nullopt with error() on a broken connection or a
  // reply that is not that.
  std::optional<Json> ask(const std::string& request);

  const std::string& error() const noexcept { return error_; }
  // The greeting's "pid" (0 if absent).
  long pid() const noexcept { return pid_; }

 private:
  int fd_ = -1;
  long pid_ = 0;
  std::string error_;
};

}  // namespace tern::stat
