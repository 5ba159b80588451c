// tern-echo: a TCP echo server (RFC 862) on every worker. Every byte
// received is sent back zero-copy: the mbuf chain recv() hands over is the
// chain given to send(). When the send buffer has no room, the chain waits
// on the connection and the connection is not read until kTcpEvWritable,
// so a slow reader throttles its own sender through the receive window.
// After the peer's FIN and once everything is echoed, the write side is
// shut down; the connection is closed when the engine reports it over.
//
//   tern-echo --config FILE [--port 7] [--ready-file PATH]
//
// Engine events only mark a connection; the work happens in on_poll, which
// has the loop's `now` (the handler is not given one).
#include <cinttypes>
#include <memory>
#include <vector>

#include "app_main.h"
#include "runtime/log.h"

namespace tern {
namespace {

struct EchoStats {
  std::uint64_t accepted = 0;
  std::uint64_t no_slot = 0;  // accepted with the connection pool empty: aborted
  std::uint64_t closed_clean = 0;
  std::uint64_t closed_error = 0;  // reset, timed out or aborted
  std::uint64_t bytes = 0;         // echoed (handed to send)
  std::uint64_t send_blocked = 0;  // send refused for lack of space
  std::uint64_t splits = 0;        // a chain sent in parts
  std::uint32_t active = 0;
  std::uint32_t max_active = 0;
};

struct EchoConn {
  Tcb* tcb = nullptr;
  Mbuf pending;  // received, not yet accepted by send()
  std::uint8_t events = 0;
  bool blocked = false;  // waiting for kTcpEvWritable: do not read
  bool peer_fin = false;
  bool shut = false;  // shutdown_write done
  bool in_ready = false;
  EchoConn* next = nullptr;  // free list or ready list
};

// Detaches the longest prefix of whole segments of `chain` that is at most
// `limit` bytes and returns it (empty when even the first segment is too
// long). `chain` keeps the rest.
Mbuf split_prefix(Mbuf& chain, std::uint32_t limit) noexcept {
  rte_mbuf* head = chain.get();
  std::uint32_t bytes = 0;
  std::uint16_t segs = 0;
  rte_mbuf* last = nullptr;
  for (rte_mbuf* m = head; m != nullptr && bytes + m->data_len <= limit; m = m->next) {
    bytes += m->data_len;
    ++segs;
    last = m;
  }
  if (last == nullptr) return Mbuf{};
  rte_mbuf* rest = last->next;
  if (rest == nullptr) return std::move(chain);
  last->next = nullptr;
  rest->nb_segs = static_cast<std::uint16_t>(head->nb_segs - segs);
  rest->pkt_len = head->pkt_len - bytes;
  head->nb_segs = segs;
  head->pkt_len = bytes;
  (void)chain.release();
  chain.reset(rest);
  return Mbuf{head};
}

class EchoApp final : public WorkerApp, public TcpHandler {
 public:
  explicit EchoApp(std::uint16_t port) : port_(port) {}

  void on_start(Worker& w, Instant /*now*/) override {
    tcp_ = w.tcp();
    worker_ = w.id();
    if (tcp_ == nullptr) {
      TERN_LOG(ERR, "tern-echo: worker %u has no TCP stack\n", worker_);
      return;
    }
    // One EchoConn per TCB the engine can hand out: accept never allocates.
    conns_ = std::make_unique<EchoConn[]>(tcp_->config().max_connections);
    for (std::uint32_t i = tcp_->config().max_connections; i-- > 0;) release_to_pool(&conns_[i]);
    tcp_->set_handler(this);
    listener_ = tcp_->listen(port_, tcp_->config().max_backlog);
    if (listener_ == nullptr)
      TERN_LOG(ERR, "tern-echo: worker %u cannot listen on port %u\n", worker_, port_);
  }

  void on_poll(Worker& /*w*/, Instant now) override {
    if (tcp_ == nullptr) return;
    if (acceptable_) {
      acceptable_ = false;
      accept_all(now);
    }
    // Connections marked while these run join the next round.
    EchoConn* list = std::exchange(ready_head_, nullptr);
    ready_tail_ = nullptr;
    while (list != nullptr) {
      EchoConn* e = list;
      list = e->next;
      e->next = nullptr;
      e->in_ready = false;
      service(*e, now);
    }
  }

  void on_event(Tcb& c, std::uint8_t ev) override {
    auto* e = static_cast<EchoConn*>(c.user);
    if (e == nullptr) {  // dispatched from inside accept(), before we could attach our state
      unclaimed_tcb_ = &c;
      unclaimed_events_ |= ev;
      return;
    }
    e->events |= ev;
    mark(*e);
  }

  void on_acceptable(Listener& /*l*/) override { acceptable_ = true; }

  const EchoStats& stats() const noexcept { return stats_; }
  std::uint16_t worker() const noexcept { return worker_; }
  const TcpStack* tcp() const noexcept { return tcp_; }

