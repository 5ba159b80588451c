// The short path for header prediction's ACK of new data (lib/tcp/
// tcp_fast_ack.cc): it must leave a connection exactly as the full path
// (process_ack, sack_on_ack) leaves it, and every ACK whose connection is
// not in the plain state (SACK recovery, a retransmission logged, no SACK
// negotiated, BBR) or that header prediction refuses (PAWS) must get the
// full behaviour.
//
// Connections are opened actively with MSS 1460, SACK and timestamps
// (segments of 1448 octets), Nagle off.
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "sack_script.h"

namespace tern::tcptest {
namespace {

class FastAckScript : public SackScript {
 protected:
  Tcb* open(bool sack = true, bool timestamps = true) {
    Seg synack = seg().mss(1460);
    if (sack) synack.sack_perm();
    if (timestamps) synack.ts(peer_ts_, 0);
    Tcb* c = establish_active(synack);
    if (c == nullptr) return nullptr;
    EXPECT_EQ(c->sack_ok, sack);
    mss_ = c->mss;
    stack().set_nodelay(*c, true, now());
    return c;
  }
  // The peer's ACK at `ack`, echoing our clock when timestamps are on.
  Seg ack_of(const Tcb& c, Seq32 ack, std::uint16_t win = 65535) {
    Seg s = c.ts_ok ? ack_with(ack, {}, our_tsval(c)) : ack_with(ack);
    return s.win(win);
  }
};

// Everything an ACK may change on the sending side, as text.
std::string fingerprint(const Tcb& c) {
  std::ostringstream o;
  o << "una=" << c.snd_una.value() << " nxt=" << c.snd_nxt.value() << " max=" << c.snd_max.value()
    << " wnd=" << c.snd_wnd << " maxwnd=" << c.max_snd_wnd << " wl1=" << c.snd_wl1.value()
    << " wl2=" << c.snd_wl2.value() << " cwnd=" << c.cc.cwnd() << " ssthresh=" << c.cc.ssthresh()
    << " srtt=" << c.rto.srtt().count_ns() << " rto=" << c.rto.rto().count_ns()
    << " rtx=" << static_cast<int>(c.rtx_kind) << "@" << c.rtx_deadline.ns_since_epoch()
    << " tlp=" << c.tlp_deadline.ns_since_epoch() << " rackdl=" << c.rack_deadline.ns_since_epoch()
    << " rack=" << c.rack_valid << "," << c.rack_xmit_us << "," << c.rack_xmit_order << ","
    << c.rack_end_seq.value() << "," << c.rack_rtt_us << "," << c.rack_min_rtt.us() << ","
    << c.rack_fack.value() << "," << c.rack_reordering_seen << "," << c.reordering
    << " delivered=" << c.delivered << "," << c.delivered_us << "," << c.first_sent_us
    << " acked=" << c.bytes_acked << " sndq=" << c.sndq.bytes() << " cwnduse=" << c.cwnd_window_flight << ","
    << c.cwnd_window_end.value() << " retries=" << static_cast<int>(c.retries)
    << " persist=" << static_cast<int>(c.persist_backoff) << " log=" << (c.txlog != nullptr)
    << (c.txlog != nullptr ? c.txlog->size() : 0) << " dupacks=" << c.sack_dupacks
    << " recovery=" << c.sack_recovery << c.recovery_hold << " lost=" << c.lost_segs
    << " timing=" << c.rtt_timing << " tlpout=" << c.tlp_outstanding << " writable=" << c.writable_wanted
    << " tsrecent=" << c.ts_recent
    << " wheel=" << (TimerWheel::armed(c) ? TimerWheel::deadline(c).ns_since_epoch() : std::int64_t{-1});
  return o.str();
}

// One scripted transfer, with the short path allowed or not: clean ACKs of
// one, two and half a segment with changing windows, a send buffer that
// fills (writable events), a loss found by SACK and its recovery, and clean
// ACKs again once the flight drained. What it records after every ACK: the
// connection's fingerprint, what was sent, the events posted.
class Transfer final : public FastAckScript {
 public:
  Transfer(bool fast, CongestionAlgorithm cc) {
    options_.fast_ack = fast;
    cfg().congestion = cc;
    cfg().snd_buf = 32 * 1024;
  }
  void TestBody() override {}

