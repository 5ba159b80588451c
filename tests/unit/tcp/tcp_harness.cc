#include "tcp_harness.h"

#include <sstream>

#include "base/check.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

namespace tern::tcptest {

namespace {

void print_options(std::ostream& os, const TcpOptions& o, const Bytes& raw = {}) {
  std::vector<std::string> parts;
  if (!raw.empty()) parts.push_back("raw " + std::to_string(raw.size()) + "B");
  if (o.mss) parts.push_back("mss " + std::to_string(*o.mss));
  if (o.sack_permitted) parts.push_back("sackOK");
  if (o.timestamps)
    parts.push_back("TS val " + std::to_string(o.timestamps->first) + " ecr " +
                    std::to_string(o.timestamps->second));
  if (o.window_scale) parts.push_back("wscale " + std::to_string(*o.window_scale));
  for (const auto& b : o.sack_blocks())
    parts.push_back("sack " + std::to_string(b.left) + ":" + std::to_string(b.right));
  if (parts.empty()) return;
  os << ", options [";
  for (std::size_t i = 0; i < parts.size(); ++i) os << (i ? "," : "") << parts[i];
  os << "]";
}

// RFC 9293 §3.1 checksum over the pseudo header and the segment (its field
// included as it stands), computed by the naive reference loop of
// test_frames.h, independent of lib/wire: 0 when the field is right.
// Over IPv6 the pseudo-header is RFC 8200 §8.1's: source, destination,
// 32-bit upper-layer length, three zero bytes, next header 6.
std::uint16_t tcp_checksum_of(std::span<const std::byte> segment, const IpAddr& src, const IpAddr& dst) {
  Bytes b;
  if (src.is_v4()) {
    b.resize(12);
    testkit::put32(b, 0, src.v4_host());
    testkit::put32(b, 4, dst.v4_host());
    b[9] = std::byte{6};
    testkit::put16(b, 10, static_cast<std::uint16_t>(segment.size()));
  } else {
    b.resize(40);
    for (std::size_t i = 0; i < 16; ++i) {
      b[i] = std::byte{src.bytes()[i]};
      b[16 + i] = std::byte{dst.bytes()[i]};
    }
    testkit::put32(b, 32, static_cast<std::uint32_t>(segment.size()));
    b[39] = std::byte{6};
  }
  testkit::append(b, segment);
  return testkit::ref_checksum(b);
}

bool tcp_checksum_ok(std::span<const std::byte> segment, const IpAddr& src, const IpAddr& dst) {
  return tcp_checksum_of(segment, src, dst) == 0;
}

// The folded pseudo-header sum alone, as RTE_MBUF_F_TX_TCP_CKSUM wants it
// in the field: the complement of the checksum of an empty segment.
std::uint16_t pseudo_sum_of(std::size_t len, const IpAddr& src, const IpAddr& dst) {
  Bytes zeros(len);  // a segment of `len` zero bytes sums like the pseudo-header alone
  return static_cast<std::uint16_t>(~tcp_checksum_of(zeros, src, dst));
}

}  // namespace

std::string flags_str(std::uint8_t f) { return TcpFlags{f}.to_string(); }

std::string events_str(std::uint8_t ev) {
  static constexpr std::pair<std::uint8_t, const char*> kNames[] = {{kTcpEvConnected, "Connected"},
                                                                    {kTcpEvReadable, "Readable"},
                                                                    {kTcpEvWritable, "Writable"},
                                                                    {kTcpEvPeerFin, "PeerFin"},
                                                                    {kTcpEvClosed, "Closed"}};
  std::string s;
  // Appended piece by piece: `const char* + std::string` makes GCC 12 at -O3
  // (bench/build_release.sh) warn falsely inside libstdc++ (-Wstringop-overflow).
  for (auto [bit, name] : kNames) {
    if ((ev & bit) == 0) continue;
    if (!s.empty()) s += '|';
    s += name;
  }
  return s.empty() ? "none" : s;
}

std::ostream& operator<<(std::ostream& os, const Sent& s) {
  os << "t=" << s.at.ns_since_epoch() / 1'000'000 << "ms " << s.src.to_string() << "." << s.sport << " > "
     << s.dst.to_string() << "." << s.dport << ": Flags [" << flags_str(s.flags) << "], seq "
     << s.seq.value();
  if (!s.payload.empty()) os << ":" << (s.seq + static_cast<std::uint32_t>(s.payload.size())).value();
  if (s.f().ack()) os << ", ack " << s.ack.value();
  os << ", win " << s.win;
  print_options(os, s.opts);
  os << ", length " << s.payload.size();
  if (!s.parsed) os << " (UNPARSEABLE)";
  if (!s.checksum_ok) os << " (BAD CHECKSUM)";
  return os;
}

std::ostream& operator<<(std::ostream& os, const Seg& s) {
  os << "Flags [" << (s.flags_ ? flags_str(*s.flags_) : "?") << "]";
  if (s.seq_) os << ", seq " << s.seq_->value();
  if (s.ack_) os << ", ack " << s.ack_->value();
  if (s.win_) os << ", win " << *s.win_;
  print_options(os, s.opts_, s.raw_options_);
  if (s.len_) os << ", length " << *s.len_;
  return os;
}

TcpHarness::TcpHarness() {
  options_.local_addr = kLocalIp;
  options_.mtu = 1500;
  // Small tables: every fixture builds its own stack.
  options_.cfg.max_connections = 64;
  options_.cfg.max_time_wait = 256;
  // The scripted tests state NewReno's arithmetic (ssthresh = FlightSize /
  // 2); a test of another controller sets cfg().congestion itself.
  options_.cfg.congestion = CongestionAlgorithm::kNewReno;
  for (std::size_t i = 0; i < 16; ++i) {
    options_.isn_key[i] = static_cast<std::uint8_t>(i + 1);
    options_.cookie_key[i] = static_cast<std::uint8_t>(0xA0 + i);
  }
  options_.hash_seed = 7;
  options_.port_seed = 11;
}

void TcpHarness::SetUp() {
  pool_ = testkit::make_pool("tcpt", 2047);
  ASSERT_NE(pool_, nullptr) << "rte_pktmbuf_pool_create: " << rte_errno;
  clone_pool_ = testkit::make_pool("tcpc", 2047, 0);
  ASSERT_NE(clone_pool_, nullptr) << "rte_pktmbuf_pool_create: " << rte_errno;
  baseline_ = rte_mempool_in_use_count(pool_) + rte_mempool_in_use_count(clone_pool_);
  violations_ = invariant_violations();
}

void TcpHarness::TearDown() {
  // Destroying the stack frees every TCB and what its queues hold; after
  // that every mbuf must be back.
  stack_.reset();
  sent_.clear();
  if (pool_ != nullptr && clone_pool_ != nullptr) {
    EXPECT_EQ(rte_mempool_in_use_count(pool_) + rte_mempool_in_use_count(clone_pool_), baseline_)
        << "leaked mbufs";
  }
  // Release builds count TERN_CHECK failures instead of aborting.
  EXPECT_EQ(invariant_violations(), violations_) << "TERN_CHECK failed";
  if (clone_pool_ != nullptr) rte_mempool_free(clone_pool_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

TcpStack& TcpHarness::stack() {
  if (!stack_) {
    stack_ = std::make_unique<TcpStack>(options_, counters_, *this, pool_, clone_pool_, now_);
    stack_->set_handler(&handler_);
  }
  return *stack_;
}

void TcpHarness::advance_to(Instant t) {
  if (t < now_) {
    ADD_FAILURE() << "advance_to goes back in time: " << t.ns_since_epoch() << " < " << now_.ns_since_epoch();
    return;
  }
  TcpStack& s = stack();
  for (;;) {
    // Between ticks, paced connections send at their next-send time, as a
    // worker polling in a loop lets them (TcpStack::on_pacing).
    const Instant tick = last_tick_ + Duration::ms(1);
    const Instant pace = std::max(s.pacing_deadline(), now_);
    if (pace < tick && pace <= t) {
      now_ = pace;
      s.on_pacing(pace);
      continue;
    }
    if (tick > t) break;
    last_tick_ = tick;
    now_ = tick;
    s.on_timer(tick);
  }
  now_ = t;
}

void TcpHarness::recv(const Seg& s, Instant at) {
  advance_to(at);
  // Options: the raw bytes first, then the standard ones in Linux's layout,
  // padded with NOPs to a multiple of 4.
  Bytes opts = s.raw_options_;
  std::array<std::byte, kTcpMaxOptionsLen> buf{};
  const std::size_t n = write_tcp_options(buf, s.opts_);
  opts.insert(opts.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  while (opts.size() % 4 != 0) opts.push_back(std::byte{kTcpOptNop});
  ASSERT_LE(opts.size(), kTcpMaxOptionsLen) << "options too long: " << s;

  const Bytes payload = s.payload_bytes();
  Bytes tcp(20 + opts.size() + payload.size());
  const TcpFields f{.sport = s.sport_.value_or(rport_),
                    .dport = s.dport_.value_or(lport_),
                    .seq = s.seq_.value_or(Seq32{}).value(),
                    .ack = s.ack_.value_or(Seq32{}).value(),
                    .flags = s.flags_.value_or(kTcpAck),
                    .window = s.win_.value_or(65535)};
  const std::size_t hl = write_tcp(tcp, f, opts);
  ASSERT_EQ(hl, 20 + opts.size());
  std::copy(payload.begin(), payload.end(), tcp.begin() + static_cast<std::ptrdiff_t>(hl));
  testkit::put16(tcp, 16, 0);
  testkit::put16(tcp, 16, tcp_checksum_of(tcp, peer_ip_, local_ip_));
  if (v6()) {
    // As IPv6 delivers it: the whole frame, l4 at offset 54 (no extension headers).
    Bytes ip6(40);
    ip6[0] = std::byte{0x60};
    testkit::put16(ip6, 4, static_cast<std::uint16_t>(tcp.size()));
    ip6[6] = std::byte{6};
    ip6[7] = std::byte{64};
    for (std::size_t i = 0; i < 16; ++i) {
      ip6[8 + i] = std::byte{peer_ip_.bytes()[i]};
      ip6[24 + i] = std::byte{local_ip_.bytes()[i]};
    }
    testkit::append(ip6, tcp);
    const Bytes frame = testkit::ethernet(testkit::kOurMac, testkit::kPeerMac, 0x86DD, ip6);
    Mbuf m = testkit::to_mbuf(rx_pool_ != nullptr ? rx_pool_ : pool_, frame);
    ASSERT_TRUE(m) << "test pool exhausted";
    stack().on_segment6(peer_ip_, local_ip_, std::move(m), 54, static_cast<std::uint16_t>(tcp.size()), now_);
    return;
  }

  // As IPv4 delivers it: the whole frame, l4 at offset 34.
  testkit::Ip ip;
  ip.src = kPeerIp;
  ip.dst = kLocalIp;
  ip.protocol = testkit::kProtoTcp;
  const Bytes frame =
      testkit::ethernet(testkit::kOurMac, testkit::kPeerMac, testkit::kTypeIpv4, testkit::ipv4(ip, tcp));
  Mbuf m = testkit::to_mbuf(rx_pool_ != nullptr ? rx_pool_ : pool_, frame);
  ASSERT_TRUE(m) << "test pool exhausted";
  stack().on_segment(kPeerIp, kLocalIp, std::move(m), 34, static_cast<std::uint16_t>(tcp.size()), now_);
}

void TcpHarness::send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant now) {
  record_sent(std::move(segment), IpAddr::v4(src), IpAddr::v4(dst), false, now);
}

void TcpHarness::send_segment6(Mbuf segment, const IpAddr& src, const IpAddr& dst, Instant now) {
  EXPECT_FALSE(src.is_v4() || dst.is_v4()) << "an IPv4 address handed to send_segment6";
  record_sent(std::move(segment), src, dst, true, now);
}

bool TcpHarness::frame_prefix(const FourTuple& t, FramePrefix& p, Instant /*now*/) {
  if (!prefixes_) return false;
  const std::span<std::byte> b{p.bytes};
  p.ipv6 = !t.is_v4();
  if (p.ipv6) {
    write_ethernet(b, prefix_mac_, testkit::kOurMac, kEtherTypeIpv6);
    Ipv6Fields f{};
    f.src = Ipv6Addr{t.laddr.bytes()};
    f.dst = Ipv6Addr{t.raddr.bytes()};
    f.next_header = kIpProtoTcp;
    f.hop_limit = 64;
    write_ipv6(b.subspan(kEthernetHeaderLen, kIpv6HeaderLen), f);
    p.l4_pseudo_sum = ipv6_pseudo_header_sum(f.src, f.dst, 0, kIpProtoTcp);
    p.len = static_cast<std::uint8_t>(kEthernetHeaderLen + kIpv6HeaderLen);
  } else {
    write_ethernet(b, prefix_mac_, testkit::kOurMac, kEtherTypeIpv4);
    Ipv4Fields f{};
    f.src = addr_v4_host(t.laddr);
    f.dst = addr_v4_host(t.raddr);
    f.protocol = kIpProtoTcp;
    f.ttl = 64;
    f.dont_fragment = true;
    write_ipv4(b.subspan(kEthernetHeaderLen, kIpv4MinHeaderLen), f, /*fill_checksum=*/false);
    p.l3_sum = checksum_partial(b.subspan(kEthernetHeaderLen, kIpv4MinHeaderLen));
    p.l4_pseudo_sum = pseudo_header_sum(f.src, f.dst, kIpProtoTcp, 0);
    p.len = static_cast<std::uint8_t>(kEthernetHeaderLen + kIpv4MinHeaderLen);
  }
  p.max_l3_len = 1500;
  p.generation = prefix_generation_;
  p.generation_of = &prefix_generation_;
  p.valid_until = prefix_valid_until_;
  ++prefixes_built_;
  return true;
}

void TcpHarness::send_prefixed(Mbuf frame, const FramePrefix& p, Instant now) {
  const Bytes head = testkit::bytes_of(frame.get());
  EXPECT_GE(head.size(), p.len);
  const MacAddr mac = testkit::get_mac(head, 0);
  IpAddr src, dst;
  if (p.ipv6) {
    std::array<std::uint8_t, 16> a{}, b{};
    for (std::size_t i = 0; i < 16; ++i) {
      a[i] = testkit::get8(head, kEthernetHeaderLen + 8 + i);
      b[i] = testkit::get8(head, kEthernetHeaderLen + 24 + i);
    }
    src = IpAddr::v6(a);
    dst = IpAddr::v6(b);
  } else {
    src = IpAddr::v4(testkit::get32(head, kEthernetHeaderLen + 12));
    dst = IpAddr::v4(testkit::get32(head, kEthernetHeaderLen + 16));
  }
  rte_pktmbuf_adj(frame.get(), p.len);
  record_sent(std::move(frame), src, dst, p.ipv6, now);
  sent_.back().prefixed = true;
  sent_.back().eth_dst = mac;
}

void TcpHarness::record_sent(Mbuf segment, const IpAddr& src, const IpAddr& dst, bool v6, Instant now) {
  Sent s;
  s.src = src;
  s.dst = dst;
  s.v6 = v6;
  s.at = now;
  EXPECT_GE(rte_pktmbuf_headroom(segment.get()), v6 ? kSegmentHeadroom6 : kSegmentHeadroom)
      << "no room for the IP header";
  Bytes b = testkit::bytes_of(segment.get());
  s.mbufs = segment->nb_segs;
  s.offloaded = (segment->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM;
  if ((segment->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0) {
    s.tso_segsz = segment->tso_segsz;
    s.chain_parts.clear();
    for (const rte_mbuf* p = segment.get(); p != nullptr; p = p->next) s.chain_parts.push_back(p->data_len);
  }
  if (s.offloaded && b.size() >= 20) {
    // TSO: the pseudo-header sum without the length (DPDK's contract).
    const auto pseudo = pseudo_sum_of(s.tso_segsz != 0 ? 0 : b.size(), src, dst);
    const bool ip_flag_right = !v6 || (segment->ol_flags & RTE_MBUF_F_TX_IPV6) != 0;
    const bool as_dpdk_wants = testkit::get16(b, 16) == pseudo && ip_flag_right &&
                               segment->l4_len == (std::to_integer<unsigned>(b[12]) >> 4) * 4u;
    testkit::put16(b, 16, 0);
    testkit::put16(b, 16, tcp_checksum_of(b, src, dst));
    s.checksum_ok = as_dpdk_wants;
  } else {
    s.checksum_ok = tcp_checksum_ok(b, src, dst);
  }
  segment.reset();
  auto h = TcpHeader::parse(b);
  if (h) {
    auto o = parse_tcp_options(h->options());
    s.parsed = static_cast<bool>(o);
    if (o) s.opts = *o;
    s.sport = h->src_port();
    s.dport = h->dst_port();
    s.flags = h->flags().bits;
    s.seq = Seq32{h->seq()};
    s.ack = Seq32{h->ack()};
    s.win = h->window();
    s.payload.assign(h->payload().begin(), h->payload().end());
  }
  sent_.push_back(std::move(s));
}

Sent TcpHarness::expect_sent(const Seg& want, std::source_location loc) {
  if (sent_.empty()) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line()))
        << "expected a segment like " << want << ", nothing was sent";
    return {};
  }
  Sent got = std::move(sent_.front());
  sent_.pop_front();
  std::ostringstream bad;
  if (!got.parsed) bad << " unparseable;";
  if (!got.checksum_ok) bad << " bad checksum;";
  if (got.src != local_ip_ || got.dst != peer_ip_ || got.v6 != v6()) bad << " addresses;";
  if (want.sport_ ? got.sport != *want.sport_ : got.sport != lport_) bad << " source port;";
  if (want.dport_ ? got.dport != *want.dport_ : got.dport != rport_) bad << " destination port;";
  if (want.flags_ && got.flags != *want.flags_) bad << " flags;";
  if (want.seq_ && got.seq != *want.seq_) bad << " seq;";
  if (want.ack_ && got.ack != *want.ack_) bad << " ack;";
  if (want.win_ && got.win != *want.win_) bad << " win;";
  if (want.opts_.mss && got.opts.mss != want.opts_.mss) bad << " mss;";
  if (want.opts_.window_scale && got.opts.window_scale != want.opts_.window_scale) bad << " wscale;";
  if (want.opts_.sack_permitted && !got.opts.sack_permitted) bad << " sackOK;";
  if (want.opts_.timestamps && got.opts.timestamps != want.opts_.timestamps) bad << " TS;";
  if (want.len_ && got.payload.size() != *want.len_) bad << " length;";
  if (want.bytes_ && got.payload != *want.bytes_) bad << " payload bytes;";
  if (!bad.str().empty()) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line()))
        << "sent     " << got << "\nexpected " << want << "\nmismatch:" << bad.str();
  }
  return got;
}

