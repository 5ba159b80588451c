// TcpStack: construction, the application calls, TCB lifecycle and event
// dispatch. Segment arrival is in tcp_input.cc, output in tcp_output.cc,
// timers in tcp_timers.cc and listeners in tcp_listen.cc.
#include "tcp/tcp_stack.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "tcp/tcp_checksum.h"
#include "wire/ipv4.h"

namespace tern {

std::string_view to_string(TcpState s) noexcept {
  switch (s) {
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynReceived:
      return "SYN_RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN_WAIT_1";
    case TcpState::kFinWait2:
      return "FIN_WAIT_2";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
  }
  return "?";
}

std::string_view to_string(TcpError e) noexcept {
  switch (e) {
    case TcpError::kNone:
      return "none";
    case TcpError::kReset:
      return "reset";
    case TcpError::kRefused:
      return "refused";
    case TcpError::kTimedOut:
      return "timed out";
    case TcpError::kUnreachable:
      return "unreachable";
    case TcpError::kAborted:
      return "aborted";
  }
  return "?";
}

namespace {
// The out-of-order queues lent to connections: one per eight TCBs (most
// connections never see a hole at the same time), at least 16.
std::uint32_t ooo_queue_count(const TcpConfig& c) noexcept {
  if (c.ofo_max_segments == 0) return 0;
  return std::max<std::uint32_t>(16, c.max_connections / 8);
}

// And a few large ones (one per 1,024 TCBs, at least 4), for connections
// whose buffer autotuning (or SO_RCVBUF) grew past what ofo_max_segments
// covers: after a loss such a connection's window holds many more segments
// than 256, and a receiver that drops what it cannot hold makes the sender
// resend it. Sized for the largest buffer autotuning allows, at most 4,096
// entries (128 KiB); the bytes held stay bounded by the buffer itself.
std::uint32_t ooo_large_queue_count(const TcpConfig& c) noexcept {
  if (c.ofo_max_segments == 0) return 0;
  return std::max<std::uint32_t>(4, c.max_connections / 1024);
}

// The transmit logs lent to connections with data in flight (tx_log.h):
// one per 32 TCBs (8 KiB each), at least 16; a flight
// that finds none runs without (TCPTxLogUnavailable).
std::uint32_t tx_log_count(const TcpStackOptions& o) noexcept {
  return o.tx_logs ? *o.tx_logs : std::max<std::uint32_t>(16, o.cfg.max_connections / 32);
}

// The truesize of one full-sized segment as received into `pool`'s mbufs:
// the receive window is offered in proportion (win_from_space).
std::uint32_t full_segment_truesize(rte_mempool* pool, std::uint16_t mtu) noexcept {
  const std::uint32_t room = rte_pktmbuf_data_room_size(pool);
  const std::uint32_t frame = RTE_PKTMBUF_HEADROOM + 14u + mtu;
  const std::uint32_t segs = room > RTE_PKTMBUF_HEADROOM ? (frame + room - 1) / room : 1;
  return segs * (static_cast<std::uint32_t>(sizeof(rte_mbuf)) + room);
}

// The path MTU generation of a sink that keeps no estimates: never moves.
constexpr std::uint32_t kNoPmtuGeneration = 0;

}  // namespace

TcpStack::TcpStack(const TcpStackOptions& o, Counters& counters, SegmentSink& sink, rte_mempool* pool,
                   rte_mempool* clone_pool, Instant start)
    : o_(o),
      mss4_(mss_for_mtu_of(o, false)),
      mss6_(mss_for_mtu_of(o, true)),
      counters_(counters),
      sink_(sink),
      pmtu_generation_(sink.path_mtu_generation() != nullptr ? sink.path_mtu_generation()
                                                             : &kNoPmtuGeneration),
      prefix_gen_(sink.prefix_generation()),
      pool_mp_(pool),
      clone_mp_(clone_pool != nullptr ? clone_pool : pool),
      mbuf_truesize_(static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(pool)),
      full_seg_truesize_(full_segment_truesize(pool, o.mtu)),
      full_seg_recip_((std::uint64_t{1} << 32) / full_seg_truesize_),
      pool_(o.cfg.max_connections),
      table_(o.cfg.max_connections, o.hash_seed),
      // The same seed as table_'s: one hash of a tuple (tuple_hash) serves both.
      tw_(std::max<std::uint32_t>(o.cfg.max_time_wait, 1), o.cfg.time_wait, o.hash_seed),
      wheel_(o.timer_tick, 4096, start),
      isn_(o.isn_key),
      cookies_(o.cookie_key),
      by_port_(65536, nullptr),
      challenge_window_(start),
      challenge_rng_(o.hash_seed ^ 0xd1b54a32d192ed03ull) {
  if (challenge_rng_ == 0) challenge_rng_ = 1;  // xorshift's one fixed point
  hdr_rearm_ = mbuf_rearm_template(pool);
  challenge_count_ = o.cfg.challenge_ack_limit;
  rto_cfg_.initial = o.cfg.rto_initial;
  rto_cfg_.min = o.cfg.rto_min;
  rto_cfg_.max = o.cfg.rto_max;
  cc_cfg_.mss = mss_for_mtu();
  cc_cfg_.dupthresh = o.cfg.dupthresh;
  build_tcb_proto();
  const std::uint32_t n = ooo_queue_count(o.cfg);
  const std::uint32_t ceiling = std::max(o.cfg.rcv_buf, autotune_cap(o.cfg.rcv_buf_max));
  const std::uint16_t large_segments = static_cast<std::uint16_t>(std::min<std::uint32_t>(
      kOooLargeMaxSegments, ceiling / std::max<std::uint32_t>(full_seg_truesize_, 1) + 1));
  const std::uint32_t large = large_segments > o.cfg.ofo_max_segments ? ooo_large_queue_count(o.cfg) : 0;
  ooo_store_.reserve(n + large);
  ooo_free_.reserve(n);
  ooo_large_free_.reserve(large);
  const std::uint32_t max_bytes = std::max(o.cfg.rcv_buf, o.cfg.rcv_buf_max);
  for (std::uint32_t i = 0; i < n; ++i) ooo_store_.emplace_back(max_bytes, o.cfg.ofo_max_segments);
  for (std::uint32_t i = 0; i < large; ++i) ooo_store_.emplace_back(max_bytes, large_segments);
  for (auto& q : ooo_store_) {
    q.set_account(&mem_);
    (q.max_segments() > o.cfg.ofo_max_segments ? ooo_large_free_ : ooo_free_).push_back(&q);
  }
  const std::uint32_t logs = tx_log_count(o);
  txlog_store_.resize(logs);
  txlog_free_.reserve(logs);
  for (auto& l : txlog_store_) txlog_free_.push_back(&l);
  ready_listeners_.reserve(64);
  closing_free_.reserve(o.cfg.max_connections);
}

TcpStack::~TcpStack() {
  flush_header_mbufs();
  // Free every TCB still alive so their mbufs return to the pools.
  std::vector<Tcb*> all;
  table_.for_each([&](const FourTuple&, Tcb* t) { all.push_back(t); });
  for (Tcb* t : all) {
    t->removed = true;
    table_.erase(t->tuple);
  }
  for (Tcb* t : closing_free_) {
    if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
  }
  closing_free_.clear();
  for (Tcb* t : all) {
    wheel_.cancel(*t);
    return_ooo(*t);
    return_tx_log(*t);
    pool_.release(t);
  }
  // TCBs the application still holds after they finished are the
  // application's to close; destroying the stack releases them too.
  // (ObjectPool's destructor destroys whatever is left.)
}

std::uint16_t TcpStack::mss_for_mtu_of(const TcpStackOptions& o, bool v6) noexcept {
  // RFC 9293 §3.7.1: MSS = MTU - IP header - TCP header (no options). IPv6's
  // header is 40 bytes (RFC 8200 §8.3), and its links carry 1280 at least
  // (§5): 1220 is the floor.
  std::uint32_t mss = v6 ? (o.mtu > 1280 ? o.mtu - 60u : 1220u) : (o.mtu > 40 ? o.mtu - 40u : 536u);
  if (o.cfg.mss_clamp != 0) mss = std::min<std::uint32_t>(mss, o.cfg.mss_clamp);
  return static_cast<std::uint16_t>(std::max<std::uint32_t>(mss, 88));
}

std::uint16_t TcpStack::path_mss(const Tcb& c) const noexcept {
  // RFC 9293 §3.7.1: the path MTU less the IP and TCP headers; RFC 8201 §4
  // keeps an IPv6 path at 1280 at least, so 1220 stays its floor.
  const bool v6 = !c.tuple.is_v4();
  const std::uint32_t headers = v6 ? 60u : 40u;
  const std::uint32_t path = c.pmtu > headers ? c.pmtu - headers : 88u;
  std::uint32_t mss = std::min({std::uint32_t{c.peer_mss}, std::uint32_t{mss_for_mtu(v6)}, path});
  mss = std::max<std::uint32_t>(mss, 88);  // Linux's TCP_MIN_MSS
  if (c.ts_ok) mss -= 12;
  return static_cast<std::uint16_t>(mss);
}

bool TcpStack::tuple_in_use(const FourTuple& t, std::uint64_t hash) const noexcept {
  return table_.find(t, hash) != nullptr || tw_.find(t, hash) != nullptr;
}

Tcb* TcpStack::new_tcb(const FourTuple& t, std::uint64_t hash, Instant now) noexcept {
  Tcb* c = pool_.acquire(tcb_proto_);
  if (c == nullptr) {
    counters_.drop(Drop::kTcpNoTcb);
    return nullptr;
  }
  if (!table_.insert(t, hash, c)) {
    pool_.release(c);
    counters_.drop(Drop::kTcpNoTcb);
    return nullptr;
  }
  c->tuple = t;
  c->tuple_hash = hash;
  init_tcb_from_config(*c, now);
  return c;
}

void TcpStack::build_tcb_proto() noexcept {
  const TcpConfig& k = o_.cfg;
  TcbState& p = tcb_proto_;
  p = TcbState{RtoEstimator{rto_cfg_}, k.congestion, cc_cfg_};
  p.snd_buf = k.snd_buf;
  p.snd_lowat = k.snd_buf / 2;
  p.rcv_buf = k.rcv_buf;
  p.nodelay = k.nodelay;
  p.keepalive = k.keepalive;
  p.ka_idle = k.keepalive_idle;
  p.ka_interval = k.keepalive_interval;
  p.ka_probes = k.keepalive_probes;
  p.user_timeout = k.user_timeout;
  p.quickacks = 16;  // quick-ACK mode at connection start (Linux TCP_QUICKACK behaviour)
  // new_tcb's copy is shallow: a prototype that owned or linked anything
  // would hand it to every connection (tcb.h, owns_nothing). Checked here,
  // once, in every build: the prototype is never written after this.
  TERN_CHECK(owns_nothing(p));
}

// What the prototype (build_tcb_proto) cannot hold: the tuple's parts.
void TcpStack::init_tcb_from_config(Tcb& c, Instant now) noexcept {
  c.rcvq.set_account(&mem_);
  c.sndq.set_account(&mem_);
  c.rcv_mss = mss_for(c.tuple);
  c.l4_pseudo_sum = tcp_pseudo_header_sum(c.tuple.laddr, c.tuple.raddr, 0);
  c.mss = c.tuple.is_v4() ? 536 : 1220;
  c.peer_mss = c.mss;
  // The path MTU learned for the peer by an earlier connection, if any
  // (RFC 8201 §5.2: per destination, not per connection), until it
  // expires; follow_path_mtu keeps it current from here on.
  c.pmtu_generation = *pmtu_generation_;
  const PathMtu learned = sink_.path_mtu(c.tuple.raddr, now);
  const bool lower = learned.mtu != 0 && learned.mtu < o_.mtu;
  c.pmtu = lower ? learned.mtu : o_.mtu;
  c.pmtu_expires = lower ? learned.expires : Instant::max();
  // RFC 6528 §3's ISS and RFC 7323 §5.4's per-connection TSval offset from
  // one keyed hash of the tuple (IsnGenerator::secrets). The offset is
  // derived from the tuple so that a SYN-cookie handshake finds it again;
  // the callers set SND.UNA and the rest from the ISS, or replace it (a
  // cookie's, one above a TIME_WAIT record's).
  const IsnGenerator::TupleSecrets sec =
      isn_.secrets(c.tuple.laddr, c.tuple.lport, c.tuple.raddr, c.tuple.rport);
  c.iss = Seq32{IsnGenerator::clock_m(now)} + sec.isn_f;
  c.ts_offset = sec.ts_offset;
}

void TcpStack::to_state(Tcb& c, TcpState s) noexcept {
  const auto counted = [](TcpState x) { return x == TcpState::kEstablished || x == TcpState::kCloseWait; };
  if (counted(c.state) && !counted(s)) --counters_.events[static_cast<std::size_t>(Counter::kCurrEstab)];
  if (!counted(c.state) && counted(s)) counters_.inc(Counter::kCurrEstab);
  c.state = s;
}

void TcpStack::post(Tcb& c, std::uint8_t ev) noexcept {
  c.events |= ev;
  if (c.in_ready_list) return;
  c.in_ready_list = true;
  c.ready_next = nullptr;
  // The tail moves to c either way, stored once: `ready_head_ = ready_tail_
  // = &c` let GCC's SLP vectorizer store both as one 16-byte pair, whose
  // broadcast of &c it built (and spilled) at the entry of every function
  // this inlines into, fast_ack's pure ACK included (issue 16).
  Tcb* const tail = ready_tail_;
  ready_tail_ = &c;
  if (tail == nullptr) {
    ready_head_ = &c;
    posted_ = true;
  } else {
    tail->ready_next = &c;
  }
}

void TcpStack::post_listener(Listener& l) noexcept {
  if (l.ready_pending_) return;
  l.ready_pending_ = true;
  ready_listeners_.push_back(&l);
  posted_ = true;
}

void TcpStack::dispatch_posted() noexcept {
  if (in_dispatch_) return;
  in_dispatch_ = true;
  while (ready_head_ != nullptr || !ready_listeners_.empty()) {
    while (ready_head_ != nullptr) {
      Tcb& c = *ready_head_;
      ready_head_ = c.ready_next;
      if (ready_head_ == nullptr) ready_tail_ = nullptr;
      c.in_ready_list = false;
      const std::uint8_t ev = std::exchange(c.events, 0);
      if (handler_ != nullptr && c.app_owned && !c.app_closed) handler_->on_event(c, ev);
    }
    while (!ready_listeners_.empty()) {
      Listener* l = ready_listeners_.back();
      ready_listeners_.pop_back();
      l->ready_pending_ = false;
      if (handler_ != nullptr && l->accepted_ > 0) handler_->on_acceptable(*l);
    }
  }
  for (Tcb* c : closing_free_) free_tcb(*c);
  closing_free_.clear();
  in_dispatch_ = false;
  posted_ = ready_head_ != nullptr || !ready_listeners_.empty();
}

void TcpStack::finish(Tcb& c, TcpError e) noexcept {
  if (c.removed) return;
  c.removed = true;
  table_.erase(c.tuple, c.tuple_hash);
  wheel_.cancel(c);
  c.rtx_deadline = c.delack_deadline = c.linger_deadline = c.tlp_deadline = Instant::max();
  c.rtx_kind = Tcb::RtxKind::kNone;
  c.sndq.clear();
  return_ooo(c);
  if (e != TcpError::kNone) c.rcvq.clear();  // RFC 9293 §3.10.7.4: a reset discards queued data
  unlink_child(c);
  if (c.state != TcpState::kTimeWait) to_state(c, TcpState::kClosed);
  c.error = e;
  if (!c.app_owned || c.app_closed) {
    defer_free(c);
  } else {
    post(c, kTcpEvClosed);
  }
}

void TcpStack::free_tcb(Tcb& c) noexcept {
  if (c.orphan) --orphans_;
  if (!c.removed) {
    table_.erase(c.tuple, c.tuple_hash);
    c.removed = true;
  }
  wheel_.cancel(c);
  pace_unlink(c);
  ack_unlink(c);
  return_ooo(c);
  return_tx_log(c);
  unlink_child(c);
  if (c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait) to_state(c, TcpState::kClosed);
  pool_.release(&c);
}

// A connection whose buffer holds more full segments than ofo_max_segments
// takes a large queue while one is free; every other, or when none is, a
// regular one.
bool TcpStack::borrow_ooo(Tcb& c) noexcept {
  if (c.ooo != nullptr) return true;
  const bool wants_large = c.rcv_buf > std::uint64_t{o_.cfg.ofo_max_segments} * full_seg_truesize_;
  std::vector<ReassemblyQueue*>& from =
      (wants_large && !ooo_large_free_.empty()) || ooo_free_.empty() ? ooo_large_free_ : ooo_free_;
  if (from.empty()) return false;
  c.ooo = from.back();
  from.pop_back();
  return true;
}

void TcpStack::return_held_ooo(Tcb& c) noexcept {
  c.ooo->clear();
  (c.ooo->max_segments() > o_.cfg.ofo_max_segments ? ooo_large_free_ : ooo_free_).push_back(c.ooo);
  c.ooo = nullptr;
}

bool TcpStack::challenge_ack_allowed(Tcb& c, Instant now) noexcept {
  // RFC 5961 §7, hardened as Linux after CVE-2016-5696: first the
  // connection's own limit (one per invalid_ratelimit), then a per-worker
  // budget drawn at random each second between half and one and a half
  // times challenge_ack_limit, so that an off-path attacker cannot learn
  // from the global count whether a guessed 4-tuple exists.
  if (!oow_ack_allowed(c, now)) return false;
  if (now - challenge_window_ >= Duration::s(1)) {
    challenge_window_ = now;
    challenge_rng_ ^= challenge_rng_ << 13;
    challenge_rng_ ^= challenge_rng_ >> 7;
    challenge_rng_ ^= challenge_rng_ << 17;
    const std::uint32_t limit = o_.cfg.challenge_ack_limit;
    challenge_count_ = limit / 2 + static_cast<std::uint32_t>(challenge_rng_ % (std::uint64_t{limit} + 1));
  }
  if (challenge_count_ == 0) return false;
  --challenge_count_;
  return true;
}

// ---- application calls ----------------------------------------------------

Tcb* TcpStack::connect(const IpAddr& raddr, std::uint16_t rport, Instant now, ConnectError* err,
                       std::uint16_t lport) noexcept {
  ConnectError dummy;
  ConnectError& e = err != nullptr ? *err : dummy;
  e = ConnectError::kNone;
  const bool v4 = addr_is_v4(raddr);
  const IpAddr laddr = v4                       ? IpAddr::v4(o_.local_addr)
                       : source_for_ != nullptr ? source_for_(source_ctx_, raddr)
                                                : o_.local_addr6;
  if (raddr.is_unspecified() || raddr.is_multicast() || rport == 0) {
    e = ConnectError::kBadAddress;
    return nullptr;
  }
  // No address of ours may be a source (none configured for the family, or,
  // over IPv6, every candidate still tentative: RFC 4862 §5.4). Linux fails
  // EADDRNOTAVAIL at once rather than holding the SYN until DAD ends.
  if (laddr.is_unspecified()) {
    e = ConnectError::kNoSource;
    return nullptr;
  }
  FourTuple t{laddr, raddr, lport, rport};
  std::uint64_t hash = 0;  // tuple_hash(t) of the tuple chosen
  const bool to_self = raddr == laddr;
  if (lport != 0) {
    if (to_self && rport == lport) {  // never connect a socket to itself
      e = ConnectError::kBadAddress;
      return nullptr;
    }
    hash = tuple_hash(t);
    if (tuple_in_use(t, hash)) {
      e = ConnectError::kInUse;
      return nullptr;
    }
  } else {
    // RFC 6056 §3.3.3 (algorithm 3): a keyed hash of the destination picks
    // where to start in the range, and a counter moves on from there, so
    // ports are unpredictable off-path yet spread over the range.
    const std::uint32_t first = o_.cfg.ephemeral_first;
    const std::uint32_t count = o_.cfg.ephemeral_last - first + 1u;
    const FourTuple key{laddr, raddr, 0, rport};
    const auto base = static_cast<std::uint32_t>(hash_four_tuple(key, o_.port_seed));
    bool found = false;
    for (std::uint32_t i = 0; i < count; ++i) {
      t.lport = static_cast<std::uint16_t>(first + (base + port_offset_ + i) % count);
      if (to_self && rport == t.lport) continue;
      if (by_port_[t.lport] != nullptr) continue;
      if (port_filter_ != nullptr && !port_filter_(port_filter_ctx_, t)) continue;
      hash = tuple_hash(t);
      if (!tuple_in_use(t, hash)) {
        found = true;
        port_offset_ += i + 1;
        break;
      }
    }
    if (!found) {
      e = ConnectError::kNoPorts;
      return nullptr;
    }
  }
  Tcb* c = new_tcb(t, hash, now);
  if (c == nullptr) {
    e = ConnectError::kNoMemory;
    return nullptr;
  }
  c->app_owned = true;
  c->snd_una = c->iss;
  c->snd_nxt = c->iss;
  c->snd_max = c->iss;
  c->last_recv = now;
  to_state(*c, TcpState::kSynSent);
  counters_.inc(Counter::kActiveOpens);
  send_syn(*c, now);
  dispatch();
  return c;
}

bool TcpStack::send(Tcb& c, Mbuf&& data, Instant now) noexcept {
  const bool open = c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived ||
                    c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait;
  if (!open || c.fin_queued || c.app_closed || !data) return false;
  const std::uint32_t truesize = mbuf_truesize(data.get());
  if (truesize > send_space(c)) {
    snd_buf_expand(c);
    if (truesize > send_space(c)) {
      c.writable_wanted = true;
      return false;
    }
  }
  c.sndq.append(data.release());
  const Seq32 end = queue_end(c);
  if (synchronized(c.state)) output(c, now);
  mark_write_end(c, end);
  dispatch();
  return true;
}

// The end of an application write, if output() did not send it yet: the
// segment that will carry it gets PSH (send_data_segment), as Linux marks
// the last skb of every write, even once later writes are queued behind it.
void TcpStack::mark_write_end(Tcb& c, Seq32 end) noexcept {
  if (!seq_gt(end, c.snd_max)) return;
  if (c.psh_count < c.psh_marks.size()) ++c.psh_count;
  c.psh_marks[c.psh_count - 1U] = end;
}

std::size_t TcpStack::send_copy(Tcb& c, std::span<const std::byte> data, Instant now) noexcept {
  const bool open = c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived ||
                    c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait;
  if (!open || c.fin_queued || c.app_closed) return 0;
  bool exhausted = false;
  const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), UINT32_MAX));
  std::size_t done = c.sndq.append_copy(data.data(), len, snd_limit(c), pool_mp_, exhausted);
  if (done < len && !exhausted) {
    // The write did not fit: autotuning may make room for it. Decided on
    // what was taken, not on len against the room left: len bytes need
    // more than len of truesize (whole mbufs), so a write that nearly fit
    // was cut short without asking, and the writer, woken again at
    // snd_lowat, never wrote enough to ask (the simulator's sender stayed
    // at 1 MB of truesize at 100 ms, bench/loss/README.md session 26).
    const std::uint32_t before = c.snd_buf;
    snd_buf_expand(c);
    if (c.snd_buf > before)
      done += c.sndq.append_copy(data.data() + done, len - static_cast<std::uint32_t>(done), snd_limit(c),
                                 pool_mp_, exhausted);
  }
  if (exhausted) note_mbuf_exhausted();
  if (done < data.size()) c.writable_wanted = true;
  if (done > 0) {
    const Seq32 end = queue_end(c);
    if (synchronized(c.state)) output(c, now);
    mark_write_end(c, end);
  }
  dispatch();
  return done;
}

