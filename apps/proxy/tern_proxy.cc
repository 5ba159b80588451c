// tern-proxy: an L4 TCP proxy / load balancer on the public API (tern/api.h).
//
// Every worker listens on --listen. For each client it accepts, it picks a
// backend (backend_pool.h: round-robin or least-connections among those up),
// connects to it from the same worker, and relays both directions zero-copy:
// the Buffer on_data() hands over on one side is the Buffer given to send()
// on the other. What send() does not take waits (one Buffer per direction),
// and reading on the source side pauses until the destination's
// on_writable, so memory stays bounded by the receive windows.
//
// The client's data waits in its receive queue (reading paused) until the
// backend connects, so a failed connect loses nothing: the next backend up
// is tried, and with none left the client is reset. A connect that does not
// complete within --connect-timeout is aborted and counts as a failure.
//
// Closing: a FIN from one side becomes shutdown() of the other once all its
// data was handed over; a side is closed once both its directions are done.
// A side that ends abnormally (reset, timed out, unreachable) aborts the
// other, so resets propagate. A pair that moves no bytes in either
// direction for --idle-timeout (idle_timer.h) is reset on both sides.
//
// Workers share nothing: each has its own BackendPool, health and counters
// (a backend one worker marked down is still tried by another until it too
// sees the failures). The report at exit gives each worker's view and the
// sum.
//
//   tern-proxy --config FILE --listen PORT --backend IP:PORT [--backend IP:PORT ...]
//              [--policy round-robin|least-connections] [--fail-threshold N]
//              [--retry-after S] [--connect-timeout S] [--idle-timeout S]
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_pool.h"
#include "idle_timer.h"
#include "tern/api.h"

namespace tern {
namespace {

using api::Buffer;
using api::CloseReason;
using api::Connection;
using proxy::BackendPool;

struct ProxyOptions {
  std::uint16_t listen_port = 0;
  std::vector<proxy::BackendAddress> backends;
  proxy::PoolOptions pool;
  Duration connect_timeout = Duration::s(3);
  Duration idle_timeout = Duration::s(300);  // 0: never
};

struct ProxyStats {
  std::uint64_t accepted = 0;
  std::uint64_t completed = 0;       // both sides closed in order
  std::uint64_t client_resets = 0;   // the client side ended abnormally; the backend was aborted
  std::uint64_t backend_resets = 0;  // the backend side ended abnormally; the client was aborted
  std::uint64_t relay_errors = 0;    // a send refused for good; both aborted
  std::uint64_t no_backend = 0;      // clients reset: no backend left to try
  std::uint64_t retries = 0;         // attempts after a client's first
  std::uint64_t connect_refused = 0;
  std::uint64_t connect_timeouts = 0;      // --connect-timeout passed
  std::uint64_t connect_other = 0;         // unreachable, reset or timed out in the stack
  std::uint64_t local_connect_errors = 0;  // connect() itself failed (no port, no memory)
  std::uint64_t bytes_to_backends = 0;
  std::uint64_t bytes_to_clients = 0;
  std::uint64_t send_blocked = 0;   // a send stopped short: the source paused
  std::uint64_t idle_timeouts = 0;  // no bytes either way for --idle-timeout: both reset
  std::uint32_t active = 0;
  std::uint32_t max_active = 0;
  // At the report: TCBs the worker's engine holds, connection-table entries.
  std::uint32_t tcbs_in_use = 0;
  std::uint64_t table = 0;
};

struct Session;

// One connection of a session, and the data waiting to be sent on it.
struct Side {
  Session* s = nullptr;
  Connection* c = nullptr;  // null once closed, aborted or over
  Buffer out;               // from the other side, not yet taken by send()
  bool peer_eof = false;    // its peer's FIN came and all its data was delivered
  bool shut = false;        // we shut down its write side
  bool is_backend = false;
};

// On the idle timer (IdleLink) from the backend's connect to the end.
struct Session : proxy::IdleLink {
  Side client;
  Side backend;
  static constexpr std::size_t kNone = ~std::size_t{0};
  std::size_t idx = kNone;  // the backend tried last (and, once connected, serving)
  bool holding = false;     // the pool counts this session on `idx`
  bool connected = false;
  bool failed = false;  // ended with a reset somewhere
  BackendPool::Tried tried = 0;
  std::uint32_t attempts = 0;
  std::uint32_t generation = 0;  // bumped on every connect: stale deadlines do not match
  bool in_use = false;
};

struct Deadline {
  Instant at;
  Session* s;
  std::uint32_t generation;
};

class Proxy final : public api::App, public api::AcceptHandler, public api::ConnectionHandler {
 public:
  Proxy(const ProxyOptions& o, std::atomic<bool>& listen_failed)
      : o_(o), pool_(o.backends, o.pool), idle_(o.idle_timeout), listen_failed_(listen_failed) {}

