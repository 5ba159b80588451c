// tern::api::UdpSocket over lib/udp: the engine reports a socket readable
// (UdpEvents, from inside IPv4 input) and run_udp_callbacks(), from the
// worker's loop, hands its datagrams to the handler one by one.
#include "tern/udp.h"

#include <new>
#include <vector>

#include "runtime/worker.h"
#include "tern/api.h"
#include "udp/udp_stack.h"

namespace tern::api {

class WorkerContext::UdpState final : public UdpEvents {
 public:
  void on_readable(UdpSocketId id) noexcept override {
    if (in_ready[id]) return;
    in_ready[id] = true;
    ready.push_back(id);  // reserved for every socket: never reallocates
  }

  UdpStack* stack = nullptr;
  std::unique_ptr<UdpSocket[]> slots;
  std::vector<bool> in_ready;
  std::vector<UdpSocketId> ready;
  std::vector<UdpSocketId> running;  // run_udp_callbacks' copy: swapped, so neither reallocates
};

namespace {

Error error_of(UdpResult r) noexcept {
  switch (r) {
    case UdpResult::kOk:
      return Error::kOk;
    case UdpResult::kInUse:
      return Error::kInUse;
    case UdpResult::kInvalid:
      return Error::kInvalid;
    case UdpResult::kNoMemory:
      return Error::kNoMemory;
    case UdpResult::kNoPorts:
      return Error::kNoPorts;
    case UdpResult::kTooBig:
      return Error::kTooBig;
    case UdpResult::kNotConnected:
      return Error::kNotConnected;
    case UdpResult::kUnreachable:
      return Error::kUnreachable;
    case UdpResult::kNoSource:
      return Error::kNoSource;
  }
  return Error::kInvalid;
}

}  // namespace

void WorkerContext::UdpStateDeleter::operator()(UdpState* s) const noexcept {
  if (s->stack != nullptr) {
    for (UdpSocketId i = 0; i < s->stack->config().max_sockets; ++i)
      if (s->slots[i].open_) s->stack->close(i);
    s->stack->set_events(nullptr);
  }
  delete s;
}

UdpSocket* WorkerContext::udp_open(const Endpoint& local, UdpHandler& h, Error* err) noexcept {
  const auto fail = [err](Error e) -> UdpSocket* {
    if (err != nullptr) *err = e;
    return nullptr;
  };
  UdpStack* stack = worker_.udp();
  if (stack == nullptr) return fail(Error::kInvalid);  // a worker built without UDP
  if (!udp_) {
    // Once per worker, at its first socket: a slot per socket the engine allows.
    try {
      const std::uint32_t n = stack->config().max_sockets;
      std::unique_ptr<UdpState, UdpStateDeleter> st(new UdpState);
      st->slots.reset(new UdpSocket[n]);
      for (std::uint32_t i = 0; i < n; ++i) {
        st->slots[i].worker_ = this;
        st->slots[i].id_ = i;
      }
      st->in_ready.assign(n, false);
      st->ready.reserve(n);
      st->running.reserve(n);
      st->stack = stack;
      stack->set_events(st.get());
      udp_ = std::move(st);
    } catch (const std::bad_alloc&) {
      return fail(Error::kNoMemory);
    }
  }
  UdpSocketId id = kNoUdpSocket;
  if (const UdpResult r = stack->open(local, &id); r != UdpResult::kOk) return fail(error_of(r));
  UdpSocket& s = udp_->slots[id];
  s.open_ = true;
  s.handler_ = &h;
  s.user = nullptr;
  if (err != nullptr) *err = Error::kOk;
  return &s;
}

void WorkerContext::run_udp_callbacks() noexcept {
  if (!udp_ || udp_->ready.empty()) return;
  UdpState& st = *udp_;
  std::swap(st.ready, st.running);
  for (const UdpSocketId id : st.running) {
    st.in_ready[id] = false;
    UdpSocket& s = st.slots[id];
    Buffer b;
    Endpoint from;
    // The handler may close the socket (its queue goes with it) or send.
    while (s.open_ && st.stack->pop(id, &b, &from)) {
      if (s.handler_ != nullptr)
        s.handler_->on_datagram(s, from, std::move(b));
      else
        b.reset();
    }
  }
  st.running.clear();
}

Error UdpSocket::send_to(Buffer& data, const Endpoint& to) noexcept {
  Mbuf m{data.release()};  // the chain's charge ends here: the stack sends it
  const UdpResult r = worker_->udp_->stack->send_to(id_, m, to, worker_->now_);
  if (m) data = Buffer{std::move(m)};
  return error_of(r);
}

Error UdpSocket::send(Buffer& data) noexcept {
  Mbuf m{data.release()};
  const UdpResult r = worker_->udp_->stack->send_to(id_, m, std::nullopt, worker_->now_);
  if (m) data = Buffer{std::move(m)};
  return error_of(r);
}

Error UdpSocket::send_to(std::span<const std::byte> bytes, const Endpoint& to) noexcept {
  if (bytes.size() > UdpStack::kMaxPayloadV4) return Error::kTooBig;
  UdpStack& st = *worker_->udp_->stack;
  Mbuf m = st.copy_payload(bytes);
  if (!m) return Error::kNoMemory;
  return error_of(st.send_to(id_, m, to, worker_->now_));
}

Error UdpSocket::send(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() > UdpStack::kMaxPayloadV4) return Error::kTooBig;
  UdpStack& st = *worker_->udp_->stack;
  Mbuf m = st.copy_payload(bytes);
  if (!m) return Error::kNoMemory;
  return error_of(st.send_to(id_, m, std::nullopt, worker_->now_));
}

Error UdpSocket::connect(const Endpoint& peer) noexcept {
  return error_of(worker_->udp_->stack->connect(id_, peer, worker_->now_));
}

void UdpSocket::close() noexcept {
  if (!open_) return;
  worker_->udp_->stack->close(id_);
  open_ = false;
  handler_ = nullptr;
  user = nullptr;
}

Endpoint UdpSocket::local() const noexcept { return worker_->udp_->stack->local(id_); }
std::optional<Endpoint> UdpSocket::peer() const noexcept { return worker_->udp_->stack->remote(id_); }
std::uint32_t UdpSocket::queued() const noexcept { return worker_->udp_->stack->queued(id_); }

}  // namespace tern::api