Mbuf TcpStack::recv(Tcb& c, Instant now) noexcept {
  Mbuf m = c.rcvq.take();
  if (m && !c.removed) rcv_space_adjust(c, now);
  if (m && !c.removed && window_update_due(c)) {
    c.ack_now = true;
    output(c, now);
  }
  dispatch();
  return m;
}

std::size_t TcpStack::read(Tcb& c, std::span<std::byte> out, Instant now) noexcept {
  const std::size_t n = c.rcvq.read(out);
  if (n > 0 && !c.removed) rcv_space_adjust(c, now);
  if (n > 0 && !c.removed && window_update_due(c)) {
    c.ack_now = true;
    output(c, now);
  }
  dispatch();
  return n;
}

void TcpStack::shutdown_write(Tcb& c, Instant now) noexcept {
  if (c.fin_queued || c.removed) return;
  switch (c.state) {
    case TcpState::kSynSent:
      // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB.
      finish(c, TcpError::kNone);
      break;
    case TcpState::kSynReceived:  // the FIN follows once ESTABLISHED (§3.10.4)
      c.fin_queued = true;
      break;
    case TcpState::kEstablished:
      c.fin_queued = true;
      to_state(c, TcpState::kFinWait1);
      output(c, now);
      break;
    case TcpState::kCloseWait:
      c.fin_queued = true;
      to_state(c, TcpState::kLastAck);
      output(c, now);
      break;
    default:
      break;
  }
  dispatch();
}

