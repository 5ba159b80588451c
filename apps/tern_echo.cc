// tern-echo: a TCP echo server (RFC 862) on every worker, and a client mode
// for tests, both on the public API (tern/api.h).
//
// Server: every byte received is sent back zero-copy: the mbuf chain
// on_data() hands over is the chain given to send(). What send() does not
// take waits on the connection, and reading pauses until on_writable, so a
// slow reader throttles its own sender through the receive window. After
// the peer's FIN and once everything is echoed, the write side is shut
// down; the connection ends when the peer closes too. Connection state is
// allocated as connections come (slot_pool.h), with no cap of its own: the
// engine's TCB pool ([tcp] max_connections) is the limit. A connection the
// server cannot hold (no memory for its state) is refused (reset) and
// counted; SYNs the engine drops for want of a TCB never reach the server
// and are counted by Tern itself (Drop.TcpNoTcb).
//
// Client (--connect ADDR, IPv4 or IPv6): each worker opens its share of --connections to
// ADDR:--port, sends --messages messages of sizes 1..--max-size bytes from a
// seeded pattern, checks every echoed byte, then ends the connection as
// --finish says: close (Tern closes first once everything came back),
// shutdown (Tern half-closes as soon as everything is sent, then reads the
// rest of the echo to EOF), abort (RST once everything came back), or wait
// (the server closes first; Tern follows). Message sizes only set each
// connection's total (sum of 1 + (id * 977 + m * 7919) % max-size); with
// --max-size 1 every connection sends exactly --messages bytes, which a
// server that must close first can be told. An early EOF, more bytes than
// were sent, or a wrong byte fails the connection. Exit status 0 only when
// every connection did all of that. With --start-file PATH either client
// starts only once PATH exists (apps/start_file.h).
//
// UDP (--udp): every worker opens port --port for any address and sends
// each datagram back to its source (RFC 862's UDP service), zero-copy: the
// chain on_datagram() hands over is the chain given to send_to().
//
//   tern-echo --config FILE [--port 7]
//   tern-echo --config FILE --udp [--port 7]
//   tern-echo --config FILE --udp --connect 10.0.0.1 [--port 7] [--messages 100] [--max-size 65507]
//             [--start-file PATH]
//   tern-echo --config FILE --connect 2001:db8::1 [--port 7] [--connections 10]
//             [--messages 100] [--max-size 65536] [--finish close|shutdown|abort|wait] [--start-file PATH]
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "slot_pool.h"
#include "start_file.h"
#include "tern/api.h"
#include "tern/udp.h"

namespace tern {
namespace {

using api::Buffer;
using api::CloseReason;
using api::Connection;

struct EchoStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  // no memory for the connection's state: reset
  std::uint64_t closed_clean = 0;
  std::uint64_t closed_error = 0;  // reset, timed out or aborted
  std::uint64_t bytes = 0;         // echoed (handed to send)
  std::uint64_t send_blocked = 0;  // send stopped short for lack of space
  std::uint32_t active = 0;
  std::uint32_t max_active = 0;
};

// Per-connection state of the server: what send() has not taken yet.
struct EchoConn {
  Buffer pending;
  bool peer_closed = false;
};

class EchoServer final : public api::App, public api::AcceptHandler, public api::ConnectionHandler {
 public:
  explicit EchoServer(std::uint16_t port) : port_(port) {}

  void on_start(api::WorkerContext& w) override {
    w_ = &w;
    if (api::Error e = w.listen(port_, 4096, *this); e != api::Error::kOk)
      std::fprintf(stderr, "tern-echo: worker %u cannot listen on port %u: %s\n", w.id(), port_,
                   std::string(api::to_string(e)).c_str());
  }

  api::ConnectionHandler* on_accept(Connection& c) override {
    ++stats_.accepted;
    EchoConn* e = conns_.take();
    if (e == nullptr) {
      ++stats_.refused;
      return nullptr;  // reset
    }
    c.user = e;
    if (++stats_.active > stats_.max_active) stats_.max_active = stats_.active;
    return this;
  }

  void on_data(Connection& c, Buffer data) override {
    auto& e = *static_cast<EchoConn*>(c.user);
    e.pending = std::move(data);
    flush(c, e);
  }

  void on_writable(Connection& c) override {
    auto& e = *static_cast<EchoConn*>(c.user);
    if (flush(c, e)) {
      c.resume_reading();
      maybe_shutdown(c, e);
    }
  }

