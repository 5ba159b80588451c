#pragma once
// The fixture shared by the tests of the public API (tern/api.h), end to end:
// two runtime Workers with TCP, a server at 10.0.0.1 and a client at
// 10.0.0.2, each running an api::App through WorkerAppAdapter, joined back to
// back by the in-process link. Single-threaded, on virtual time: step()
// advances the clock 1 ms and polls the server, then the client. Each port
// records every TCP frame its worker transmits (header fields, and for each
// payload byte the mbuf it sits in), so the tests can read windows and prove
// zero copy from what went on the wire.
//
// The tests, by topic: api_connection_test.cc (a connection's life: echo and
// orderly shutdown, closes, aborts and refusals from callbacks, options) and
// api_data_test.cc (moving bytes: the zero-copy send, held chains, pausing,
// and the proof that send(Buffer&) does not copy).
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../ip/test_frames.h"
#include "api/adapter.h"
#include "port/link_pair.h"
#include "runtime/worker.h"
#include "tern/api.h"
#include "wire/bytes.h"

namespace tern::api::apitest {

using testkit::Bytes;
using testkit::ip4;
using testkit::make_pool;
using testkit::pattern;

inline constexpr std::uint32_t kServerIp = ip4(10, 0, 0, 1);  // make_link_pair()'s first end
inline constexpr std::uint32_t kClientIp = ip4(10, 0, 0, 2);
inline constexpr std::uint16_t kPort = 7;
inline constexpr Duration kStep = Duration::ms(1);

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

inline Bytes bytes_of(const rte_mbuf* m) { return m == nullptr ? Bytes{} : testkit::bytes_of(m); }

// A chain of mbufs from `pool` holding `sizes` bytes each, filled from `data`.
inline Buffer make_chain(rte_mempool* pool, const std::vector<std::uint16_t>& sizes, const Bytes& data) {
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

inline std::vector<rte_mbuf*> segments_of(const Buffer& b) {
  std::vector<rte_mbuf*> out;
  for (rte_mbuf* m = b.get(); m != nullptr; m = m->next) out.push_back(m);
  return out;
}

// nb_segs and pkt_len in the head agree with the chain it heads.
inline ::testing::AssertionResult chain_consistent(const Buffer& b) {
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
    if (tso_) {  // before the ports are wrapped: CapturePort copies their info
      s_link_->offer_tso();
      c_link_->offer_tso();
    }
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

  std::unique_ptr<Worker> make_worker(Port& port, std::uint32_t addr, rte_mempool* pool,
                                      rte_mempool* clones) const {
    IpSettings s;
    s.mac = port.info().mac;
    s.addr = addr;
    s.prefix_len = 24;
    s.mtu = port.info().mtu;
    // The port's offloads, as the runtime takes them (none unless tso_).
    s.rx_ip_checksum_offload = port.info().rx_ip_checksum_offload;
    s.tx_ip_checksum_offload = port.info().tx_ip_checksum_offload;
    WorkerTcpSettings tcp;
    tcp.opts.local_addr = addr;
    tcp.opts.mtu = s.mtu;
    tcp.opts.tx_checksum_offload = port.info().tx_l4_checksum_offload;
    tcp.opts.tso_max = port.info().tx_tso ? TcpStackOptions::kTsoMaxPayload : 0;
    tcp.opts.tx_copy_max = tx_copy_max_;
    if (snd_buf_ != 0) tcp.opts.cfg.snd_buf = snd_buf_;
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
  // Each poll ends with the stack's stash of reset header mbufs given back
  // (TcpStack::flush_header_mbufs, docs/architecture.md "Memory model"), so
  // that the tests' counts of the pools' mbufs are the queues', the link's
  // and the application's alone; tests/unit/tcp/tcp_header_stash_test.cc
  // tests the stash across calls.
  void poll_server() {
    server_->poll_once(now_);
    server_->tcp()->flush_header_mbufs();
  }
  void poll_client() {
    client_->poll_once(now_);
    client_->tcp()->flush_header_mbufs();
  }
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

  // Set by a fixture's constructor (before SetUp): the link offers TSO
  // (LinkPort::offer_tso) and TCP uses it; how TCP attaches payloads.
  bool tso_ = false;
  std::uint32_t tx_copy_max_ = TcpStackOptions::kTxCopyMaxGather;
  std::uint32_t snd_buf_ = 0;  // [tcp] snd_buf when set (0: the default)

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
inline void pump(Connection& c, const Bytes& stream, std::size_t* off) {
  while (*off < stream.size()) {
    const SendResult r = c.send(std::span<const std::byte>{stream}.subspan(*off));
    *off += r.accepted;
    if (r.error != Error::kOk) {
      EXPECT_EQ(r.error, Error::kWouldBlock);
      return;
    }
  }
}

}  // namespace tern::api::apitest
