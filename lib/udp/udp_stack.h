#pragma once
// UDP for one worker (RFC 768, RFC 1122 §4.1): a socket table bounded at
// start-up, demultiplexing of received datagrams to sockets, bounded receive
// queues, the ICMP Port Unreachable for closed ports (rate-limited), and the
// send path with the checksum filled in software or by the NIC.
//
// No I/O and no clock: datagrams arrive from the IP layer (TransportInput),
// time through `now`, and what is sent goes out through IpLayer::send into
// the worker's FrameQueue. Receiving never calls the application: a socket
// that gets a datagram is reported through UdpEvents, and whoever runs the
// callbacks takes its datagrams with pop() (lib/api does it in its loop).
//
// Per packet there is no heap allocation: the table (a socket list per port)
// is sized at construction, a socket's receive ring when it is opened.
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "config/config.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "tern/ip_addr.h"

namespace tern {

using UdpSocketId = std::uint32_t;
inline constexpr UdpSocketId kNoUdpSocket = ~UdpSocketId{0};

struct UdpStackOptions {
  UdpConfig cfg;
  // Local ports chosen for sockets opened with port 0 (shared with TCP's
  // range, as Linux's ip_local_port_range is).
  std::uint16_t ephemeral_first = 32768;
  std::uint16_t ephemeral_last = 60999;
  std::uint64_t port_seed = 0;  // where the search for a free ephemeral port starts
  // The port sums UDP checksums (RTE_MBUF_F_TX_UDP_CKSUM) of datagrams
  // that leave unfragmented.
  bool tx_checksum_offload = false;
};

class UdpEvents {
 public:
  virtual ~UdpEvents() = default;
  // The socket's receive queue went from empty to not empty. Called from
  // inside UdpStack::on_ipv4: only note it.
  virtual void on_readable(UdpSocketId id) noexcept = 0;
};

enum class UdpResult : std::uint8_t {
  kOk,
  kInUse,         // EADDRINUSE: the address and port are bound already
  kInvalid,       // EINVAL / EADDRNOTAVAIL: not our address, port 0 as a destination, wrong family
  kNoMemory,      // ENOBUFS / ENFILE: no socket slot or mbuf left
  kNoPorts,       // EAGAIN: no ephemeral port free
  kTooBig,        // EMSGSIZE: over 65,507 bytes of payload (IPv4), or over the MTU and not fragmented
  kNotConnected,  // EDESTADDRREQ: send() on a socket without a default peer
  kUnreachable,   // ENETUNREACH: no route to the destination
  kNoSource,      // EADDRNOTAVAIL: no usable IPv6 source yet (duplicate address detection)
};

class UdpStack final : public TransportInput {
 public:
  // Header room a payload mbuf needs in front of it to be sent without a
  // separate header mbuf: UDP, IP (IPv6's 40 bytes, the larger), Ethernet.
  static constexpr std::uint16_t kHeadroom = 8 + IpLayer::kHeadroom6;
  static_assert(IpLayer::kHeadroom6 >= IpLayer::kHeadroom);
  // Most payload bytes one datagram carries: IPv4 65,535 - 20 - 8; IPv6
  // 65,535 - 8 (no jumbograms, RFC 2675).
  static constexpr std::uint32_t kMaxPayloadV4 = 65507;
  static constexpr std::uint32_t kMaxPayloadV6 = 65527;

  UdpStack(const UdpStackOptions& o, Counters& counters, IpLayer& ip, FrameQueue& out, rte_mempool* pool);
  ~UdpStack() override;
  UdpStack(const UdpStack&) = delete;
  UdpStack& operator=(const UdpStack&) = delete;

  void set_events(UdpEvents* e) noexcept { events_ = e; }
  // Queued datagrams are charged their truesize to `a` (the worker's account,
  // which TCP's queues and reassembly share); set it before any socket opens.
  void set_mem_account(MemAccount* a) noexcept { mem_ = a; }
  // With software steering, a local port chosen for a connected (or first
  // sending) socket must make the peer's replies land on this worker: the
  // filter says whether the flow (local, remote) does.
  using PortFilter = bool (*)(void* ctx, const Endpoint& local, const Endpoint& remote);
  void set_port_filter(PortFilter f, void* ctx) noexcept {
    filter_ = f;
    filter_ctx_ = ctx;
  }

  // Opens a socket bound to `local`: the address "::" (either family),
  // 0.0.0.0 (any IPv4) or one of ours; port 0 leaves the socket unbound until
  // connect() or the first send_to() picks an ephemeral port.
  UdpResult open(const Endpoint& local, UdpSocketId* id) noexcept;
  // Sets the default peer: send() goes there, and only its datagrams are
  // received (RFC 1122 §4.1.3.4 leaves this to the application; Linux and
  // BSD filter). An unspecified address disconnects.
  UdpResult connect(UdpSocketId id, const Endpoint& remote, Instant now) noexcept;
  // Frees the socket and whatever its queue holds.
  void close(UdpSocketId id) noexcept;