  std::vector<std::string> run() {
    SetUp();
    Tcb* c = open();
    if (c != nullptr) script(*c);
    fast_acks = count(Counter::kTCPFastAcks);
    hp_acks = count(Counter::kTCPHPAcks);
    TearDown();
    return trace;
  }
  std::uint64_t fast_acks = 0;
  std::uint64_t hp_acks = 0;

 private:
  void note(const Tcb& c) {
    std::string s = fingerprint(c);
    for (const Sent& x : take_all_sent()) {
      s += " | sent " + std::to_string(x.seq.value()) + "+" + std::to_string(x.len()) + " " +
           flags_str(x.flags);
    }
    s += " | events " + events_str(handler_.of(&c));
    handler_.clear();
    trace.push_back(std::move(s));
  }
  // The application writes as much of `segments` as the buffer takes.
  void write(Tcb& c, std::uint32_t segments) {
    stack().send_copy(c, pattern(std::size_t{segments} * mss_), now());
    note(c);
  }
  void script(Tcb& c) {
    Instant t = at_ms(10);
    const std::uint32_t steps[] = {mss_, 2 * mss_, mss_ / 2, mss_ + mss_ / 2};
    std::uint32_t k = 0;
    for (int round = 0; round < 4; ++round) {
      advance_to(t);
      write(c, 30);  // more than snd_buf: the rest waits for kTcpEvWritable
      while (c.snd_una != c.snd_max) {
        t = t + Duration::us(300);
        const std::uint32_t step = std::min<std::uint32_t>(steps[k % 4], c.snd_max - c.snd_una);
        const auto win = static_cast<std::uint16_t>(65535 - (k % 3) * 4000);
        ++k;
        recv(ack_of(c, c.snd_una + step, win), t);
        note(c);
        if (c.writable_wanted) continue;
        if ((k % 7) == 0) write(c, 2);
      }
      t = t + Duration::ms(5);
    }
    // A loss: S(n+1) never arrives, the three after it are SACKed.
    advance_to(t);
    write(c, 10);
    const Seq32 base = c.snd_una;
    auto at = [&](std::uint32_t i) { return base + i * mss_; };
    t = t + Duration::ms(1);
    recv(ack_of(c, at(1)), t);
    note(c);
    for (std::uint32_t i = 3; i <= 5; ++i) {
      t = t + Duration::us(100);
      recv(ack_with(at(1), {{at(2), at(i)}}, our_tsval(c)), t);
      note(c);
    }
    // The retransmission arrives; then cumulative ACKs to the end.
    while (c.snd_una != c.snd_max) {
      t = t + Duration::us(300);
      const Seq32 next =
          c.snd_una == at(1) ? at(5) : c.snd_una + std::min<std::uint32_t>(mss_, c.snd_max - c.snd_una);
      recv(ack_of(c, next), t);
      note(c);
    }
    // The next flight starts clean.
    t = t + Duration::ms(5);
    advance_to(t);
    write(c, 6);
    while (c.snd_una != c.snd_max) {
      t = t + Duration::us(300);
      recv(ack_of(c, c.snd_una + std::min<std::uint32_t>(mss_, c.snd_max - c.snd_una)), t);
      note(c);
    }
  }

