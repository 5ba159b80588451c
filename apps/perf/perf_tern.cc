#include "perf_tern.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
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

std::uint64_t TernClientShared::total_tx() const noexcept {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < workers_; ++i) t += progress_[i].tx.load(std::memory_order_relaxed);
  return t;
}

std::uint64_t TernClientShared::total_rx() const noexcept {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < workers_; ++i) t += progress_[i].rx.load(std::memory_order_relaxed);
  return t;
}

std::uint64_t TernClientShared::total_transactions() const noexcept {
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < workers_; ++i) t += progress_[i].transactions.load(std::memory_order_relaxed);
  return t;
}

SenderFigures TernClientShared::total_sender() const noexcept {
  SenderFigures s;
  std::uint64_t sum = 0, n = 0;
  for (std::size_t i = 0; i < workers_; ++i) {
    const Progress& p = progress_[i];
    s.retrans += p.retrans.load(std::memory_order_relaxed);
    s.cwnd += p.cwnd.load(std::memory_order_relaxed);
    sum += p.rtt_sum.load(std::memory_order_relaxed);
    const std::uint64_t k = p.rtt_n.load(std::memory_order_relaxed);
    n += k;
    if (k > 0) s.ca_state = std::max(s.ca_state, p.ca_state.load(std::memory_order_relaxed));
  }
  s.rtt_us = n > 0 ? static_cast<std::uint32_t>(sum / n) : 0;
  s.valid = n > 0;  // none sending any more (-n: all done): "-"
  return s;
}

// ---------------------------------------------------------------- client

TernPerfClient::TernPerfClient(const Options& o, TernClientShared& shared)
    : o_(o), shared_(shared), start_file_(o.start_file) {
  result_.mode = std::string(to_string(o.mode));
  result_.stack = "tern";
  result_.role = "client";
  result_.direction = o.mode == Mode::kBulk ? o.direction() : "send";
  result_.test = o.test;
}

void TernPerfClient::on_start(api::WorkerContext& w) {
  w_ = &w;
  const std::size_t n = share(o_.connections, w.id(), w.count());
  for (std::size_t j = 0; j < w.id(); ++j) slot_base_ += share(o_.connections, j, w.count());
  const bool bulk = o_.mode == Mode::kBulk;
  forward_ = bulk && !o_.sends() ? 0 : n;
  conns_.resize(forward_ + (bulk && o_.receives() ? n : 0));
  open_ = conns_.size();
  // 60 KiB: each piece fits one mbuf (SendRegion::kMaxSegment), and from
  // the region's start every piece is a whole one while the space allows.
  if (o_.zerocopy && forward_ > 0) region_ = std::make_unique<api::SendRegion>(zeros().data(), 60 * 1024);
  if (w.id() == 0 && o_.interval_s > 0) {
    const char* tx_label = bulk && o_.bidir ? "TX" : "";
    if (!bulk || o_.sends())
      intervals_ = std::make_unique<IntervalReporter>(stdout, bulk, o_.json, "send", tx_label);
    if (bulk && o_.receives())
      rx_intervals_ =
          std::make_unique<IntervalReporter>(stdout, true, o_.json, "receive", o_.bidir ? "RX" : "");
  }
  if (conns_.empty()) all_done(w.now());
}

std::vector<IntervalPoint> TernPerfClient::interval_points() const {
  return intervals_ ? intervals_->points() : std::vector<IntervalPoint>{};
}

std::vector<IntervalPoint> TernPerfClient::rx_interval_points() const {
  return rx_intervals_ ? rx_intervals_->points() : std::vector<IntervalPoint>{};
}

void TernPerfClient::start(Instant now) {
  started_ = true;
  start_ = now;
  end_at_ = o_.bytes > 0 ? Instant::max() : now + seconds(o_.time_s);
  next_interval_ = now + seconds(o_.interval_s);
  result_.duration_s = o_.time_s;
  for (Conn& k : conns_) open(k);
}