void TcpStack::close(Tcb& c, Instant now) noexcept {
  if (c.app_closed) return;
  if (c.removed) {  // already over: only the application's hold remained
    c.app_closed = true;
    defer_free(c);
    dispatch();
    return;
  }
  if (!c.rcvq.empty() && synchronized(c.state)) {
    // Closing with unread data resets the connection, as Linux does
    // (RFC 9293 §3.10.4 leaves it open; RFC 2525 §2.17 recommends it).
    counters_.inc(Counter::kTCPAbortOnClose);
    send_rst_for(c, now);
    c.app_closed = true;
    finish(c, TcpError::kAborted);
    dispatch();
    return;
  }
  // An orphan from here on (tcp_max_orphans): past the bound, reset it now
  // rather than let closed connections' queues pile up.
  if (orphans_ >= o_.cfg.max_orphans) {
    counters_.inc(Counter::kTCPAbortOnOrphans);
    if (synchronized(c.state)) send_rst_for(c, now);
    c.app_closed = true;
    finish(c, TcpError::kAborted);
    dispatch();
    return;
  }
  c.app_closed = true;
  c.orphan = true;
  ++orphans_;
  shutdown_write(c, now);
  if (!c.removed && c.state == TcpState::kFinWait2 && c.linger_deadline == Instant::max()) {
    c.linger_deadline = now + o_.cfg.fin_timeout;
    arm_timer(c);
  }
  dispatch();
}

