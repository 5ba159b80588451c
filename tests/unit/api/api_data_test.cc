// The public API (tern/api.h) end to end, moving bytes: the zero-copy send
// (whole mbufs, watermarks), chains the application holds, pausing and
// resuming reads, and the proof that send(Buffer&) does not copy. The fixture
// (two Workers over the in-process link, on virtual time) is in api_harness.h.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "api_harness.h"

namespace tern::api::apitest {
namespace {

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

// want_writable() asks for on_writable without a refused send: a writer
// that finds send_space() 0 need not offer data to be told (tern-httpd's
// one-byte probe for it was taken by the tail mbuf's unused room and went
// into a response, session 26). A send that was not refused asks nothing.
TEST_F(ApiPair, WantWritableAsksForOnWritableWithoutARefusedSend) {
  establish();
  const std::vector<std::uint16_t> sizes{1500, 1500, 1500, 1500};
  const Bytes first = pattern(6000, 8), second = pattern(6000, 9);
  std::uint32_t per_mbuf = 0;
  auto fill = [&](const Bytes& stream) {
    cli_->in_next_poll([&, stream](WorkerContext& w) {
      Connection& c = *cli_->conn;
      Buffer chain = make_chain(w.pool(), sizes, stream);
      ASSERT_TRUE(chain);
      const SendResult r = c.send(chain);
      EXPECT_EQ(r.accepted, 6000u);
      EXPECT_EQ(r.error, Error::kOk);
      EXPECT_EQ(c.send_space(), 0u);  // half an mbuf is no room
    });
  };
  cli_->in_next_poll([&](WorkerContext& w) {
    per_mbuf = static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(w.pool());
    ASSERT_EQ(cli_->conn->set_send_buffer(4 * per_mbuf + per_mbuf / 2, per_mbuf), Error::kOk);
  });
  step();
  // Filled to the brim, never refused: no on_writable.
  fill(first);
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == first.size(); }, Duration::s(2)));
  EXPECT_EQ(cli_->writable_calls, 0u);

  // Filled again, then asked: on_writable once, at the low watermark.
  fill(second);
  cli_->in_next_poll([&](WorkerContext&) { cli_->conn->want_writable(); });
  std::uint32_t space_at_writable = 0;
  cli_->writable = [&](Connection& c) { space_at_writable = c.send_space(); };
  ASSERT_TRUE(run_until([&] { return cli_->writable_calls > 0; }, Duration::s(2)));
  EXPECT_GE(space_at_writable, 3 * per_mbuf);
  ASSERT_TRUE(
      run_until([&] { return srv_->received.size() == first.size() + second.size(); }, Duration::s(2)));
  EXPECT_EQ(Bytes(srv_->received.begin() + 6000, srv_->received.end()), second);
  EXPECT_EQ(cli_->writable_calls, 1u);

  // Asked with room already there: on_writable in the next round, once.
  cli_->in_next_poll([&](WorkerContext&) { cli_->conn->want_writable(); });
  step();
  step();
  EXPECT_EQ(cli_->writable_calls, 2u);
  EXPECT_FALSE(run_until([] { return false; }, Duration::ms(50)));
  EXPECT_EQ(cli_->writable_calls, 2u);
}

// The hazard want_writable() avoids: with send_space() 0 a copying send
// still takes bytes into the last mbuf's unused room.
TEST_F(ApiPair, ACopyingSendMayTakeBytesWhenSendSpaceIsZero) {
  establish();
  cli_->in_next_poll([&](WorkerContext& w) {
    Connection& c = *cli_->conn;
    const auto per_mbuf = static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(w.pool());
    ASSERT_EQ(c.set_send_buffer(2 * per_mbuf, per_mbuf), Error::kOk);
    // Two mbufs of 100 bytes, the application's and then a copy: no room
    // for a third.
    Buffer own = make_chain(w.pool(), {100}, pattern(100, 10));
    ASSERT_TRUE(own);
    EXPECT_EQ(c.send(own).accepted, 100u);
    const Bytes copied = pattern(100, 11), more = pattern(10, 12);
    EXPECT_EQ(c.send(std::span<const std::byte>{copied}).accepted, 100u);
    ASSERT_EQ(c.send_space(), 0u);
    EXPECT_EQ(c.send(std::span<const std::byte>{more}).accepted, 10u);
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == 210; }, Duration::s(1)));
  EXPECT_EQ(Bytes(srv_->received.end() - 10, srv_->received.end()), pattern(10, 12));
  EXPECT_EQ(cli_->writable_calls, 0u);
}