  void on_peer_closed(Connection& c) override {
    auto& e = *static_cast<EchoConn*>(c.user);
    e.peer_closed = true;
    maybe_shutdown(c, e);
  }

  void on_closed(Connection& c, CloseReason why) override {
    auto* e = static_cast<EchoConn*>(c.user);
    if (why == CloseReason::kNormal)
      ++stats_.closed_clean;
    else
      ++stats_.closed_error;
    --stats_.active;
    e->pending.reset();
    e->peer_closed = false;
    conns_.give_back(e);
  }

  const EchoStats& stats() const noexcept { return stats_; }
  const api::WorkerContext* context() const noexcept { return w_; }

 private:
  // True when everything pending was taken; else reading pauses.
  bool flush(Connection& c, EchoConn& e) {
    if (!e.pending) return true;
    const api::SendResult r = c.send(e.pending);
    stats_.bytes += r.accepted;
    if (r.error == api::Error::kOk) return true;
    if (r.error != api::Error::kWouldBlock) {  // the connection can no longer send
      e.pending.reset();
      return true;
    }
    ++stats_.send_blocked;
    c.pause_reading();
    return false;
  }

  void maybe_shutdown(Connection& c, EchoConn& e) {
    // EOF from the peer and everything echoed: our FIN follows the data.
    if (e.peer_closed && !e.pending && !c.reading_paused()) (void)c.shutdown();
  }

  std::uint16_t port_;
  api::WorkerContext* w_ = nullptr;
  apps::SlotPool<EchoConn, 1024> conns_;  // unlimited: one per TCB at most
  EchoStats stats_;
};

struct UdpEchoStats {
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;
  std::uint64_t send_errors = 0;  // send_to refused (counted by its error in Tern's counters)
};

class UdpEchoServer final : public api::App, public api::UdpHandler {
 public:
  explicit UdpEchoServer(std::uint16_t port) : port_(port) {}

  void on_start(api::WorkerContext& w) override {
    api::Error e = api::Error::kOk;
    if (w.udp_open(api::Endpoint{api::IpAddr{}, port_}, *this, &e) == nullptr)
      std::fprintf(stderr, "tern-echo: worker %u cannot open UDP port %u: %s\n", w.id(), port_,
                   std::string(api::to_string(e)).c_str());
  }

  void on_datagram(api::UdpSocket& s, const api::Endpoint& from, Buffer data) override {
    ++stats_.datagrams;
    stats_.bytes += data ? data.pkt_len() : 0;
    if (s.send_to(data, from) != api::Error::kOk) ++stats_.send_errors;
  }

  const UdpEchoStats& stats() const noexcept { return stats_; }

 private:
  std::uint16_t port_;
  UdpEchoStats stats_;
};

enum class Finish { kClose, kShutdown, kAbort, kWait };

struct ClientOptions {
  api::IpAddr addr;  // either family
  std::uint16_t port = 7;
  std::uint32_t connections = 10;
  std::uint32_t messages = 100;
  std::uint32_t max_size = 65536;
  Finish finish = Finish::kClose;
  std::string start_file;  // --start-file: the client starts once it exists
};

struct ClientStats {
  std::uint64_t connected = 0;
  std::uint64_t completed = 0;  // every byte echoed and the close went as --finish says
  std::uint64_t failed = 0;
  std::uint64_t bytes_checked = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t reasons[6] = {};  // by CloseReason
};

// The byte at stream offset i of connection k: a pattern the checker can
// recompute without storing what was sent.
inline std::byte pattern(std::uint64_t k, std::uint64_t i) noexcept {
  return static_cast<std::byte>((i * 131 + k * 7 + (i >> 11)) & 0xff);
}

struct ClientConn {
  Connection* c = nullptr;
  std::uint64_t id = 0;
  std::uint64_t sent = 0;      // bytes handed to send()
  std::uint64_t to_send = 0;   // total bytes of all messages
  std::uint64_t received = 0;  // bytes echoed and checked
  bool bad = false;
  bool finished = false;  // our side of --finish done
  bool peer_closed = false;
  bool shut = false;  // shutdown() called (--finish shutdown)
};

class EchoClient final : public api::App, public api::ConnectionHandler {
 public:
  EchoClient(const ClientOptions& o, std::atomic<std::uint32_t>& done_workers)
      : o_(o), done_workers_(done_workers), start_file_(o.start_file) {}

