#include "backend_pool.h"

#include <limits>

namespace tern::proxy {

std::optional<Policy> parse_policy(std::string_view s) noexcept {
  if (s == "round-robin") return Policy::kRoundRobin;
  if (s == "least-connections") return Policy::kLeastConnections;
  return std::nullopt;
}

std::string_view to_string(Policy p) noexcept {
  return p == Policy::kRoundRobin ? "round-robin" : "least-connections";
}

std::string_view to_string(Health h) noexcept {
  switch (h) {
    case Health::kUp:
      return "up";
    case Health::kDown:
      return "down";
    case Health::kProbing:
      return "probing";
  }
  return "?";
}

std::optional<BackendAddress> parse_backend(std::string_view s) noexcept {
  const auto e = Endpoint::parse(s);
  if (!e || e->port == 0) return std::nullopt;
  return e;
}

std::string format_backend(const BackendAddress& b) { return b.to_string(); }

BackendPool::BackendPool(std::vector<BackendAddress> backends, PoolOptions o) : o_(o) {
  if (backends.size() > kMaxBackends) backends.resize(kMaxBackends);
  if (o_.fail_threshold == 0) o_.fail_threshold = 1;
  backends_.reserve(backends.size());
  for (const BackendAddress& a : backends) backends_.push_back(Backend{.address = a});
}

bool BackendPool::eligible(const Backend& b, Instant now) const noexcept {
  switch (b.health) {
    case Health::kUp:
      return true;
    case Health::kDown:
      return now >= b.retry_at;  // its turn to be probed
    case Health::kProbing:
      return false;  // one probe at a time
  }
  return false;
}

std::optional<std::size_t> BackendPool::choose(Instant now, Tried tried) noexcept {
  const std::size_t n = backends_.size();
  std::optional<std::size_t> pick;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (cursor_ + k) % n;
    if (tried >> i & 1) continue;
    const Backend& b = backends_[i];
    if (!eligible(b, now)) continue;
    if (o_.policy == Policy::kRoundRobin) {
      pick = i;
      break;
    }
    // Least connections; the first in round-robin order wins a tie, so
    // equally loaded backends still take turns.
    if (!pick || b.counters.active < backends_[*pick].counters.active) pick = i;
  }
  if (!pick) return std::nullopt;
  cursor_ = (*pick + 1) % n;
  Backend& b = backends_[*pick];
  if (b.health == Health::kDown) {
    b.health = Health::kProbing;
    ++b.counters.probes;
  }
  ++b.counters.attempts;
  ++b.counters.active;
  return pick;
}

Transition BackendPool::connected(std::size_t i) noexcept {
  Backend& b = backends_[i];
  ++b.counters.connections;
  b.consecutive = 0;
  // A probe succeeded, or an attempt begun before the backend was marked
  // down did: either way it answers again.
  const bool was_down = b.health != Health::kUp;
  b.health = Health::kUp;
  return was_down ? Transition::kBackUp : Transition::kNone;
}

Transition BackendPool::failed(std::size_t i, Instant now) noexcept {
  Backend& b = backends_[i];
  ended(b);
  ++b.counters.failures;
  if (b.consecutive < std::numeric_limits<std::uint32_t>::max()) ++b.consecutive;
  switch (b.health) {
    case Health::kUp:
      if (b.consecutive >= o_.fail_threshold) {
        b.health = Health::kDown;
        b.retry_at = now + o_.retry_after;
        ++b.counters.marked_down;
        return Transition::kMarkedDown;
      }
      break;
    case Health::kProbing:  // the probe failed: another full wait
      b.health = Health::kDown;
      b.retry_at = now + o_.retry_after;
      break;
    case Health::kDown:  // an attempt from before it was marked down: already counted
      break;
  }
  return Transition::kNone;
}

void BackendPool::abandoned(std::size_t i) noexcept {
  Backend& b = backends_[i];
  ended(b);
  // A probe that never finished proves nothing: the next client probes
  // (retry_at has passed already).
  if (b.health == Health::kProbing) b.health = Health::kDown;
}

void BackendPool::released(std::size_t i) noexcept { ended(backends_[i]); }

void BackendPool::ended(Backend& b) noexcept {
  if (b.counters.active > 0) --b.counters.active;
}

}  // namespace tern::proxy
