#include "perf_tern.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace tern::perf {
namespace {

using api::Buffer;
using api::CloseReason;
using api::Connection;

Duration seconds(double s) noexcept { return Duration::ns(static_cast<std::int64_t>(s * 1e9)); }
double to_s(Duration d) noexcept { return static_cast<double>(d.count_ns()) / 1e9; }

// Worker `id`'s share of `total` connections over `n` workers.
std::uint32_t share(std::uint32_t total, std::size_t id, std::size_t n) noexcept {
  return static_cast<std::uint32_t>(total / n + (id < total % n ? 1 : 0));
}

// Copies a received chain into out (which must hold pkt_len bytes).
void copy_out(const Buffer& b, std::byte* out) noexcept {
  for (const rte_mbuf* m = b.get(); m != nullptr; m = m->next) {
    std::memcpy(out, rte_pktmbuf_mtod(m, const std::byte*), m->data_len);
    out += m->data_len;
  }
}

}  // namespace

std::uint64_t TernClientShared::total_bytes() const noexcept {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < workers_; ++i) t += progress_[i].bytes.load(std::memory_order_relaxed);
  return t;
}

std::uint64_t TernClientShared::total_transactions() const noexcept {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < workers_; ++i) t += progress_[i].transactions.load(std::memory_order_relaxed);
  return t;
}

// ---------------------------------------------------------------- client

TernPerfClient::TernPerfClient(const Options& o, TernClientShared& shared) : o_(o), shared_(shared) {
  result_.mode = std::string(to_string(o.mode));
  result_.stack = "tern";
  result_.role = "client";
}

void TernPerfClient::on_start(api::WorkerContext& w) {
  w_ = &w;
  conns_.resize(share(o_.connections, w.id(), w.count()));
  open_ = conns_.size();
  if (w.id() == 0 && o_.interval_s > 0)
    intervals_ = std::make_unique<IntervalReporter>(stdout, o_.mode == Mode::kBulk);
  if (conns_.empty()) {
    finished_ = true;
    shared_.worker_done();
  }
}

void TernPerfClient::start(Instant now) {
  started_ = true;
  start_ = now;
  end_ = now + seconds(o_.time_s);
  next_interval_ = now + seconds(o_.interval_s);
  result_.duration_s = o_.time_s;
  for (Conn& k : conns_) open(k);
}

void TernPerfClient::open(Conn& k) {
  const Instant now = w_->now();
  k = Conn{};
  k.t_connect = now;
  encode_hello(Hello{.mode = o_.mode, .size = o_.mode == Mode::kBulk ? 0 : o_.size},
               std::span<std::byte, kHelloSize>{k.hello, kHelloSize});
  api::Error err = api::Error::kOk;
  Connection* c = w_->connect(o_.addr, o_.port, *this, &err);
  if (c == nullptr) {
    if (result_.errors == 0)
      std::fprintf(stderr, "tern-perf: worker %u: connect to %s:%u failed: %s\n", w_->id(),
                   api::format_ipv4(o_.addr).c_str(), o_.port, std::string(api::to_string(err)).c_str());
    return finish(k, false);
  }
  c->user = &k;
  k.c = c;
  k.phase = Phase::kConnecting;
}

