// tern/udp.h end to end: the server and client workers of api_harness.h,
// with UDP attached, exchange datagrams over the in-process link. The link
// hands the sender's mbufs to the receiver, so a datagram that arrives in
// the very mbuf its payload was sent in proves the path copied nothing.
#include <gtest/gtest.h>

#include "api_harness.h"
#include "tern/udp.h"

namespace tern::api::apitest {
namespace {

constexpr std::uint16_t kUdpPort = 7;
const Endpoint kServerUdp{IpAddr::v4(kServerIp), kUdpPort};

// Records every datagram; optionally echoes it back (zero copy) or runs a script.
class Recorder final : public UdpHandler {
 public:
  struct Got {
    Endpoint from;
    Bytes bytes;
    const rte_mbuf* mbuf;
  };
  void on_datagram(UdpSocket& s, const Endpoint& from, Buffer data) override {
    got.push_back({from, bytes_of(data.get()), data.get()});
    if (on) on(s, from, data);
    if (echo && data) {
      EXPECT_EQ(s.send_to(data, from), Error::kOk);
    }
  }
  std::vector<Got> got;
  bool echo = false;
  std::function<void(UdpSocket&, const Endpoint&, Buffer&)> on;
};

class ApiUdp : public ApiPair {
 protected:
  void SetUp() override {
    ApiPair::SetUp();
    UdpStackOptions o;
    o.cfg.rcv_queue = 8;
    server_->enable_udp(o);
    client_->enable_udp(o);
  }
  // The server's socket on kUdpPort (echoing) and a client socket connected to it.
  void open_both(bool echo = true) {
    srv_rec_.echo = echo;
    srv_->start = [this](WorkerContext& w) {
      Error e = Error::kInvalid;
      srv_sock_ = w.udp_open({IpAddr{}, kUdpPort}, srv_rec_, &e);
      EXPECT_EQ(e, Error::kOk);
    };
    cli_->start = [this](WorkerContext& w) {
      Error e = Error::kInvalid;
      cli_sock_ = w.udp_open({IpAddr::any_v4(), 0}, cli_rec_, &e);
      ASSERT_EQ(e, Error::kOk);
      EXPECT_EQ(cli_sock_->connect(kServerUdp), Error::kOk);
    };
    start();
    ASSERT_NE(srv_sock_, nullptr);
    ASSERT_NE(cli_sock_, nullptr);
  }
  // Runs `f` on the client's worker in its next poll.
  void on_client(std::function<void(WorkerContext&)> f) { cli_->in_next_poll(std::move(f)); }

