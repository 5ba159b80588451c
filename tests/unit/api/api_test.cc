// The public API (tern/api.h) end to end: two runtime Workers with TCP, a
// server at 10.0.0.1 and a client at 10.0.0.2, each running an api::App
// through WorkerAppAdapter, joined back to back by the in-process link.
// Single-threaded, on virtual time: step() advances the clock 1 ms and polls
// the server, then the client. Each port records every TCP frame its worker
// transmits (header fields, and for each payload byte the mbuf it sits in),
// so the tests can read windows and prove zero copy from what went on the wire.
#include "tern/api.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../ip/test_frames.h"
#include "api/adapter.h"
#include "port/link_pair.h"
#include "runtime/worker.h"
#include "wire/bytes.h"

namespace tern::api {
namespace {

using testkit::Bytes;
using testkit::ip4;
using testkit::make_pool;
using testkit::pattern;

constexpr std::uint32_t kServerIp = ip4(10, 0, 0, 1);  // make_link_pair()'s first end
constexpr std::uint32_t kClientIp = ip4(10, 0, 0, 2);
constexpr std::uint16_t kPort = 7;
constexpr Duration kStep = Duration::ms(1);

// ---- what a worker put on the wire ---------------------------------------------

// One mbuf's share of a segment's payload.
struct PayloadPiece {
  const rte_mbuf* direct = nullptr;  // the mbuf holding the bytes (the one attached to, if indirect)
  const std::byte* data = nullptr;   // the first payload byte
  std::uint32_t len = 0;
  bool indirect = false;
  std::uint16_t direct_refcnt = 0;  // at transmission
};

struct TxSegment {
  const rte_mbuf* frame = nullptr;  // the first mbuf (Ethernet header)
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // the raw field (unscaled)
  std::uint32_t len = 0;     // payload bytes
  std::vector<PayloadPiece> pieces;
};

// Passes frames through to the link and records each TCP segment the worker
// transmits, before handing it over (the peer may free it at once).
class CapturePort final : public Port {
 public:
  explicit CapturePort(Port& inner) : inner_(inner) { info_ = inner.info(); }
  std::uint16_t rx_burst(std::uint16_t q, rte_mbuf** pkts, std::uint16_t n) noexcept override {
    return inner_.rx_burst(q, pkts, n);
  }
  std::uint16_t tx_burst(std::uint16_t q, rte_mbuf** pkts, std::uint16_t n) noexcept override {
    for (std::uint16_t i = 0; i < n; ++i) record(pkts[i]);
    return inner_.tx_burst(q, pkts, n);
  }
  const std::vector<TxSegment>& sent() const noexcept { return sent_; }
  void clear() noexcept { sent_.clear(); }

 private:
  void record(rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::byte*);
    const std::size_t n = rte_pktmbuf_data_len(m);
    if (n < 14 + 20 || load_be16(p + 12) != 0x0800 || load_u8(p + 14 + 9) != 6) return;
    const std::size_t ihl = (load_u8(p + 14) & 0x0fu) * 4u;
    if (n < 14 + ihl + 20) return;
    const std::byte* t = p + 14 + ihl;
    const std::size_t thl = (load_u8(t + 12) >> 4) * 4u;
    TxSegment s;
    s.frame = m;
    s.seq = load_be32(t + 4);
    s.ack = load_be32(t + 8);
    s.flags = load_u8(t + 13);
    s.window = load_be16(t + 14);
    s.len = static_cast<std::uint32_t>(load_be16(p + 16) - ihl - thl);
    std::size_t skip = 14 + ihl + thl;
    std::uint32_t left = s.len;
    for (rte_mbuf* seg = m; seg != nullptr && left > 0; seg = seg->next) {
      if (skip >= seg->data_len) {
        skip -= seg->data_len;
        continue;
      }
      PayloadPiece pc;
      pc.indirect = RTE_MBUF_CLONED(seg) != 0;
      rte_mbuf* direct = pc.indirect ? rte_mbuf_from_indirect(seg) : seg;
      pc.direct = direct;
      pc.data = rte_pktmbuf_mtod_offset(seg, const std::byte*, skip);
      pc.len = std::min<std::uint32_t>(left, static_cast<std::uint32_t>(seg->data_len - skip));
      pc.direct_refcnt = rte_mbuf_refcnt_read(direct);
      left -= pc.len;
      skip = 0;
      s.pieces.push_back(pc);
    }
    sent_.push_back(std::move(s));
  }

  Port& inner_;
  std::vector<TxSegment> sent_;
};

// ---- buffers ---------------------------------------------------------------------

Bytes bytes_of(const rte_mbuf* m) { return m == nullptr ? Bytes{} : testkit::bytes_of(m); }

// A chain of mbufs from `pool` holding `sizes` bytes each, filled from `data`.
Buffer make_chain(rte_mempool* pool, const std::vector<std::uint16_t>& sizes, const Bytes& data) {
  Buffer head;
  std::size_t off = 0;
  for (std::uint16_t n : sizes) {
    Buffer m = Buffer::alloc(pool);
    if (!m) return Buffer{};
    auto room = m.append(n);
    if (room.size() != n) return Buffer{};
    std::memcpy(room.data(), data.data() + off, n);
    off += n;
    if (!head) {
      head = std::move(m);
    } else if (rte_pktmbuf_chain(head.get(), m.release()) != 0) {
      return Buffer{};
    }
  }
  return head;
}

std::vector<rte_mbuf*> segments_of(const Buffer& b) {
  std::vector<rte_mbuf*> out;
  for (rte_mbuf* m = b.get(); m != nullptr; m = m->next) out.push_back(m);
  return out;
}

// nb_segs and pkt_len in the head agree with the chain it heads.
::testing::AssertionResult chain_consistent(const Buffer& b) {
  std::uint32_t bytes = 0;
  std::uint16_t segs = 0;
  for (rte_mbuf* m = b.get(); m != nullptr; m = m->next) {
    bytes += m->data_len;
    ++segs;
  }
  if (b->nb_segs != segs || b.pkt_len() != bytes)
    return ::testing::AssertionFailure() << "head says " << b->nb_segs << " segments / " << b.pkt_len()
                                         << " bytes, chain has " << segs << " / " << bytes;
  return ::testing::AssertionSuccess();
}

// ---- the application -------------------------------------------------------------

// One side's App: logs its callbacks to a trace shared by both sides ("S
// accept", "C data", ...; repeats of the same event collapse into one) and
// lets each test script what it does in them. By default it accepts, keeps
// every byte it is given and frees the buffers.
class ScriptedApp final : public App, public AcceptHandler, public ConnectionHandler {
 public:
  ScriptedApp(char side, std::vector<std::string>& trace) : side_(side), trace_(trace) {}