  // Sends `payload` as one datagram. The chain's first mbuf carries the
  // header in its headroom when it has kHeadroom bytes of it and is not
  // shared; else a header mbuf is put in front. `to` nullopt: to the
  // connected peer. `payload` is left as it was on an error found before the
  // stack took it (every result but kOk and kNoMemory; kNoMemory for want of
  // a header mbuf too); otherwise it is empty.
  UdpResult send_to(UdpSocketId id, Mbuf& payload, const std::optional<Endpoint>& to, Instant now) noexcept;
  UdpResult send_to(UdpSocketId id, Mbuf&& payload, const std::optional<Endpoint>& to, Instant now) noexcept {
    Mbuf p = std::move(payload);
    return send_to(id, p, to, now);
  }
  // A payload copied into mbufs of the worker's pool, with the header room reserved.
  Mbuf copy_payload(std::span<const std::byte> bytes) noexcept;

  // The oldest queued datagram: its payload (headers trimmed; the charge to
  // the account moves to `*data`) and source. false when the queue is empty.
  bool pop(UdpSocketId id, Buffer* data, Endpoint* from) noexcept;

  Endpoint local(UdpSocketId id) const noexcept { return socks_[id].local; }
  std::optional<Endpoint> remote(UdpSocketId id) const noexcept;
  std::uint32_t queued(UdpSocketId id) const noexcept { return socks_[id].count; }
  std::uint32_t queued_bytes(UdpSocketId id) const noexcept { return socks_[id].bytes; }
  std::uint32_t open_sockets() const noexcept { return open_; }
  const UdpConfig& config() const noexcept { return o_.cfg; }

  // TransportInput: one UDP datagram from IPv4 (reassembled if it came in
  // fragments), or from IPv6 (whose checksum is mandatory).
  void on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue& out) override;
  void on_ipv6(const Ipv6Delivery& d, Mbuf frame, Instant now, FrameQueue& out) override;

 private:
  struct Entry {
    rte_mbuf* m = nullptr;
    std::uint32_t truesize = 0;
    Endpoint from;
  };
  struct Sock {
    bool used = false;
    bool connected = false;
    bool hashed = false;  // in by_port_ (has a local port)
    Endpoint local;
    Endpoint remote;
    // A connected socket bound to a wildcard sends from the address chosen
    // when it connected, as Linux fixes it then (ip4/ip6_datagram_connect):
    // the flow's tuple, and so the worker its replies are steered to, stays
    // what autobind() chose even if IP's choice changes later; and a
    // datagram to the peer skips source selection.
    IpAddr source;
    UdpSocketId next = kNoUdpSocket;  // the next socket on the same port, or the next free slot
    std::unique_ptr<Entry[]> ring;
    std::uint32_t head = 0;
    std::uint32_t count = 0;
    std::uint32_t bytes = 0;  // truesize queued
  };

  bool our_address(const IpAddr& a) const noexcept;
  // The source address of s's datagrams to `dst`: its bound address, else
  // the one fixed at connect (for its peer), else IP's choice; nullopt
  // while IP's choice is an IPv6 address still under duplicate address
  // detection (RFC 4862 §5.4: a tentative address is not assigned, so it
  // is no source; Linux's connect() and sendto() fail EADDRNOTAVAIL then).
  std::optional<IpAddr> source_for(const Sock& s, const IpAddr& dst) const noexcept;
  bool routable(const IpAddr& dst, Instant now) const noexcept;
  // The UDP header of a datagram at l4_offset (counted in its family's MIB
  // and nullptr when malformed) and its length field in `*ulen`.
  const std::byte* header(const rte_mbuf* m, std::uint16_t l4_offset, std::uint16_t l4_len, bool v4,
                          std::uint16_t* ulen) noexcept;
  void enqueue(UdpSocketId id, Mbuf frame, std::uint16_t l4_offset, std::uint16_t ulen,
               const Endpoint& from) noexcept;
  bool conflicts(std::uint16_t port, const IpAddr& addr, UdpSocketId except) const noexcept;
  void hash(UdpSocketId id) noexcept;
  void unhash(UdpSocketId id) noexcept;
  // Binds an unbound socket to a free ephemeral port whose flow from
  // `source` to `remote` this worker owns.
  UdpResult autobind(UdpSocketId id, const IpAddr& source, const Endpoint& remote) noexcept;
  UdpSocketId lookup(const Endpoint& src, const Endpoint& dst) const noexcept;
  void port_unreachable(const Ipv4Delivery& d, const rte_mbuf* frame, Instant now) noexcept;
  bool unreach_allowed(Instant now) noexcept;

  UdpStackOptions o_;
  Counters& counters_;
  IpLayer& ip_;
  FrameQueue& out_;
  rte_mempool* pool_;
  UdpEvents* events_ = nullptr;
  MemAccount* mem_ = nullptr;
  PortFilter filter_ = nullptr;
  void* filter_ctx_ = nullptr;
  std::unique_ptr<Sock[]> socks_;
  UdpSocketId free_ = kNoUdpSocket;
  std::uint32_t open_ = 0;
  std::vector<UdpSocketId> by_port_;     // 65,536 heads of per-port socket lists
  std::array<std::byte, 8> hdr_copy_{};  // a UDP header split across segments
  std::uint32_t next_ephemeral_ = 0;
  // Port Unreachable token bucket.
  std::uint32_t unreach_tokens_ = 0;
  Instant unreach_refilled_{};
};

}  // namespace tern
