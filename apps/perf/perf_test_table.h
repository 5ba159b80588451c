#pragma once
// A tern-perf server's counts per client test (the hello's test id), so it
// prints a summary per test rather than one for everything it served.
//
// Shared by the server's workers without a lock: each slot (a test id's
// hash) has one row per worker, written only by that worker (relaxed
// atomics, once per connection that ends) and read by whichever worker
// received the test's end message (perf_protocol.h, mode 4). A row that
// holds another test's figures is taken over by the first connection of a
// new test hashing to the slot, by its own worker: no worker writes
// another's row. So up to kSlots tests can run at once (ids are random);
// two running at once in one slot would lose figures (never mix them: a
// row has one test id).
//
// The end message says how many connections the test had; the summary is
// printed once that many ended (the last ones may close on other workers a
// moment after the end message arrives), or at the deadline with what
// there is (pending(), done by the worker that holds the end message).
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "perf_protocol.h"
#include "perf_stats.h"

namespace tern::perf {

// What one server connection contributes to its test.
struct ConnEnd {
  Mode mode = Mode::kBulk;
  std::uint64_t received = 0;  // payload bytes after the hello
  std::uint64_t sent = 0;      // bulk reverse: stream bytes sent
  std::uint64_t transactions = 0;
  bool ok = true;
  std::int64_t first_ns = 0;  // its accept, on a clock all workers share
  std::int64_t last_ns = 0;   // its end
};

class TestTable {
 public:
  static constexpr std::size_t kSlots = 64;
  explicit TestTable(std::size_t workers);

  // Worker `w` (its own row only) adds a connection of test `test` (not 0).
  void add(std::size_t w, std::uint32_t test, const ConnEnd& c) noexcept;
  // Connections of `test` that ended so far, on every worker.
  std::uint64_t ended(std::uint32_t test) const noexcept;
  // The test's figures summed over the workers (role server, mode of its
  // connections, duration from the first accept to the last end).
  Result collect(std::uint32_t test, const char* stack) const;

  // The end messages a worker holds: the test, how many connections it
  // had, and until when to wait for them. The worker polls due().
  struct Pending {
    std::uint32_t test;
    std::uint64_t connections;
    std::int64_t deadline_ns;
  };

  // A server connection of worker `w` ended at `now_ns` (accepted at
  // `first_ns`): a test's end message goes to `pending` (its summary a
  // second later at most), any other connection into `total` (the server's
  // own figures) and, with a hello, into its test's row. True for the
  // latter: a connection that carried the test's traffic.
  bool on_server_end(std::size_t w, const ServerSession& x, bool ok, std::int64_t first_ns,
                     std::int64_t now_ns, Result& total, std::vector<Pending>& pending) noexcept;
  // Prints (and removes from `pending`) the summary of each test whose
  // connections have all ended, or whose deadline passed by `now_ns`.
  void print_due(std::vector<Pending>& pending, std::int64_t now_ns, const char* stack, bool json) const;

 private:
  struct alignas(64) Row {
    std::atomic<std::uint32_t> test{0};
    std::atomic<std::uint8_t> mode{0};
    std::atomic<std::uint64_t> connections{0}, received{0}, sent{0}, transactions{0}, connects{0}, errors{0};
    std::atomic<std::int64_t> first_ns{0}, last_ns{0};
  };
  Row& row(std::size_t slot, std::size_t w) noexcept { return rows_[slot * workers_ + w]; }
  const Row& row(std::size_t slot, std::size_t w) const noexcept { return rows_[slot * workers_ + w]; }
  static std::size_t slot_of(std::uint32_t test) noexcept {
    return (test * 2654435761u) >> 26 & (kSlots - 1);
  }

  std::size_t workers_;
  std::unique_ptr<Row[]> rows_;
};

}  // namespace tern::perf
