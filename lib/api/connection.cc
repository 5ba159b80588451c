// tern::api::Connection: each call maps onto one TcpStack entry point with
// the worker's loop time. The engine posts events; WorkerContext turns them
// into callbacks (worker_context.cc).
#include <algorithm>
#include <cstdint>

#include "tcp/tcp_stack.h"
#include "tern/api.h"

namespace tern::api {

std::string_view to_string(Error e) noexcept {
  switch (e) {
    case Error::kOk:
      return "ok";
    case Error::kWouldBlock:
      return "would block";
    case Error::kClosed:
      return "closed";
    case Error::kInvalid:
      return "invalid argument";
    case Error::kNoPorts:
      return "no ephemeral port left";
    case Error::kNoMemory:
      return "out of memory";
    case Error::kInUse:
      return "in use";
    case Error::kTooBig:
      return "too big";
    case Error::kUnknownCongestion:
      return "unknown congestion control";
    case Error::kNotConnected:
      return "not connected";
    case Error::kUnreachable:
      return "unreachable";
    case Error::kNoSource:
      return "no usable source address (duplicate address detection running)";
  }
  return "?";
}

std::string_view to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::kNormal:
      return "normal";
    case CloseReason::kReset:
      return "reset";
    case CloseReason::kRefused:
      return "refused";
    case CloseReason::kTimedOut:
      return "timed out";
    case CloseReason::kUnreachable:
      return "unreachable";
    case CloseReason::kAborted:
      return "aborted";
  }
  return "?";
}

namespace {

// Detaches the longest prefix of whole mbufs of `chain` whose truesize is
// at most `limit` and returns it (empty when even the first costs more).
// `chain` keeps the rest with its own nb_segs and pkt_len.
Buffer split_whole_segments(Buffer& chain, std::uint32_t limit) noexcept {
  rte_mbuf* head = chain.get();
  std::uint32_t bytes = 0, cost = 0;
  std::uint16_t segs = 0;
  rte_mbuf* last = nullptr;
  for (rte_mbuf* m = head; m != nullptr && cost + mbuf_seg_truesize(m) <= limit; m = m->next) {
    bytes += m->data_len;
    cost += mbuf_seg_truesize(m);
    ++segs;
    last = m;
  }
  if (last == nullptr) return Buffer{};
  rte_mbuf* rest = last->next;
  if (rest == nullptr) return std::move(chain);
  last->next = nullptr;
  rest->nb_segs = static_cast<std::uint16_t>(head->nb_segs - segs);
  rest->pkt_len = head->pkt_len - bytes;
  head->nb_segs = segs;
  head->pkt_len = bytes;
  // The prefix goes to the send queue, which charges it; what the caller
  // keeps stays charged to the account it was (if it was).
  BufferAccount* const acct = chain.account();
  (void)chain.release();
  chain.reset(rest);
  if (acct != nullptr) chain.charge_to(*acct, mbuf_truesize(rest));
  return Buffer{head};
}

bool can_send(const Tcb& c) noexcept {
  const bool open = c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived ||
                    c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait;
  return open && !c.fin_queued && !c.removed;
}

}  // namespace

