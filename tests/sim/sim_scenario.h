#pragma once
// Seeded end-to-end scenarios on a TcpSim (issue 3): B listens on port 80, A
// connects, both send pseudo-random byte streams derived from the seed, and
// each side checks the stream it received byte for byte (and by FNV-1a
// digest) against what the other sent. A scenario passes when both streams
// arrive intact, both applications closed without an error, both
// connections left the table (CLOSED or TIME_WAIT), no TCB is left, and both
// mempools are back at their baseline, before and after tear-down; all within
// a virtual-time limit.
#include <cstdint>
#include <functional>
#include <string>

#include "tcp_sim.h"

namespace tern::sim {

// Who shuts down writing when.
enum class CloseOrder : std::uint8_t {
  kTogether,   // each side as soon as it has queued everything
  kAFirst,     // B only after it has read A's FIN
  kBFirst,     // A only after it has read B's FIN
  kHalfClose,  // request / response: B starts sending only after A's FIN
};
const char* to_string(CloseOrder c) noexcept;

struct Scenario {
  std::uint64_t seed = 1;
  LinkParams ab, ba;  // their `corrupt` applies once A is connected (ARP has no checksum)
  std::uint64_t bytes_ab = 0;
  std::uint64_t bytes_ba = 0;
  CloseOrder close = CloseOrder::kTogether;
  HostOptions a, b;  // see sim_host_defaults()
  // Bytes each application reads per 1 ms tick; 0 = everything at once.
  std::uint32_t read_per_tick = 0;
  bool zero_copy_recv = false;         // recv() instead of read() (only when read_per_tick == 0)
  bool deferred_app = false;           // act after the event loop step instead of inside on_event
  bool send_before_connected = false;  // A queues data right after connect()
  // A side with nothing to receive calls close() instead of shutdown_write()
  // once it has queued everything (the engine owns FIN_WAIT_* from then on).
  bool close_directly = false;
  Duration time_limit = Duration::s(30 * 60);
  // Called every step before the applications act: may change the link's
  // parameters over time (a delay spike), through SimLink::set_params.
  std::function<void(Instant, SimLink&)> link_schedule;
  // Called once per simulator step while the applications run (after
  // them): where a test samples the link and the connections.
  std::function<void(TcpSim&, Instant)> observe;
};

// Small pools and tables: scenarios have one connection.
HostOptions sim_host_defaults();

// Parameters for a sweep seed: mostly small transfers (a few large), link
// impairments from none to 10% loss, options and buffers varied.
Scenario scenario_for_seed(std::uint64_t seed);
std::string describe(const Scenario& s);

struct Outcome {
  bool ok = false;
  std::string failures;  // one line per failed check
  // Not empty when a side gave up unheard (the link lost all its peer sent
  // for a whole retransmission series): the streams' totals are not checked.
  std::string gave_up;
  Instant end;  // virtual time when both connections were gone
  Counters a, b;
  LinkCounts ab, ba;
  std::string trace;  // the last trace lines, when run with trace_lines > 0
};

// trace_lines > 0 records the trace and keeps its last trace_lines lines.
Outcome run_scenario(const Scenario& s, const SimPools& pools, std::size_t trace_lines = 0);

// Runs, and on failure runs again with the trace: the report for a failing
// seed (seed, scenario, failures, trace tail, and whether the re-run agreed).
// Empty when the scenario passed.
std::string check_scenario(const Scenario& s, const SimPools& pools, std::size_t trace_lines = 300);
// The same for a run already made (`first`, from run_scenario without a
// trace): only a failing seed runs again.
std::string check_outcome(const Scenario& s, const SimPools& pools, const Outcome& first,
                          std::size_t trace_lines = 300);

// ---- SYN flood ----------------------------------------------------------------
struct SynFlood {
  std::uint64_t seed = 1;
  std::uint32_t syns = 100'000;
  Duration spread = Duration::s(20);     // the SYNs arrive evenly over this time
  Duration connect_at = Duration::s(2);  // A connects (the SYN queue is full by then)
  std::uint64_t bytes_ab = 1'000'000;
  LinkParams link;  // both directions
  std::uint32_t syn_backlog = 1024;
  std::size_t trace_lines = 0;  // > 0: keep the trace of A's connection (flood frames left out)
};
struct SynFloodOutcome {
  bool ok = false;
  std::string failures;
  std::uint32_t max_tcbs_b = 0;  // B's TCB pool high-water mark
  Counters a, b;
  Instant transfer_done;
  std::string trace;
};
SynFloodOutcome run_syn_flood(const SynFlood& f, const SimPools& pools);

}  // namespace tern::sim
