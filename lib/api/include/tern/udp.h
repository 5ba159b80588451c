#pragma once
// Tern's public UDP API: per-worker datagram sockets with zero-copy buffers,
// on the model of tern/api.h.
//
// A socket belongs to the worker that opened it (WorkerContext::udp_open)
// and is used on that worker's lcore only. Like listen(), a server opens
// its port on every worker: datagrams are spread across workers (RSS or
// software steering hashes the addresses and ports) and each worker's socket
// receives those that land on it. A socket opened with port 0 takes its port
// at connect() or at its first send_to(), and with software steering that
// port is chosen so the peer's replies hash back to this worker, as
// WorkerContext::connect does for TCP. (With RSS the NIC's hash is not
// predicted: a reply may land on a sibling, which has no such socket and
// answers Port Unreachable. A datagram the peer sent in fragments is
// delivered on the worker where it was reassembled, which steering picks by
// addresses alone; a socket bound on every worker gets it, a connected
// socket on another worker does not.)
//
// Receive: on_datagram() runs from the worker's loop, after received frames
// were processed (never from inside a call the application makes), once per
// datagram, with its source and its payload as an mbuf chain the application
// now owns (headers trimmed; a zero-length datagram is an empty mbuf). Until
// then datagrams wait in the socket's receive queue, bounded by [udp]
// rcv_queue and rcv_buf; past the bound they are dropped and counted
// (UdpRcvbufErrors).
//
// Send: send_to(Buffer&, to) sends the whole chain as one datagram, without
// copying: the UDP/IP/Ethernet headers go into the first mbuf's headroom
// when it has 62 bytes of it (Buffer::alloc leaves 128), else into a header
// mbuf put in front. On kOk `data` is empty: the chain is the stack's. On an
// error `data` still holds the chain unless the error came after the stack
// took it (kNoMemory: no mbuf for a fragment, the TX ring full), then it is
// empty. UDP is unreliable: kOk means handed to IPv4, not delivered.
// Copying send_to(span) sits on top.
//
// Both families: a socket bound to "::" takes and sends either, one bound to
// 0.0.0.0 or an IPv4 address IPv4 only, one bound to an IPv6 address IPv6
// only. Over IPv6 the checksum is mandatory (a zero one is dropped, RFC 8200
// §8.1) and the source is the one the IPv6 layer selects for the
// destination; IPv6 fragments are neither sent nor reassembled yet, so an
// IPv6 datagram must fit the link MTU.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tern/api.h"
#include "tern/buffer.h"
#include "tern/ip_addr.h"

namespace tern::api {

using Endpoint = tern::Endpoint;
using IpAddr = tern::IpAddr;

class UdpHandler {
 public:
  virtual ~UdpHandler() = default;
  // One datagram from `from`; `data` is the application's now.
  virtual void on_datagram(UdpSocket& s, const Endpoint& from, Buffer data) = 0;
};

class UdpSocket {
 public:
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Zero-copy send of the whole chain to `to` (see the header comment for
  // who owns `data` afterwards). kInvalid (port 0, unspecified or multicast
  // address, or a family the socket's address cannot reach), kUnreachable
  // (no route), kTooBig (over 65,507 bytes,
  // or over the MTU where fragmenting failed), kNoPorts (no ephemeral port
  // for an unbound socket), kNoMemory.
  Error send_to(Buffer& data, const Endpoint& to) noexcept;
  // Copying send: `bytes` go into fresh mbufs of the worker's pool.
  Error send_to(std::span<const std::byte> bytes, const Endpoint& to) noexcept;
  // To the connected peer; kNotConnected without one.
  Error send(Buffer& data) noexcept;
  Error send(std::span<const std::byte> bytes) noexcept;

  // Sets the default peer: send() goes there and only its datagrams are
  // received. An unbound socket gets its local port here. Endpoint{}
  // (the unspecified address) dissolves the association.
  Error connect(const Endpoint& peer) noexcept;
  // Closes the socket and drops what its queue holds. The handle is invalid after.
  void close() noexcept;

  Endpoint local() const noexcept;  // port 0 while unbound
  std::optional<Endpoint> peer() const noexcept;
  std::uint32_t queued() const noexcept;  // datagrams waiting for on_datagram
  void set_handler(UdpHandler& h) noexcept { handler_ = &h; }
  WorkerContext& worker() const noexcept { return *worker_; }

  void* user = nullptr;  // the application's

 private:
  friend class WorkerContext;
  UdpSocket() = default;

  WorkerContext* worker_ = nullptr;
  UdpHandler* handler_ = nullptr;
  std::uint32_t id_ = 0;
  bool open_ = false;
};

}  // namespace tern::api