SendResult Connection::send(Buffer& data) noexcept {
  if (tcb_ == nullptr || !can_send(*tcb_)) return {0, Error::kClosed};
  if (!data) return {};
  TcpStack& tcp = *worker_->tcp_;
  const Instant now = worker_->now_;
  const std::uint32_t len = data.pkt_len();
  // Autotuning may grow the buffer for a write that does not fit; it must
  // do so before the split below, or the refusal that arms kTcpEvWritable
  // would instead be taken whole, with the caller told kWouldBlock and no
  // event ever to follow.
  if (mbuf_truesize(data.get()) > tcp.send_space(*tcb_)) tcp.snd_buf_expand(*tcb_);
  const std::uint32_t space = tcp.send_space(*tcb_);
  if (mbuf_truesize(data.get()) <= space) {
    if (!tcp.send(*tcb_, std::move(data), now)) return {0, Error::kClosed};
    data.reset();  // taken: the send queue charges it now
    return {len, Error::kOk};
  }
  if (mbuf_seg_truesize(data.get()) > tcb_->snd_buf) return {0, Error::kTooBig};
  SendResult r{0, Error::kWouldBlock};
  if (Buffer part = split_whole_segments(data, space)) {
    r.accepted = part.pkt_len();
    if (!tcp.send(*tcb_, std::move(part), now)) return {0, Error::kClosed};
  }
  // Refused for lack of space, send() leaves `data` with us and arms
  // kTcpEvWritable for the low watermark (the buffer grew above already).
  const std::uint32_t rest = data.pkt_len();
  if (tcp.send(*tcb_, std::move(data), now)) {
    data.reset();
    return {r.accepted + rest, Error::kOk};
  }
  return r;
}

SendResult Connection::send(std::span<const std::byte> bytes) noexcept {
  if (tcb_ == nullptr || !can_send(*tcb_)) return {0, Error::kClosed};
  const std::size_t n = worker_->tcp_->send_copy(*tcb_, bytes, worker_->now_);
  return {static_cast<std::uint32_t>(n), n == bytes.size() ? Error::kOk : Error::kWouldBlock};
}

void Connection::want_writable() noexcept {
  if (tcb_ != nullptr && can_send(*tcb_)) worker_->tcp_->want_writable(*tcb_);
}

void Connection::pause_reading() noexcept { paused_ = true; }

void Connection::resume_reading() noexcept {
  if (!paused_) return;
  paused_ = false;
  events_ |= kTcpEvReadable;
  worker_->mark(*this);
}

Buffer Connection::recv() noexcept {
  if (tcb_ == nullptr) return Buffer{};
  Buffer b = worker_->tcp_->recv_charged(*tcb_, worker_->now_);
  if (peer_fin_ && !peer_fin_told_) worker_->mark(*this);  // on_peer_closed once drained
  return b;
}

std::size_t Connection::read(std::span<std::byte> out) noexcept {
  if (tcb_ == nullptr) return 0;
  const std::size_t n = worker_->tcp_->read(*tcb_, out, worker_->now_);
  if (peer_fin_ && !peer_fin_told_) worker_->mark(*this);
  return n;
}

Error Connection::shutdown() noexcept {
  if (tcb_ == nullptr || !can_send(*tcb_)) return Error::kClosed;
  worker_->tcp_->shutdown_write(*tcb_, worker_->now_);
  return Error::kOk;
}

void Connection::close() noexcept {
  if (tcb_ == nullptr) return;
  if (linger_abort_) return abort();
  Tcb& c = *std::exchange(tcb_, nullptr);
  c.user = nullptr;
  gone_ = true;
  worker_->mark(*this);  // the slot is recycled by the next round of callbacks
  worker_->tcp_->close(c, worker_->now_);
}

void Connection::abort() noexcept {
  if (tcb_ == nullptr) return;
  Tcb& c = *std::exchange(tcb_, nullptr);
  c.user = nullptr;
  gone_ = true;
  worker_->mark(*this);
  worker_->tcp_->abort(c, worker_->now_);
}

void Connection::set_nodelay(bool on) noexcept {
  if (tcb_ != nullptr) worker_->tcp_->set_nodelay(*tcb_, on, worker_->now_);
}

void Connection::set_cork(bool on) noexcept {
  if (tcb_ != nullptr) worker_->tcp_->set_cork(*tcb_, on, worker_->now_);
}

void Connection::set_keepalive(bool on) noexcept {
  if (tcb_ != nullptr) worker_->tcp_->set_keepalive(*tcb_, on, worker_->now_);
}

