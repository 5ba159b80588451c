// tern::api::WorkerContext: the engine's events become callbacks. Events
// only mark a connection ready (TcpHandler may be called from inside any
// engine entry point); the callbacks run from the worker's loop, once per
// iteration, in run_callbacks(), where any call back into the stack is safe.
#include <algorithm>

#include "api/adapter.h"
#include "runtime/worker.h"
#include "tcp/tcp_stack.h"
#include "tern/api.h"

namespace tern::api {

class WorkerContext::EngineHandler final : public TcpHandler {
 public:
  explicit EngineHandler(WorkerContext& w) noexcept : w_(w) {}
  void on_event(Tcb& c, std::uint8_t events) override { w_.on_engine_event(c, events); }
  void on_acceptable(Listener& l) override { w_.on_acceptable(l); }

 private:
  WorkerContext& w_;
};

namespace {

CloseReason reason_for(TcpError e) noexcept {
  switch (e) {
    case TcpError::kNone:
      return CloseReason::kNormal;
    case TcpError::kReset:
      return CloseReason::kReset;
    case TcpError::kRefused:
      return CloseReason::kRefused;
    case TcpError::kTimedOut:
      return CloseReason::kTimedOut;
    case TcpError::kUnreachable:
      return CloseReason::kUnreachable;
    case TcpError::kAborted:
      return CloseReason::kAborted;
  }
  return CloseReason::kAborted;
}

}  // namespace

WorkerContext::WorkerContext(Worker& w, rte_mempool* pool)
    : worker_(w), tcp_(w.tcp()), pool_(pool), engine_handler_(std::make_unique<EngineHandler>(*this)) {
  // One slot per TCB the engine can hand out, so accept and connect never
  // allocate and never find the slots short.
  const std::uint32_t n = tcp_->config().max_connections;
  slots_ = std::unique_ptr<Connection[]>(new Connection[n]);
  for (std::uint32_t i = n; i-- > 0;) {
    slots_[i].worker_ = this;
    slots_[i].next_ = free_;
    free_ = &slots_[i];
  }
  tcp_->set_handler(engine_handler_.get());
}

Buffer WorkerContext::wrap(const SendRegion& r, std::size_t off, std::size_t len,
                           std::uint32_t max_segment) noexcept {
  return r.wrap(tcp_->clone_pool(), off, len, max_segment);
}

WorkerContext::~WorkerContext() {
  if (tcp_ != nullptr && tcp_->handler() == engine_handler_.get()) tcp_->set_handler(nullptr);
}

std::uint16_t WorkerContext::id() const noexcept { return worker_.id(); }
std::uint16_t WorkerContext::count() const noexcept { return worker_.workers(); }
std::uint32_t WorkerContext::local_addr() const noexcept { return worker_.ip().settings().addr; }
std::uint32_t WorkerContext::tcbs_in_use() const noexcept { return tcp_->tcbs_in_use(); }
std::size_t WorkerContext::table_size() const noexcept { return tcp_->connections(); }

WorkerContext::NextHop WorkerContext::next_hop(std::uint32_t addr) const noexcept {
  const IpLayer& ip = worker_.ip();
  const auto hop = ip.next_hop(addr);
  if (!hop) return NextHop::kNoRoute;
  return ip.arp().unanswered(*hop) ? NextHop::kUnanswered : NextHop::kOk;
}

Error WorkerContext::listen(std::uint16_t port, std::uint32_t backlog, AcceptHandler& h,
                            ListenFamily family) noexcept {
  if (port == 0 || backlog == 0) return Error::kInvalid;
  ::tern::ListenFamily f = ::tern::ListenFamily::kBoth;
  switch (family) {
    case ListenFamily::kBoth:
      break;
    case ListenFamily::kV4Only:
      f = ::tern::ListenFamily::kV4Only;
      break;
    case ListenFamily::kV6Only:
      f = ::tern::ListenFamily::kV6Only;
      break;
    default:
      return Error::kInvalid;
  }
  Listener* l = tcp_->listen(port, backlog, f);
  if (l == nullptr) return Error::kInUse;
  l->user = &h;
  listeners_.push_back(l);
  return Error::kOk;
}

void WorkerContext::unlisten(std::uint16_t port) noexcept {
  auto it =
      std::find_if(listeners_.begin(), listeners_.end(), [port](Listener* l) { return l->port() == port; });
  if (it == listeners_.end()) return;
  Listener* l = *it;
  listeners_.erase(it);
  acceptable_.erase(std::remove(acceptable_.begin(), acceptable_.end(), l), acceptable_.end());
  deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), l), deferred_.end());
  tcp_->unlisten(l, now_);
}

