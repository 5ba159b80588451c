#pragma once
// Scripted-segment tests of the TCP engine on virtual time: a fixture that
// owns one TcpStack (us: 10.0.0.1), injects segments "from the peer"
// (10.0.0.2) as IPv4 would deliver them, captures and parses every segment the
// stack sends, records the events it posts, drives its timers tick by tick,
// and checks at the end that every mbuf came back to the pools.
//
//   auto* c = establish_active();
//   stack().send_copy(*c, pattern(100), now());
//   expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(100));
//   recv(seg().seq(irs() + 1).ack(iss() + 101), at_ms(10));
//
// Segment specs (seg()) serve both ways: injected, unset fields take the
// defaults of the connection under test (ports, flags ACK, window 65535);
// expected, only the fields set are compared.
#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <source_location>
#include <string>
#include <vector>

#include "../ip/test_frames.h"
#include "base/counters.h"
#include "base/instant.h"
#include "ip/pmtu_cache.h"
#include "tcp/tcp_stack.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern::tcptest {

using testkit::Bytes;
using testkit::pattern;

inline constexpr std::uint32_t kLocalIp = testkit::kOurIp;  // 10.0.0.1
inline constexpr std::uint32_t kPeerIp = testkit::kPeerIp;  // 10.0.0.2
inline constexpr std::uint16_t kServerPort = 80;            // our listener in passive opens
inline constexpr std::uint16_t kPeerPort = 40000;           // the peer's port in passive opens
inline constexpr Seq32 kPeerIss{1'000'000};                 // the peer's ISS unless a test says otherwise
// The addresses after use_ipv6() (RFC 3849 documentation prefix).
inline constexpr IpAddr kLocalIp6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
inline constexpr IpAddr kPeerIp6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});

// The first 20 bytes of one of our TCP headers as an ICMP or ICMPv6 error
// quotes it (ports and sequence number; the rest zero).
inline Bytes icmp_quote(std::uint16_t sport, std::uint16_t dport, Seq32 seq) {
  Bytes q(20);
  testkit::put16(q, 0, sport);
  testkit::put16(q, 2, dport);
  testkit::put32(q, 4, seq.value());
  return q;
}

// ---- segment specs -----------------------------------------------------------

struct Seg {
  std::optional<std::uint8_t> flags_;
  std::optional<Seq32> seq_;
  std::optional<Seq32> ack_;
  std::optional<std::uint16_t> win_;
  std::optional<std::uint16_t> sport_, dport_;
  TcpOptions opts_;
  Bytes raw_options_;  // written before opts_ (e.g. an unknown kind)
  std::optional<std::size_t> len_;
  std::optional<Bytes> bytes_;
  std::uint64_t data_seed_ = 1;

  Seg& flags(std::uint8_t f) { return flags_ = f, *this; }
  Seg& seq(Seq32 s) { return seq_ = s, *this; }
  Seg& seq(std::uint32_t s) { return seq_ = Seq32{s}, *this; }
  Seg& ack(Seq32 a) { return ack_ = a, *this; }
  Seg& ack(std::uint32_t a) { return ack_ = Seq32{a}, *this; }
  Seg& win(std::uint16_t w) { return win_ = w, *this; }
  Seg& sport(std::uint16_t p) { return sport_ = p, *this; }
  Seg& dport(std::uint16_t p) { return dport_ = p, *this; }
  Seg& mss(std::uint16_t m) { return opts_.mss = m, *this; }
  Seg& wscale(std::uint8_t s) { return opts_.window_scale = s, *this; }
  Seg& sack_perm() { return opts_.sack_permitted = true, *this; }
  Seg& ts(std::uint32_t val, std::uint32_t ecr) { return opts_.timestamps = {val, ecr}, *this; }
  Seg& raw_option(Bytes b) { return raw_options_ = std::move(b), *this; }
  // `n` payload bytes; injected ones are pattern(n, seed).
  Seg& data(std::size_t n, std::uint64_t seed = 1) { return len_ = n, data_seed_ = seed, *this; }
  Seg& payload(Bytes b) { return len_ = b.size(), bytes_ = std::move(b), *this; }