void TernPerfClient::open(Conn& k) {
  const Instant now = w_->now();
  const auto i = static_cast<std::size_t>(&k - conns_.data());
  k = Conn{};
  k.reverse = i >= forward_;
  if (o_.bytes > 0)
    k.quota = bytes_share(o_.bytes, slot_base_ + (k.reverse ? i - forward_ : i), o_.connections);
  k.t_connect = now;
  const std::uint32_t size = o_.mode != Mode::kBulk ? o_.size
                             : k.reverse            ? static_cast<std::uint32_t>(k.quota)
                                                    : 0;
  encode_hello(Hello{.mode = o_.mode, .size = size, .reverse = k.reverse, .test = o_.test},
               std::span<std::byte, kHelloSize>{k.hello, kHelloSize});
  api::Error err = api::Error::kOk;
  Connection* c = w_->connect(o_.addr, o_.port, *this, &err);
  if (c == nullptr) return fail(k, Failure::kConnect, std::string(api::to_string(err)));
  c->user = &k;
  k.c = c;
  k.phase = Phase::kConnecting;
}

void TernPerfClient::fail(Conn& k, Failure f, const std::string& detail) {
  result_.fail(f);
  const std::uint64_t bit = std::uint64_t{1} << static_cast<unsigned>(f);
  if ((failures_seen_ & bit) == 0) {  // the first of its kind on this worker, as it happens
    failures_seen_ |= bit;
    std::fprintf(stderr, "tern-perf: worker %u: connection to %s:%u: %.*s%s%s%s\n", w_->id(),
                 o_.addr.to_string().c_str(), o_.port, static_cast<int>(failure_text(f).size()),
                 failure_text(f).data(), detail.empty() ? "" : " (", detail.c_str(),
                 detail.empty() ? "" : ")");
  }
  finish(k, false);
}

Failure TernPerfClient::connect_failure() const noexcept {
  if (!o_.addr.is_v4()) return Failure::kConnectTimeout;  // next_hop() knows ARP only
  switch (w_->next_hop(o_.addr.v4_host())) {
    case api::WorkerContext::NextHop::kUnanswered:
      return Failure::kArpUnanswered;
    case api::WorkerContext::NextHop::kNoRoute:
      return Failure::kNoRoute;
    case api::WorkerContext::NextHop::kOk:
      break;
  }
  return Failure::kConnectTimeout;
}