  void on_start(api::WorkerContext& w) override {
    w_ = &w;
    if (start_file_.ready(w.now())) begin(w);
  }

  // Done once every connection ended for the application and the engine
  // let go of every TCB too (FINs acknowledged, nothing left to retransmit),
  // so the process never exits in the middle of a close handshake.
  void on_poll(api::WorkerContext& w) override {
    if (!started_) {
      if (!start_file_.ready(w.now())) return;
      begin(w);
    }
    if (!done_ && open_ == 0 && w.tcbs_in_use() == 0) {
      done_ = true;
      done_workers_.fetch_add(1);
    }
  }

  void on_connected(Connection& c) override {
    ++stats_.connected;
    c.set_nodelay(true);
    ClientConn& cc = conn(c);
    pump(c, cc);
    if (cc.to_send == 0) all_echoed(c, cc);  // --messages 0: nothing to wait for
  }

  void on_data(Connection& c, Buffer data) override {
    ClientConn& cc = conn(c);
    for (rte_mbuf* m = data.get(); m != nullptr; m = m->next) {
      const auto* p = rte_pktmbuf_mtod(m, const std::byte*);
      for (std::uint16_t i = 0; i < m->data_len; ++i)
        if (p[i] != pattern(cc.id, cc.received + i)) {
          if (!cc.bad) ++stats_.mismatches;
          cc.bad = true;
        }
      cc.received += m->data_len;
    }
    stats_.bytes_checked += data.pkt_len();
    if (cc.received > cc.to_send) cc.bad = true;
    if (cc.received >= cc.to_send) all_echoed(c, cc);
  }

  void on_writable(Connection& c) override { pump(c, conn(c)); }

  void on_peer_closed(Connection& c) override {
    ClientConn& cc = conn(c);
    cc.peer_closed = true;
    if (cc.received != cc.to_send || cc.bad) {  // EOF before the whole echo: the server gave up
      c.close();
      return end(cc, false);
    }
    // With everything echoed, all_echoed() already ran: close and abort are
    // gone; wait follows the server's close; shutdown has sent its FIN.
    if (o_.finish == Finish::kWait || o_.finish == Finish::kShutdown) {
      cc.finished = true;
      c.close();
      end(cc, true);
    }
  }

  void on_closed(Connection& c, CloseReason why) override {
    ClientConn& cc = conn(c);
    ++stats_.reasons[static_cast<std::size_t>(why)];
    // After our close() the handle is gone, so on_closed only comes for
    // connections that ended before we finished with them.
    end(cc, why == CloseReason::kNormal && cc.finished && cc.received == cc.to_send && !cc.bad);
  }

  const ClientStats& stats() const noexcept { return stats_; }
  const api::WorkerContext* context() const noexcept { return w_; }

 private:
  static ClientConn& conn(Connection& c) noexcept { return *static_cast<ClientConn*>(c.user); }

  void begin(api::WorkerContext& w) {
    started_ = true;
    // This worker's share of the connections.
    const std::uint32_t n = o_.connections / w.count() + (w.id() < o_.connections % w.count() ? 1 : 0);
    conns_.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      ClientConn& cc = conns_[i];
      cc.id = static_cast<std::uint64_t>(w.id()) << 32 | i;
      std::uint64_t total = 0;
      for (std::uint32_t m = 0; m < o_.messages; ++m) total += 1 + (cc.id * 977 + m * 7919) % o_.max_size;
      cc.to_send = total;
      api::Error err = api::Error::kOk;
      cc.c = w.connect(o_.addr, o_.port, *this, &err);
      if (cc.c == nullptr) {
        std::fprintf(stderr, "tern-echo: connect failed: %s\n", std::string(api::to_string(err)).c_str());
        ++stats_.failed;
        continue;
      }
      cc.c->user = &cc;
      ++open_;
    }
  }

