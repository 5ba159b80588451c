// tern-stat: `ss -tin` and `nstat` for a running Tern process, read through
// DPDK telemetry (docs/tern-stat.md).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "stat_client.h"
#include "stat_options.h"
#include "stat_views.h"

namespace tern::stat {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;
// Pages of /tern/conns asked per worker at most (each lists some 50).
constexpr std::size_t kMaxPages = 4096;

int fail(const std::string& why) {
  std::fprintf(stderr, "tern-stat: %s\n", why.c_str());
  return kFailed;
}

struct Process {
  TelemetryClient client;
  std::size_t workers = 0;
};

// Connects and checks that a Tern process answers (/tern/info).
int open_process(const StatOptions& o, Process& p) {
  const std::string path = o.socket.empty() ? telemetry_socket_path(o.prefix) : o.socket;
  if (!p.client.connect(path, o.prefix)) return fail(p.client.error());
  const std::optional<Json> info = p.client.ask("/tern/info");
  if (!info) return fail(p.client.error());
  const Json* workers = info->find("workers");
  if (workers == nullptr || !workers->integer)
    return fail("the process at " + path + " (pid " + std::to_string(p.client.pid()) +
                ") answers telemetry but not /tern/info: not a Tern process, or not started yet");
  p.workers = static_cast<std::size_t>(*workers->integer);
  if (o.filter.worker && *o.filter.worker >= p.workers)
    return fail("unknown worker " + std::to_string(*o.filter.worker) + "; workers are 0.." +
                std::to_string(p.workers - 1));
  return 0;
}

int conns(const StatOptions& o, Process& p) {
  std::vector<ConnEntry> all;
  std::size_t total = 0;
  for (std::size_t w = 0; w < p.workers; ++w) {
    if (o.filter.worker && *o.filter.worker != w) continue;
    // Page through the worker's table: each page is a fresh snapshot, so a
    // connection opened or closed between pages may be missed or listed
    // twice, as with ss reading /proc in pieces.
    std::size_t start = 0, worker_total = 0;
    for (std::size_t page = 0; page < kMaxPages; ++page) {
      const std::string req = "/tern/conns," + std::to_string(w) + "," + std::to_string(start);
      const std::optional<Json> r = p.client.ask(req);
      if (!r) return fail(p.client.error());
      std::vector<ConnEntry> rows;
      std::string why;
      if (!conns_from_reply(*r, rows, why)) return fail(req + ": " + why);
      const Json* n = r->find("connections");
      const Json* left = r->find("left_out");
      worker_total = n != nullptr && n->integer ? static_cast<std::size_t>(*n->integer) : 0;
      start += rows.size();
      for (ConnEntry& c : rows) all.push_back(std::move(c));
      if (rows.empty() || left == nullptr || !left->integer || *left->integer == 0) break;
    }
    total += worker_total;
  }
  std::vector<ConnEntry> shown;
  for (ConnEntry& c : all)
    if (o.filter.matches(c)) shown.push_back(std::move(c));
  const std::string out = o.json ? format_conns_json(shown, total, p.workers) : format_conns_text(shown);
  std::fputs(out.c_str(), stdout);
  return 0;
}

// One sample of every worker's counters (or the one --worker names).
int sample(const StatOptions& o, Process& p, std::vector<WorkerCounters>& out) {
  out.clear();
  for (std::size_t w = 0; w < p.workers; ++w) {
    if (o.filter.worker && *o.filter.worker != w) continue;
    WorkerCounters c;
    for (const auto& [cmd, list] :
         {std::pair{"/tern/stats,", &c.events}, std::pair{"/tern/drops,", &c.drops}}) {
      const std::string req = cmd + std::to_string(w);
      const std::optional<Json> r = p.client.ask(req);
      if (!r) return fail(p.client.error());
      std::string why;
      if (!counters_from_reply(*r, *list, why)) return fail(req + ": " + why);
    }
    out.push_back(std::move(c));
  }
  return 0;
}

int rates(const StatOptions& o, Process& p) {
  using Clock = std::chrono::steady_clock;
  std::vector<WorkerCounters> before, now;
  if (const int rc = sample(o, p, before); rc != 0) return rc;
  Clock::time_point t0 = Clock::now();
  const auto period = std::chrono::duration<double>(o.interval_s);
  for (std::uint64_t n = 0; o.count == 0 || n < o.count; ++n) {
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(period));
    if (const int rc = sample(o, p, now); rc != 0) return rc;
    const Clock::time_point t1 = Clock::now();
    const RatesView v{std::chrono::duration<double>(t1 - t0).count(), o.zeros};
    std::string out;
    if (o.json) {
      out = format_rates_json(before, now, v);
    } else {
      if (n > 0) out += "\n";
      if (o.filter.worker)
        out += "# worker " + std::to_string(*o.filter.worker) + " of " + std::to_string(p.workers) + "\n";
      out += format_rates_text(before, now, v);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);  // watched live, or piped to a reader line by line
    before.swap(now);
    t0 = t1;
  }
  return 0;
}

}  // namespace
}  // namespace tern::stat

int main(int argc, char** argv) {
  using namespace tern::stat;
  StatOptions o;
  if (const std::string why = parse_stat_options(argc, argv, o); !why.empty()) {
    std::fprintf(stderr, "tern-stat: %s\nTry 'tern-stat --help'.\n", why.c_str());
    return kUsage;
  }
  if (o.help) {
    std::fputs(stat_usage().c_str(), stdout);
    return 0;
  }
  if (o.version) {
    std::printf("tern-stat (Tern) %s\n", TERN_VERSION);
    return 0;
  }
  Process p;
  if (const int rc = open_process(o, p); rc != 0) return rc;
  return o.view == "rates" ? rates(o, p) : conns(o, p);
}
