#pragma once
// tern-perf's command line, shared by the Tern and the kernel modes.
#include <cstdint>
#include <string>

#include "perf_protocol.h"
#include "tern/ip_addr.h"

namespace tern::perf {

struct Options {
  bool server = false;
  bool client = false;
  IpAddr addr;  // client: the server's address, either family
  std::uint16_t port = kDefaultPort;
  Mode mode = Mode::kBulk;
  std::uint32_t connections = 1;
  double time_s = 10;
  double interval_s = 1;  // 0: no interval lines
  std::uint32_t size = 64;
  bool json = false;
  bool kernel = false;
  int cpu = -1;             // kernel mode: pin to this CPU
  bool reuseport = false;   // kernel server: SO_REUSEPORT, one server per core on one port
  std::string congestion;   // kernel mode: TCP_CONGESTION on every socket (empty: the system's default)
  std::string start_file;   // client: connect once this file exists
  std::string ready_file;   // kernel server: written once listening (Tern: api::run's --ready-file)
  bool reverse = false;     // bulk client: the server sends, the client receives (-R)
  bool bidir = false;       // bulk client: both: each connection slot one of each way
  std::uint64_t bytes = 0;  // bulk client: send (or receive) this many in all, then stop (-n); 0: --time
  std::string plot;         // client: a PNG of throughput and RTT over time (gnuplot)
  std::uint32_t test = 0;   // client: this run's test id, random (the server's per-test summary)
  bool udp = false;         // --udp: datagrams with loss and jitter (perf_udp.h) instead of TCP
  std::uint64_t bitrate =
      1'000'000;               // --udp client: bits/s of UDP payload (iperf3 -u's default), 0: no limit
  bool bitrate_given = false;  // --bitrate on the command line (a usage error without --udp)
  std::uint32_t length = 0;    // --udp client: datagram payload bytes (0: default_udp_length)
  bool zerocopy = false;       // bulk client (Tern): send from a registered region, no copy (SendRegion)

  // Connection slots per direction: --connections each way with --bidir.
  bool sends() const noexcept { return !reverse || bidir; }
  bool receives() const noexcept { return reverse || bidir; }
  const char* direction() const noexcept { return bidir ? "bidir" : reverse ? "receive" : "send"; }
};

// -n / --bytes: "10G", "512M", "1500" (K, M, G, T: powers of 1024, as
// iperf3 reads -n), 1 to 2^50. Throws std::invalid_argument naming `flag`.
std::uint64_t parse_bytes(const std::string& flag, const std::string& value);

// A connection's share of -n BYTES (slot i of n in one direction).
inline std::uint64_t bytes_share(std::uint64_t total, std::uint64_t i, std::uint64_t n) noexcept {
  return total / n + (i < total % n ? 1 : 0);
}

// A connection attempt that has not completed after this long fails.
inline constexpr double kConnectTimeoutS = 5;
// After --time, connections get this long to finish (the bulk count, the
// last response) before they are aborted and counted as errors.
inline constexpr double kDrainTimeoutS = 5;

}  // namespace tern::perf