  std::function<void(WorkerContext&)> start;
  std::function<ConnectionHandler*(Connection&)> accept;
  std::function<bool()> ready;  // ready_to_accept; unset: always
  unsigned ready_asked = 0;
  std::function<void(Connection&)> connected;
  std::function<void(Connection&, Buffer&)> data;  // after the bytes were recorded
  std::function<void(Connection&)> writable;
  std::function<void(Connection&)> peer_closed;
  // Run once from the next on_poll, inside the worker's loop.
  void in_next_poll(std::function<void(WorkerContext&)> f) { actions_.push_back(std::move(f)); }

  WorkerContext* ctx = nullptr;
  Connection* conn = nullptr;  // the current connection, until it is closed or let go
  Bytes received;              // every byte the application took, in order
  unsigned data_calls = 0;
  unsigned writable_calls = 0;
  std::optional<CloseReason> closed_why;

  void log(const std::string& what) {
    const std::string e = std::string(1, side_) + " " + what;
    if (trace_.empty() || trace_.back() != e) trace_.push_back(e);
  }
  // The application lets go of its connection (close or abort) and notes it.
  void forget() { conn = nullptr; }

  void on_start(WorkerContext& w) override {
    ctx = &w;
    if (start) start(w);
  }
  void on_poll(WorkerContext& w) override {
    auto run = std::exchange(actions_, {});
    for (auto& f : run) f(w);
  }
  bool ready_to_accept() override {
    ++ready_asked;
    return ready ? ready() : true;
  }
  ConnectionHandler* on_accept(Connection& c) override {
    log("accept");
    conn = &c;
    return accept ? accept(c) : this;
  }
  void on_connected(Connection& c) override {
    log("connected");
    if (connected) connected(c);
  }
  void on_data(Connection& c, Buffer b) override {
    log("data");
    ++data_calls;
    const Bytes got = bytes_of(b.get());
    received.insert(received.end(), got.begin(), got.end());
    if (data) data(c, b);
  }
  void on_writable(Connection& c) override {
    log("writable");
    ++writable_calls;
    if (writable) writable(c);
  }
  void on_peer_closed(Connection& c) override {
    log("peer_closed");
    if (peer_closed) peer_closed(c);
  }
  void on_closed(Connection& /*c*/, CloseReason why) override {
    log("closed " + std::string(to_string(why)));
    closed_why = why;
    conn = nullptr;
  }

 private:
  char side_;
  std::vector<std::string>& trace_;
  std::vector<std::function<void(WorkerContext&)>> actions_;
};

// ---- the pair ----------------------------------------------------------------------

class ApiPair : public ::testing::Test {
 protected:
  void SetUp() override {
    for (rte_mempool** p : {&s_pool_, &c_pool_}) {
      *p = make_pool("api", 4095);
      ASSERT_NE(*p, nullptr);
    }
    // Indirect mbufs for send-queue slices: no data room.
    for (rte_mempool** p : {&s_clones_, &c_clones_}) {
      *p = make_pool("apic", 4095, 0);
      ASSERT_NE(*p, nullptr);
    }
    auto [a, b] = make_link_pair(1, 1024);
    s_link_ = std::move(a);
    c_link_ = std::move(b);
    s_port_ = std::make_unique<CapturePort>(*s_link_);
    c_port_ = std::make_unique<CapturePort>(*c_link_);
    server_ = make_worker(*s_port_, kServerIp, s_pool_, s_clones_);
    client_ = make_worker(*c_port_, kClientIp, c_pool_, c_clones_);
    auto s = std::make_unique<ScriptedApp>('S', trace_);
    auto c = std::make_unique<ScriptedApp>('C', trace_);
    srv_ = s.get();
    cli_ = c.get();
    s_adapter_ = std::make_unique<WorkerAppAdapter>(*server_, s_pool_, std::move(s));
    c_adapter_ = std::make_unique<WorkerAppAdapter>(*client_, c_pool_, std::move(c));
    server_->set_app(s_adapter_.get());
    client_->set_app(c_adapter_.get());
  }

  void TearDown() override {
    s_adapter_.reset();  // the Apps and contexts before the workers they use
    c_adapter_.reset();
    server_.reset();
    client_.reset();
    s_port_.reset();
    c_port_.reset();
    s_link_.reset();
    c_link_.reset();
    for (rte_mempool* p : {s_pool_, c_pool_, s_clones_, c_clones_}) {
      EXPECT_EQ(rte_mempool_in_use_count(p), 0u) << "leaked mbufs in " << p->name;
      rte_mempool_free(p);
    }
  }

  static std::unique_ptr<Worker> make_worker(Port& port, std::uint32_t addr, rte_mempool* pool,
                                             rte_mempool* clones) {
    IpSettings s;
    s.mac = port.info().mac;
    s.addr = addr;
    s.prefix_len = 24;
    s.mtu = port.info().mtu;
    WorkerTcpSettings tcp;
    tcp.opts.local_addr = addr;
    tcp.opts.mtu = s.mtu;
    tcp.opts.cfg.max_connections = 64;
    tcp.opts.cfg.max_time_wait = 64;
    tcp.clone_pool = clones;
    return std::make_unique<Worker>(0, 1, port, s, pool, nullptr, 32, &tcp);
  }

