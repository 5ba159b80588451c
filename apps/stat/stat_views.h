#pragma once
// What tern-stat prints, apart from the socket: the connection list (as
// `ss -tin` shows it) with its filters, and the counter deltas of `rates`
// (as `nstat` shows them), each as text or JSON. Pure functions of what
// telemetry answered, so tests/unit/apps can check them without a process.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stat_json.h"

namespace tern::stat {

// ---- connections (/tern/conns) ----

// One connection: the names of /tern/conns's "fields" with this row's values.
struct ConnEntry {
  std::vector<std::pair<std::string, std::string>> fields;
  // "" / 0 when the field is absent (an older Tern lists fewer).
  std::string_view get(std::string_view name) const noexcept;
  std::uint64_t num(std::string_view name) const noexcept;
};

// The rows of one /tern/conns reply; false with `why` if it is not one.
bool conns_from_reply(const Json& reply, std::vector<ConnEntry>& out, std::string& why);

// Every state Tern lists (RFC 9293's names, as /tern/conns spells them).
const std::vector<std::string_view>& tcp_states() noexcept;
// A state as a user may write it ("established", "ESTAB", "syn-recv",
// "fin_wait_1", ...: ss's names or Tern's, any case) in Tern's spelling;
// nullopt if it is none.
std::optional<std::string> normalize_state(std::string_view user);
// ss's short name ("ESTAB", "SYN-SENT", ...) for one of Tern's.
std::string ss_state(std::string_view tern);

struct ConnFilter {
  std::vector<std::string> states;    // Tern's spelling; empty: any
  std::optional<std::uint16_t> port;  // either side's port
  std::string peer_addr;              // dotted quad or IPv6 as Tern prints it (no brackets); empty: any
  std::optional<std::uint16_t> peer_port;
  std::optional<std::size_t> worker;
  bool matches(const ConnEntry& c) const;
};

// `ss -tin`'s layout: a line per connection (state, queues, addresses,
// worker), then an indented line of figures; "" header-only when empty.
std::string format_conns_text(const std::vector<ConnEntry>& conns);
// {"workers": W, "total": N (before filtering), "connections": [{...}]}:
// each connection's fields, numbers as numbers.
std::string format_conns_json(const std::vector<ConnEntry>& conns, std::size_t total, std::size_t workers);

// ---- counters (/tern/stats, /tern/drops) ----

using CounterList = std::vector<std::pair<std::string, std::uint64_t>>;
struct WorkerCounters {
  CounterList events;
  CounterList drops;
};
// A telemetry dictionary of counters as a list, in its order; false with
// `why` if it is not one (an {"error": ...} reply included).
bool counters_from_reply(const Json& reply, CounterList& out, std::string& why);
// The sum over workers, by name, in the first worker's order.
WorkerCounters sum_workers(const std::vector<WorkerCounters>& workers);

// Counters that are levels, not counts: shown as their value now rather
// than a change.
bool is_gauge(std::string_view name) noexcept;

struct RatesView {
  double seconds = 1;  // the time between the two samples
  bool zeros = false;  // list counters that did not change too
};
// The change of every counter between two samples, per worker and in total:
// a row per counter that changed on any worker (each gauge at its value
// now), events then drop reasons. Sample sizes must match.
std::string format_rates_text(const std::vector<WorkerCounters>& before,
                              const std::vector<WorkerCounters>& now, const RatesView& v);
// One line: {"interval_s": s, "total": {"events": {...}, "drops": {...}},
// "workers": [{"worker": 0, "events": {...}, "drops": {...}}, ...]}.
std::string format_rates_json(const std::vector<WorkerCounters>& before,
                              const std::vector<WorkerCounters>& now, const RatesView& v);

}  // namespace tern::stat