  Bytes payload_bytes() const { return bytes_ ? *bytes_ : pattern(len_.value_or(0), data_seed_); }
};
inline Seg seg() { return {}; }

// A segment the stack sent, parsed.
struct Sent {
  IpAddr src, dst;
  bool v6 = false;  // handed to send_segment6
  std::uint16_t sport = 0, dport = 0;
  std::uint8_t flags = 0;
  Seq32 seq, ack;
  std::uint16_t win = 0;
  TcpOptions opts;
  Bytes payload;
  bool parsed = false;
  bool checksum_ok = false;
  // Left to the NIC (RTE_MBUF_F_TX_TCP_CKSUM): checksum_ok then says whether
  // the folded pseudo-header sum and l4_len were as DPDK wants them, and the
  // sum is completed as a NIC would before anything else reads it.
  bool offloaded = false;
  std::uint16_t mbufs = 0;  // segments in the chain handed to IP (1: payload copied into the header mbuf)
  // A TSO super-segment (RTE_MBUF_F_TX_TCP_SEG): the wire segments' payload
  // size, and each mbuf's data_len; 0 and empty otherwise.
  std::uint16_t tso_segsz = 0;
  std::vector<std::uint16_t> chain_parts;
  // Sent with a frame prefix (SegmentSink::send_prefixed): the destination
  // MAC its Ethernet header carried.
  bool prefixed = false;
  MacAddr eth_dst{};
  Instant at;

  TcpFlags f() const { return TcpFlags{flags}; }
  std::size_t len() const { return payload.size(); }
  // Sequence space used: payload plus SYN and FIN.
  std::uint32_t seg_len() const {
    return static_cast<std::uint32_t>(payload.size()) + (f().syn() ? 1 : 0) + (f().fin() ? 1 : 0);
  }
};

std::string flags_str(std::uint8_t f);
std::ostream& operator<<(std::ostream& os, const Sent& s);  // tcpdump style
std::ostream& operator<<(std::ostream& os, const Seg& s);

// ---- events ------------------------------------------------------------------

std::string events_str(std::uint8_t ev);

class RecordingHandler final : public TcpHandler {
 public:
  struct Event {
    Tcb* tcb;
    std::uint8_t events;
    TcpError error;  // c.error when posted
    TcpState state;
  };
  void on_event(Tcb& c, std::uint8_t events) override { log.push_back({&c, events, c.error, c.state}); }
  void on_acceptable(Listener& l) override { acceptable.push_back(&l); }

  // All events posted to `c` so far, OR'd.
  std::uint8_t of(const Tcb* c) const {
    std::uint8_t ev = 0;
    for (const auto& e : log)
      if (e.tcb == c) ev |= e.events;
    return ev;
  }
  // The error recorded with the kTcpEvClosed event of `c`, if there was one.
  std::optional<TcpError> closed_with(const Tcb* c) const {
    for (const auto& e : log)
      if (e.tcb == c && (e.events & kTcpEvClosed) != 0) return e.error;
    return std::nullopt;
  }
  void clear() {
    log.clear();
    acceptable.clear();
  }

  std::vector<Event> log;
  std::vector<Listener*> acceptable;
};

// ---- the fixture -------------------------------------------------------------

class TcpHarness : public ::testing::Test, public SegmentSink {
 protected:
  TcpHarness();
  void SetUp() override;
  void TearDown() override;

  // Tests adjust cfg() / options_ before the first use of stack().
  TcpConfig& cfg() { return options_.cfg; }
  // The connection under test runs over IPv6 (kLocalIp6, kPeerIp6): frames
  // arrive through on_segment6 with an IPv6 header, and segments must leave
  // through send_segment6 with the IPv6 pseudo-header checksum. Call before
  // the first use of stack().
  void use_ipv6() {
    local_ip_ = kLocalIp6;
    peer_ip_ = kPeerIp6;
    options_.local_addr6 = kLocalIp6;
  }
  bool v6() const { return !local_ip_.is_v4(); }
  const IpAddr& local_ip() const { return local_ip_; }
  const IpAddr& peer_ip() const { return peer_ip_; }
  TcpStack& stack();