  // Both Apps' on_start, at the current virtual time.
  void start() {
    server_->start_app(now_);
    client_->start_app(now_);
  }
  void poll_server() { server_->poll_once(now_); }
  void poll_client() { client_->poll_once(now_); }
  void step() {
    now_ = now_ + kStep;
    poll_server();
    poll_client();
  }
  bool run_until(const std::function<bool()>& done, Duration limit) {
    const Instant end = now_ + limit;
    while (!done()) {
      if (now_ >= end) return false;
      step();
    }
    return true;
  }
  void run_for(Duration d) {
    const Instant end = now_ + d;
    while (now_ < end) step();
  }

  // The server listens on kPort and the client connects to it.
  void listen_and_connect() {
    srv_->start = [this](WorkerContext& w) { EXPECT_EQ(w.listen(kPort, 16, *srv_), Error::kOk); };
    cli_->start = [this](WorkerContext& w) {
      Error err = Error::kInvalid;
      cli_->conn = w.connect(kServerIp, kPort, *cli_, &err);
      EXPECT_NE(cli_->conn, nullptr);
      EXPECT_EQ(err, Error::kOk);
    };
    start();
  }
  // listen_and_connect, then until both ends have an established connection.
  void establish() {
    listen_and_connect();
    ASSERT_TRUE(
        run_until([&] { return srv_->conn != nullptr && cli_->conn != nullptr && cli_->conn->established(); },
                  Duration::s(1)));
    ASSERT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept"}));
    s_port_->clear();
    c_port_->clear();
  }

  // The server aborts its connection; once the client saw the reset and
  // everything settled, nothing is left.
  void abort_server_side_and_check_baseline() {
    srv_->in_next_poll([&](WorkerContext&) {
      srv_->conn->abort();
      srv_->forget();
    });
    ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(1)));
    run_for(Duration::s(1));
    expect_baseline();
  }
  // Everything given back: no connection, TCB, table entry, frame or mbuf left.
  void expect_baseline() {
    for (WorkerAppAdapter* a : {s_adapter_.get(), c_adapter_.get()}) {
      EXPECT_EQ(a->context().connections(), 0u);
      EXPECT_EQ(a->context().tcbs_in_use(), 0u);
      EXPECT_EQ(a->context().table_size(), 0u);
    }
    EXPECT_EQ(s_link_->pending_rx() + c_link_->pending_rx(), 0u);
    for (rte_mempool* p : {s_pool_, c_pool_, s_clones_, c_clones_})
      EXPECT_EQ(rte_mempool_in_use_count(p), 0u) << p->name;
  }

  std::vector<std::string> trace_;
  Instant now_ = at_ms(0);
  rte_mempool *s_pool_ = nullptr, *c_pool_ = nullptr, *s_clones_ = nullptr, *c_clones_ = nullptr;
  std::unique_ptr<LinkPort> s_link_, c_link_;
  std::unique_ptr<CapturePort> s_port_, c_port_;
  std::unique_ptr<Worker> server_, client_;
  std::unique_ptr<WorkerAppAdapter> s_adapter_, c_adapter_;
  ScriptedApp* srv_ = nullptr;
  ScriptedApp* cli_ = nullptr;
};

// Sends `stream` from `*off` with the copying send until it is all taken or
// the buffer is full (on_writable calls this again).
void pump(Connection& c, const Bytes& stream, std::size_t* off) {
  while (*off < stream.size()) {
    const SendResult r = c.send(std::span<const std::byte>{stream}.subspan(*off));
    *off += r.accepted;
    if (r.error != Error::kOk) {
      EXPECT_EQ(r.error, Error::kWouldBlock);
      return;
    }
  }
}

// ---- connection life -------------------------------------------------------------