  std::vector<std::string> trace;
};

void expect_same_transfer(CongestionAlgorithm cc) {
  Transfer full(false, cc), fast(true, cc);
  const std::vector<std::string> a = full.run();
  const std::vector<std::string> b = fast.run();
  EXPECT_EQ(full.fast_acks, 0u);
  EXPECT_GT(fast.fast_acks, 20u) << "the short path was not taken";
  EXPECT_EQ(full.hp_acks, fast.hp_acks);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 40u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "after step " << i;
}

TEST(FastAckTransfer, LeavesTheConnectionAsTheFullPathDoesNewReno) {
  expect_same_transfer(CongestionAlgorithm::kNewReno);
}

TEST(FastAckTransfer, LeavesTheConnectionAsTheFullPathDoesCubic) {
  expect_same_transfer(CongestionAlgorithm::kCubic);
}

class FastAck : public FastAckScript {
 protected:
  // Two segments sent and ACKed at once: header prediction accepts the ACK,
  // but the full path, not fast_ack, processes it.
  void expect_full_path(Tcb& c) {
    send(c, 2, at_ms(10));
    take_all_sent();
    const std::uint64_t hp = count(Counter::kTCPHPAcks);
    recv(ack_of(c, S(2)), at_ms(11));
    EXPECT_EQ(count(Counter::kTCPHPAcks), hp + 1);
    EXPECT_EQ(count(Counter::kTCPFastAcks), 0u);
    EXPECT_EQ(c.snd_una, S(2));
  }
};

// A window change with new data acknowledged is the short path's too: the
// window moves (RFC 9293 §3.10.7.4: SND.WL1 / SND.WL2 allow it).
TEST_F(FastAck, AWindowChangeWithNewDataTakesTheShortPath) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 3, at_ms(10));
  take_all_sent();
  const std::uint64_t fast = count(Counter::kTCPFastAcks);
  recv(ack_of(*c, S(2), 30000), at_ms(11));
  EXPECT_EQ(count(Counter::kTCPFastAcks), fast + 1);
  EXPECT_EQ(c->snd_una, S(2));
  EXPECT_EQ(c->snd_wnd, 30000u << c->snd_wscale);
  EXPECT_EQ(c->snd_wl2, S(2));
  EXPECT_EQ(c->sndq.bytes(), 2 * mss_);
  EXPECT_EQ(c->rtx_kind, Tcb::RtxKind::kRetransmit);
}

// RFC 7323 §5: a timestamp older than TS.Recent fails PAWS. Header
// prediction refuses it and the full path drops it with an ACK, whatever
// it acknowledges.
TEST_F(FastAck, AnAckThatFailsPawsIsDroppedByTheFullPath) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 2, at_ms(10));
  take_all_sent();
  recv(ack_of(*c, S(2)), at_ms(11));
  const std::uint64_t fast = count(Counter::kTCPFastAcks);
  const std::uint64_t paws = drops(Drop::kTcpPawsRejected);
  recv(seg().seq(irs() + 1).ack(S(3)).ts(peer_ts_ - 10, our_tsval(*c)), at_ms(12));
  EXPECT_EQ(count(Counter::kTCPFastAcks), fast);
  EXPECT_EQ(drops(Drop::kTcpPawsRejected), paws + 1);
  EXPECT_EQ(c->snd_una, S(2));
  expect_sent(seg().flags(kTcpAck).seq(S(3)).ack(irs() + 1));
}

// In SACK recovery (RFC 6675) a cumulative ACK without blocks passes header
// prediction but not the plain state: the full path runs PRR (RFC 6937).
TEST_F(FastAck, InSackRecoveryTheFullPathRuns) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 8, at_ms(10));
  take_all_sent();
  recv(ack_with(S(1), {{S(2), S(5)}}, our_tsval(*c)), at_ms(11));
  expect_segment(1);  // three segments SACKed above S1: lost at once
  ASSERT_TRUE(c->sack_recovery);
  take_all_sent();
  const std::uint64_t fast = count(Counter::kTCPFastAcks);
  const std::uint64_t hp = count(Counter::kTCPHPAcks);
  const std::uint32_t delivered = c->prr_delivered;
  recv(ack_of(*c, S(5)), at_ms(12));  // the retransmission arrived
  EXPECT_EQ(count(Counter::kTCPHPAcks), hp + 1);
  EXPECT_EQ(count(Counter::kTCPFastAcks), fast);
  EXPECT_TRUE(c->sack_recovery);  // RecoveryPoint is S(9)
  EXPECT_GT(c->prr_delivered, delivered);
  EXPECT_EQ(c->snd_una, S(5));
}

// After a timeout the log holds a retransmission: ACKs take the full path,
// which finds the timeout spurious (RFC 3522 Eifel: the ACK echoes the
// original's TSval) and undoes it, until the flight drains.
TEST_F(FastAck, AfterARetransmissionTheFullPathUndoesASpuriousTimeout) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  recv(ack_of(*c, S(1)), at_ms(5));
  send(*c, 4, at_ms(10));
  take_all_sent();
  const std::uint32_t original_tsval = our_tsval(*c);
  ASSERT_TRUE(run_until_sent(at_ms(2000)));
  expect_segment(4);  // the loss probe (RFC 8985 §7.3): the last segment again
  ASSERT_TRUE(run_until_sent(at_ms(3000)));
  expect_segment(1);  // the timeout
  take_all_sent();
  const std::uint64_t fast = count(Counter::kTCPFastAcks);
  const std::uint64_t undone = count(Counter::kTCPLossUndo);
  recv(ack_with(S(5), {}, original_tsval), now() + Duration::ms(1));
  EXPECT_EQ(count(Counter::kTCPFastAcks), fast);
  EXPECT_EQ(count(Counter::kTCPLossUndo), undone + 1);
  EXPECT_EQ(c->snd_una, S(5));
}