void TcpHarness::expect_nothing_sent(std::source_location loc) {
  if (!sent_.empty()) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line())) << "unexpected segment(s) sent:\n"
                                                                  << pending_trace();
  }
  sent_.clear();
}

std::vector<Sent> TcpHarness::take_all_sent() {
  std::vector<Sent> v(std::make_move_iterator(sent_.begin()), std::make_move_iterator(sent_.end()));
  sent_.clear();
  return v;
}

std::string TcpHarness::pending_trace() const {
  std::ostringstream os;
  for (const auto& s : sent_) os << "  " << s << "\n";
  return os.str();
}

Tcb* TcpHarness::active_syn(Instant at) {
  advance_to(at);
  ConnectError err = ConnectError::kNone;
  Tcb* c = stack().connect(peer_ip_, 80, now_, &err);
  EXPECT_NE(c, nullptr) << "connect failed: " << static_cast<int>(err);
  if (c == nullptr || sent_.empty()) {
    ADD_FAILURE() << "connect() sent no SYN";
    return c;
  }
  lport_ = sent_.front().sport;
  rport_ = 80;
  iss_ = sent_.front().seq;
  expect_sent(seg().flags(kTcpSyn).dport(80).sport(lport_));
  EXPECT_EQ(c->state, TcpState::kSynSent);
  return c;
}