  Recorder srv_rec_, cli_rec_;
  UdpSocket* srv_sock_ = nullptr;
  UdpSocket* cli_sock_ = nullptr;
};

TEST_F(ApiUdp, EchoCopyingAndBack) {
  open_both();
  EXPECT_NE(cli_sock_->local().port, 0) << "connect bound an ephemeral port";
  ASSERT_TRUE(cli_sock_->peer());
  EXPECT_EQ(*cli_sock_->peer(), kServerUdp);
  const Bytes msg = pattern(300);
  on_client([&](WorkerContext&) { EXPECT_EQ(cli_sock_->send(msg), Error::kOk); });
  ASSERT_TRUE(run_until([&] { return !cli_rec_.got.empty(); }, Duration::s(1)));
  ASSERT_EQ(srv_rec_.got.size(), 1u);
  EXPECT_EQ(srv_rec_.got[0].bytes, msg);
  EXPECT_EQ(srv_rec_.got[0].from, (Endpoint{IpAddr::v4(kClientIp), cli_sock_->local().port}));
  EXPECT_EQ(cli_rec_.got[0].bytes, msg);
  EXPECT_EQ(cli_rec_.got[0].from, kServerUdp);
  EXPECT_EQ(server_->counters().get(Counter::kUdpInDatagrams), 1u);
  EXPECT_EQ(server_->counters().get(Counter::kUdpOutDatagrams), 1u);
}

TEST_F(ApiUdp, ZeroCopyBothWays) {
  open_both();
  const Bytes msg = pattern(1000, 3);
  const rte_mbuf* sent = nullptr;
  on_client([&](WorkerContext& w) {
    Buffer b = w.alloc();
    std::memcpy(b.append(1000).data(), msg.data(), msg.size());
    sent = b.get();
    EXPECT_EQ(cli_sock_->send(b), Error::kOk);
    EXPECT_FALSE(b) << "the stack took the chain";
  });
  ASSERT_TRUE(run_until([&] { return !cli_rec_.got.empty(); }, Duration::s(1)));
  EXPECT_EQ(srv_rec_.got[0].mbuf, sent) << "the server got the client's own mbuf: no copy";
  EXPECT_EQ(cli_rec_.got[0].mbuf, sent) << "and echoed it back in place";
  EXPECT_EQ(cli_rec_.got[0].bytes, msg);
}

TEST_F(ApiUdp, ZeroLengthAndLargeDatagrams) {
  open_both();
  on_client([&](WorkerContext&) {
    EXPECT_EQ(cli_sock_->send(std::span<const std::byte>{}), Error::kOk);
    EXPECT_EQ(cli_sock_->send(pattern(5000, 4)), Error::kTooBig) << "no indirect pool to fragment with";
  });
  ASSERT_TRUE(run_until([&] { return !cli_rec_.got.empty(); }, Duration::s(1)));
  EXPECT_TRUE(cli_rec_.got[0].bytes.empty());
}

TEST_F(ApiUdp, ChainSentAsOneDatagram) {
  open_both();
  const Bytes msg = pattern(1300, 5);
  on_client([&](WorkerContext& w) {
    Buffer b = make_chain(w.pool(), {600, 600, 100}, msg);
    ASSERT_TRUE(b);
    EXPECT_EQ(cli_sock_->send(b), Error::kOk);
  });
  ASSERT_TRUE(run_until([&] { return !cli_rec_.got.empty(); }, Duration::s(1)));
  EXPECT_EQ(cli_rec_.got[0].bytes, msg);
}

TEST_F(ApiUdp, ClosedPortIsAnsweredWithPortUnreachable) {
  open_both();
  on_client([&](WorkerContext&) {
    EXPECT_EQ(cli_sock_->send_to(pattern(10), Endpoint{IpAddr::v4(kServerIp), 9}), Error::kOk);
  });
  ASSERT_TRUE(
      run_until([&] { return client_->counters().get(Counter::kIcmpInDestUnreachs) == 1; }, Duration::s(1)));
  EXPECT_EQ(server_->counters().get(Counter::kUdpNoPorts), 1u);
  EXPECT_EQ(server_->counters().get(Counter::kIcmpOutDestUnreachs), 1u);
  EXPECT_TRUE(srv_rec_.got.empty());
}

TEST_F(ApiUdp, ReceiveQueueBoundCountsDrops) {
  open_both(/*echo=*/false);
  on_client([&](WorkerContext&) {
    for (int i = 0; i < 12; ++i) EXPECT_EQ(cli_sock_->send(pattern(20, i)), Error::kOk);
  });
  run_for(Duration::ms(20));
  EXPECT_EQ(srv_rec_.got.size(), 8u) << "rcv_queue = 8";
  EXPECT_EQ(server_->counters().get(Counter::kUdpRcvbufErrors), 4u);
  EXPECT_EQ(server_->counters().get(Drop::kUdpRcvQueueFull), 4u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(srv_rec_.got[i].bytes, pattern(20, i)) << i;
}

TEST_F(ApiUdp, HandlerMayCloseItsSocketWithDatagramsQueued) {
  open_both(/*echo=*/false);
  srv_rec_.on = [&](UdpSocket& s, const Endpoint&, Buffer&) { s.close(); };
  on_client([&](WorkerContext&) {
    for (int i = 0; i < 3; ++i) EXPECT_EQ(cli_sock_->send(pattern(20, i)), Error::kOk);
  });
  run_for(Duration::ms(10));
  EXPECT_EQ(srv_rec_.got.size(), 1u) << "the rest went with the socket";
  // The port is free again.
  srv_->in_next_poll([&](WorkerContext& w) {
    Error e = Error::kInvalid;
    EXPECT_NE(w.udp_open({IpAddr{}, kUdpPort}, srv_rec_, &e), nullptr);
    EXPECT_EQ(e, Error::kOk);
  });
  run_for(Duration::ms(2));
}

TEST_F(ApiUdp, Errors) {
  open_both();
  on_client([&](WorkerContext& w) {
    Error e = Error::kOk;
    EXPECT_EQ(w.udp_open({IpAddr{}, cli_sock_->local().port}, cli_rec_, &e), nullptr);
    EXPECT_EQ(e, Error::kInUse);
    UdpSocket* s = w.udp_open({IpAddr{}, 0}, cli_rec_, &e);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->send(pattern(4)), Error::kNotConnected);
    EXPECT_EQ(s->send_to(pattern(4), *Endpoint::parse("[2001:db8::1]:7")), Error::kUnreachable);
    EXPECT_EQ(s->send_to(pattern(4), Endpoint{IpAddr::v4(kServerIp), 0}), Error::kInvalid);
    Buffer b = w.alloc();
    b.append(4);
    EXPECT_EQ(s->send(b), Error::kNotConnected);
    EXPECT_TRUE(b) << "an error before the stack took it leaves the chain with the caller";
    EXPECT_EQ(s->local().port, 0) << "still unbound";
    s->close();
  });
  run_for(Duration::ms(2));
}

}  // namespace
}  // namespace tern::api::apitest