// Without SACK the controller runs NewReno's own recovery (RFC 6582) on
// every ACK: the full path.
TEST_F(FastAck, WithoutSackTheFullPathRuns) {
  Tcb* c = open(false);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->full_ack_path);  // apply_syn_options without SACK
  expect_full_path(*c);
}

// BBR samples the delivery rate on every ACK (rate_on_ack): the full path.
TEST_F(FastAck, BbrTakesTheFullPath) {
  cfg().congestion = CongestionAlgorithm::kBbr;
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  expect_full_path(*c);
}

// fast_ack tests TcbAckGate's flags (tcb.h) as one word, and keeps
// full_ack_path beside what it stands for: one connection per case, in the
// plain state after a first ACK, then `set` and the ACK of the next
// segment. Whether the short path took it; `predicted`: whether header
// prediction took the ACK first (a case it refuses never reaches the
// gate, so it must say so).
class GateCase final : public FastAckScript {
 public:
  void TestBody() override {}
  bool short_path_after(const std::function<void(TcpStack&, Tcb&)>& set, bool predicted = true) {
    SetUp();
    bool fast = false;
    if (Tcb* c = open(); c != nullptr) {
      send(*c, 3, at_ms(10));
      take_all_sent();
      recv(ack_of(*c, S(2)), at_ms(11));
      set(stack(), *c);
      const std::uint64_t before = count(Counter::kTCPFastAcks);
      const std::uint64_t hp_before = count(Counter::kTCPHPAcks);
      recv(ack_of(*c, S(3)), at_ms(12));
      EXPECT_EQ(c->snd_una, S(3));
      EXPECT_EQ(count(Counter::kTCPHPAcks) == hp_before + 1, predicted);
      fast = count(Counter::kTCPFastAcks) == before + 1;
    }
    TearDown();
    return fast;
  }
  // The same for the ACK of a bare FIN, which process_ack hands to the
  // gate's other body (kEnds): three segments sent and acknowledged,
  // close() sends the FIN, then `set` and the FIN's ACK.
  bool fin_short_path_after(const std::function<void(TcpStack&, Tcb&)>& set) {
    SetUp();
    bool fast = false;
    if (Tcb* c = open(); c != nullptr) {
      send(*c, 3, at_ms(10));
      recv(ack_of(*c, S(4)), at_ms(11));
      stack().close(*c, at_ms(12));
      take_all_sent();
      EXPECT_TRUE(c->fin_sent);
      set(stack(), *c);
      const std::uint64_t before = count(Counter::kTCPFastAcks);
      recv(ack_of(*c, S(4) + 1), at_ms(13));
      fast = count(Counter::kTCPFastAcks) == before + 1;
    }
    TearDown();
    return fast;
  }
};

// The gate's flags other than fin_sent (which chooses its body) and
// full_ack_path (FullAckPathFollowsTheController below), by name.
constexpr std::pair<const char*, bool TcbAckGate::*> kGateFlags[] = {
    {"sack_recovery", &TcbAckGate::sack_recovery},
    {"recovery_hold", &TcbAckGate::recovery_hold},
    {"head_rxt_valid", &TcbAckGate::head_rxt_valid},
    {"rack_dsack_round_set", &TcbAckGate::rack_dsack_round_set},
    {"undo_valid", &TcbAckGate::undo_valid},
    {"tlp_rxt_out", &TcbAckGate::tlp_rxt_out},
};