  void on_start(api::WorkerContext& w) override {
    w_ = &w;
    if (api::Error e = w.listen(o_.listen_port, 4096, *this); e != api::Error::kOk) {
      std::fprintf(stderr, "tern-proxy: worker %u cannot listen on port %u: %s\n", w.id(), o_.listen_port,
                   std::string(api::to_string(e)).c_str());
      listen_failed_.store(true);
    }
  }

  api::ConnectionHandler* on_accept(Connection& c) override {
    Session& s = take();
    s.client.c = &c;
    c.user = &s.client;
    // Until a backend connects, what the client sends stays in its receive
    // queue: a failed connect then loses nothing.
    c.pause_reading();
    ++stats_.accepted;
    if (++stats_.active > stats_.max_active) stats_.max_active = stats_.active;
    if (!connect_backend(s)) {
      ++stats_.no_backend;
      s.client.c = nullptr;
      s.failed = true;
      finish_if_over(s);
      return nullptr;  // reset
    }
    return this;
  }

  void on_connected(Connection& c) override {
    Session& s = *side(c).s;
    s.connected = true;
    if (pool_.connected(s.idx) == proxy::Transition::kBackUp)
      log_health(s.idx, "up again: a connect succeeded");
    c.set_nodelay(true);  // segments go on as they come: the client's own timing
    if (s.client.c != nullptr) {
      s.client.c->set_nodelay(true);
      s.client.c->resume_reading();
    }
    // The relay starts, and its idle timeout; the client may have sent its
    // FIN already.
    touch(s);
    maybe_shutdown(s.backend);
  }

  void on_data(Connection& c, Buffer data) override {
    Side& from = side(c);
    Side& to = other(from);
    touch(*from.s);
    if (to.c == nullptr) {  // nowhere to deliver it: the other side is gone
      ++stats_.relay_errors;
      return reset_session(*from.s);
    }
    if (!append(to.out, std::move(data))) {
      ++stats_.relay_errors;
      return reset_session(*from.s);
    }
    relay(from, to);
  }

  void on_writable(Connection& c) override {
    Side& to = side(c);
    relay(other(to), to);
  }

  void on_peer_closed(Connection& c) override {
    Side& from = side(c);
    from.peer_eof = true;
    Session& s = *from.s;
    touch(s);
    maybe_shutdown(other(from));
    if (from.c != nullptr) maybe_close(from);
    finish_if_over(s);
  }

  void on_closed(Connection& c, CloseReason why) override {
    Side& x = side(c);
    Session& s = *x.s;
    Side& y = other(x);
    if (x.is_backend && !s.connected) return connect_failed(s, why);
    if (why == CloseReason::kNormal && x.shut) {
      // Both FINs exchanged. With reading paused, data may still be queued
      // (on_peer_closed waits for it): hand it on before the handle goes.
      if (Buffer rest = c.recv(); rest && y.c != nullptr && !append(y.out, std::move(rest))) {
        ++stats_.relay_errors;
        forget(x);
        return reset_session(s);
      }
      x.peer_eof = true;
      forget(x);
      if (y.c != nullptr) relay(x, y);
      return finish_if_over(s);
    }
    // Reset, timed out, unreachable or aborted: the other side learns it by
    // a reset too (and so does a close we did not expect).
    ++(x.is_backend ? stats_.backend_resets : stats_.client_resets);
    forget(x);
    s.failed = true;
    abort_side(y);
    finish_if_over(s);
  }