TEST_F(ApiPair, EchoBothWaysInOrderThenOrderlyShutdownClosesBothNormally) {
  // The server echoes what it gets with the zero-copy send, keeping what the
  // send buffer refuses, and shuts down once the client did and all was echoed.
  Buffer pending;
  bool fin_after_pending = false;
  auto flush = [&](Connection& c) {
    if (pending) (void)c.send(pending);
    if (!pending && fin_after_pending) {
      fin_after_pending = false;
      EXPECT_EQ(c.shutdown(), Error::kOk);
    }
  };
  srv_->data = [&](Connection& c, Buffer& b) {
    if (!pending)
      pending = std::move(b);
    else
      ASSERT_EQ(rte_pktmbuf_chain(pending.get(), b.release()), 0);
    flush(c);
  };
  srv_->writable = flush;
  std::size_t srv_bytes_at_eof = 0, cli_bytes_at_eof = 0;
  std::optional<ConnectionInfo> srv_info;
  srv_->peer_closed = [&](Connection& c) {
    srv_bytes_at_eof = srv_->received.size();
    srv_info = c.info();
    fin_after_pending = true;
    flush(c);
  };
  // The client sends 300 KiB (more than its 256 KiB send buffer) and shuts down.
  const Bytes stream = pattern(300 * 1024, 7);
  std::size_t off = 0;
  auto send_more = [&](Connection& c) {
    pump(c, stream, &off);
    if (off == stream.size()) {
      EXPECT_EQ(c.shutdown(), Error::kOk);
    }
  };
  cli_->connected = send_more;
  cli_->writable = send_more;
  cli_->peer_closed = [&](Connection&) { cli_bytes_at_eof = cli_->received.size(); };

  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return srv_->closed_why && cli_->closed_why; }, Duration::s(10)));

  EXPECT_EQ(srv_->received, stream);
  EXPECT_EQ(cli_->received, stream);
  // EOF only after every byte: on_peer_closed saw the whole stream.
  EXPECT_EQ(srv_bytes_at_eof, stream.size());
  EXPECT_EQ(cli_bytes_at_eof, stream.size());
  // Connection::info() at the server's EOF: every byte received in order.
  ASSERT_TRUE(srv_info);
  EXPECT_EQ(srv_info->state, "CLOSE_WAIT");
  EXPECT_EQ(srv_info->congestion, "cubic");
  EXPECT_EQ(srv_info->bytes_received, stream.size());
  EXPECT_GT(srv_info->segs_in, stream.size() / 1460);
  EXPECT_GT(srv_info->bytes_acked, 0u);
  // The handshake completes at the client first (SYN-ACK), then at the
  // server (the third segment); each side's events come in this order.
  auto side = [&](char s) {
    std::vector<std::string> out;
    for (const auto& e : trace_)
      if (e[0] == s && (out.empty() || out.back() != e.substr(2))) out.push_back(e.substr(2));
    return out;
  };
  ASSERT_GE(trace_.size(), 2u);
  EXPECT_EQ(trace_[0], "C connected");
  EXPECT_EQ(trace_[1], "S accept");
  // The echoed segments cost more buffer than their payload (truesize), so
  // the server too may wait for on_writable between its data events.
  auto without_writable = [&](char s) {
    auto out = side(s);
    out.erase(std::remove(out.begin(), out.end(), "writable"), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  EXPECT_EQ(without_writable('S'),
            (std::vector<std::string>{"accept", "data", "peer_closed", "closed normal"}));
  // The client's writes and reads interleave; on_writable came between.
  auto c = without_writable('C');
  EXPECT_EQ(c, (std::vector<std::string>{"connected", "data", "peer_closed", "closed normal"}));
  EXPECT_GE(cli_->writable_calls, 1u);
  EXPECT_EQ(*srv_->closed_why, CloseReason::kNormal);
  EXPECT_EQ(*cli_->closed_why, CloseReason::kNormal);
  expect_baseline();
}

// ---- zero-copy send: whole mbufs, watermarks -------------------------------------

TEST_F(ApiPair, ZeroCopySendTakesAWholeMbufPrefixAndKeepsTheRest) {
  establish();
  const Bytes stream = pattern(6000, 3);
  const std::vector<std::uint16_t> sizes{1500, 1500, 800, 700, 1200, 300};
  Buffer rest;
  std::vector<rte_mbuf*> segs;
  // The send buffer counts what each mbuf costs (truesize), not its payload.
  std::uint32_t per_mbuf = 0;
  cli_->in_next_poll([&](WorkerContext& w) {
    Connection& c = *cli_->conn;
    per_mbuf = static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(w.pool());
    ASSERT_EQ(c.set_send_buffer(4 * per_mbuf + per_mbuf / 2, per_mbuf), Error::kOk);
    rest = make_chain(w.pool(), sizes, stream);
    ASSERT_TRUE(rest);
    segs = segments_of(rest);
    const SendResult r = c.send(rest);
    // Four mbufs fit under four and a half; the fifth would not: no mbuf is split.
    EXPECT_EQ(r.accepted, 4500u);
    EXPECT_EQ(r.error, Error::kWouldBlock);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest.get(), segs[4]);
    EXPECT_EQ(rest->next, segs[5]);
    EXPECT_EQ(segs[5]->next, nullptr);
    EXPECT_EQ(rest.pkt_len(), 1500u);
    EXPECT_EQ(rest->nb_segs, 2);
    EXPECT_TRUE(chain_consistent(rest));
    EXPECT_EQ(c.send_queued(), 4500u);
    EXPECT_EQ(c.send_space(), 0u);  // half an mbuf is no room
  });
  std::uint32_t space_at_writable = 0;
  cli_->writable = [&](Connection& c) {
    space_at_writable = c.send_space();
    const SendResult r = c.send(rest);
    EXPECT_EQ(r.accepted, 1500u);
    EXPECT_EQ(r.error, Error::kOk);
    EXPECT_FALSE(rest);
  };
  // on_writable comes in the very iteration the queue fell to the low
  // watermark (one mbuf queued, so three and a half free; before that two
  // and a half at most).
  while (cli_->writable_calls == 0 && now_ < at_ms(2000)) {
    step();
    if (cli_->conn != nullptr && cli_->writable_calls == 0) {
      EXPECT_LT(cli_->conn->send_space(), 3 * per_mbuf)
          << "at or below the low watermark without on_writable";
    }
  }
  ASSERT_EQ(cli_->writable_calls, 1u);
  EXPECT_GE(space_at_writable, 3 * per_mbuf);
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size(); }, Duration::s(2)));
  EXPECT_EQ(srv_->received, stream);
  EXPECT_EQ(cli_->writable_calls, 1u);

  // One mbuf costing more than the whole send buffer can never be taken.
  // The buffer is raised to two of the worker's mbufs at least (Linux's
  // SOCK_MIN_SNDBUF), so the mbuf comes from a pool with a larger room.
  rte_mempool* large = make_pool("apil", 63, 3 * RTE_MBUF_DEFAULT_BUF_SIZE);
  ASSERT_NE(large, nullptr);
  cli_->in_next_poll([&](WorkerContext&) {
    Connection& c = *cli_->conn;
    ASSERT_EQ(c.set_send_buffer(1024, 512), Error::kOk);
    Buffer big = make_chain(large, {1500}, pattern(1500, 4));
    ASSERT_TRUE(big);
    rte_mbuf* const m = big.get();
    const SendResult r = c.send(big);
    EXPECT_EQ(r.accepted, 0u);
    EXPECT_EQ(r.error, Error::kTooBig);
    EXPECT_EQ(big.get(), m);
    EXPECT_EQ(big.pkt_len(), 1500u);
    // One of the worker's own mbufs fits: the tiny buffer was raised.
    Buffer small = make_chain(cli_->ctx->pool(), {100}, pattern(100, 5));
    EXPECT_EQ(c.send(small).accepted, 100u);
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size() + 100; }, Duration::s(1)));
  EXPECT_EQ(Bytes(srv_->received.end() - 100, srv_->received.end()), pattern(100, 5));
  EXPECT_EQ(rte_mempool_in_use_count(large), 0u);
  rte_mempool_free(large);
  EXPECT_EQ(trace_.back(), "S data");
}