void TernPerfClient::on_poll(api::WorkerContext& w) {
  if (finished_) return;
  const Instant now = w.now();
  if (!started_) {
    if (!o_.start_file.empty()) {
      if (now < next_check_) return;
      next_check_ = now + Duration::ms(10);
      if (access(o_.start_file.c_str(), F_OK) != 0) return;
    }
    start(now);
  }
  shared_.publish(w.id(), result_.sent_bytes, result_.transactions);
  if (!ending_) {
    if (intervals_ && now >= next_interval_) {
      report_interval(to_s(now - start_));
      while (next_interval_ <= now) next_interval_ = next_interval_ + seconds(o_.interval_s);
    }
    if (now >= end_) {
      begin_end(now);
    } else if (!idle_.empty()) {  // crr: slots to reconnect
      for (std::size_t i : std::vector<std::size_t>(std::move(idle_))) {
        if (conns_[i].retry_at <= now)
          open(conns_[i]);
        else
          idle_.push_back(i);
      }
    }
  }
  if (now >= next_scan_) {  // timeouts, at most every millisecond
    next_scan_ = now + Duration::ms(1);
    const bool drain_over = ending_ && now >= end_ + seconds(kDrainTimeoutS);
    for (Conn& k : conns_) {
      const bool connect_late =
          k.phase == Phase::kConnecting && now - k.t_connect >= seconds(kConnectTimeoutS);
      if (k.c != nullptr && (connect_late || drain_over)) {
        if (result_.errors == 0)
          std::fprintf(stderr, "tern-perf: worker %u: %s\n", w.id(),
                       connect_late ? "connection attempt timed out" : "connection did not finish in time");
        k.c->abort();
        finish(k, false);
      } else if (drain_over && k.phase != Phase::kDone) {
        finish(k, false);
      }
    }
  }
  if (ending_ && open_ == 0) {
    finished_ = true;
    shared_.publish(w.id(), result_.sent_bytes, result_.transactions);
    shared_.worker_done();
  }
}

void TernPerfClient::begin_end(Instant now) {
  ending_ = true;
  if (intervals_) report_interval(to_s(now - start_));
  idle_.clear();
  for (Conn& k : conns_) {
    switch (k.phase) {
      case Phase::kIdle:
        k.phase = Phase::kDone;
        --open_;
        break;
      case Phase::kConnecting:
        if (o_.mode != Mode::kCrr) {  // never got going: a failure
          k.c->abort();
          finish(k, false);
        }
        break;
      case Phase::kRunning:
        if (o_.mode == Mode::kBulk) {
          // Our FIN follows the queued data; the server answers with its count.
          (void)k.c->shutdown();
          k.phase = Phase::kDraining;
        } else if (o_.mode == Mode::kRr) {
          k.phase = Phase::kDraining;  // closes once the outstanding response is in
        }
        break;
      default:
        break;
    }
  }
}

void TernPerfClient::on_connected(Connection& c) {
  Conn& k = conn(c);
  k.phase = ending_ && o_.mode == Mode::kRr ? Phase::kDraining : Phase::kRunning;
  if (o_.mode != Mode::kBulk) {
    c.set_nodelay(true);
    k.req_left = o_.size;
    k.resp_left = o_.size;
    k.t_request = w_->now();
  }
  pump(c, k);
}

void TernPerfClient::pump(Connection& c, Conn& k) {
  if (k.hello_sent < kHelloSize) {
    // The hello and the start of the first request in one send, so a small
    // request leaves in one segment with it.
    std::byte first[2048];
    const std::size_t h = kHelloSize - k.hello_sent;
    const std::size_t r = static_cast<std::size_t>(std::min<std::uint64_t>(k.req_left, sizeof first - h));
    std::memcpy(first, k.hello + k.hello_sent, h);
    std::memset(first + h, 0, r);
    const api::SendResult s = c.send(std::span<const std::byte>{first, h + r});
    if (s.accepted >= h) {
      k.hello_sent = kHelloSize;
      k.req_left -= s.accepted - h;
    } else {
      k.hello_sent += s.accepted;
    }
    if (s.error != api::Error::kOk) return;  // on_writable resumes, or the connection is over
  }
  if (o_.mode == Mode::kBulk) {
    while (k.phase == Phase::kRunning) {
      const api::SendResult s = c.send(zeros());
      result_.sent_bytes += s.accepted;
      k.sent += s.accepted;
      if (s.error != api::Error::kOk) return;
    }
    return;
  }
  while (k.req_left > 0) {
    const api::SendResult s =
        c.send(zeros().first(static_cast<std::size_t>(std::min<std::uint64_t>(k.req_left, zeros().size()))));
    k.req_left -= s.accepted;
    if (s.error != api::Error::kOk) return;
  }
}

void TernPerfClient::on_writable(Connection& c) { pump(c, conn(c)); }