// Send-buffer autotuning ([tcp] snd_buf_max) grows the buffer for a write
// that does not fit before send(Buffer&) splits it: a chain the grown
// buffer holds is taken whole and reported so (kOk), not taken behind a
// kWouldBlock that no on_writable would ever follow (tern-echo stalled so).
class ApiSmallSendBuffer : public ApiPair {
 protected:
  ApiSmallSendBuffer() { snd_buf_ = 16384; }
};

TEST_F(ApiSmallSendBuffer, AChainTheGrownBufferHoldsIsTakenWhole) {
  establish();
  const std::vector<std::uint16_t> sizes(12, 1448);
  const Bytes stream = pattern(12 * 1448, 7);
  cli_->in_next_poll([&](WorkerContext& w) {
    Connection& c = *cli_->conn;
    Buffer chain = make_chain(w.pool(), sizes, stream);
    ASSERT_TRUE(chain);
    ASSERT_GT(mbuf_truesize(chain.get()), c.send_space());
    const SendResult r = c.send(chain);
    EXPECT_EQ(r.error, Error::kOk);
    EXPECT_EQ(r.accepted, stream.size());
    EXPECT_FALSE(chain);
    EXPECT_EQ(c.send_queued(), stream.size());
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size(); }, Duration::s(1)));
  EXPECT_EQ(srv_->received, stream);
  EXPECT_EQ(client_->counters().get(Counter::kTCPSndBufGrown), 1u);
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
    // Mid-poll, the client's stash of reset header mbufs (flushed after each
    // poll, where base_in_use_ was taken) may hold what this poll took.
    EXPECT_EQ(rte_mempool_in_use_count(c_pool_) - client_->tcp()->header_mbufs_held(), base_in_use_ + kMbufs);
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

// TSO over the in-process link (LinkPort::offer_tso): the client's bulk
// data leaves as super-segments the link hands the server as LRO chains;
// the stream arrives whole and in order, counted as wire segments on both
// sides, and nothing is left over. With the default payload slices the link
// copies each super-segment into the LRO layout; a copying port
// (tx_copy_max at kTxCopyMaxAlways) builds it so itself.
class ApiTso : public ApiPair {
 protected:
  ApiTso() { tso_ = true; }

  void bulk_arrives_whole() {
    const Bytes stream = pattern(2 * 1024 * 1024, 21);
    std::size_t off = 0;
    cli_->connected = [&](Connection& c) { pump(c, stream, &off); };
    cli_->writable = cli_->connected;
    listen_and_connect();
    ASSERT_TRUE(run_until([&] { return srv_->received.size() == stream.size(); }, Duration::s(10)));
    EXPECT_EQ(srv_->received, stream);
    std::size_t super = 0;
    for (const TxSegment& s : c_port_->sent()) {
      if (s.len <= 1448) continue;
      ++super;
      EXPECT_EQ(s.len % 1448, 0u) << "a super-segment of whole MSS";
      EXPECT_LE(s.len, TcpStackOptions::kTsoMaxPayload);
    }
    EXPECT_GT(super, 0u);
    const Counters& cc = client_->counters();
    const Counters& sc = server_->counters();
    // OutSegs counts wire segments: more than the frames the link took.
    EXPECT_GT(cc.get(Counter::kOutSegs), cc.get(Counter::kTxPackets));
    EXPECT_GE(cc.get(Counter::kOutSegs), stream.size() / 1448);
    // The server took LRO chains: more wire segments than IP datagrams.
    EXPECT_GT(sc.get(Counter::kInSegs), sc.get(Counter::kIpInReceives));
    EXPECT_EQ(sc.get(Drop::kIpTruncated), 0u);
    abort_server_side_and_check_baseline();
  }
};

TEST_F(ApiTso, BulkDataCrossesAsSuperSegmentsAndArrivesWhole) { bulk_arrives_whole(); }

class ApiTsoCopying : public ApiTso {
 protected:
  ApiTsoCopying() { tx_copy_max_ = TcpStackOptions::kTxCopyMaxAlways; }
};

TEST_F(ApiTsoCopying, BulkDataCrossesAsSuperSegmentsAndArrivesWhole) { bulk_arrives_whole(); }

}  // namespace
}  // namespace tern::api::apitest