Connection* WorkerContext::connect(std::uint32_t addr, std::uint16_t port, ConnectionHandler& h,
                                   Error* err) noexcept {
  return connect(IpAddr::v4(addr), port, h, err);
}

Connection* WorkerContext::connect(const IpAddr& addr, std::uint16_t port, ConnectionHandler& h,
                                   Error* err) noexcept {
  ConnectError ce = ConnectError::kNone;
  unclaimed_tcb_ = nullptr;
  unclaimed_events_ = 0;
  Tcb* t = tcp_->connect(addr, port, now_, &ce);
  if (t == nullptr) {
    if (err != nullptr) {
      switch (ce) {
        case ConnectError::kNoPorts:
          *err = Error::kNoPorts;
          break;
        case ConnectError::kNoMemory:
          *err = Error::kNoMemory;
          break;
        case ConnectError::kInUse:
          *err = Error::kInUse;
          break;
        case ConnectError::kNoSource:
          *err = Error::kNoSource;
          break;
        default:
          *err = Error::kInvalid;
      }
    }
    return nullptr;
  }
  Connection* c = take_slot(*t, &h);
  c->connecting_ = true;
  if (unclaimed_tcb_ == t) c->events_ |= unclaimed_events_;
  if (c->events_ != 0) mark(*c);
  if (err != nullptr) *err = Error::kOk;
  return c;
}

Connection* WorkerContext::take_slot(Tcb& t, ConnectionHandler* h) noexcept {
  Connection* c = free_;
  free_ = c->next_;
  c->next_ = nullptr;
  c->tcb_ = &t;
  c->handler_ = h;
  c->events_ = 0;
  c->in_ready_ = false;
  c->paused_ = false;
  c->peer_fin_ = false;
  c->peer_fin_told_ = false;
  c->linger_abort_ = false;
  c->connecting_ = false;
  c->gone_ = false;
  c->user = nullptr;
  t.user = c;
  ++active_;
  return c;
}

void WorkerContext::release_slot(Connection& c) noexcept {
  c.tcb_ = nullptr;
  c.handler_ = nullptr;
  c.next_ = free_;
  free_ = &c;
  --active_;
}

void WorkerContext::mark(Connection& c) noexcept {
  if (c.in_ready_) return;
  c.in_ready_ = true;
  c.next_ = nullptr;
  if (ready_tail_ == nullptr)
    ready_head_ = &c;
  else
    ready_tail_->next_ = &c;
  ready_tail_ = &c;
}

void WorkerContext::on_engine_event(Tcb& t, std::uint8_t events) noexcept {
  auto* c = static_cast<Connection*>(t.user);
  if (c == nullptr) {  // posted from inside accept() or connect(), before the slot was attached
    unclaimed_tcb_ = &t;
    unclaimed_events_ |= events;
    return;
  }
  c->events_ |= events;
  mark(*c);
}

void WorkerContext::on_acceptable(Listener& l) noexcept {
  if (std::find(acceptable_.begin(), acceptable_.end(), &l) == acceptable_.end()) acceptable_.push_back(&l);
}