// ---- pausing --------------------------------------------------------------------

// Chains on_data hands over stay charged to the worker while the
// application holds them (its memory levels see them); sending one moves
// the charge to the send queue, freeing one ends it.
TEST_F(ApiPair, ChainsTheApplicationHoldsStayChargedToTheWorker) {
  establish();
  MemAccount& mem = server_->tcp()->mem();
  std::vector<Buffer> held;
  srv_->data = [&](Connection&, Buffer& b) { held.push_back(std::move(b)); };
  const Bytes stream = pattern(10 * 1000, 5);
  cli_->in_next_poll([&](WorkerContext&) {
    for (int i = 0; i < 10; ++i) {
      const SendResult r = cli_->conn->send(std::span<const std::byte>{stream}.subspan(i * 1000, 1000));
      ASSERT_EQ(r.accepted, 1000u);
    }
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size(); }, Duration::s(1)));
  run_for(Duration::ms(50));
  ASSERT_FALSE(held.empty());
  std::uint64_t sum = 0;
  for (const Buffer& b : held) {
    EXPECT_EQ(b.account(), &mem);
    EXPECT_EQ(b.charged(), mbuf_truesize(b.get()));
    sum += b.charged();
  }
  EXPECT_GT(sum, 0u);
  EXPECT_EQ(mem.charged(), sum);  // nothing else is queued on the server

  // Forwarded (echoed) and acknowledged: that chain's charge is gone.
  const std::uint64_t first = held.front().charged();
  srv_->in_next_poll([&](WorkerContext&) {
    const SendResult r = srv_->conn->send(held.front());
    EXPECT_EQ(r.error, Error::kOk);
    EXPECT_FALSE(held.front());
    EXPECT_EQ(mem.charged(), sum);  // now the send queue's
  });
  ASSERT_TRUE(run_until([&] { return srv_->conn->send_queued() == 0 && mem.charged() == sum - first; },
                        Duration::s(1)));
  held.clear();
  EXPECT_EQ(mem.charged(), 0u);
  abort_server_side_and_check_baseline();
}

// A handler not ready to accept leaves the new connection queued in the
// stack (its handshake complete, the client's data held), asked again on
// every iteration; once ready, the connection is accepted and its data
// delivered: nothing is reset.
TEST_F(ApiPair, ANewConnectionWaitsWhileTheHandlerIsNotReady) {
  bool ready = false;
  srv_->ready = [&] { return ready; };
  cli_->connected = [](Connection& c) {
    EXPECT_EQ(c.send(std::span<const std::byte>{pattern(100)}).accepted, 100u);
  };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->conn != nullptr && cli_->conn->established(); }, Duration::s(1)));
  run_for(Duration::ms(100));
  EXPECT_EQ(srv_->conn, nullptr);     // not accepted
  EXPECT_GT(srv_->ready_asked, 10u);  // asked again on every iteration
  EXPECT_FALSE(cli_->closed_why.has_value());
  ready = true;
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == 100; }, Duration::s(1)));
  EXPECT_EQ(srv_->received, pattern(100));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "S data"}));
  abort_server_side_and_check_baseline();
}

TEST_F(ApiPair, PauseReadingClosesTheWindowAndResumeDeliversTheRest) {
  // More than the window the server advertised before its application set
  // the small buffer: that right edge never moves left (RFC 9293 §3.8.6).
  const Bytes stream = pattern(600 * 1024, 11);
  srv_->accept = [&](Connection& c) -> ConnectionHandler* {
    EXPECT_EQ(c.set_receive_buffer(8192), Error::kOk);
    return srv_;
  };
  srv_->data = [](Connection& c, Buffer&) {
    EXPECT_FALSE(c.reading_paused());
    c.pause_reading();
  };
  std::size_t off = 0;
  cli_->connected = [&](Connection& c) { pump(c, stream, &off); };
  cli_->writable = cli_->connected;
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return srv_->data_calls == 1; }, Duration::s(1)));
  s_port_->clear();

  // Paused: no on_data while the client's segments fill the buffer; the
  // server then advertises a zero window and the client stalls.
  run_for(Duration::s(2));
  EXPECT_EQ(srv_->data_calls, 1u);
  ASSERT_NE(srv_->conn, nullptr);
  EXPECT_TRUE(srv_->conn->reading_paused());
  const auto zero = std::find_if(s_port_->sent().begin(), s_port_->sent().end(),
                                 [](const TxSegment& s) { return s.window == 0; });
  EXPECT_NE(zero, s_port_->sent().end()) << "the server never advertised a zero window";
  // What the server acknowledged: the client handed `off` bytes to send().
  auto acked = [&] { return off - cli_->conn->send_queued(); };
  const std::size_t stalled = acked();
  EXPECT_GT(cli_->conn->send_queued(), 0u);
  EXPECT_LT(stalled, stream.size());
  run_for(Duration::s(2));
  EXPECT_EQ(acked(), stalled) << "the client kept sending into a closed window";
  EXPECT_EQ(srv_->data_calls, 1u);

  // read() and recv() still pull the data, in order, without on_data.
  const std::size_t before = srv_->received.size();
  std::size_t pulled = 0;
  srv_->in_next_poll([&](WorkerContext&) {
    Connection& c = *srv_->conn;
    Bytes buf(1000);
    const std::size_t n = c.read(buf);
    EXPECT_EQ(n, 1000u);
    srv_->received.insert(srv_->received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    Buffer b = c.recv();
    ASSERT_TRUE(b);
    const Bytes got = bytes_of(b.get());
    srv_->received.insert(srv_->received.end(), got.begin(), got.end());
    pulled = n + got.size();
  });
  step();
  EXPECT_GT(pulled, 1000u);
  ASSERT_LE(srv_->received.size(), stream.size());
  EXPECT_TRUE(std::equal(srv_->received.begin(), srv_->received.end(), stream.begin()));
  EXPECT_EQ(srv_->received.size(), before + pulled);
  // The window reopened: the client moves on, still without on_data.
  run_for(Duration::s(1));
  EXPECT_GT(acked(), stalled);
  EXPECT_EQ(srv_->data_calls, 1u);

  // Resumed: on_data delivers the rest of the stream.
  srv_->data = nullptr;
  srv_->in_next_poll([&](WorkerContext&) { srv_->conn->resume_reading(); });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size() && acked() == stream.size(); },
                        Duration::s(5)));
  EXPECT_GT(srv_->data_calls, 1u);
  EXPECT_EQ(srv_->received, stream);
}