Error Connection::set_keepalive(const KeepaliveParams& p) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  // The same bounds as the [tcp] keepalive keys (docs/config.md).
  if (p.idle < Duration::s(1) || p.interval < Duration::s(1) || p.probes < 1 || p.probes > 255)
    return Error::kInvalid;
  worker_->tcp_->set_keepalive_params(*tcb_, p.idle, p.interval, p.probes, worker_->now_);
  worker_->tcp_->set_keepalive(*tcb_, true, worker_->now_);
  return Error::kOk;
}

Error Connection::set_linger(bool on, Duration timeout) noexcept {
  if (on && timeout != Duration{}) return Error::kInvalid;
  linger_abort_ = on;
  return Error::kOk;
}

Error Connection::set_send_buffer(std::uint32_t high, std::uint32_t low) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  if (high == 0 || high > (1u << 30) || low > high) return Error::kInvalid;
  worker_->tcp_->set_send_buffer(*tcb_, high, low, worker_->now_);
  return Error::kOk;
}

Error Connection::set_receive_buffer(std::uint32_t bytes) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  if (bytes < 2048 || bytes > std::max(worker_->tcp_->config().rcv_buf, worker_->tcp_->config().rcv_buf_max))
    return Error::kInvalid;
  worker_->tcp_->set_receive_buffer(*tcb_, bytes, worker_->now_);
  return Error::kOk;
}

Error Connection::set_user_timeout(Duration timeout) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  if (timeout < Duration{} || timeout > Duration::ms(INT32_MAX)) return Error::kInvalid;
  worker_->tcp_->set_user_timeout(*tcb_, timeout, worker_->now_);
  return Error::kOk;
}

Error Connection::set_window_clamp(std::uint32_t bytes) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  // Linux refuses 0 on a socket that is not closed (it would mean "no
  // clamp", which only an unconnected socket may ask for).
  if (bytes == 0 || bytes > (1u << 30)) return Error::kInvalid;
  worker_->tcp_->set_window_clamp(*tcb_, bytes, worker_->now_);
  return Error::kOk;
}

Error Connection::set_congestion(std::string_view name) noexcept {
  if (tcb_ == nullptr) return Error::kClosed;
  CongestionAlgorithm a{};
  if (!parse_congestion(name, a)) return Error::kUnknownCongestion;
  worker_->tcp_->set_congestion(*tcb_, a);
  return Error::kOk;
}

std::string_view Connection::congestion() const noexcept { return tcb_ ? tcb_->cc.name() : ""; }

IpAddr Connection::local_ip() const noexcept { return tcb_ ? tcb_->tuple.laddr : IpAddr{}; }
IpAddr Connection::remote_ip() const noexcept { return tcb_ ? tcb_->tuple.raddr : IpAddr{}; }
std::uint32_t Connection::local_addr() const noexcept { return tcb_ ? tcb_->tuple.laddr.v4_host() : 0; }
std::uint16_t Connection::local_port() const noexcept { return tcb_ ? tcb_->tuple.lport : 0; }
std::uint32_t Connection::remote_addr() const noexcept { return tcb_ ? tcb_->tuple.raddr.v4_host() : 0; }
std::uint16_t Connection::remote_port() const noexcept { return tcb_ ? tcb_->tuple.rport : 0; }
bool Connection::established() const noexcept { return tcb_ != nullptr && synchronized(tcb_->state); }
std::uint32_t Connection::send_queued() const noexcept { return tcb_ ? tcb_->sndq.bytes() : 0; }
std::uint32_t Connection::send_space() const noexcept {
  return tcb_ != nullptr && can_send(*tcb_) ? worker_->tcp_->send_space(*tcb_) : 0;
}
std::string_view Connection::state() const noexcept { return tcb_ ? tern::to_string(tcb_->state) : "CLOSED"; }

ConnectionInfo Connection::info() const noexcept {
  if (tcb_ == nullptr) {
    ConnectionInfo i;
    i.state = "CLOSED";
    return i;
  }
  return worker_->tcp_->info(*tcb_);
}

}  // namespace tern::api
