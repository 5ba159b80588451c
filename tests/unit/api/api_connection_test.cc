// The public API (tern/api.h) end to end, a connection's life: echo both
// ways then orderly shutdown; close, abort and refusal from the callbacks;
// connecting without a listener; linger; options and arguments. The fixture
// (two Workers over the in-process link, on virtual time) is in api_harness.h.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "api_harness.h"

namespace tern::api::apitest {
namespace {

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
    EXPECT_EQ(c.set_receive_buffer(1u << 20), Error::kOk);       // up to [tcp] rcv_buf_max
    EXPECT_EQ(c.set_receive_buffer(8u << 20), Error::kInvalid);  // above it
    EXPECT_EQ(c.set_user_timeout(Duration::ms(-1)), Error::kInvalid);
    EXPECT_EQ(c.set_user_timeout(Duration::ms(INT32_MAX) + Duration::ms(1)), Error::kInvalid);
    EXPECT_EQ(c.set_user_timeout(Duration::ms(INT32_MAX)), Error::kOk);
    EXPECT_EQ(c.set_user_timeout(Duration{}), Error::kOk);  // off
    EXPECT_EQ(c.set_window_clamp(0), Error::kInvalid);      // Linux: EINVAL on a connected socket
    EXPECT_EQ(c.set_window_clamp((1u << 30) + 1), Error::kInvalid);
    EXPECT_EQ(c.set_window_clamp(1u << 30), Error::kOk);
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

}  // namespace
}  // namespace tern::api::apitest