void TernPerfClient::on_poll(api::WorkerContext& w) {
  if (finished_) return;
  const Instant now = w.now();
  if (local_done_) {  // worker 0: tell the server the test ended, once every worker is done
    if (end_.phase == Phase::kIdle) {
      if (shared_.done_workers() < shared_.workers()) return;
      if (o_.test == 0) return end_message_done();
      end_.end = true;
      encode_hello(
          Hello{.mode = Mode::kEnd,
                .size = static_cast<std::uint32_t>(std::min<std::uint64_t>(shared_.hellos(), UINT32_MAX)),
                .test = o_.test},
          std::span<std::byte, kHelloSize>{end_.hello, kHelloSize});
      Connection* c = w.connect(o_.addr, o_.port, *this);
      if (c == nullptr) return end_message_done();
      c->user = &end_;
      end_.c = c;
      end_.phase = Phase::kConnecting;
      end_deadline_ = now + Duration::s(2);
    } else if (end_.c != nullptr && now >= end_deadline_) {
      end_.c->abort();
      end_message_done();
    }
    return;
  }
  if (!started_) {
    if (!start_file_.ready(now)) return;
    start(now);
  }
  shared_.publish(w.id(), result_.sent_bytes, result_.rx_bytes, result_.transactions);
  if (o_.interval_s > 0 && now >= next_sender_) {
    next_sender_ = now + Duration::ms(100);
    refresh_sender();
  }
  if (!ending_) {
    if ((intervals_ || rx_intervals_) && now >= next_interval_) {
      report_interval(to_s(now - start_));
      while (next_interval_ <= now) next_interval_ = next_interval_ + seconds(o_.interval_s);
    }
    if (now >= end_at_) {
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
    const bool drain_over = ending_ && now >= end_at_ + seconds(kDrainTimeoutS);
    for (Conn& k : conns_) {
      const bool connect_late =
          k.phase == Phase::kConnecting && now - k.t_connect >= seconds(kConnectTimeoutS);
      if (k.c != nullptr && (connect_late || drain_over)) {
        k.c->abort();
        k.c = nullptr;
        fail(k, connect_late ? connect_failure() : Failure::kDrainTimeout);
      } else if (drain_over && k.phase != Phase::kDone) {
        fail(k, Failure::kDrainTimeout);
      }
    }
  }
  // Time mode ends once the time is up; -n once every connection is done.
  if (open_ == 0 && (ending_ || o_.bytes > 0)) all_done(now);
}

void TernPerfClient::all_done(Instant now) {
  local_done_ = true;
  if (started_ && o_.bytes > 0) {
    result_.duration_s = to_s(now - start_);
    if (!ending_ && (intervals_ || rx_intervals_)) report_interval(result_.duration_s);
  }
  shared_.publish(w_->id(), result_.sent_bytes, result_.rx_bytes, result_.transactions);
  shared_.worker_done(hellos_);
  if (w_->id() != 0) finished_ = true;  // worker 0 sends the end message (on_poll)
}

void TernPerfClient::end_message_done() {
  end_.c = nullptr;
  end_.phase = Phase::kDone;
  finished_ = true;
  shared_.set_finished();
}

void TernPerfClient::begin_end(Instant now) {
  ending_ = true;
  if (intervals_ || rx_intervals_) report_interval(to_s(now - start_));
  idle_.clear();
  for (Conn& k : conns_) {
    switch (k.phase) {
      case Phase::kIdle:
        k.phase = Phase::kDone;
        --open_;
        break;
      case Phase::kConnecting:
        if (o_.mode != Mode::kCrr) {  // never got going: a failure, and ARP may say why
          k.c->abort();
          k.c = nullptr;
          const Failure f = connect_failure();
          fail(k, f == Failure::kConnectTimeout ? Failure::kNotConnected : f);
        }
        break;
      case Phase::kRunning:
        if (o_.mode == Mode::kBulk) {
          // Our FIN follows the queued data; the server answers with its
          // count (or, --reverse, stops sending and closes).
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
  if (k.end) {  // the end message: the hello alone; the server closes once it has it
    (void)c.send(std::span<const std::byte>{k.hello, kHelloSize});
    return;
  }
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
  if (k.end) return;
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
      ++hellos_;
    } else {
      k.hello_sent += s.accepted;
    }
    if (s.error != api::Error::kOk) return;  // on_writable resumes, or the connection is over
  }
  if (o_.mode == Mode::kBulk) {
    if (k.reverse) return;  // the server sends on this one
    while (k.phase == Phase::kRunning) {
      std::size_t want = zeros().size();
      if (k.quota > 0) {
        if (k.sent >= k.quota) {  // -n: its share is queued; the server answers the FIN with its count
          (void)c.shutdown();
          k.phase = Phase::kDraining;
          return;
        }
        want = static_cast<std::size_t>(std::min<std::uint64_t>(want, k.quota - k.sent));
      }
      const api::SendResult s = region_ ? send_zerocopy(c, k, want) : c.send(zeros().first(want));
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

// --zerocopy: up to `want` bytes of the registered zeros, wrapped without
// copying (WorkerContext::wrap) in one mbuf sized to the send space, so
// send() takes it whole. Where the region ends or the space is short, the
// piece is shorter; with no space, on_writable is asked for.
api::SendResult TernPerfClient::send_zerocopy(Connection& c, const Conn& k, std::size_t want) {
  const std::uint32_t space = c.send_space();
  if (space <= sizeof(rte_mbuf)) {
    c.want_writable();
    return {0, api::Error::kWouldBlock};
  }
  const auto off = static_cast<std::size_t>(k.sent % region_->size());
  want = std::min({want, region_->size() - off, std::size_t{space - sizeof(rte_mbuf)}});
  Buffer b = w_->wrap(*region_, off, want);
  if (!b) {  // the worker's slice pool ran dry: again once ACKs free some
    c.want_writable();
    return {0, api::Error::kNoMemory};
  }
  return c.send(b);  // what it leaves in b (nothing, but for a race with autotuning) is freed
}

void TernPerfClient::on_writable(Connection& c) { pump(c, conn(c)); }

void TernPerfClient::on_data(Connection& c, Buffer data) {
  Conn& k = conn(c);
  const std::uint32_t n = data.pkt_len();
  if (k.end) return;
  if (o_.mode == Mode::kBulk) {
    if (k.reverse) {
      k.received += n;
      result_.rx_bytes += n;
      return;
    }
    if (k.phase != Phase::kDraining || k.count_have + n > kCountSize) {
      c.abort();
      return fail(k, Failure::kProtocol, std::to_string(n) + " unexpected bytes from the bulk server");
    }
    copy_out(data, k.count + k.count_have);
    k.count_have += n;
    return;
  }
  if (n > k.resp_left || k.req_left > 0 || k.phase == Phase::kAwaitFin) {
    c.abort();
    return fail(k, Failure::kProtocol, std::to_string(n) + " bytes before a request asked for them");
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
  c.close();
  if (k.end) return end_message_done();
  std::optional<Failure> f = Failure::kClosedEarly;
  std::string detail;
  if (o_.mode == Mode::kBulk && k.reverse) {
    if (k.quota > 0 ? k.received == k.quota : k.phase == Phase::kDraining) {
      f.reset();
    } else if (k.quota > 0) {
      f = Failure::kCountMismatch;
      detail = "received " + std::to_string(k.received) + " of " + std::to_string(k.quota) + " bytes";
    }
  } else if (o_.mode == Mode::kBulk && k.phase == Phase::kDraining && k.count_have == kCountSize) {
    const std::uint64_t count = decode_u64(std::span<const std::byte, kCountSize>{k.count, kCountSize});
    result_.tx_bytes += count;
    // A graceful close delivers everything the stack took: the counts agree.
    if (count == k.sent) {
      f.reset();
    } else {
      f = Failure::kCountMismatch;
      detail = "the server counted " + std::to_string(count) + " of " + std::to_string(k.sent);
    }
  } else if (o_.mode == Mode::kCrr && k.phase == Phase::kAwaitFin) {
    ++result_.connects;
    f.reset();
  }
  if (!f) return finish(k, true);
  fail(k, *f, detail);
}

void TernPerfClient::on_closed(Connection& c, CloseReason why) {
  // After our close()/abort() no on_closed comes: this one is unexpected.
  Conn& k = conn(c);
  k.c = nullptr;
  if (k.end) {
    std::fprintf(
        stderr,
        "tern-perf: could not tell the server the test ended (%s): its per-test summary may be late\n",
        std::string(api::to_string(why)).c_str());
    return end_message_done();
  }
  Failure f = Failure::kClosedEarly;
  switch (why) {
    case CloseReason::kNormal:
      break;
    case CloseReason::kReset:
      f = Failure::kReset;
      break;
    case CloseReason::kRefused:
      f = Failure::kRefused;
      break;
    case CloseReason::kTimedOut:
      // SYNs never answered: say whether ARP was why.
      f = k.phase == Phase::kConnecting ? connect_failure() : Failure::kTimedOut;
      if (f == Failure::kConnectTimeout) f = Failure::kTimedOut;
      break;
    case CloseReason::kUnreachable:
      f = Failure::kUnreachable;
      break;
    case CloseReason::kAborted:
      f = Failure::kAborted;
      break;
  }
  fail(k, f);
}

void TernPerfClient::finish(Conn& k, bool ok) {
  k.c = nullptr;
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

void TernPerfClient::refresh_sender() noexcept {
  // What iperf3 shows as Retr and Cwnd, and the RTT, over the connections
  // that send: how the window and the RTT moved, e.g. over a lossy link.
  if (o_.mode == Mode::kCrr) return;  // connections too short-lived to say
  SenderFigures s;
  std::uint64_t rtt_sum = 0, n = 0;
  for (std::size_t i = 0; i < forward_; ++i) {
    Conn& k = conns_[i];
    if (k.c != nullptr && (k.phase == Phase::kRunning || k.phase == Phase::kDraining)) {
      const ConnectionInfo info = k.c->info();
      k.retrans = info.total_retrans;
      s.cwnd += info.cwnd;
      rtt_sum += info.srtt_us;
      s.ca_state = std::max(s.ca_state, static_cast<std::uint8_t>(info.ca_state));
      ++n;
    }
    s.retrans += k.retrans;
  }
  s.rtt_us = n > 0 ? static_cast<std::uint32_t>(rtt_sum / n) : 0;
  shared_.publish_sender(w_->id(), s, n);
}

void TernPerfClient::report_interval(double t) {
  if (intervals_) {
    SenderFigures s;
    if (o_.mode != Mode::kCrr) {
      refresh_sender();
      s = shared_.total_sender();
    }
    intervals_->report(t, shared_.total_tx(), shared_.total_transactions(), s);
  }
  if (rx_intervals_) rx_intervals_->report(t, shared_.total_rx(), 0);
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

void TernPerfServer::on_poll(api::WorkerContext& w) {
  if (pending_.empty()) return;
  const Instant now = w.now();
  tests_.print_due(pending_, now.ns_since_epoch(), "tern", o_.json);
}

api::ConnectionHandler* TernPerfServer::on_accept(Connection& c) {
  Session* s = nullptr;
  if (free_.empty()) {
    all_.push_back(std::make_unique<Session>());
    s = all_.back().get();
  } else {
    s = free_.back();
    free_.pop_back();
  }
  s->accepted = w_->now();
  c.user = s;
  ++result_.connections;
  if (first_ == Instant::max()) first_ = w_->now();
  return this;
}

void TernPerfServer::on_data(Connection& c, Buffer data) {
  auto& s = *static_cast<Session*>(c.user);
  for (const rte_mbuf* m = data.get(); m != nullptr; m = m->next) {
    if (s.s.on_bytes({rte_pktmbuf_mtod(m, const std::byte*), m->data_len}) ==
        ServerSession::Status::kBadHello) {
      if (result_.errors < 10) {
        const std::string_view why = describe(s.s.hello_error());
        std::fprintf(stderr, "tern-perf: %s:%u: %.*s: reset\n", c.remote_ip().to_string().c_str(),
                     c.remote_port(), static_cast<int>(why.size()), why.data());
      }
      c.abort();
      return end(s, false);
    }
  }
  flush(c, s);
}

void TernPerfServer::flush(Connection& c, Session& s) {
  for (std::span<const std::byte> out = s.s.out(); !out.empty(); out = s.s.out()) {
    const api::SendResult r = c.send(out);
    s.s.sent(r.accepted);
    if (r.error == api::Error::kWouldBlock) return;  // on_writable resumes
    if (r.error != api::Error::kOk) break;
  }
  if (s.s.should_close()) {
    c.close();
    end(s, true);
  }
}

void TernPerfServer::on_writable(Connection& c) { flush(c, *static_cast<Session*>(c.user)); }

void TernPerfServer::on_peer_closed(Connection& c) {
  auto& s = *static_cast<Session*>(c.user);
  s.s.on_peer_closed();
  flush(c, s);
}

void TernPerfServer::on_closed(Connection& c, CloseReason why) {
  end(*static_cast<Session*>(c.user), why == CloseReason::kNormal);
}

void TernPerfServer::end(Session& s, bool ok) {
  const Instant now = w_->now();
  const ServerSession& x = s.s;
  if (tests_.on_server_end(w_->id(), x, ok, s.accepted.ns_since_epoch(), now.ns_since_epoch(), result_,
                           pending_))
    last_ = now;
  s.s = ServerSession{};
  free_.push_back(&s);
}

// ---------------------------------------------------------------- results

Result merge_client_results(const std::vector<const TernPerfClient*>& clients, const Options& o) {
  Result r;
  r.mode = std::string(to_string(o.mode));
  r.stack = "tern";
  r.role = "client";
  r.direction = o.mode == Mode::kBulk ? o.direction() : "send";
  r.test = o.test;
  r.connections = o.connections;
  r.duration_s = o.bytes > 0 ? 0 : o.time_s;
  for (const TernPerfClient* c : clients) {
    r.add(c->result());
    if (o.bytes > 0) r.duration_s = std::max(r.duration_s, c->result().duration_s);
  }
  r.bytes = r.tx_bytes + r.rx_bytes;
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
    r.add(x);
    first = std::min(first, s->first_accept());
    last = std::max(last, s->last_close());
  }
  r.bytes = r.tx_bytes + r.rx_bytes;
  if (first != Instant::max() && last > first) r.duration_s = to_s(last - first);
  return r;
}

}  // namespace tern::perf