  // ---- time ----
  Instant now() const { return now_; }
  // Calls on_timer at every 1 ms tick after the last one, up to `t`, and
  // on_pacing at each pacing deadline in between (paced connections).
  void advance_to(Instant t);
  void advance_by(Duration d) { advance_to(now_ + d); }

  // ---- the wire ----
  // Injects `s` from the peer at `at` (timers run up to `at` first).
  void recv(const Seg& s, Instant at);
  void recv(const Seg& s) { recv(s, now_); }
  // The oldest segment not yet checked; compares the fields `want` sets.
  Sent expect_sent(const Seg& want = {}, std::source_location loc = std::source_location::current());
  void expect_nothing_sent(std::source_location loc = std::source_location::current());
  std::size_t sent_count() const { return sent_.size(); }
  std::vector<Sent> take_all_sent();
  // Every segment sent so far, as a trace.
  std::string pending_trace() const;

  // ---- connections (the "connection under test": ports, ISS, IRS) ----
  // connect() to the peer's port 80 and check the SYN it sends.
  Tcb* active_syn(Instant at);
  // Active open completed by a SYN-ACK carrying `peer` options (MSS 1460 by default).
  Tcb* establish_active(Seg peer_synack_options = seg().mss(1460));
  // listen(kServerPort), a SYN from `peer_port` with `peer` options, our SYN-ACK,
  // the peer's ACK, accept().
  Tcb* establish_passive(Seg peer_syn_options = seg().mss(1460), std::uint32_t backlog = 16,
                         std::uint16_t peer_port = kPeerPort);
  Listener* listener() const { return listener_; }
  // The TSval the stack puts in segments it sends now (RFC 7323 §5.4 clock + offset).
  std::uint32_t our_tsval(const Tcb& c) const;
  Seq32 iss() const { return iss_; }  // ours
  Seq32 irs() const { return irs_; }  // the peer's
  std::uint16_t local_port() const { return lport_; }
  std::uint16_t peer_port() const { return rport_; }
  void set_ports(std::uint16_t local, std::uint16_t peer) { lport_ = local, rport_ = peer; }
  void set_iss(Seq32 s) { iss_ = s; }
  void set_irs(Seq32 s) { irs_ = s; }

  // The state of the connection under test: from the connection table, or
  // kTimeWait when only a TIME_WAIT record is left; nullopt when gone.
  std::optional<TcpState> state();
  FourTuple tuple() const { return FourTuple{local_ip_, peer_ip_, lport_, rport_}; }
  // Runs the timers tick by tick until the stack sends something or `limit`
  // passes; the instant it sent, or nullopt.
  std::optional<Instant> run_until_sent(Instant limit);

  // Quick-ACK mode answers the first data segments of a connection at once;
  // feeds 10-byte segments from `seq` until one is held back. Returns the
  // peer's next sequence number.
  Seq32 leave_quickack_mode(Seq32 seq, Seq32 ack);

  // A window-limited peer's round: full segments from `peer_seq` up to the
  // right edge our ACKs had opened (RCV.ADV now), all arriving at `at`; the
  // application reads everything after each segment when `read`.
  void fill_window(Tcb& c, Seq32& peer_seq, Instant at, bool read);

  // ---- application side ----
  std::uint8_t events(const Tcb* c) const { return handler_.of(c); }
  Bytes read_all(Tcb& c);

  // ---- observation ----
  std::uint64_t count(Counter c) { return stack().counters().get(c); }
  std::uint64_t drops(Drop d) { return stack().counters().get(d); }
  std::uint32_t tcbs_in_use() { return stack().tcbs_in_use(); }
  // Nothing sent is pending and no mbuf is out of the pools beyond `held`.
  void expect_pool_in_use(unsigned held) const;