void TcpStack::abort(Tcb& c, Instant now) noexcept {
  c.app_closed = true;
  if (!c.removed) {
    if (synchronized(c.state) || c.state == TcpState::kSynReceived) {
      counters_.inc(Counter::kTCPAbortOnLinger);
      send_rst_for(c, now);
    }
    finish(c, TcpError::kAborted);
  } else {
    defer_free(c);
  }
  dispatch();
}

// Turning Nagle off sends what it held and, as Linux's TCP_NODELAY
// (TCP_NAGLE_PUSH), what a cork held too: once; the cork stays on for
// later writes.
void TcpStack::set_nodelay(Tcb& c, bool on, Instant now) noexcept {
  c.nodelay = on;
  if (on && !c.removed && synchronized(c.state)) {
    const bool cork = std::exchange(c.cork, false);
    output(c, now);
    c.cork = cork;
  }
  dispatch();
}

void TcpStack::set_cork(Tcb& c, bool on, Instant now) noexcept {
  c.cork = on;
  if (!on && !c.removed && synchronized(c.state)) output(c, now);
  dispatch();
}

void TcpStack::set_keepalive(Tcb& c, bool on, Instant now) noexcept {
  c.keepalive = on;
  if (!c.removed && synchronized(c.state) && c.rtx_kind != Tcb::RtxKind::kRetransmit) set_idle_timer(c, now);
}