// Each gate flag set alone sends header prediction's ACK to the full path
// (fails if one is left out of the word, or the word's test is dropped;
// the short path's own flags, the log's and the scoreboard's, beside
// them); none set, the short path takes it.
TEST(FastAckGate, EachFlagAloneSendsTheAckToTheFullPath) {
  EXPECT_TRUE(GateCase{}.short_path_after([](TcpStack&, Tcb&) {}));
  for (const auto& [name, flag] : kGateFlags) {
    // tlp_rxt_out: header prediction itself sends such an ACK to the full
    // path (predicted_segment); only the FIN's ACK below reaches the gate.
    const bool predicted = flag != &TcbAckGate::tlp_rxt_out;
    EXPECT_FALSE(GateCase{}.short_path_after([flag = flag](TcpStack&, Tcb& c) { c.*flag = true; }, predicted))
        << name;
  }
  EXPECT_FALSE(GateCase{}.short_path_after([](TcpStack&, Tcb& c) { c.txlog->note_lost(); }));
  EXPECT_FALSE(GateCase{}.short_path_after([](TcpStack&, Tcb& c) { c.sb.set_high_rxt(c.snd_una); }));
}

// The same flags on the ACK of a bare FIN (process_ack's call of the
// short path): each alone sends it to the full path (a TLP that resent the
// FIN must have its ACK answered by RFC 8985 §7.4's accounting in
// undo_tlp_ack); none set, the short path takes it.
TEST(FastAckGate, EachFlagAloneSendsTheFinsAckToTheFullPath) {
  EXPECT_TRUE(GateCase{}.fin_short_path_after([](TcpStack&, Tcb&) {}));
  for (const auto& [name, flag] : kGateFlags) {
    EXPECT_FALSE(GateCase{}.fin_short_path_after([flag = flag](TcpStack&, Tcb& c) { c.*flag = true; }))
        << name;
  }
}

// full_ack_path follows the controller (set_congestion): BBR's ACKs take
// the full path, and CUBIC's again the short one once switched back. In a
// build with assertions plain_ack_state also checks the flag against
// sack_ok and the controller on every ACK it sees.
TEST(FastAckGate, FullAckPathFollowsTheController) {
  EXPECT_FALSE(GateCase{}.short_path_after([](TcpStack& st, Tcb& c) {
    EXPECT_FALSE(c.full_ack_path);  // apply_syn_options: SACK on, CUBIC
    st.set_congestion(c, CongestionAlgorithm::kBbr);
    EXPECT_TRUE(c.full_ack_path);
  }));
  EXPECT_TRUE(GateCase{}.short_path_after([](TcpStack& st, Tcb& c) {
    st.set_congestion(c, CongestionAlgorithm::kBbr);
    st.set_congestion(c, CongestionAlgorithm::kCubic);
    EXPECT_FALSE(c.full_ack_path);
  }));
}

// ---- the ACK of our SYN or FIN (process_ack's short path) ----------------------

// A connection's set-up and teardown, scripted, with the short path allowed
// or not; what it records after every step: the connection's fingerprint
// and state while it lives (its state alone once gone), what was sent, the
// events posted. The ACK of the server's SYN-ACK, of either side's FIN
// (FIN-WAIT-1, CLOSING, LAST-ACK), a FIN acknowledged together with data,
// and an ACK below a FIN still in flight (always the full path).
class Lifecycle final : public FastAckScript {
 public:
  enum class Script { kPassive, kActiveWithData, kSimultaneousClose };
  Lifecycle(bool fast, Script script, bool sack) : script_(script), sack_(sack) { options_.fast_ack = fast; }
  void TestBody() override {}

  std::vector<std::string> run() {
    SetUp();
    switch (script_) {
      case Script::kPassive:
        passive();
        break;
      case Script::kActiveWithData:
        active_with_data();
        break;
      case Script::kSimultaneousClose:
        simultaneous_close();
        break;
    }
    fast_acks = count(Counter::kTCPFastAcks);
    TearDown();
    return trace;
  }
  std::uint64_t fast_acks = 0;