Tcb* TcpHarness::establish_active(Seg peer) {
  Tcb* c = active_syn(now_);
  if (c == nullptr) return nullptr;
  // The peer echoes our SYN's TSval.
  Seg synack = peer;
  if (synack.opts_.timestamps) synack.ts(synack.opts_.timestamps->first, our_tsval(*c));
  recv(synack.flags(kTcpSyn | kTcpAck).seq(irs_).ack(iss_ + 1));
  expect_sent(seg().flags(kTcpAck).seq(iss_ + 1).ack(irs_ + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_TRUE(events(c) & kTcpEvConnected) << events_str(events(c));
  handler_.clear();
  return c;
}

Tcb* TcpHarness::establish_passive(Seg peer, std::uint32_t backlog, std::uint16_t peer_port) {
  lport_ = kServerPort;
  rport_ = peer_port;
  if (listener_ == nullptr) listener_ = stack().listen(kServerPort, backlog);
  EXPECT_NE(listener_, nullptr);
  if (listener_ == nullptr) return nullptr;
  Seg syn = peer;
  recv(syn.flags(kTcpSyn).seq(irs_).ack(0u));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs_ + 1));
  iss_ = synack.seq;
  Seg ack = seg().seq(irs_ + 1).ack(iss_ + 1);
  if (peer.opts_.timestamps && synack.opts.timestamps)
    ack.ts(peer.opts_.timestamps->first, synack.opts.timestamps->first);
  recv(ack);
  Tcb* c = stack().accept(*listener_);
  EXPECT_NE(c, nullptr) << "nothing to accept after the handshake";
  if (c != nullptr) {
    EXPECT_EQ(c->state, TcpState::kEstablished);
  }
  handler_.clear();
  return c;
}