void TcpStack::set_keepalive_params(Tcb& c, Duration idle, Duration interval, std::uint32_t probes,
                                    Instant now) noexcept {
  c.ka_idle = idle;
  c.ka_interval = interval;
  c.ka_probes = probes;
  set_keepalive(c, c.keepalive, now);
}

void TcpStack::set_user_timeout(Tcb& c, Duration timeout, Instant now) noexcept {
  c.user_timeout = timeout;
  if (c.removed || timeout == Duration{} || !synchronized(c.state)) return;
  // A retransmission or zero-window timer already running falls due no
  // later than the new limit (the clamps of rtx_deadline_at and
  // set_idle_timer, applied now).
  Instant end = Instant::max();
  if (c.rtx_kind == Tcb::RtxKind::kRetransmit) end = c.unacked_since + timeout;
  if (c.rtx_kind == Tcb::RtxKind::kPersist && c.snd_wnd == 0) end = c.persist_since + timeout;
  if (end < c.rtx_deadline) {
    c.rtx_deadline = std::max(end, now);
    arm_timer(c);
  }
}

void TcpStack::set_window_clamp(Tcb& c, std::uint32_t bytes, Instant now) noexcept {
  c.window_clamp = std::max(bytes, kMinWindowClamp);
  // The next window field offers no more (window_field, max_window); a
  // larger clamp may open the window at once, as a read would.
  if (!c.removed && synchronized(c.state) && window_update_due(c)) {
    c.ack_now = true;
    output(c, now);
  }
  dispatch();
}