  void pump(Connection& c, ClientConn& cc) {
    std::byte chunk[4096];
    while (cc.sent < cc.to_send) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(sizeof chunk, cc.to_send - cc.sent));
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(cc.id, cc.sent + i);
      const api::SendResult r = c.send(std::span<const std::byte>{chunk, n});
      cc.sent += r.accepted;
      if (r.error != api::Error::kOk) return;  // on_writable resumes, or the connection is over
    }
    // Half-close as soon as everything is queued: the rest of the echo
    // arrives after our FIN, and must still be read.
    if (o_.finish == Finish::kShutdown && !cc.shut) {
      cc.shut = true;
      (void)c.shutdown();
    }
  }

  void all_echoed(Connection& c, ClientConn& cc) {
    if (cc.bad) {
      c.abort();
      return end(cc, false);
    }
    switch (o_.finish) {
      case Finish::kClose:
        cc.finished = true;
        c.close();
        return end(cc, true);
      case Finish::kAbort:
        cc.finished = true;
        c.abort();
        return end(cc, true);
      case Finish::kShutdown:  // shut down in pump(); EOF ends it (on_peer_closed)
      case Finish::kWait:      // the server closes first (on_peer_closed)
        return;
    }
  }

  void end(ClientConn& cc, bool ok) {
    if (cc.c == nullptr) return;
    cc.c = nullptr;
    ++(ok ? stats_.completed : stats_.failed);
    --open_;
  }

  ClientOptions o_;
  std::atomic<std::uint32_t>& done_workers_;
  StartFile start_file_;
  api::WorkerContext* w_ = nullptr;
  std::vector<ClientConn> conns_;
  std::uint32_t open_ = 0;
  bool started_ = false;
  bool done_ = false;
  ClientStats stats_;
};

// The UDP client (--udp --connect): one socket per worker, connected to the
// server; messages (the first --max-size bytes, the others 1..--max-size)
// go one at a time (stop and wait), each resent after
// kUdpRetry without its echo, up to kUdpTries times. An echo that is not
// the datagram last sent (a late duplicate of an earlier one) is ignored;
// a wrong byte in the right-sized echo fails the worker.
struct UdpClientStats {
  std::uint64_t echoed = 0;
  std::uint64_t retries = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t bytes_checked = 0;
  bool failed = false;
};

class UdpEchoClient final : public api::App, public api::UdpHandler {
 public:
  static constexpr api::Duration kUdpRetry = api::Duration::ms(200);
  static constexpr std::uint32_t kUdpTries = 10;

  UdpEchoClient(const ClientOptions& o, std::atomic<std::uint32_t>& done_workers)
      : o_(o), done_workers_(done_workers), start_file_(o.start_file) {}

  void on_start(api::WorkerContext& w) override {
    w_ = &w;
    if (start_file_.ready(w.now())) begin(w);
  }

  void on_poll(api::WorkerContext& w) override {
    if (!started_) {
      if (!start_file_.ready(w.now())) return;
      begin(w);
    }
    if (done_ || w.now() < deadline_) return;
    if (++tries_ >= kUdpTries) return finish(false);
    ++stats_.retries;
    send_current();
  }

  void on_datagram(api::UdpSocket&, const api::Endpoint&, Buffer data) override {
    if (done_ || !data || data.pkt_len() != size_of(m_)) return;  // not the echo of the current message
    const std::uint64_t k = key(m_);
    std::uint64_t i = 0;
    for (rte_mbuf* seg = data.get(); seg != nullptr; seg = seg->next) {
      const auto* p = rte_pktmbuf_mtod(seg, const std::byte*);
      for (std::uint16_t j = 0; j < seg->data_len; ++j, ++i)
        if (p[j] != pattern(k, i)) {
          ++stats_.mismatches;
          return finish(false);
        }
    }
    stats_.bytes_checked += i;
    ++stats_.echoed;
    ++m_;
    tries_ = 0;
    if (m_ == o_.messages) return finish(true);
    send_current();
  }

  const UdpClientStats& stats() const noexcept { return stats_; }
  bool done() const noexcept { return done_; }

 private:
  void begin(api::WorkerContext& w) {
    started_ = true;
    api::Error e = api::Error::kOk;
    // Bound to the server's family: 0.0.0.0 or "::" (which takes both).
    s_ = w.udp_open(api::Endpoint{o_.addr.is_v4() ? api::IpAddr::any_v4() : api::IpAddr{}, 0}, *this, &e);
    if (s_ == nullptr || (e = s_->connect({o_.addr, o_.port})) != api::Error::kOk) {
      std::fprintf(stderr, "tern-echo: worker %u: UDP socket: %s\n", w.id(),
                   std::string(api::to_string(e)).c_str());
      return finish(false);
    }
    send_current();
  }