  void on_poll(api::WorkerContext& w) override {
    const Instant now = w.now();
    // Deadlines are pushed in time order (now + one fixed timeout).
    while (!deadlines_.empty() && deadlines_.front().at <= now) {
      const Deadline d = deadlines_.front();
      deadlines_.pop_front();
      Session& s = *d.s;
      if (!s.in_use || s.generation != d.generation || s.connected || s.backend.c == nullptr) continue;
      ++stats_.connect_timeouts;
      s.backend.c->abort();
      s.backend.c = nullptr;
      s.holding = false;
      backend_failed(s.idx, "connect timed out");
      retry_or_reset(s);
    }
    while (proxy::IdleLink* l = idle_.pop_due(now)) {
      Session& s = static_cast<Session&>(*l);
      if (!idle_.still_idle(s, now, queued(s))) continue;  // a slow reader made progress: re-armed
      // Nothing moved either way for --idle-timeout. Reset both: what may
      // be queued is not being read, and a graceful close would leave both
      // TCBs to the engine until it gave up on them.
      ++stats_.idle_timeouts;
      reset_session(s);
    }
  }

  const ProxyStats& stats() const noexcept { return stats_; }
  const BackendPool& pool() const noexcept { return pool_; }
  const api::WorkerContext* context() const noexcept { return w_; }

 private:
  enum class Flush : std::uint8_t { kDone, kBlocked, kDead, kFailed };

  // Adds `b` after what waits in `out` (normally nothing: the source pauses
  // while its destination is full). False when the chain would be too long.
  static bool append(Buffer& out, Buffer b) noexcept {
    if (!out) {
      out = std::move(b);
      return true;
    }
    if (rte_pktmbuf_chain(out.get(), b.get()) != 0) return false;
    (void)b.release();  // now the tail of `out`
    return true;
  }

  static Side& side(Connection& c) noexcept { return *static_cast<Side*>(c.user); }
  static Side& other(Side& x) noexcept { return x.is_backend ? x.s->client : x.s->backend; }

  // Each side's bytes sent and not yet acknowledged.
  static std::array<std::uint32_t, 2> queued(const Session& s) noexcept {
    return {s.client.c != nullptr ? s.client.c->send_queued() : 0u,
            s.backend.c != nullptr ? s.backend.c->send_queued() : 0u};
  }

  // Bytes moved on a relay: its idle timeout starts again.
  void touch(Session& s) noexcept {
    if (s.connected && s.in_use) idle_.touch(s, w_->now(), queued(s));
  }

  // Starts a connect to the next backend the pool offers; false when none is left.
  bool connect_backend(Session& s) {
    while (const auto i = pool_.choose(w_->now(), s.tried)) {
      s.tried |= BackendPool::Tried{1} << *i;
      if (s.attempts++ > 0) ++stats_.retries;
      const proxy::BackendAddress& a = pool_.address(*i);
      api::Error err = api::Error::kOk;
      Connection* b = w_->connect(a.addr, a.port, *this, &err);
      if (b == nullptr) {  // our side's shortage, not the backend's fault
        // Said once per worker: a pool or port shortage, or an IPv6 backend
        // while duplicate address detection leaves no source address yet.
        if (stats_.local_connect_errors++ == 0)
          std::fprintf(stderr, "tern-proxy: worker %u: cannot connect to backend %s: %s\n", w_->id(),
                       proxy::format_backend(a).c_str(), std::string(api::to_string(err)).c_str());
        pool_.abandoned(*i);
        continue;
      }
      s.idx = *i;
      s.holding = true;
      s.backend.c = b;
      b->user = &s.backend;
      deadlines_.push_back({w_->now() + o_.connect_timeout, &s, ++s.generation});
      return true;
    }
    return false;
  }

  void connect_failed(Session& s, CloseReason why) {
    if (why == CloseReason::kRefused)
      ++stats_.connect_refused;
    else
      ++stats_.connect_other;
    s.backend.c = nullptr;
    s.holding = false;
    backend_failed(s.idx, api::to_string(why));
    retry_or_reset(s);
  }