void TernPerfClient::on_data(Connection& c, Buffer data) {
  Conn& k = conn(c);
  const std::uint32_t n = data.pkt_len();
  if (o_.mode == Mode::kBulk) {
    if (k.phase != Phase::kDraining || k.count_have + n > kCountSize) {
      std::fprintf(stderr, "tern-perf: unexpected %u bytes from the bulk server\n", n);
      c.abort();
      return finish(k, false);
    }
    copy_out(data, k.count + k.count_have);
    k.count_have += n;
    return;
  }
  if (n > k.resp_left || k.req_left > 0 || k.phase == Phase::kAwaitFin) {
    std::fprintf(stderr, "tern-perf: %u bytes from the server before a request asked for them\n", n);
    c.abort();
    return finish(k, false);
  }
  k.resp_left -= n;
  if (k.resp_left == 0) transaction_done(c, k);
}

void TernPerfClient::transaction_done(Connection& c, Conn& k) {
  const Instant now = w_->now();
  ++result_.transactions;
  if (o_.mode == Mode::kCrr) {
    result_.latency.record(static_cast<std::uint64_t>((now - k.t_connect).count_ns()));
    k.phase = Phase::kAwaitFin;  // the server closes first
    return;
  }
  result_.latency.record(static_cast<std::uint64_t>((now - k.t_request).count_ns()));
  if (k.phase == Phase::kDraining) {
    c.close();
    return finish(k, true);
  }
  k.req_left = o_.size;
  k.resp_left = o_.size;
  k.t_request = now;
  pump(c, k);
}

void TernPerfClient::on_peer_closed(Connection& c) {
  Conn& k = conn(c);
  bool ok = false;
  if (o_.mode == Mode::kBulk && k.phase == Phase::kDraining && k.count_have == kCountSize) {
    const std::uint64_t count = decode_u64(std::span<const std::byte, kCountSize>{k.count, kCountSize});
    result_.bytes += count;
    // A graceful close delivers everything the stack took: the counts agree.
    ok = count == k.sent;
    if (!ok)
      std::fprintf(stderr, "tern-perf: the server counted %llu bytes of the %llu sent\n",
                   static_cast<unsigned long long>(count), static_cast<unsigned long long>(k.sent));
  } else if (o_.mode == Mode::kCrr && k.phase == Phase::kAwaitFin) {
    ++result_.connects;
    ok = true;
  } else if (result_.errors == 0) {
    std::fprintf(stderr, "tern-perf: the server closed the connection early\n");
  }
  c.close();
  finish(k, ok);
}

void TernPerfClient::on_closed(Connection& c, CloseReason why) {
  // After our close()/abort() no on_closed comes: this one is unexpected.
  Conn& k = conn(c);
  if (result_.errors == 0)
    std::fprintf(stderr, "tern-perf: worker %u: connection to %s:%u ended: %s\n", w_->id(),
                 api::format_ipv4(o_.addr).c_str(), o_.port, std::string(api::to_string(why)).c_str());
  k.c = nullptr;
  finish(k, false);
}

void TernPerfClient::finish(Conn& k, bool ok) {
  k.c = nullptr;
  if (!ok) ++result_.errors;
  if (o_.mode == Mode::kCrr && !ending_) {
    // The slot connects again: at once after a good cycle, after a pause
    // after a failure (a missing server does not spin the loop).
    k.phase = Phase::kIdle;
    k.retry_at = w_->now() + (ok ? Duration{} : Duration::ms(10));
    idle_.push_back(static_cast<std::size_t>(&k - conns_.data()));
    return;
  }
  if (k.phase != Phase::kDone) {
    k.phase = Phase::kDone;
    --open_;
  }
}

void TernPerfClient::report_interval(double t) {
  // The first open connection's sender figures (what iperf3 shows as Cwnd
  // and Retr): how the window and the RTT moved, e.g. over a lossy link.
  char extra[160] = "";
  for (const Conn& k : conns_) {
    if (k.c == nullptr || k.phase == Phase::kConnecting) continue;
    const ConnectionInfo i = k.c->info();
    std::snprintf(extra, sizeof extra, "  cwnd %u KB  srtt %u us  retrans %u  %.*s", i.cwnd / 1024, i.srtt_us,
                  i.total_retrans, static_cast<int>(to_string(i.ca_state).size()),
                  to_string(i.ca_state).data());
    break;
  }
  intervals_->report(t, shared_.total_bytes(), shared_.total_transactions(), extra);
}