 private:
  void note(const Tcb* c, const char* step) {
    std::string s = step;
    const std::optional<TcpState> st = state();
    s += " state=" + std::string(st ? to_string(*st) : "gone");
    if (c != nullptr) s += " " + fingerprint(*c) + " events " + events_str(handler_.of(c));
    for (const Sent& x : take_all_sent()) {
      s += " | sent " + std::to_string(x.seq.value()) + "+" + std::to_string(x.len()) + " ack " +
           std::to_string(x.ack.value()) + " " + flags_str(x.flags);
    }
    handler_.clear();
    trace.push_back(std::move(s));
  }
  Seg peer(std::uint8_t flags, Seq32 seq, Seq32 ack, const Tcb& c) {
    Seg s = seg().flags(flags).seq(seq).ack(ack);
    if (c.ts_ok) s.ts(++peer_ts_, our_tsval(c));
    return s;
  }
  // SYN from the peer, our SYN-ACK, the peer's ACK of it (the short path's
  // first case), then the peer closes first: our ACK of its FIN, our FIN
  // from CLOSE-WAIT, the peer's ACK of it in LAST-ACK.
  void passive() {
    Seg syn = seg().mss(1460).ts(peer_ts_, 0);
    if (sack_) syn.sack_perm();
    Tcb* c = establish_passive(syn);
    if (c == nullptr) return;
    note(c, "established");
    recv(peer(kTcpFin | kTcpAck, irs() + 1, iss() + 1, *c), at_ms(10));
    note(c, "peer fin");
    stack().close(*c, at_ms(11));
    note(c, "close");
    recv(peer(kTcpAck, irs() + 2, iss() + 2, *c), at_ms(12));
    note(nullptr, "fin acked");
  }
  // Data in flight when the application closes: the FIN follows it. The
  // peer ACKs part of the data (below the FIN: the full path), then the
  // rest with the FIN (FIN-WAIT-1 -> FIN-WAIT-2), then sends its own FIN.
  void active_with_data() {
    Tcb* c = open(sack_);
    if (c == nullptr) return;
    note(c, "established");
    send(*c, 3, at_ms(10));
    note(c, "sent");
    stack().close(*c, at_ms(10));
    note(c, "close");
    recv(peer(kTcpAck, irs() + 1, S(2), *c), at_ms(11));
    note(c, "data acked");
    recv(peer(kTcpAck, irs() + 1, S(4) + 1, *c), at_ms(12));
    note(c, "fin acked");
    recv(peer(kTcpFin | kTcpAck, irs() + 1, S(4) + 1, *c), at_ms(13));
    note(nullptr, "peer fin");
  }
  // Both FINs cross (RFC 9293 §3.6 figure 13): CLOSING, then the ACK of our
  // FIN takes the connection to TIME-WAIT.
  void simultaneous_close() {
    Tcb* c = open(sack_);
    if (c == nullptr) return;
    stack().close(*c, at_ms(10));
    note(c, "close");
    recv(peer(kTcpFin | kTcpAck, irs() + 1, iss() + 1, *c), at_ms(11));
    note(c, "peer fin");
    recv(peer(kTcpAck, irs() + 2, iss() + 2, *c), at_ms(12));
    note(nullptr, "fin acked");
  }

  Script script_;
  bool sack_;
  std::vector<std::string> trace;
};

void expect_same_lifecycle(Lifecycle::Script script, bool sack, std::uint64_t fast_expected) {
  Lifecycle full(false, script, sack), fast(true, script, sack);
  const std::vector<std::string> a = full.run();
  const std::vector<std::string> b = fast.run();
  EXPECT_EQ(full.fast_acks, 0u);
  EXPECT_EQ(fast.fast_acks, fast_expected) << "the short path was not taken where expected";
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "after step " << i;
}

// The SYN's ACK (no transmit log: the handshake timed the SYN-ACK) and the
// FIN's ACK in LAST-ACK.
TEST(FastAckLifecycle, PassiveOpenAndCloseLeaveWhatTheFullPathLeaves) {
  expect_same_lifecycle(Lifecycle::Script::kPassive, true, 2);
}

// The ACK of data below the FIN takes the full path; the one that covers
// the rest and the FIN the short one.
TEST(FastAckLifecycle, ActiveCloseWithDataLeavesWhatTheFullPathLeaves) {
  expect_same_lifecycle(Lifecycle::Script::kActiveWithData, true, 1);
}

TEST(FastAckLifecycle, SimultaneousCloseLeavesWhatTheFullPathLeaves) {
  expect_same_lifecycle(Lifecycle::Script::kSimultaneousClose, true, 1);
}

// Without SACK nothing takes the short path (NewReno's own recovery runs
// on every ACK).
TEST(FastAckLifecycle, WithoutSackEveryAckTakesTheFullPath) {
  expect_same_lifecycle(Lifecycle::Script::kPassive, false, 0);
  expect_same_lifecycle(Lifecycle::Script::kActiveWithData, false, 0);
}

}  // namespace
}  // namespace tern::tcptest