void TcpHarness::fill_window(Tcb& c, Seq32& peer_seq, Instant at, bool read) {
  const Seq32 edge = c.rcv_adv;
  for (int i = 0; seq_lt(peer_seq, edge); ++i) {
    const std::uint32_t len = std::min<std::uint32_t>(edge - peer_seq, 1460);
    recv(seg().seq(peer_seq).ack(iss() + 1).data(len, static_cast<std::uint64_t>(i)), at);
    peer_seq += len;
    if (read) read_all(c);
  }
}

std::uint32_t TcpHarness::our_tsval(const Tcb& c) const { return TcpStack::ts_clock(now_) + c.ts_offset; }

std::optional<TcpState> TcpHarness::state() {
  std::optional<TcpState> s;
  const FourTuple t = tuple();
  stack().for_each_connection([&](const Tcb& c) {
    if (c.tuple == t) s = c.state;
  });
  if (!s && stack().time_wait().find(t) != nullptr) s = TcpState::kTimeWait;
  return s;
}

std::optional<Instant> TcpHarness::run_until_sent(Instant limit) {
  while (sent_.empty() && now_ < limit) advance_to(last_tick_ + Duration::ms(1));
  if (sent_.empty()) return std::nullopt;
  return sent_.front().at;
}

Seq32 TcpHarness::leave_quickack_mode(Seq32 seq, Seq32 ack) {
  for (int i = 0; i < 64; ++i) {
    recv(seg().flags(kTcpAck | kTcpPsh).seq(seq).ack(ack).data(10), now_ + Duration::ms(1));
    seq += 10;
    if (sent_.empty()) return seq;
    sent_.clear();
  }
  ADD_FAILURE() << "every small segment was ACKed at once";
  return seq;
}

Bytes TcpHarness::read_all(Tcb& c) {
  Bytes out;
  std::array<std::byte, 4096> buf{};
  for (;;) {
    const std::size_t n = stack().read(c, buf, now_);
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

void TcpHarness::expect_pool_in_use(unsigned held) const {
  // The stack's stash of reset header mbufs is out of the pool too, within
  // its bound (TcpStack::header_mbufs_held).
  const unsigned stash = stack_ ? stack_->header_mbufs_held() : 0;
  EXPECT_LE(stash, TcpStack::kHeaderMbufsKept);
  EXPECT_EQ(rte_mempool_in_use_count(pool_) + rte_mempool_in_use_count(clone_pool_), baseline_ + held + stash)
      << "mbufs out of the pools";
}

}  // namespace tern::tcptest