// ---------------------------------------------------------------- server

void TernPerfServer::on_start(api::WorkerContext& w) {
  w_ = &w;
  if (api::Error e = w.listen(o_.port, 4096, *this); e != api::Error::kOk) {
    std::fprintf(stderr, "tern-perf: worker %u cannot listen on port %u: %s\n", w.id(), o_.port,
                 std::string(api::to_string(e)).c_str());
    listen_failed_.store(true);
  }
  result_.mode = "server";
  result_.stack = "tern";
  result_.role = "server";
}

api::ConnectionHandler* TernPerfServer::on_accept(Connection& c) {
  ServerSession* s = nullptr;
  if (free_.empty()) {
    all_.push_back(std::make_unique<ServerSession>());
    s = all_.back().get();
  } else {
    s = free_.back();
    free_.pop_back();
  }
  c.user = s;
  ++result_.connections;
  if (first_ == Instant::max()) first_ = w_->now();
  return this;
}

void TernPerfServer::on_data(Connection& c, Buffer data) {
  auto& s = *static_cast<ServerSession*>(c.user);
  for (const rte_mbuf* m = data.get(); m != nullptr; m = m->next) {
    if (s.on_bytes({rte_pktmbuf_mtod(m, const std::byte*), m->data_len}) ==
        ServerSession::Status::kBadHello) {
      if (result_.errors == 0)
        std::fprintf(stderr, "tern-perf: a bad hello from %s:%u: reset\n",
                     api::format_ipv4(c.remote_addr()).c_str(), c.remote_port());
      c.abort();
      return end(s, false);
    }
  }
  flush(c, s);
}

void TernPerfServer::flush(Connection& c, ServerSession& s) {
  for (std::span<const std::byte> out = s.out(); !out.empty(); out = s.out()) {
    const api::SendResult r = c.send(out);
    s.sent(r.accepted);
    if (r.error == api::Error::kWouldBlock) return;  // on_writable resumes
    if (r.error != api::Error::kOk) break;
  }
  if (s.should_close()) {
    c.close();
    end(s, true);
  }
}

void TernPerfServer::on_writable(Connection& c) { flush(c, *static_cast<ServerSession*>(c.user)); }

void TernPerfServer::on_peer_closed(Connection& c) {
  auto& s = *static_cast<ServerSession*>(c.user);
  s.on_peer_closed();
  flush(c, s);
}

void TernPerfServer::on_closed(Connection& c, CloseReason why) {
  end(*static_cast<ServerSession*>(c.user), why == CloseReason::kNormal);
}

void TernPerfServer::end(ServerSession& s, bool ok) {
  result_.bytes += s.payload_bytes();
  result_.transactions += s.transactions();
  if (s.mode() == Mode::kCrr && ok) ++result_.connects;
  if (!ok) ++result_.errors;
  last_ = w_->now();
  s = ServerSession{};
  free_.push_back(&s);
}

// ---------------------------------------------------------------- results

Result merge_client_results(const std::vector<const TernPerfClient*>& clients, const Options& o) {
  Result r;
  r.mode = std::string(to_string(o.mode));
  r.stack = "tern";
  r.role = "client";
  r.connections = o.connections;
  r.duration_s = o.time_s;
  for (const TernPerfClient* c : clients) {
    const Result& x = c->result();
    r.bytes += x.bytes;
    r.sent_bytes += x.sent_bytes;
    r.transactions += x.transactions;
    r.connects += x.connects;
    r.errors += x.errors;
    r.latency.merge(x.latency);
  }
  return r;
}

Result merge_server_results(const std::vector<const TernPerfServer*>& servers) {
  Result r;
  r.mode = "server";
  r.stack = "tern";
  r.role = "server";
  Instant first = Instant::max(), last;
  for (const TernPerfServer* s : servers) {
    const Result& x = s->result();
    r.connections += x.connections;
    r.bytes += x.bytes;
    r.transactions += x.transactions;
    r.connects += x.connects;
    r.errors += x.errors;
    first = std::min(first, s->first_accept());
    last = std::max(last, s->last_close());
  }
  if (first != Instant::max() && last > first) r.duration_s = to_s(last - first);
  return r;
}

}  // namespace tern::perf
