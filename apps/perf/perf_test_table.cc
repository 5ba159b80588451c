#include "perf_test_table.h"

#include <algorithm>
#include <cstdio>

namespace tern::perf {

TestTable::TestTable(std::size_t workers)
    : workers_(std::max<std::size_t>(workers, 1)),
      rows_(new Row[kSlots * std::max<std::size_t>(workers, 1)]) {}

void TestTable::add(std::size_t w, std::uint32_t test, const ConnEnd& c) noexcept {
  if (test == 0 || w >= workers_) return;
  Row& r = row(slot_of(test), w);
  constexpr auto rel = std::memory_order_relaxed;
  if (r.test.load(rel) != test) {  // a new test in this slot: this worker's row starts over
    r.connections.store(0, rel);
    r.received.store(0, rel);
    r.sent.store(0, rel);
    r.transactions.store(0, rel);
    r.connects.store(0, rel);
    r.errors.store(0, rel);
    r.first_ns.store(c.first_ns, rel);
    r.last_ns.store(c.last_ns, rel);
    r.test.store(test, std::memory_order_release);
  }
  r.mode.store(static_cast<std::uint8_t>(c.mode), rel);
  r.received.fetch_add(c.received, rel);
  r.sent.fetch_add(c.sent, rel);
  r.transactions.fetch_add(c.transactions, rel);
  if (c.mode == Mode::kCrr && c.ok) r.connects.fetch_add(1, rel);
  if (!c.ok) r.errors.fetch_add(1, rel);
  if (c.first_ns < r.first_ns.load(rel)) r.first_ns.store(c.first_ns, rel);
  if (c.last_ns > r.last_ns.load(rel)) r.last_ns.store(c.last_ns, rel);
  // Last: a reader that sees the count sees the figures added before it.
  r.connections.fetch_add(1, std::memory_order_release);
}

std::uint64_t TestTable::ended(std::uint32_t test) const noexcept {
  std::uint64_t n = 0;
  const std::size_t s = slot_of(test);
  for (std::size_t w = 0; w < workers_; ++w) {
    const Row& r = row(s, w);
    if (r.test.load(std::memory_order_acquire) == test) n += r.connections.load(std::memory_order_acquire);
  }
  return n;
}

Result TestTable::collect(std::uint32_t test, const char* stack) const {
  constexpr auto acq = std::memory_order_acquire;
  Result out;
  out.role = "server";
  out.stack = stack;
  out.test = test;
  out.mode = "?";
  std::int64_t first = INT64_MAX, last = INT64_MIN;
  const std::size_t s = slot_of(test);
  for (std::size_t w = 0; w < workers_; ++w) {
    const Row& r = row(s, w);
    if (r.test.load(acq) != test) continue;
    out.connections += r.connections.load(acq);
    out.tx_bytes += r.received.load(acq);
    out.rx_bytes += r.sent.load(acq);
    out.transactions += r.transactions.load(acq);
    out.connects += r.connects.load(acq);
    out.errors += r.errors.load(acq);
    out.mode = std::string(to_string(static_cast<Mode>(r.mode.load(acq))));
    first = std::min(first, r.first_ns.load(acq));
    last = std::max(last, r.last_ns.load(acq));
  }
  out.bytes = out.tx_bytes + out.rx_bytes;
  if (last > first) out.duration_s = static_cast<double>(last - first) / 1e9;
  return out;
}

bool TestTable::on_server_end(std::size_t w, const ServerSession& x, bool ok, std::int64_t first_ns,
                              std::int64_t now_ns, Result& total, std::vector<Pending>& pending) noexcept {
  if (x.has_hello() && x.mode() == Mode::kEnd) {
    pending.push_back({x.test(), x.end_connections(), now_ns + 1'000'000'000});
    --total.connections;  // not one of the test's
    return false;
  }
  total.tx_bytes += x.payload_bytes();
  total.rx_bytes += x.sent_bytes();
  total.transactions += x.transactions();
  if (x.mode() == Mode::kCrr && ok) ++total.connects;
  if (!ok) ++total.errors;
  if (x.has_hello())
    add(w, x.test(),
        ConnEnd{.mode = x.mode(),
                .received = x.payload_bytes(),
                .sent = x.sent_bytes(),
                .transactions = x.transactions(),
                .ok = ok,
                .first_ns = first_ns,
                .last_ns = now_ns});
  return true;
}

void TestTable::print_due(std::vector<Pending>& pending, std::int64_t now_ns, const char* stack,
                          bool json) const {
  for (std::size_t i = 0; i < pending.size();) {
    const Pending p = pending[i];
    const std::uint64_t done = ended(p.test);
    if (done < p.connections && now_ns < p.deadline_ns) {
      ++i;
      continue;
    }
    print_summary(stdout, collect(p.test, stack), json, "test");
    if (done < p.connections)
      std::printf("  (%llu of the test's %llu connections had ended a second after its end)\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(p.connections));
    std::fflush(stdout);
    pending[i] = pending.back();
    pending.pop_back();
  }
}

}  // namespace tern::perf