 private:
  void accept_all(Instant now) {
    if (listener_ == nullptr) return;
    while (true) {
      unclaimed_tcb_ = nullptr;
      unclaimed_events_ = 0;
      Tcb* c = tcp_->accept(*listener_);
      if (c == nullptr) return;
      ++stats_.accepted;
      EchoConn* e = free_;
      if (e == nullptr) {  // cannot happen while the pool matches the TCB pool
        ++stats_.no_slot;
        tcp_->abort(*c, now);
        continue;
      }
      free_ = e->next;
      *e = EchoConn{};
      e->tcb = c;
      c->user = e;
      if (++stats_.active > stats_.max_active) stats_.max_active = stats_.active;
      // Data may have been queued before accept(): read it whatever was posted.
      e->events = static_cast<std::uint8_t>(kTcpEvReadable | (unclaimed_tcb_ == c ? unclaimed_events_ : 0));
      mark(*e);
    }
  }

  void mark(EchoConn& e) noexcept {
    if (e.in_ready) return;
    e.in_ready = true;
    e.next = nullptr;
    if (ready_tail_ == nullptr)
      ready_head_ = &e;
    else
      ready_tail_->next = &e;
    ready_tail_ = &e;
  }

  void service(EchoConn& e, Instant now) {
    const std::uint8_t ev = std::exchange(e.events, 0);
    if (ev & kTcpEvClosed) return finish(e, now);
    if (ev & kTcpEvPeerFin) e.peer_fin = true;
    if (ev & kTcpEvWritable) e.blocked = false;
    if (e.blocked) return;  // only kTcpEvWritable resumes reading
    while (true) {
      if (e.pending && !send_pending(e, now)) {
        e.blocked = true;
        ++stats_.send_blocked;
        return;
      }
      Mbuf m = tcp_->recv(*e.tcb, now);
      if (!m) break;
      e.pending = std::move(m);
    }
    if (e.peer_fin && !e.shut) {
      e.shut = true;
      tcp_->shutdown_write(*e.tcb, now);  // kTcpEvClosed follows once our FIN is acknowledged
    }
  }

  // True when all of e.pending was queued. A chain larger than the space left
  // goes in whole-segment parts, so it never waits for a buffer it cannot fit in.
  bool send_pending(EchoConn& e, Instant now) {
    const std::uint32_t len = e.pending.pkt_len();
    if (len > e.tcb->send_space()) {
      Mbuf part = split_prefix(e.pending, e.tcb->send_space());
      if (part) {
        ++stats_.splits;
        const std::uint32_t part_len = part.pkt_len();
        if (!tcp_->send(*e.tcb, std::move(part), now)) return false;
        stats_.bytes += part_len;
      }
    }
    // Refused for lack of space, send() leaves the chain with us and asks the
    // engine for kTcpEvWritable.
    const std::uint32_t rest = e.pending.pkt_len();
    if (!tcp_->send(*e.tcb, std::move(e.pending), now)) return false;
    stats_.bytes += rest;
    return true;
  }

  void finish(EchoConn& e, Instant now) {
    Tcb& c = *e.tcb;
    if (c.error == TcpError::kNone)
      ++stats_.closed_clean;
    else
      ++stats_.closed_error;
    c.user = nullptr;
    release_to_pool(&e);
    --stats_.active;
    tcp_->close(c, now);
  }

  void release_to_pool(EchoConn* e) noexcept {
    e->pending.reset();
    e->tcb = nullptr;
    e->next = free_;
    free_ = e;
  }

  std::uint16_t port_;
  std::uint16_t worker_ = 0;
  TcpStack* tcp_ = nullptr;
  Listener* listener_ = nullptr;
  std::unique_ptr<EchoConn[]> conns_;
  EchoConn* free_ = nullptr;
  EchoConn* ready_head_ = nullptr;
  EchoConn* ready_tail_ = nullptr;
  bool acceptable_ = false;
  Tcb* unclaimed_tcb_ = nullptr;
  std::uint8_t unclaimed_events_ = 0;
  EchoStats stats_;
};

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  std::uint16_t port = 7;
  std::vector<tern::EchoApp*> apps;
  tern::AppSpec spec;
  spec.name = "tern-echo";
  spec.summary = "TCP echo server (RFC 862), zero-copy, on every worker";
  spec.options.push_back({"--port", "N", "TCP port to listen on (default 7)", [&port](const std::string& v) {
                            port = static_cast<std::uint16_t>(tern::parse_int_option("--port", v, 1, 65535));
                          }});
  spec.make_app = [&](tern::Runtime&, std::size_t) {
    auto app = std::make_unique<tern::EchoApp>(port);
    apps.push_back(app.get());
    return app;
  };
  spec.report = [&apps](std::FILE* out) {
    for (const tern::EchoApp* a : apps) {
      const tern::EchoStats& s = a->stats();
      std::fprintf(out,
                   "echo worker %u: accepted %" PRIu64 " closed_clean %" PRIu64 " closed_error %" PRIu64
                   " no_slot %" PRIu64 " bytes %" PRIu64 " send_blocked %" PRIu64 " splits %" PRIu64
                   " active %u max_active %u tcbs_in_use %u connections %zu\n",
                   a->worker(), s.accepted, s.closed_clean, s.closed_error, s.no_slot, s.bytes,
                   s.send_blocked, s.splits, s.active, s.max_active, a->tcp() ? a->tcp()->tcbs_in_use() : 0,
                   a->tcp() ? a->tcp()->connections() : 0);
    }
  };
  return tern::app_main(argc, argv, spec);
}