// Send-buffer autotuning, as Linux's tcp_sndbuf_expand: a writer that
// fills the buffer gets room for twice the congestion window (at least the
// initial window's ten segments) in full segments' truesize, so that the
// queue holds the next window while this one is in flight, up to [tcp]
// snd_buf_max. Checked only when a write does not fit; the window grows
// with ACKs, never beyond what the application itself queues, and not
// while the worker is not at its normal memory level or after SO_SNDBUF.
void TcpStack::snd_buf_expand(Tcb& c) noexcept {
  if (c.snd_buf_locked || mem_.level() != MemLevel::kNormal) return;
  const std::uint32_t ceiling = std::max(o_.cfg.snd_buf, autotune_cap(o_.cfg.snd_buf_max));
  if (c.snd_buf >= ceiling || c.mss == 0) return;
  const std::uint64_t segments = std::max<std::uint32_t>(c.cc.cwnd() / c.mss, 10);
  const std::uint64_t want = std::min<std::uint64_t>(2 * segments * full_seg_truesize_, ceiling);
  if (want <= c.snd_buf) return;
  c.snd_buf = static_cast<std::uint32_t>(want);
  c.snd_lowat = c.snd_buf / 2;
  counters_.inc(Counter::kTCPSndBufGrown);
}

void TcpStack::want_writable(Tcb& c) noexcept {
  if (c.removed) return;
  c.writable_wanted = true;
  if (writable_due(c)) {
    c.writable_wanted = false;
    post(c, kTcpEvWritable);
  }
  dispatch();
}