  // SegmentSink
  void send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant now) override;
  void send_segment6(Mbuf segment, const IpAddr& src, const IpAddr& dst, Instant now) override;
  void record_sent(Mbuf segment, const IpAddr& src, const IpAddr& dst, bool v6, Instant now);
  void confirm_reachable6(const IpAddr& dst, Instant /*now*/) override { confirmed_.push_back(dst); }
  // Path MTUs per destination in a PathMtuCache, as IpLayer keeps them for
  // TcpIpGlue: what path_mtu_lowered reported, what path_mtu answers, the
  // generation open connections follow.
  PathMtu path_mtu(const IpAddr& dst, Instant now) override { return pmtus_.lookup(dst, options_.mtu, now); }
  void path_mtu_lowered(const IpAddr& dst, std::uint16_t mtu, Instant now) override {
    pmtus_.lower(dst, mtu, options_.mtu, now);
  }
  const std::uint32_t* path_mtu_generation() const override { return &pmtus_.generation(); }
  // What the cache holds for `dst` now (0: nothing learned), and a test's
  // own lesson for it.
  std::uint16_t learned_pmtu(const IpAddr& dst) {
    const std::uint16_t mtu = pmtus_.get(dst, options_.mtu, now_);
    return mtu < options_.mtu ? mtu : 0;
  }
  void learn_pmtu(const IpAddr& dst, std::uint16_t mtu) { pmtus_.lower(dst, mtu, options_.mtu, now_); }
  std::vector<IpAddr> confirmed_;  // confirm_reachable6 calls, in order
  // Frame prefixes (lib/ip/frame_prefix.h), as TcpIpGlue builds them, when
  // a test calls use_prefixes() before the first use of stack(): IPv4
  // headers and an Ethernet header to prefix_mac_, valid while
  // prefix_generation_ stays and until prefix_valid_until_.
  void use_prefixes() { prefixes_ = true; }
  const std::uint32_t* prefix_generation() const override {
    return prefixes_ ? &prefix_generation_ : nullptr;
  }
  bool frame_prefix(const FourTuple& t, FramePrefix& p, Instant now) override;
  void send_prefixed(Mbuf frame, const FramePrefix& p, Instant now) override;
  bool prefixes_ = false;
  std::uint32_t prefix_generation_ = 1;
  MacAddr prefix_mac_{{0x02, 0, 0, 0, 0, 0x0B}};
  Instant prefix_valid_until_ = Instant::max();
  unsigned prefixes_built_ = 0;

  TcpStackOptions options_;
  Counters counters_;
  // Learned estimates expire after kPmtuExpires, [ip] pmtu_expires_s's default.
  static constexpr Duration kPmtuExpires = Duration::s(600);
  PathMtuCache pmtus_{16, kPmtuExpires, counters_};
  RecordingHandler handler_;
  rte_mempool* pool_ = nullptr;
  rte_mempool* clone_pool_ = nullptr;
  rte_mempool* rx_pool_ = nullptr;  // where recv() builds frames; pool_ when null
  unsigned baseline_ = 0;
  std::uint64_t violations_ = 0;
  std::unique_ptr<TcpStack> stack_;
  std::deque<Sent> sent_;
  Instant now_ = at_ms(0);
  Instant last_tick_ = at_ms(0);
  Listener* listener_ = nullptr;
  Seq32 iss_;
  Seq32 irs_ = kPeerIss;
  std::uint16_t lport_ = kServerPort;
  std::uint16_t rport_ = kPeerPort;
  IpAddr local_ip_ = IpAddr::v4(kLocalIp);
  IpAddr peer_ip_ = IpAddr::v4(kPeerIp);
};

}  // namespace tern::tcptest

namespace tern {
// gtest prints these in failure messages through ADL.
inline void PrintTo(const Seq32& s, std::ostream* os) { *os << s.value(); }
inline void PrintTo(TcpState s, std::ostream* os) { *os << to_string(s); }
inline void PrintTo(TcpError e, std::ostream* os) { *os << to_string(e); }
}  // namespace tern