TEST_F(ApiPair, PeerCloseWaitsUntilPausedDataWasDelivered) {
  srv_->accept = [&](Connection& c) -> ConnectionHandler* {
    c.pause_reading();
    return srv_;
  };
  const Bytes msg = pattern(5000, 9);
  cli_->connected = [&](Connection& c) {
    EXPECT_EQ(c.send(std::span<const std::byte>{msg}).accepted, msg.size());
    EXPECT_EQ(c.shutdown(), Error::kOk);
  };
  srv_->peer_closed = [&](Connection& c) {
    EXPECT_EQ(srv_->received, msg) << "EOF before the data";
    EXPECT_EQ(c.shutdown(), Error::kOk);
  };
  listen_and_connect();
  // The data and the FIN are in; paused, the server hears of neither.
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept"}));
  EXPECT_EQ(srv_->conn->state(), "CLOSE_WAIT");
  srv_->in_next_poll([&](WorkerContext&) { srv_->conn->resume_reading(); });
  ASSERT_TRUE(run_until([&] { return srv_->closed_why && cli_->closed_why; }, Duration::s(2)));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "S data", "S peer_closed",
                                              "C peer_closed", "C closed normal", "S closed normal"}));
  expect_baseline();
}

TEST_F(ApiPair, CloseWithUnreadDataResetsThePeer) {
  srv_->accept = [&](Connection& c) -> ConnectionHandler* {
    c.pause_reading();
    return srv_;
  };
  cli_->connected = [](Connection& c) {
    EXPECT_EQ(c.send(std::span<const std::byte>{pattern(100)}).accepted, 100u);
  };
  listen_and_connect();
  run_for(Duration::ms(100));
  srv_->in_next_poll([&](WorkerContext&) {
    srv_->conn->close();  // 100 bytes unread: RST, as Linux does (RFC 2525 §2.17)
    srv_->forget();
  });
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(1)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "C closed reset"}));
  expect_baseline();
}

// ---- closing from callbacks, resets, refusals --------------------------------------

TEST_F(ApiPair, CloseFromOnDataIsAnOrderlyCloseForThePeer) {
  srv_->data = [&](Connection& c, Buffer&) {
    c.close();
    srv_->forget();
  };
  cli_->connected = [](Connection& c) {
    EXPECT_EQ(c.send(std::span<const std::byte>{pattern(100)}).accepted, 100u);
  };
  cli_->peer_closed = [](Connection& c) { EXPECT_EQ(c.shutdown(), Error::kOk); };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "S data", "C peer_closed",
                                              "C closed normal"}));
  EXPECT_EQ(srv_->received, pattern(100));
  expect_baseline();
}

TEST_F(ApiPair, AbortFromOnDataResetsThePeer) {
  srv_->data = [&](Connection& c, Buffer&) {
    c.abort();
    srv_->forget();
  };
  cli_->connected = [](Connection& c) {
    EXPECT_EQ(c.send(std::span<const std::byte>{pattern(100)}).accepted, 100u);
  };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "S data", "C closed reset"}));
  expect_baseline();
}

TEST_F(ApiPair, AbortFromOnAcceptResetsThePeer) {
  srv_->accept = [&](Connection& c) -> ConnectionHandler* {
    c.abort();
    srv_->forget();
    return nullptr;
  };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "C closed reset"}));
  expect_baseline();
}

TEST_F(ApiPair, CloseFromOnAcceptIsAnOrderlyCloseForThePeer) {
  srv_->accept = [&](Connection& c) -> ConnectionHandler* {
    c.close();
    srv_->forget();
    return srv_;  // ignored: the connection is already let go
  };
  cli_->peer_closed = [](Connection& c) { EXPECT_EQ(c.shutdown(), Error::kOk); };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_,
            (std::vector<std::string>{"C connected", "S accept", "C peer_closed", "C closed normal"}));
  expect_baseline();
}

TEST_F(ApiPair, RefusingInOnAcceptResetsThePeer) {
  srv_->accept = [](Connection&) -> ConnectionHandler* { return nullptr; };
  listen_and_connect();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "C closed reset"}));
  expect_baseline();
}

TEST_F(ApiPair, ConnectingToAPortWithoutListenerIsRefused) {
  cli_->start = [&](WorkerContext& w) {
    Error err = Error::kInvalid;
    cli_->conn = w.connect(kServerIp, kPort + 1, *cli_, &err);
    ASSERT_NE(cli_->conn, nullptr);
    EXPECT_EQ(err, Error::kOk);
    EXPECT_EQ(cli_->conn->state(), "SYN_SENT");
  };
  start();
  ASSERT_TRUE(run_until([&] { return cli_->closed_why.has_value(); }, Duration::s(2)));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C closed refused"}));
  expect_baseline();
}