  void backend_failed(std::size_t i, std::string_view why) {
    if (pool_.failed(i, w_->now()) != proxy::Transition::kMarkedDown) return;
    const std::uint32_t n = pool_.consecutive_failures(i);
    char what[192];
    std::snprintf(what, sizeof what,
                  "marked down after %u failed connect%s in a row (the last: %.*s); probed again in %.1f s",
                  n, n == 1 ? "" : "s", static_cast<int>(why.size()), why.data(),
                  static_cast<double>(pool_.options().retry_after.count_ns()) / 1e9);
    log_health(i, what);
  }

  // One line per health change, as it happens (not per probe): the backend
  // and this worker's view of it (workers keep their own, backend_pool.h).
  // Rare (twice per outage per worker), so a printf on the worker is fine.
  void log_health(std::size_t i, const char* what) {
    std::fprintf(stderr, "tern-proxy: worker %u: backend %s %s\n", w_->id(),
                 proxy::format_backend(pool_.address(i)).c_str(), what);
  }

  void retry_or_reset(Session& s) {
    if (s.client.c != nullptr && !connect_backend(s)) {
      ++stats_.no_backend;
      s.failed = true;
      abort_side(s.client);
    }
    finish_if_over(s);
  }

  // Sends what waits for `to`.
  Flush flush(Side& to) {
    if (!to.out) return Flush::kDone;
    const api::SendResult r = to.c->send(to.out);
    if (r.accepted > 0) touch(*to.s);
    const std::size_t i = to.s->idx;
    if (to.is_backend) {
      stats_.bytes_to_backends += r.accepted;
      if (i != Session::kNone) pool_.counters(i).bytes_to_backend += r.accepted;
    } else {
      stats_.bytes_to_clients += r.accepted;
      if (i != Session::kNone) pool_.counters(i).bytes_from_backend += r.accepted;
    }
    if (r.error == api::Error::kOk) return Flush::kDone;
    if (r.error == api::Error::kWouldBlock) return Flush::kBlocked;
    to.out.reset();
    // kClosed: `to` is over (a reset, say) and its on_closed is on the way;
    // that propagates it. Anything else cannot be relayed at all.
    return r.error == api::Error::kClosed && !to.shut ? Flush::kDead : Flush::kFailed;
  }

  // Moves data from `from` to `to`; pauses `from` while `to` is full.
  void relay(Side& from, Side& to) {
    switch (flush(to)) {
      case Flush::kDone:
        if (from.c != nullptr && from.c->reading_paused()) from.c->resume_reading();
        maybe_shutdown(to);
        return finish_if_over(*to.s);
      case Flush::kBlocked:
        ++stats_.send_blocked;
        if (from.c != nullptr) from.c->pause_reading();
        return;
      case Flush::kDead:
        if (from.c != nullptr) from.c->pause_reading();
        return;
      case Flush::kFailed:
        ++stats_.relay_errors;
        return reset_session(*to.s);
    }
  }

  // The peer of the other side sent FIN and everything it sent is handed
  // over: our FIN follows the data on `to`.
  void maybe_shutdown(Side& to) {
    Side& from = other(to);
    if (!from.peer_eof || to.out || to.shut || to.c == nullptr) return;
    if (to.is_backend && !to.s->connected) return;  // on_connected comes back here
    (void)to.c->shutdown();
    to.shut = true;
    maybe_close(to);
  }

  // Both directions of `x` are done: let the stack finish its close.
  void maybe_close(Side& x) {
    if (!x.peer_eof || !x.shut || x.c == nullptr) return;
    x.c->close();
    forget(x);
  }

  void abort_side(Side& x) {
    if (x.c == nullptr) return;
    x.c->abort();
    forget(x);
  }

  void reset_session(Session& s) {
    s.failed = true;
    abort_side(s.client);
    abort_side(s.backend);
    finish_if_over(s);
  }

  // `x`'s connection is over for us (closed, aborted or ended by the stack).
  void forget(Side& x) {
    x.c = nullptr;
    x.out.reset();
    Session& s = *x.s;
    if (x.is_backend && s.holding) {
      s.holding = false;
      if (s.connected)
        pool_.released(s.idx);
      else
        pool_.abandoned(s.idx);
    }
  }

  void finish_if_over(Session& s) {
    if (!s.in_use || s.client.c != nullptr || s.backend.c != nullptr) return;
    if (!s.failed) ++stats_.completed;
    --stats_.active;
    idle_.stop(s);
    s.in_use = false;
    s.client.out.reset();
    s.backend.out.reset();
    free_.push_back(&s);
  }