void TcpStack::set_send_buffer(Tcb& c, std::uint32_t bytes, std::uint32_t lowat, Instant now) noexcept {
  // At least two of the pool's mbufs, as Linux raises SO_SNDBUF to
  // SOCK_MIN_SNDBUF: below one, a copying send could never queue a byte.
  c.snd_buf = std::max(bytes, 2 * mbuf_truesize_);
  c.snd_lowat = std::min(lowat, bytes);
  c.snd_buf_locked = true;
  // Raising the limits may already satisfy a waiting writer.
  if (!c.removed && writable_due(c)) {
    c.writable_wanted = false;
    post(c, kTcpEvWritable);
  }
  (void)now;
  dispatch();
}

void TcpStack::set_congestion(Tcb& c, CongestionAlgorithm a) noexcept {
  NewRenoConfig nc = cc_cfg_;
  if (synchronized(c.state)) nc.mss = c.mss;  // else the handshake sets it (apply_syn_options)
  nc.seed = c.iss.value();
  c.cc.switch_to(a, nc, c.sack_recovery);
  set_full_ack_path(c);
}

void TcpStack::set_receive_buffer(Tcb& c, std::uint32_t bytes, Instant now) noexcept {
  // The advertised right edge never moves left (window_field), so a smaller
  // buffer closes the window as data arrives instead of shrinking it.
  c.rcv_buf = bytes;
  c.rcv_buf_locked = true;
  if (!c.removed && synchronized(c.state) && window_update_due(c)) {
    c.ack_now = true;
    output(c, now);
  }
  dispatch();
}

}  // namespace tern