TEST_F(ApiPair, LingerZeroMakesCloseAReset) {
  establish();
  cli_->in_next_poll([&](WorkerContext&) {
    Connection& c = *cli_->conn;
    EXPECT_EQ(c.set_linger(true, Duration::s(1)), Error::kInvalid);  // close never blocks here
    EXPECT_EQ(c.set_linger(true, Duration{}), Error::kOk);
    c.close();
    cli_->forget();
  });
  ASSERT_TRUE(run_until([&] { return srv_->closed_why.has_value(); }, Duration::s(2)));
  run_for(Duration::s(1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"C connected", "S accept", "S closed reset"}));
  expect_baseline();
}

TEST_F(ApiPair, OptionsAndArgumentsAreCheckedAndReportedAsValues) {
  establish();
  bool ran = false;
  cli_->in_next_poll([&](WorkerContext& w) {
    ran = true;
    Connection& c = *cli_->conn;
    EXPECT_EQ(c.congestion(), "cubic");  // [tcp] congestion's default
    EXPECT_EQ(c.set_congestion("vegas"), Error::kUnknownCongestion);
    EXPECT_EQ(c.congestion(), "cubic");
    EXPECT_EQ(c.set_congestion("bbr"), Error::kOk);
    EXPECT_EQ(c.congestion(), "bbr");
    EXPECT_EQ(c.set_congestion("newreno"), Error::kOk);
    EXPECT_EQ(c.congestion(), "newreno");
    EXPECT_EQ(c.set_congestion("reno"), Error::kOk);
    EXPECT_EQ(c.set_congestion("cubic"), Error::kOk);
    EXPECT_EQ(c.congestion(), "cubic");
    EXPECT_EQ(c.set_keepalive(KeepaliveParams{.idle = Duration{}}), Error::kInvalid);
    EXPECT_EQ(c.set_keepalive(KeepaliveParams{.interval = Duration::ms(10)}), Error::kInvalid);
    EXPECT_EQ(c.set_keepalive(KeepaliveParams{.probes = 0}), Error::kInvalid);
    EXPECT_EQ(c.set_keepalive(KeepaliveParams{.probes = 256}), Error::kInvalid);
    EXPECT_EQ(
        c.set_keepalive(KeepaliveParams{.idle = Duration::s(10), .interval = Duration::s(2), .probes = 3}),
        Error::kOk);
    EXPECT_EQ(c.set_send_buffer(0, 0), Error::kInvalid);
    EXPECT_EQ(c.set_send_buffer(1000, 2000), Error::kInvalid);
    EXPECT_EQ(c.set_receive_buffer(100), Error::kInvalid);
    EXPECT_EQ(c.set_receive_buffer(1u << 20), Error::kInvalid);  // above [tcp] rcv_buf
    EXPECT_EQ(c.set_linger(false), Error::kOk);
    EXPECT_EQ(c.local_addr(), kClientIp);
    EXPECT_EQ(c.remote_addr(), kServerIp);
    EXPECT_EQ(c.remote_port(), kPort);
    EXPECT_EQ(c.state(), "ESTABLISHED");
    EXPECT_EQ(w.listen(0, 8, *cli_), Error::kInvalid);
    EXPECT_EQ(w.listen(9, 0, *cli_), Error::kInvalid);
    EXPECT_EQ(w.listen(9, 8, *cli_), Error::kOk);
    EXPECT_EQ(w.listen(9, 8, *cli_), Error::kInUse);
    w.unlisten(9);
    Error err = Error::kOk;
    EXPECT_EQ(w.connect(0, kPort, *cli_, &err), nullptr);
    EXPECT_EQ(err, Error::kInvalid);
  });
  step();
  EXPECT_TRUE(ran);
  // Keepalive at 10 s idle: on a connection with nothing to send, every
  // segment the client sends is a probe; the server answers, it lives on.
  c_port_->clear();
  s_port_->clear();
  run_for(Duration::s(9));
  EXPECT_TRUE(c_port_->sent().empty());
  run_for(Duration::s(6));
  EXPECT_EQ(c_port_->sent().size(), 1u);
  EXPECT_EQ(s_port_->sent().size(), 1u);
  EXPECT_FALSE(cli_->closed_why.has_value());
  ASSERT_NE(cli_->conn, nullptr);
  EXPECT_TRUE(cli_->conn->established());
  // After shutdown the write side refuses with kClosed.
  cli_->in_next_poll([&](WorkerContext&) {
    Connection& c = *cli_->conn;
    EXPECT_EQ(c.shutdown(), Error::kOk);
    EXPECT_EQ(c.send(std::span<const std::byte>{pattern(10)}).error, Error::kClosed);
    Buffer b;
    EXPECT_EQ(c.send(b).error, Error::kClosed);
    EXPECT_EQ(c.shutdown(), Error::kClosed);
  });
  step();
}

// ---- zero copy ----------------------------------------------------------------------

// The proof that send(Buffer&) does not copy: every payload byte the client
// worker puts on the wire sits in an indirect mbuf attached to the very mbuf
// the application filled, at the very address the application wrote it; the
// application's mbufs go back to the pool once the server acknowledged them.
// The control below runs the same bytes through the copying send and finds
// none of them in the application's mbufs, so the check can tell.
class ApiZeroCopy : public ApiPair {
 protected:
  static constexpr std::size_t kMbufs = 8;
  static constexpr std::uint16_t kMbufBytes = 1000;

  // The server keeps the bytes, notes where each received mbuf's bytes are,
  // and frees the buffer at once.
  void SetUp() override {
    ApiPair::SetUp();
    establish();
    base_in_use_ = rte_mempool_in_use_count(c_pool_);
    srv_->data = [this](Connection&, Buffer& b) {
      for (rte_mbuf* m = b.get(); m != nullptr; m = m->next) rx_pieces_.push_back({m, m->data_len});
    };
  }