  std::uint64_t key(std::uint32_t m) const noexcept { return std::uint64_t{w_->id()} << 32 | m; }
  std::uint32_t size_of(std::uint32_t m) const noexcept {
    const std::uint32_t max = std::min<std::uint32_t>(o_.max_size, 65507);
    // The first is the largest, so that --max-size is always sent once (a
    // pseudo-random 1..max alone may never reach it); the rest 1..max.
    if (m == 0) return max;
    return 1 + static_cast<std::uint32_t>((key(m) * 977 + m * 7919) % max);
  }
  void send_current() {
    if (m_ >= o_.messages) return finish(true);
    const std::uint32_t n = size_of(m_);
    buf_.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) buf_[i] = pattern(key(m_), i);
    deadline_ = w_->now() + kUdpRetry;
    if (const api::Error e = s_->send(buf_); e != api::Error::kOk)
      std::fprintf(stderr, "tern-echo: worker %u: send: %s\n", w_->id(),
                   std::string(api::to_string(e)).c_str());
  }
  void finish(bool ok) {
    if (done_) return;
    done_ = true;
    stats_.failed = !ok;
    done_workers_.fetch_add(1);
  }

  ClientOptions o_;
  std::atomic<std::uint32_t>& done_workers_;
  StartFile start_file_;
  api::WorkerContext* w_ = nullptr;
  api::UdpSocket* s_ = nullptr;
  std::vector<std::byte> buf_;
  std::uint32_t m_ = 0;
  std::uint32_t tries_ = 0;
  api::Instant deadline_{};
  bool started_ = false;
  bool done_ = false;
  UdpClientStats stats_;
};

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  ClientOptions co;
  bool client = false;
  bool udp = false;
  std::vector<UdpEchoServer*> udp_servers;
  std::vector<UdpEchoClient*> udp_clients;
  std::vector<EchoServer*> servers;
  std::vector<EchoClient*> clients;
  std::atomic<std::uint32_t> done_workers{0};
  std::size_t workers = 0;
  api::AppSpec spec;
  spec.name = "tern-echo";
  spec.summary = "TCP echo server (RFC 862), zero-copy, on every worker; or an echo client (--connect)";
  spec.options = {
      {"--port", "N", "TCP port to listen on or connect to (default 7)",
       [&](const std::string& v) {
         co.port = static_cast<std::uint16_t>(api::parse_int_option("--port", v, 1, 65535));
       }},
      {"--connect", "ADDR", "client mode: connect to ADDR (IPv4 or IPv6)",
       [&](const std::string& v) {
         auto a = api::IpAddr::parse(v);
         if (!a || a->is_unspecified() || a->is_multicast())
           throw std::invalid_argument("--connect = \"" + v + "\": expected a unicast IPv4 or IPv6 address");
         co.addr = *a;
         client = true;
       }},
      {"--connections", "N", "client: connections, spread over the workers (default 10)",
       [&](const std::string& v) {
         co.connections = static_cast<std::uint32_t>(api::parse_int_option("--connections", v, 1, 1000000));
       }},
      {"--messages", "N", "client: messages per connection (default 100)",
       [&](const std::string& v) {
         co.messages = static_cast<std::uint32_t>(api::parse_int_option("--messages", v, 0, 100000000));
       }},
      {"--max-size", "BYTES", "client: largest message (default 65536)",
       [&](const std::string& v) {
         co.max_size = static_cast<std::uint32_t>(api::parse_int_option("--max-size", v, 1, 1 << 30));
       }},
      {"--start-file", "PATH",
       "client: start once PATH exists (for scripts that configure the peer, or wait for Tern's IPv6 "
       "duplicate address detection, after Tern is up)",
       [&](const std::string& v) { co.start_file = v; }},
      {"--finish", "HOW", "client: close | shutdown | abort | wait (default close)",
       [&](const std::string& v) {
         if (v == "close")
           co.finish = Finish::kClose;
         else if (v == "shutdown")
           co.finish = Finish::kShutdown;
         else if (v == "abort")
           co.finish = Finish::kAbort;
         else if (v == "wait")
           co.finish = Finish::kWait;
         else
           throw std::invalid_argument("--finish = \"" + v + "\": expected close, shutdown, abort or wait");
       }},
  };
  spec.flags = {
      {"--udp",
       "UDP instead of TCP: echo server on --port (RFC 862), or with --connect a client sending --messages "
       "datagrams one at a time",
       [&] { udp = true; }},
  };
  spec.make_app = [&](std::size_t, std::size_t n) -> std::unique_ptr<api::App> {
    workers = n;
    if (udp && client) {
      auto app = std::make_unique<UdpEchoClient>(co, done_workers);
      udp_clients.push_back(app.get());
      return app;
    }
    if (udp) {
      auto app = std::make_unique<UdpEchoServer>(co.port);
      udp_servers.push_back(app.get());
      return app;
    }
    if (client) {
      auto app = std::make_unique<EchoClient>(co, done_workers);
      clients.push_back(app.get());
      return app;
    }
    auto app = std::make_unique<EchoServer>(co.port);
    servers.push_back(app.get());
    return app;
  };
  spec.done = [&] { return client && done_workers.load() == workers; };
  spec.report = [&](std::FILE* out) {
    for (std::size_t i = 0; i < udp_servers.size(); ++i) {
      const UdpEchoStats& s = udp_servers[i]->stats();
      std::fprintf(out,
                   "udp echo worker %zu: datagrams %" PRIu64 " bytes %" PRIu64 " send_errors %" PRIu64 "\n",
                   i, s.datagrams, s.bytes, s.send_errors);
    }
    for (std::size_t i = 0; i < udp_clients.size(); ++i) {
      const UdpClientStats& s = udp_clients[i]->stats();
      std::fprintf(out,
                   "udp echo client %zu: echoed %" PRIu64 " retries %" PRIu64 " bytes_checked %" PRIu64
                   " mismatches %" PRIu64 " %s\n",
                   i, s.echoed, s.retries, s.bytes_checked, s.mismatches, s.failed ? "failed" : "ok");
    }
    for (std::size_t i = 0; i < servers.size(); ++i) {
      const EchoStats& s = servers[i]->stats();
      const api::WorkerContext* w = servers[i]->context();
      std::fprintf(out,
                   "echo worker %zu: accepted %" PRIu64 " closed_clean %" PRIu64 " closed_error %" PRIu64
                   " bytes %" PRIu64 " send_blocked %" PRIu64
                   " active %u max_active %u tcbs_in_use %u connections %zu refused %" PRIu64 "\n",
                   i, s.accepted, s.closed_clean, s.closed_error, s.bytes, s.send_blocked, s.active,
                   s.max_active, w ? w->tcbs_in_use() : 0, w ? w->table_size() : 0, s.refused);
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const ClientStats& s = clients[i]->stats();
      std::fprintf(out,
                   "echo client %zu: connected %" PRIu64 " completed %" PRIu64 " failed %" PRIu64
                   " bytes_checked %" PRIu64 " mismatches %" PRIu64 " reset %" PRIu64 " refused %" PRIu64
                   " timed_out %" PRIu64 " unreachable %" PRIu64 " tcbs_in_use %u\n",
                   i, s.connected, s.completed, s.failed, s.bytes_checked, s.mismatches,
                   s.reasons[static_cast<int>(api::CloseReason::kReset)],
                   s.reasons[static_cast<int>(api::CloseReason::kRefused)],
                   s.reasons[static_cast<int>(api::CloseReason::kTimedOut)],
                   s.reasons[static_cast<int>(api::CloseReason::kUnreachable)],
                   clients[i]->context() ? clients[i]->context()->tcbs_in_use() : 0);
    }
  };
  spec.exit_status = [&] {
    if (!client) return 0;
    if (udp) {
      for (const UdpEchoClient* c : udp_clients)
        if (c->stats().failed || !c->done()) return 1;
      return 0;
    }
    std::uint64_t completed = 0;
    for (const EchoClient* c : clients) completed += c->stats().completed;
    return completed == co.connections ? 0 : 1;
  };
  spec.describe = [&] {
    if (udp && client)
      return "tern-echo UDP client: " + std::to_string(co.messages) + " datagram(s) per worker to " +
             api::Endpoint{co.addr, co.port}.to_string();
    if (udp) return "tern-echo: UDP echo server (RFC 862) on port " + std::to_string(co.port);
    return client ? "tern-echo client: " + std::to_string(co.connections) + " connection(s) to " +
                        api::Endpoint{co.addr, co.port}.to_string() + ", " + std::to_string(co.messages) +
                        " message(s) each"
                  : "tern-echo: echo server (RFC 862) on port " + std::to_string(co.port);
  };
  return api::run(argc, argv, spec);
}
