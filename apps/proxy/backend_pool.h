#pragma once
// tern-proxy's backend choice and health, apart from any I/O so that it can
// be tested on virtual time (tests/unit/apps/backend_pool_test.cc).
//
// One BackendPool per worker: workers share nothing, so each keeps its own
// view of which backends are up (a backend one worker marked down may still
// be tried by another until it learns the same on its own).
//
// Life of an attempt: choose() picks a backend and counts it active; then
// exactly one of connected(), failed() or abandoned() (the client went away
// first); after connected(), released() when the relay ends.
//
// Health: --fail-threshold consecutive failed attempts mark a backend down;
// it is skipped until --retry-after has passed, then one attempt (a real
// client's) probes it: success marks it up, failure keeps it down for
// another --retry-after.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/ip_addr.h"
#include "tern/time.h"

namespace tern::proxy {

enum class Policy : std::uint8_t { kRoundRobin, kLeastConnections };
std::optional<Policy> parse_policy(std::string_view s) noexcept;
std::string_view to_string(Policy p) noexcept;

// A backend's address and port, either family (tern/ip_addr.h).
using BackendAddress = tern::Endpoint;
// "10.0.0.1:8080" or "[2001:db8::1]:8080" (port 1..65535).
std::optional<BackendAddress> parse_backend(std::string_view s) noexcept;
std::string format_backend(const BackendAddress& b);

enum class Health : std::uint8_t {
  kUp,
  kDown,     // skipped until retry_at
  kProbing,  // down, one attempt in flight decides
};
std::string_view to_string(Health h) noexcept;

// What an attempt's outcome did to its backend's health.
enum class Transition : std::uint8_t {
  kNone,
  kMarkedDown,  // up -> down: the --fail-threshold-th failure in a row
  kBackUp,      // down (or probing) -> up: a connect succeeded
};

struct BackendCounters {
  std::uint64_t attempts = 0;     // connects started
  std::uint64_t connections = 0;  // connects that completed
  std::uint64_t failures = 0;     // connects refused, unreachable, reset or timed out
  std::uint64_t marked_down = 0;  // times it went from up to down
  std::uint64_t probes = 0;       // attempts made while down, after retry_after
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_from_backend = 0;
  std::uint32_t active = 0;  // attempts in flight plus relays in progress
};

struct PoolOptions {
  Policy policy = Policy::kRoundRobin;
  std::uint32_t fail_threshold = 3;  // consecutive failures that mark a backend down
  Duration retry_after = Duration::s(5);
};

class BackendPool {
 public:
  static constexpr std::size_t kMaxBackends = 64;
  // Backends already tried for one client (bit i: backend i).
  using Tried = std::uint64_t;

  // At most kMaxBackends backends (more are ignored: the caller checks).
  BackendPool(std::vector<BackendAddress> backends, PoolOptions o);

  // The backend for the next attempt among those not in `tried`: an up one
  // by the policy, or a down one whose retry time has come and that no
  // other attempt is probing. nullopt when there is none.
  std::optional<std::size_t> choose(Instant now, Tried tried) noexcept;
  // Each says whether the backend's health changed from up to down or back
  // (the proxy logs those two, not every probe).
  Transition connected(std::size_t i) noexcept;
  Transition failed(std::size_t i, Instant now) noexcept;
  void abandoned(std::size_t i) noexcept;
  void released(std::size_t i) noexcept;

  std::size_t size() const noexcept { return backends_.size(); }
  const BackendAddress& address(std::size_t i) const noexcept { return backends_[i].address; }
  Health health(std::size_t i) const noexcept { return backends_[i].health; }
  const BackendCounters& counters(std::size_t i) const noexcept { return backends_[i].counters; }
  BackendCounters& counters(std::size_t i) noexcept { return backends_[i].counters; }
  std::uint32_t consecutive_failures(std::size_t i) const noexcept { return backends_[i].consecutive; }
  const PoolOptions& options() const noexcept { return o_; }

 private:
  struct Backend {
    BackendAddress address;
    Health health = Health::kUp;
    std::uint32_t consecutive = 0;  // failures since the last success
    Instant retry_at;               // when down: the earliest probe
    BackendCounters counters;
  };
  bool eligible(const Backend& b, Instant now) const noexcept;
  void ended(Backend& b) noexcept;

  std::vector<Backend> backends_;
  PoolOptions o_;
  std::size_t cursor_ = 0;  // round-robin position; also breaks least-connections ties
};

}  // namespace tern::proxy