  // The application's buffer: kMbufs mbufs of kMbufBytes from the worker's pool.
  Buffer build(WorkerContext& w) {
    Buffer b = make_chain(w.pool(), std::vector<std::uint16_t>(kMbufs, kMbufBytes), stream_);
    for (rte_mbuf* m : segments_of(b)) {
      app_mbufs_.push_back(m);
      app_data_.push_back(rte_pktmbuf_mtod(m, const std::byte*));
    }
    return b;
  }

  // Payload bytes on the wire that sit in the application's mbufs, at the
  // address the application wrote that byte of the stream.
  std::size_t bytes_in_app_mbufs(std::uint32_t first_seq) const {
    std::size_t n = 0;
    for (const TxSegment& s : c_port_->sent()) {
      std::uint32_t at = s.seq - first_seq;
      for (const PayloadPiece& p : s.pieces) {
        const std::size_t i = at / kMbufBytes;
        if (p.indirect && i < kMbufs && p.direct == app_mbufs_[i] && p.data == app_data_[i] + at % kMbufBytes)
          n += p.len;
        at += p.len;
      }
    }
    return n;
  }
  // Bytes the server's on_data got in the very mbufs of the frames the
  // client transmitted (they cross the in-process link by pointer): receive
  // hands over the frame, headers trimmed, without copying into new mbufs.
  // (IPv4 linearises a chained frame into its first mbuf; NICs deliver
  // single-segment frames, so that copy is the link's, not the API's.)
  std::size_t received_in_sent_frames() const {
    std::size_t n = 0;
    for (const auto& [m, len] : rx_pieces_)
      for (const TxSegment& s : c_port_->sent())
        if (s.frame == m && s.len == len) n += len;
    return n;
  }
  std::uint32_t first_data_seq() const {
    for (const TxSegment& s : c_port_->sent())
      if (s.len > 0) return s.seq;
    return 0;
  }
  std::size_t payload_bytes() const {
    std::size_t n = 0;
    for (const TxSegment& s : c_port_->sent()) n += s.len;
    return n;
  }

  const Bytes stream_ = pattern(kMbufs * kMbufBytes, 5);
  std::vector<rte_mbuf*> app_mbufs_;
  std::vector<const std::byte*> app_data_;
  std::vector<std::pair<const rte_mbuf*, std::uint32_t>> rx_pieces_;
  unsigned base_in_use_ = 0;
};

TEST_F(ApiZeroCopy, SendTransmitsTheApplicationsMbufsWithoutCopying) {
  cli_->in_next_poll([&](WorkerContext& w) {
    Buffer b = build(w);
    ASSERT_EQ(app_mbufs_.size(), kMbufs);
    EXPECT_EQ(rte_mempool_in_use_count(c_pool_), base_in_use_ + kMbufs);
    cli_->conn->set_nodelay(true);  // the last, short segment goes out at once too
    const SendResult r = cli_->conn->send(b);
    EXPECT_EQ(r.accepted, kMbufs * kMbufBytes);
    EXPECT_EQ(r.error, Error::kOk);
    EXPECT_FALSE(b);
  });
  now_ = now_ + kStep;
  poll_client();  // the client transmits (the initial window holds all 8000 bytes)

  // On the wire: 1448-byte segments whose pieces are indirect mbufs attached
  // to the application's mbufs (holding a reference each), pointing at the
  // application's bytes.
  const std::uint32_t first = first_data_seq();
  EXPECT_EQ(payload_bytes(), kMbufs * kMbufBytes);
  EXPECT_EQ(bytes_in_app_mbufs(first), kMbufs * kMbufBytes);
  for (const TxSegment& s : c_port_->sent())
    for (const PayloadPiece& p : s.pieces) {
      EXPECT_TRUE(p.indirect);
      EXPECT_GE(p.direct_refcnt, 2u);  // the send queue's and the slice's
    }

  // The server takes the data and frees it; until the client processes the
  // ACK, its send queue still holds the application's mbufs.
  poll_server();
  EXPECT_EQ(srv_->received, stream_);
  EXPECT_EQ(received_in_sent_frames(), kMbufs * kMbufBytes);
  EXPECT_EQ(rte_mempool_in_use_count(c_pool_), base_in_use_ + kMbufs);
  for (rte_mbuf* m : app_mbufs_) EXPECT_EQ(rte_mbuf_refcnt_read(m), 1u);
  // Acknowledged, they go back to the pool.
  ASSERT_TRUE(run_until([&] { return cli_->conn->send_queued() == 0; }, Duration::s(1)));
  EXPECT_EQ(rte_mempool_in_use_count(c_pool_), base_in_use_);
  EXPECT_EQ(rte_mempool_in_use_count(c_clones_), 0u);
}

TEST_F(ApiZeroCopy, ControlCopyingSendTransmitsTheStacksOwnMbufs) {
  Buffer kept;
  cli_->in_next_poll([&](WorkerContext& w) {
    kept = build(w);
    ASSERT_EQ(app_mbufs_.size(), kMbufs);
    // The same bytes, read out of the application's mbufs and copied in.
    const Bytes copy = bytes_of(kept.get());
    cli_->conn->set_nodelay(true);
    const SendResult r = cli_->conn->send(std::span<const std::byte>{copy});
    EXPECT_EQ(r.accepted, kMbufs * kMbufBytes);
    EXPECT_EQ(r.error, Error::kOk);
  });
  now_ = now_ + kStep;
  poll_client();
  EXPECT_EQ(payload_bytes(), kMbufs * kMbufBytes);
  EXPECT_EQ(bytes_in_app_mbufs(first_data_seq()), 0u);
  for (rte_mbuf* m : app_mbufs_) EXPECT_EQ(rte_mbuf_refcnt_read(m), 1u);
  ASSERT_TRUE(run_until([&] { return cli_->conn->send_queued() == 0; }, Duration::s(1)));
  EXPECT_EQ(srv_->received, stream_);
  kept.reset();
  EXPECT_EQ(rte_mempool_in_use_count(c_pool_), base_in_use_);
}

}  // namespace
}  // namespace tern::api