  Session& take() {
    Session* s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
    } else {
      s = &sessions_.emplace_back();
    }
    const std::uint32_t generation = s->generation;  // stays monotonic across reuse
    Session* self = s;
    s->client = Side{.s = self};
    s->backend = Side{.s = self, .is_backend = true};
    s->idx = Session::kNone;
    s->holding = s->connected = s->failed = false;
    s->tried = 0;
    s->attempts = 0;
    s->generation = generation;
    s->in_use = true;
    return *s;
  }

  ProxyOptions o_;
  BackendPool pool_;
  proxy::IdleTimer idle_;
  std::atomic<bool>& listen_failed_;
  api::WorkerContext* w_ = nullptr;
  std::deque<Session> sessions_;  // stable addresses: Connection::user points into them
  std::vector<Session*> free_;
  std::deque<Deadline> deadlines_;
  ProxyStats stats_;
};

void print_backend(std::FILE* out, const char* who, const proxy::BackendAddress& a, const char* state,
                   const proxy::BackendCounters& b) {
  std::fprintf(out,
               "proxy %s backend %s: state %s attempts %" PRIu64 " connections %" PRIu64
               " active %u failures %" PRIu64 " marked_down %" PRIu64 " probes %" PRIu64
               " bytes_to_backend %" PRIu64 " bytes_from_backend %" PRIu64 "\n",
               who, proxy::format_backend(a).c_str(), state, b.attempts, b.connections, b.active, b.failures,
               b.marked_down, b.probes, b.bytes_to_backend, b.bytes_from_backend);
}

void print_stats(std::FILE* out, const char* who, const ProxyStats& s) {
  std::fprintf(out,
               "proxy %s: accepted %" PRIu64 " completed %" PRIu64 " client_resets %" PRIu64
               " backend_resets %" PRIu64 " relay_errors %" PRIu64 " no_backend %" PRIu64 " retries %" PRIu64
               " connect_refused %" PRIu64 " connect_timeouts %" PRIu64 " connect_other %" PRIu64
               " local_connect_errors %" PRIu64 " bytes_to_backends %" PRIu64 " bytes_to_clients %" PRIu64
               " send_blocked %" PRIu64 " idle_timeouts %" PRIu64
               " active %u max_active %u tcbs_in_use %u connections %" PRIu64 "\n",
               who, s.accepted, s.completed, s.client_resets, s.backend_resets, s.relay_errors, s.no_backend,
               s.retries, s.connect_refused, s.connect_timeouts, s.connect_other, s.local_connect_errors,
               s.bytes_to_backends, s.bytes_to_clients, s.send_blocked, s.idle_timeouts, s.active,
               s.max_active, s.tcbs_in_use, s.table);
}

void report(std::FILE* out, const std::vector<Proxy*>& proxies, const ProxyOptions& o) {
  ProxyStats total;
  std::vector<proxy::BackendCounters> sums(o.backends.size());
  for (std::size_t w = 0; w < proxies.size(); ++w) {
    const Proxy& p = *proxies[w];
    const std::string who = "worker " + std::to_string(w);
    ProxyStats s = p.stats();
    if (const api::WorkerContext* c = p.context()) {
      s.tcbs_in_use = c->tcbs_in_use();
      s.table = c->table_size();
    }
    print_stats(out, who.c_str(), s);
    total.accepted += s.accepted;
    total.completed += s.completed;
    total.client_resets += s.client_resets;
    total.backend_resets += s.backend_resets;
    total.relay_errors += s.relay_errors;
    total.no_backend += s.no_backend;
    total.retries += s.retries;
    total.connect_refused += s.connect_refused;
    total.connect_timeouts += s.connect_timeouts;
    total.connect_other += s.connect_other;
    total.local_connect_errors += s.local_connect_errors;
    total.bytes_to_backends += s.bytes_to_backends;
    total.bytes_to_clients += s.bytes_to_clients;
    total.send_blocked += s.send_blocked;
    total.idle_timeouts += s.idle_timeouts;
    total.active += s.active;
    total.max_active += s.max_active;
    total.tcbs_in_use += s.tcbs_in_use;
    total.table += s.table;
    for (std::size_t i = 0; i < p.pool().size(); ++i) {
      const proxy::BackendCounters& b = p.pool().counters(i);
      print_backend(out, who.c_str(), p.pool().address(i), std::string(to_string(p.pool().health(i))).c_str(),
                    b);
      proxy::BackendCounters& t = sums[i];
      t.attempts += b.attempts;
      t.connections += b.connections;
      t.active += b.active;
      t.failures += b.failures;
      t.marked_down += b.marked_down;
      t.probes += b.probes;
      t.bytes_to_backend += b.bytes_to_backend;
      t.bytes_from_backend += b.bytes_from_backend;
    }
  }
  print_stats(out, "total", total);
  for (std::size_t i = 0; i < sums.size(); ++i) print_backend(out, "total", o.backends[i], "-", sums[i]);
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  ProxyOptions o;
  std::vector<Proxy*> proxies;
  std::atomic<bool> listen_failed{false};
  api::AppSpec spec;
  spec.name = "tern-proxy";
  spec.summary = "L4 TCP proxy / load balancer: every worker listens, relays zero-copy to a backend";
  spec.options = {
      {"--listen", "PORT", "TCP port every worker listens on",
       [&](const std::string& v) {
         o.listen_port = static_cast<std::uint16_t>(api::parse_int_option("--listen", v, 1, 65535));
       },
       /*required=*/true},
      {"--backend", "IP:PORT", "a backend (repeat for more; at least one, at most 64)",
       [&](const std::string& v) {
         const auto b = proxy::parse_backend(v);
         if (!b)
           throw std::invalid_argument("--backend = \"" + v +
                                       "\": expected IP:PORT, such as 10.0.0.1:80 or [2001:db8::1]:80");
         if (o.backends.size() == BackendPool::kMaxBackends)
           throw std::invalid_argument("--backend: at most 64 backends");
         o.backends.push_back(*b);
       },
       /*required=*/true},
      {"--policy", "NAME", "round-robin | least-connections (default round-robin)",
       [&](const std::string& v) {
         const auto p = proxy::parse_policy(v);
         if (!p)
           throw std::invalid_argument("--policy = \"" + v + "\": expected round-robin or least-connections");
         o.pool.policy = *p;
       }},
      {"--fail-threshold", "N", "consecutive failed connects that mark a backend down (default 3)",
       [&](const std::string& v) {
         o.pool.fail_threshold =
             static_cast<std::uint32_t>(api::parse_int_option("--fail-threshold", v, 1, 1000000));
       }},
      {"--retry-after", "S", "seconds a backend marked down is skipped before a probe (default 5)",
       [&](const std::string& v) {
         o.pool.retry_after = Duration::s(api::parse_int_option("--retry-after", v, 0, 86400));
       }},
      {"--connect-timeout", "S", "seconds a backend has to accept a connect (default 3)",
       [&](const std::string& v) {
         o.connect_timeout = Duration::s(api::parse_int_option("--connect-timeout", v, 1, 3600));
       }},
      {"--idle-timeout", "S",
       "seconds a relayed pair may move no bytes either way before both sides are reset (default 300, "
       "0 = never)",
       [&](const std::string& v) {
         o.idle_timeout = Duration::s(api::parse_int_option("--idle-timeout", v, 0, 7 * 86400));
       }},
  };
  spec.make_app = [&](std::size_t, std::size_t) -> std::unique_ptr<api::App> {
    auto app = std::make_unique<Proxy>(o, listen_failed);
    proxies.push_back(app.get());
    return app;
  };
  spec.done = [&] { return listen_failed.load(); };
  spec.report = [&](std::FILE* out) { report(out, proxies, o); };
  spec.exit_status = [&] { return listen_failed.load() ? 1 : 0; };
  spec.describe = [&] {
    std::string b;
    for (const auto& be : o.backends) b += (b.empty() ? "" : ", ") + proxy::format_backend(be);
    return "tern-proxy: port " + std::to_string(o.listen_port) + " relayed to " + b + " (" +
           std::string(proxy::to_string(o.pool.policy)) + ")";
  };
  return api::run(argc, argv, spec);
}