void WorkerContext::accept_all(Listener& l) noexcept {
  auto* h = static_cast<AcceptHandler*>(l.user);
  while (true) {
    if (h != nullptr && l.accept_queue_size() > 0 && !h->ready_to_accept()) {
      if (std::find(deferred_.begin(), deferred_.end(), &l) == deferred_.end()) deferred_.push_back(&l);
      return;
    }
    unclaimed_tcb_ = nullptr;
    unclaimed_events_ = 0;
    Tcb* t = tcp_->accept(l);
    if (t == nullptr) return;
    if (free_ == nullptr) {  // cannot happen while the slots match the TCB pool
      tcp_->abort(*t, now_);
      continue;
    }
    Connection* c = take_slot(*t, nullptr);
    // Data may have been queued before accept(): look whatever was posted.
    c->events_ = static_cast<std::uint8_t>(kTcpEvReadable | (unclaimed_tcb_ == t ? unclaimed_events_ : 0));
    ConnectionHandler* ch = h != nullptr ? h->on_accept(*c) : nullptr;
    if (c->gone_) {  // closed or aborted from on_accept; already marked
      continue;
    }
    if (ch == nullptr) {
      c->abort();
      continue;
    }
    c->handler_ = ch;
    mark(*c);
  }
}

void WorkerContext::run_callbacks(Instant now) noexcept {
  now_ = now;
  // Listeners whose handler was not ready: ask again (AcceptHandler::ready_to_accept).
  for (Listener* l : deferred_) on_acceptable(*l);
  deferred_.clear();
  // Accepting may mark connections; servicing may make listeners acceptable
  // again (a slot freed), so loop until both are quiet. Each pass handles
  // what was ready when it began, so a connection that keeps re-marking
  // itself cannot starve the loop.
  for (int round = 0; round < 4; ++round) {
    if (!acceptable_.empty()) {
      accepting_.swap(acceptable_);
      for (Listener* l : accepting_) accept_all(*l);
      accepting_.clear();
    }
    Connection* list = std::exchange(ready_head_, nullptr);
    ready_tail_ = nullptr;
    if (list == nullptr) break;
    while (list != nullptr) {
      Connection* c = list;
      list = c->next_;
      c->next_ = nullptr;
      c->in_ready_ = false;
      service(*c);
    }
  }
}

void WorkerContext::service(Connection& c) noexcept {
  // Closed or aborted by the application: close() / abort() put it on the
  // ready list, and only here, taken off that list, may its slot be reused.
  if (c.gone_) return release_slot(c);
  const std::uint8_t ev = std::exchange(c.events_, 0);
  ConnectionHandler& h = *c.handler_;
  if ((ev & kTcpEvConnected) && c.connecting_) {
    c.connecting_ = false;
    h.on_connected(c);
    if (c.gone_) return;  // released when its mark comes round
  }
  if (ev & kTcpEvPeerFin) c.peer_fin_ = true;
  if (!c.paused_) {
    while (Buffer b = tcp_->recv_charged(*c.tcb_, now_)) {
      h.on_data(c, std::move(b));
      if (c.gone_) return;  // released when its mark comes round
      if (c.paused_) break;
    }
  }
  // EOF follows the data: only once everything the peer sent was delivered.
  if (c.peer_fin_ && !c.peer_fin_told_ && c.tcb_->rcvq.empty()) {
    c.peer_fin_told_ = true;
    h.on_peer_closed(c);
    if (c.gone_) return;  // released when its mark comes round
  }
  if (ev & kTcpEvWritable) {
    h.on_writable(c);
    if (c.gone_) return;  // released when its mark comes round
  }
  if (ev & kTcpEvClosed) {
    Tcb& t = *c.tcb_;
    h.on_closed(c, reason_for(t.error));
    if (c.gone_) return;  // closed from on_closed: released when its mark comes round
    t.user = nullptr;
    c.tcb_ = nullptr;
    tcp_->close(t, now_);  // lets the engine free it
    // A call from on_closed may have marked it again (recv() or read() of the
    // data still queued, resume_reading()): then the ready list holds it, and
    // only there may its slot be released.
    if (c.in_ready_) {
      c.gone_ = true;
      return;
    }
    release_slot(c);
  }
}

}  // namespace tern::api
