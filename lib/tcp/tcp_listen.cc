// Listeners: the SYN queue (children in SYN_RECEIVED), the accept queue, and
// SYN cookies when the SYN queue is full (RFC 4987 §3.6). RFC 9293 §3.10.7.2
// is the LISTEN state's segment arrival.
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace tern {

Listener* TcpStack::listen(std::uint16_t port, std::uint32_t backlog, ListenFamily family) {
  if (port == 0 || backlog == 0 || by_port_[port] != nullptr) return nullptr;
  auto l = std::make_unique<Listener>();
  l->port_ = port;
  l->family_ = family;
  l->backlog_ = std::min(backlog, o_.cfg.max_backlog);
  Listener* p = l.get();
  listeners_.push_back(std::move(l));
  by_port_[port] = p;
  return p;
}

void TcpStack::unlisten(Listener* l, Instant now) noexcept {
  if (l == nullptr) return;
  // Children the application never saw are reset, as Linux does when a
  // listening socket with a non-empty accept queue is closed.
  std::vector<Tcb*> kids;
  table_.for_each([&](const FourTuple&, Tcb* t) {
    if (t->listener == l) kids.push_back(t);
  });
  for (Tcb* t : kids) {
    if (synchronized(t->state) || t->state == TcpState::kSynReceived) send_rst_for(*t, now);
    finish(*t, TcpError::kAborted);
  }
  by_port_[l->port_] = nullptr;
  std::erase_if(ready_listeners_, [&](Listener* x) { return x == l; });
  std::erase_if(listeners_, [&](const std::unique_ptr<Listener>& x) { return x.get() == l; });
  dispatch();
}

Listener* TcpStack::find_listener(const FourTuple& t) noexcept {
  Listener* l = by_port_[t.lport];
  return l != nullptr && l->takes(t.is_v4()) ? l : nullptr;
}

Tcb* TcpStack::accept(Listener& l) noexcept {
  Tcb* c = l.accept_head_;
  if (c == nullptr) return nullptr;
  l.accept_head_ = c->accept_next;
  if (l.accept_head_ == nullptr) l.accept_tail_ = nullptr;
  --l.accepted_;
  c->accept_next = nullptr;
  c->in_accept_queue = false;
  c->listener = nullptr;
  c->app_owned = true;
  // Whatever arrived before accept() is news to the application now.
  std::uint8_t ev = 0;
  if (!c->rcvq.empty()) ev |= kTcpEvReadable;
  if (c->fin_received) ev |= kTcpEvPeerFin;
  if (c->removed) ev |= kTcpEvClosed;
  if (ev != 0) post(*c, ev);
  dispatch();
  return c;
}

void TcpStack::enqueue_accept(Listener& l, Tcb& c) noexcept {
  c.in_accept_queue = true;
  c.accept_next = nullptr;
  if (l.accept_tail_ == nullptr) {
    l.accept_head_ = l.accept_tail_ = &c;
  } else {
    l.accept_tail_->accept_next = &c;
    l.accept_tail_ = &c;
  }
  ++l.accepted_;
  post_listener(l);
}

void TcpStack::unlink_child(Tcb& c) noexcept {
  Listener* l = c.listener;
  if (l == nullptr) return;
  if (c.state == TcpState::kSynReceived && !c.cookie_born) --l->half_open_;
  if (c.in_accept_queue) {
    Tcb** p = &l->accept_head_;
    Tcb* prev = nullptr;
    while (*p != nullptr && *p != &c) {
      prev = *p;
      p = &(*p)->accept_next;
    }
    if (*p == &c) {
      *p = c.accept_next;
      if (l->accept_tail_ == &c) l->accept_tail_ = prev;
      --l->accepted_;
    }
    c.in_accept_queue = false;
  }
  c.listener = nullptr;
}

// SYN-RECEIVED -> ESTABLISHED for a passive open: move the child from the
// SYN queue to the accept queue. False when the accept queue is full: the
// caller drops the ACK (ListenOverflows), and the client's retransmission
// (or our SYN-ACK retransmission) tries again, as Linux does.
bool TcpStack::child_established(Tcb& c, Instant now) noexcept {
  Listener* l = c.listener;
  if (l == nullptr) return true;  // simultaneous open: no listener involved
  if (l->accepted_ >= l->backlog_) {
    counters_.inc(Counter::kListenOverflows);
    counters_.inc(Counter::kListenDrops);
    counters_.drop(Drop::kTcpListenOverflow);
    return false;
  }
  if (!c.cookie_born) --l->half_open_;
  counters_.inc(Counter::kPassiveOpens);
  to_state(c, TcpState::kEstablished);
  if (l->defer_accept_) {
    c.defer_accept_pending = true;  // enqueued when the first data (or FIN) arrives
  } else {
    enqueue_accept(*l, c);
  }
  (void)now;
  return true;
}

// RFC 9293 §3.10.7.2, third: a SYN to a listener.
void TcpStack::listen_syn(Listener& l, Segment& s, Instant now, std::optional<Seq32> iss) noexcept {
  if (l.accepted_ >= l.backlog_) {
    // Linux drops SYNs while the accept queue is full: a new child could not
    // be accepted anyway.
    counters_.inc(Counter::kListenOverflows);
    counters_.inc(Counter::kListenDrops);
    counters_.drop(Drop::kTcpListenOverflow);
    return;
  }
  if (l.half_open_ >= o_.cfg.syn_backlog || pool_.in_use() >= pool_.capacity()) {
    if (o_.cfg.syncookies) {
      l.cookie_sent_at_ = now;
      send_cookie_synack(l, s, now);
      return;
    }
    counters_.inc(Counter::kListenDrops);
    counters_.drop(l.half_open_ >= o_.cfg.syn_backlog ? Drop::kTcpSynQueueFull : Drop::kTcpNoTcb);
    return;
  }
  Tcb* c = new_tcb(s.tuple, s.tuple_hash, now);
  if (c == nullptr) return;
  c->listener = &l;
  c->window_clamp = l.window_clamp_;  // before apply_syn_options chooses the scale within it
  ++l.half_open_;
  c->irs = s.seq;
  c->rcv_nxt = s.seq + 1;
  if (iss) c->iss = *iss;  // else new_tcb's, RFC 6528's
  c->snd_una = c->iss;
  c->snd_nxt = c->iss;
  c->snd_max = c->iss;
  c->last_recv = now;
  apply_syn_options(*c, s.opts, now);
  // RFC 7323 §2.2: the window of a SYN is never scaled.
  c->snd_wnd = s.wnd_raw;
  c->snd_wl1 = s.seq;
  c->snd_wl2 = c->iss;
  to_state(*c, TcpState::kSynReceived);
  // Data on a SYN is not accepted (no TCP Fast Open): it is dropped and the
  // client sends it again after the handshake.
  send_syn(*c, now);
}

void TcpStack::send_cookie_synack(const Listener& l, Segment& s, Instant now) noexcept {
  const bool v6 = !s.tuple.is_v4();
  const std::uint16_t peer_mss = s.opts.mss.value_or(v6 ? 1220 : 536);  // RFC 9293 §3.7.1
  const std::uint16_t mss = std::min(peer_mss, mss_for_mtu(v6));
  const std::uint16_t table_mss = SynCookies::mss_table(v6)[SynCookies::mss_index(mss, v6)];
  const Seq32 iss = cookies_.make(
      SynCookieRequest{s.tuple.laddr, s.tuple.lport, s.tuple.raddr, s.tuple.rport, s.seq, table_mss}, now);
  TcpOptions o;
  o.mss = table_mss;
  // Window scale and SACK-permitted can only be remembered through the
  // timestamp (syn_cookie.h); without timestamps the connection gets neither.
  if (o_.cfg.timestamps && s.opts.timestamps) {
    SynCookieTsOptions carried;
    if (o_.cfg.window_scaling && s.opts.window_scale) {
      carried.window_scale = std::min<std::uint8_t>(*s.opts.window_scale, 14);
      // wscale_to_announce for the child cookie_ack will create.
      const std::uint32_t ceiling = std::max(o_.cfg.rcv_buf, autotune_cap(o_.cfg.rcv_buf_max));
      o.window_scale = rcv_wscale_for(l.window_clamp_ != 0 ? std::min(ceiling, l.window_clamp_) : ceiling);
    }
    carried.sack_permitted = o_.cfg.sack && s.opts.sack_permitted;
    o.sack_permitted = carried.sack_permitted;
    // The same tuple-derived offset the TCB will get (init_tcb_from_config).
    const std::uint32_t offset =
        isn_.secrets(s.tuple.laddr, s.tuple.lport, s.tuple.raddr, s.tuple.rport).ts_offset;
    o.timestamps = std::pair{encode_ts_options(ts_clock(now) + offset, carried), s.opts.timestamps->first};
  }
  counters_.inc(Counter::kSyncookiesSent);
  send_raw(s.tuple, iss, s.seq + 1, kTcpSyn | kTcpAck, syn_window(o_.cfg.rcv_buf, l.window_clamp_), &o, now);
}

// RFC 9293 §3.10.7.2, second: an ACK to a listener. It may return a SYN
// cookie (RFC 4987 §3.6) if the listener sent one that could still be valid
// (made at most two periods ago: syn_cookie.h); anything else is answered
// with <SEQ=SEG.ACK><CTL=RST>, and counted as a failed cookie only in the
// first case. Without that, every late ACK of a connection already gone (a
// retransmitted final ACK after our RST, a peer that lost its state) counted
// as SyncookiesFailed on a listener that had never sent a cookie.
void TcpStack::listen_ack(Listener& l, Segment& s, Instant now) noexcept {
  const bool cookie_possible = l.cookie_sent_at_ && now - *l.cookie_sent_at_ < kSynCookiePeriod * 2;
  if (!o_.cfg.syncookies || !cookie_possible || s.flags.syn() || s.flags.fin()) {
    reset_reply(s, now);
    counters_.drop(Drop::kTcpNoSocket);
    return;
  }
  const auto cookie =
      cookies_.check(s.tuple.laddr, s.tuple.lport, s.tuple.raddr, s.tuple.rport, s.seq - 1, s.ack - 1, now);
  if (!cookie) {
    counters_.inc(Counter::kSyncookiesFailed);
    counters_.drop(Drop::kTcpBadCookie);
    reset_reply(s, now);
    return;
  }
  if (l.accepted_ >= l.backlog_) {
    counters_.inc(Counter::kListenOverflows);
    counters_.inc(Counter::kListenDrops);
    counters_.drop(Drop::kTcpListenOverflow);
    return;
  }
  TcpOptions syn_opts;  // what the client's SYN must have carried
  syn_opts.mss = cookie->mss;
  if (o_.cfg.timestamps && s.opts.timestamps) {
    const auto carried = decode_ts_options(s.opts.timestamps->second);
    if (!carried) {
      counters_.inc(Counter::kSyncookiesFailed);
      counters_.drop(Drop::kTcpBadCookie);
      return;
    }
    syn_opts.window_scale = carried->window_scale;
    syn_opts.sack_permitted = carried->sack_permitted;
    syn_opts.timestamps = s.opts.timestamps;
  }
  Tcb* c = new_tcb(s.tuple, s.tuple_hash, now);
  if (c == nullptr) return;
  counters_.inc(Counter::kSyncookiesRecv);
  c->listener = &l;
  c->cookie_born = true;
  c->window_clamp = l.window_clamp_;
  c->irs = s.seq - 1;
  c->rcv_nxt = s.seq;
  c->iss = s.ack - 1;
  c->snd_una = c->iss;
  c->snd_nxt = s.ack;
  c->snd_max = s.ack;
  c->last_recv = now;
  apply_syn_options(*c, syn_opts, now);
  c->snd_wl1 = s.seq - 1;
  c->snd_wl2 = c->iss;
  c->rcv_adv = c->rcv_nxt + syn_window(o_.cfg.rcv_buf, l.window_clamp_);  // the cookie SYN-ACK's window
  to_state(*c, TcpState::kSynReceived);
  // The rest is the SYN-RECEIVED ACK processing of §3.10.7.4 (and any data).
  input_synchronized(*c, s, now);
  if (!c->removed && c->state == TcpState::kSynReceived) {
    // The accept queue filled meanwhile: no state is kept for a cookie.
    finish(*c, TcpError::kNone);
  }
}

}  // namespace tern
