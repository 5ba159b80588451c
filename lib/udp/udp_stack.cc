#include "udp/udp_stack.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>

#include "ip/chain_checksum.h"
#include "ip/ip_frag.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/udp.h"

namespace tern {
namespace {

// RFC 1812 §4.3.2.3: an ICMP error quotes as much of the datagram as fits in
// 576 bytes (IPv4 header 20 + ICMP header 8 + quote), as Linux does.
constexpr std::uint32_t kMaxIcmpQuote = 576 - kIpv4MinHeaderLen - kIcmpHeaderLen;

// Linux keeps one UDP MIB per family (/proc/net/snmp's Udp, /proc/net/snmp6's
// Udp6), where TCP's is shared; the drop reasons below them are shared.
struct UdpMib {
  Counter in_datagrams, out_datagrams, no_ports, in_errors, rcvbuf_errors, in_csum_errors;
};
constexpr UdpMib kUdpMib{Counter::kUdpInDatagrams, Counter::kUdpOutDatagrams, Counter::kUdpNoPorts,
                         Counter::kUdpInErrors,    Counter::kUdpRcvbufErrors, Counter::kUdpInCsumErrors};
constexpr UdpMib kUdp6Mib{Counter::kUdp6InDatagrams, Counter::kUdp6OutDatagrams, Counter::kUdp6NoPorts,
                          Counter::kUdp6InErrors,    Counter::kUdp6RcvbufErrors, Counter::kUdp6InCsumErrors};
constexpr const UdpMib& mib(bool v4) noexcept { return v4 ? kUdpMib : kUdp6Mib; }

// Cuts a chain to its first `len` bytes, freeing segments past them.
void trim_chain(rte_mbuf* m, std::uint32_t len) noexcept {
  if (m->pkt_len == len) return;
  std::uint32_t left = len;
  std::uint16_t segs = 1;
  rte_mbuf* seg = m;
  while (seg->data_len < left && seg->next != nullptr) {
    left -= seg->data_len;
    seg = seg->next;
    ++segs;
  }
  seg->data_len = static_cast<std::uint16_t>(std::min<std::uint32_t>(left, seg->data_len));
  free_segment_list(seg->next);
  seg->next = nullptr;
  m->nb_segs = segs;
  m->pkt_len = len;
}

Ipv6Addr to_v6(const IpAddr& a) noexcept {
  Ipv6Addr r;
  r.b = a.bytes();
  return r;
}

// A socket's local address and a peer of another family cannot talk: a
// socket bound to an IPv4 address (or 0.0.0.0) sends only to IPv4, one bound
// to an IPv6 address only to IPv6; "::" to either.
bool family_fits(const IpAddr& local, const IpAddr& peer) noexcept {
  if (local == IpAddr{}) return true;
  return local.is_v4() == peer.is_v4();
}

bool overlaps(const IpAddr& a, const IpAddr& b) noexcept {
  if (a == b || a == IpAddr{} || b == IpAddr{}) return true;
  return (a == IpAddr::any_v4() && b.is_v4()) || (b == IpAddr::any_v4() && a.is_v4());
}

}  // namespace

UdpStack::UdpStack(const UdpStackOptions& o, Counters& counters, IpLayer& ip, FrameQueue& out,
                   rte_mempool* pool)
    : o_(o),
      counters_(counters),
      ip_(ip),
      out_(out),
      pool_(pool),
      socks_(std::make_unique<Sock[]>(o.cfg.max_sockets)),
      by_port_(65536, kNoUdpSocket),
      next_ephemeral_(static_cast<std::uint32_t>(o.port_seed)),
      unreach_tokens_(o.cfg.unreach_burst) {
  for (UdpSocketId i = o.cfg.max_sockets; i-- > 0;) {
    socks_[i].next = free_;
    free_ = i;
  }
}

UdpStack::~UdpStack() {
  for (UdpSocketId i = 0; i < o_.cfg.max_sockets; ++i)
    if (socks_[i].used) close(i);
}

bool UdpStack::our_address(const IpAddr& a) const noexcept {
  if (a.is_v4()) return a.v4_host() == ip_.settings().addr;
  return ip_.v6().is_ours(to_v6(a));
}

bool UdpStack::routable(const IpAddr& dst, Instant now) const noexcept {
  if (dst.is_v4()) return ip_.next_hop(dst.v4_host()).has_value();
  return ip_.v6().next_hop(to_v6(dst), now).has_value();
}

bool UdpStack::conflicts(std::uint16_t port, const IpAddr& addr, UdpSocketId except) const noexcept {
  for (UdpSocketId i = by_port_[port]; i != kNoUdpSocket; i = socks_[i].next)
    if (i != except && overlaps(socks_[i].local.addr, addr)) return true;
  return false;
}

void UdpStack::hash(UdpSocketId id) noexcept {
  Sock& s = socks_[id];
  s.next = by_port_[s.local.port];
  by_port_[s.local.port] = id;
  s.hashed = true;
}

void UdpStack::unhash(UdpSocketId id) noexcept {
  Sock& s = socks_[id];
  if (!s.hashed) return;
  UdpSocketId* link = &by_port_[s.local.port];
  while (*link != id) link = &socks_[*link].next;
  *link = s.next;
  s.next = kNoUdpSocket;
  s.hashed = false;
}

UdpResult UdpStack::open(const Endpoint& local, UdpSocketId* id) noexcept {
  if (!local.addr.is_unspecified() && !our_address(local.addr)) return UdpResult::kInvalid;
  if (local.port != 0 && conflicts(local.port, local.addr, kNoUdpSocket)) return UdpResult::kInUse;
  if (free_ == kNoUdpSocket) return UdpResult::kNoMemory;
  // The ring is the one allocation a socket costs, at open: never per datagram.
  std::unique_ptr<Entry[]> ring(new (std::nothrow) Entry[o_.cfg.rcv_queue]);
  if (!ring) return UdpResult::kNoMemory;
  const UdpSocketId i = free_;
  Sock& s = socks_[i];
  free_ = s.next;
  s = Sock{};
  s.used = true;
  s.local = local;
  s.ring = std::move(ring);
  if (local.port != 0) hash(i);
  ++open_;
  *id = i;
  return UdpResult::kOk;
}

void UdpStack::close(UdpSocketId id) noexcept {
  Sock& s = socks_[id];
  if (!s.used) return;
  while (s.count > 0) {
    Entry& e = s.ring[s.head];
    if (mem_ != nullptr) mem_->uncharge(e.truesize);
    rte_pktmbuf_free(e.m);
    s.head = (s.head + 1) % o_.cfg.rcv_queue;
    --s.count;
  }
  unhash(id);
  s = Sock{};
  s.next = free_;
  free_ = id;
  --open_;
}

std::optional<Endpoint> UdpStack::remote(UdpSocketId id) const noexcept {
  if (!socks_[id].connected) return std::nullopt;
  return socks_[id].remote;
}

UdpResult UdpStack::autobind(UdpSocketId id, const IpAddr& source, const Endpoint& remote) noexcept {
  Sock& s = socks_[id];
  const std::uint32_t range = std::uint32_t{o_.ephemeral_last} - o_.ephemeral_first + 1;
  for (std::uint32_t i = 0; i < range; ++i) {
    const auto port = static_cast<std::uint16_t>(o_.ephemeral_first + (next_ephemeral_ + i) % range);
    if (by_port_[port] != kNoUdpSocket) continue;
    if (filter_ != nullptr && !filter_(filter_ctx_, Endpoint{source, port}, remote)) continue;
    next_ephemeral_ += i + 1;
    s.local.port = port;
    hash(id);
    return UdpResult::kOk;
  }
  return UdpResult::kNoPorts;
}

std::optional<IpAddr> UdpStack::source_for(const Sock& s, const IpAddr& dst) const noexcept {
  if (!s.local.addr.is_unspecified()) return s.local.addr;  // open() took only a usable one
  if (s.connected && dst == s.remote.addr) return s.source;
  if (dst.is_v4()) return IpAddr::v4(ip_.settings().addr);
  const std::optional<Ipv6Addr> ours = ip_.usable_source_for(to_v6(dst));
  if (!ours) return std::nullopt;  // DAD still running (RFC 4862 §5.4)
  return IpAddr::v6(ours->b);
}

UdpResult UdpStack::connect(UdpSocketId id, const Endpoint& remote, Instant now) noexcept {
  Sock& s = socks_[id];
  if (remote.addr.is_unspecified()) {  // AF_UNSPEC: dissolve the association
    s.connected = false;
    return UdpResult::kOk;
  }
  if (remote.port == 0 || remote.addr.is_multicast()) return UdpResult::kInvalid;
  if (!family_fits(s.local.addr, remote.addr)) return UdpResult::kInvalid;
  if (!routable(remote.addr, now)) return UdpResult::kUnreachable;
  const std::optional<IpAddr> source = source_for(s, remote.addr);
  if (!source) return UdpResult::kNoSource;
  if (!s.hashed) {
    const UdpResult r = autobind(id, *source, remote);
    if (r != UdpResult::kOk) return r;
  }
  s.source = *source;
  s.remote = remote;
  s.connected = true;
  return UdpResult::kOk;
}

Mbuf UdpStack::copy_payload(std::span<const std::byte> bytes) noexcept {
  Mbuf head = Mbuf::alloc(pool_);  // the pool's headroom (128) holds the headers
  if (!head || !append_chain(head, bytes, pool_)) return {};
  return head;
}

UdpResult UdpStack::send_to(UdpSocketId id, Mbuf& payload, const std::optional<Endpoint>& to,
                            Instant now) noexcept {
  Sock& s = socks_[id];
  if (!to && !s.connected) return UdpResult::kNotConnected;
  const Endpoint dst = to ? *to : s.remote;
  if (dst.port == 0 || dst.addr.is_unspecified() || dst.addr.is_multicast()) return UdpResult::kInvalid;
  if (!family_fits(s.local.addr, dst.addr)) return UdpResult::kInvalid;
  const bool v4 = dst.addr.is_v4();
  const std::uint32_t dst4 = dst.addr.v4_host();
  if (v4 && dst4 == 0xFFFFFFFFu) return UdpResult::kInvalid;  // broadcast: not supported
  const std::uint32_t len = payload ? payload.pkt_len() : 0;
  if (len > (v4 ? kMaxPayloadV4 : kMaxPayloadV6)) return UdpResult::kTooBig;
  if (!routable(dst.addr, now)) return UdpResult::kUnreachable;
  const std::optional<IpAddr> source = source_for(s, dst.addr);
  if (!source) return UdpResult::kNoSource;
  if (!s.hashed) {
    const UdpResult r = autobind(id, *source, dst);
    if (r != UdpResult::kOk) return r;
  }

  // The header goes into the payload's own headroom when that is private to
  // us; otherwise (an indirect or shared mbuf, no room) into an mbuf in front.
  Mbuf m;
  rte_mbuf* p = payload.get();
  if (p != nullptr && RTE_MBUF_DIRECT(p) && rte_mbuf_refcnt_read(p) == 1 &&
      rte_pktmbuf_headroom(p) >= kHeadroom) {
    m = std::move(payload);
    (void)m.prepend(kUdpHeaderLen);
  } else {
    m = Mbuf::alloc(pool_);
    if (!m || m.append(kUdpHeaderLen).empty()) {
      counters_.drop(Drop::kMbufExhausted);
      return UdpResult::kNoMemory;
    }
    if (p != nullptr) {
      rte_mbuf* tail = payload.release();
      if (rte_pktmbuf_chain(m.get(), tail) != 0) {  // too many segments; nothing was linked
        payload.reset(tail);
        return UdpResult::kTooBig;
      }
    }
  }
  const std::uint32_t src4 = source->v4_host();
  const Ipv6Addr src6 = to_v6(*source);
  const auto ulen = static_cast<std::uint16_t>(kUdpHeaderLen + len);
  auto* h = rte_pktmbuf_mtod(m.get(), std::byte*);
  write_udp({h, kUdpHeaderLen}, s.local.port, dst.port, static_cast<std::uint16_t>(len));
  const Ipv6Addr dst6 = to_v6(dst.addr);
  // RFC 8200 §8.1: over IPv6 the checksum is mandatory.
  const std::uint32_t pseudo = v4 ? pseudo_header_sum(src4, dst4, kIpProtoUdp, ulen)
                                  : ipv6_pseudo_header_sum(src6, dst6, ulen, kIpProtoUdp);
  // Fragments are summed here: no NIC sums a datagram it sees in pieces.
  // IPv6 is summed here too (the IPv6 layer asks no offload yet).
  if (v4 && o_.tx_checksum_offload && kIpv4MinHeaderLen + ulen <= ip_.settings().mtu) {
    // DPDK's contract: the folded pseudo-header sum in the field, l4_len
    // set; the IP layer sets l2_len, l3_len and RTE_MBUF_F_TX_IPV4.
    store_be16(h + 6, checksum_fold(pseudo));
    m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
    m->l4_len = kUdpHeaderLen;
  } else {
    std::uint16_t sum = chain_checksum(m.get(), pseudo, 0, ulen);
    if (sum == 0) sum = 0xFFFF;  // RFC 768: zero means "no checksum"; send all ones
    store_be16(h + 6, sum);
  }
  // Dropped and counted by IP: no mbuf, or too big with no way to fragment
  // (no indirect mbuf pool to fragment with, or it ran out).
  if (v4 ? !ip_.send(std::move(m), dst4, kIpProtoUdp, now, out_)
         : !ip_.send_ipv6(std::move(m), src6, dst6, kIpProtoUdp, now, out_)) {
    const std::uint32_t ip_len = (v4 ? kIpv4MinHeaderLen : kIpv6HeaderLen) + ulen;
    return ip_len > (v4 ? ip_.settings().mtu : ip_.v6().mtu()) ? UdpResult::kTooBig : UdpResult::kNoMemory;
  }
  counters_.inc(mib(v4).out_datagrams);
  return UdpResult::kOk;
}

bool UdpStack::pop(UdpSocketId id, Buffer* data, Endpoint* from) noexcept {
  Sock& s = socks_[id];
  if (s.count == 0) return false;
  Entry& e = s.ring[s.head];
  s.head = (s.head + 1) % o_.cfg.rcv_queue;
  --s.count;
  s.bytes -= e.truesize;
  *from = e.from;
  Buffer b{std::exchange(e.m, nullptr)};
  if (mem_ != nullptr) {
    mem_->uncharge(e.truesize);  // the Buffer carries the charge from here
    b.charge_to(*mem_, e.truesize);
  }
  *data = std::move(b);
  return true;
}

UdpSocketId UdpStack::lookup(const Endpoint& src, const Endpoint& dst) const noexcept {
  // The most specific socket wins, as in Linux's compute_score: a connected
  // one over an unconnected one, a bound address over a wildcard.
  UdpSocketId best = kNoUdpSocket;
  int best_score = -1;
  for (UdpSocketId i = by_port_[dst.port]; i != kNoUdpSocket; i = socks_[i].next) {
    const Sock& s = socks_[i];
    int score = 0;
    if (s.local.addr == IpAddr{}) {
    } else if (s.local.addr == IpAddr::any_v4()) {
      if (!dst.addr.is_v4()) continue;
    } else if (s.local.addr == dst.addr) {
      score += 1;
    } else {
      continue;
    }
    if (s.connected) {
      if (s.remote != src) continue;
      score += 2;
    }
    if (score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

void UdpStack::on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue&) {
  std::uint16_t ulen = 0;
  const std::byte* h = header(frame.get(), d.l4_offset, d.l4_len, true, &ulen);
  if (h == nullptr) return;
  // RFC 768: a zero checksum was not computed by the sender (IPv4 only).
  if (load_be16(h + 6) != 0 &&
      !l4_checksum_ok(frame.get(), pseudo_header_sum(d.src, d.dst, kIpProtoUdp, ulen), d.l4_offset, ulen)) {
    counters_.inc(kUdpMib.in_csum_errors);
    counters_.inc(kUdpMib.in_errors);
    return counters_.drop(Drop::kUdpBadChecksum);
  }
  const Endpoint from{IpAddr::v4(d.src), load_be16(h)};
  const Endpoint to{IpAddr::v4(d.dst), load_be16(h + 2)};
  const UdpSocketId id = lookup(from, to);
  if (id == kNoUdpSocket) {
    counters_.inc(kUdpMib.no_ports);
    counters_.drop(Drop::kUdpNoPort);
    return port_unreachable(d, frame.get(), now);
  }
  enqueue(id, std::move(frame), d.l4_offset, ulen, from);
}

void UdpStack::on_ipv6(const Ipv6Delivery& d, Mbuf frame, Instant now, FrameQueue&) {
  std::uint16_t ulen = 0;
  const std::byte* h = header(frame.get(), d.l4_offset, d.l4_len, false, &ulen);
  if (h == nullptr) return;
  // RFC 8200 §8.1: over IPv6 the checksum is mandatory; a zero one is
  // dropped (Linux counts it as a checksum error too).
  if (load_be16(h + 6) == 0 ||
      !l4_checksum_ok(frame.get(), ipv6_pseudo_header_sum(d.src, d.dst, ulen, kIpProtoUdp), d.l4_offset,
                      ulen)) {
    counters_.inc(kUdp6Mib.in_csum_errors);
    counters_.inc(kUdp6Mib.in_errors);
    return counters_.drop(load_be16(h + 6) == 0 ? Drop::kUdpZeroChecksum6 : Drop::kUdpBadChecksum);
  }
  const Endpoint from{IpAddr::v6(d.src.b), load_be16(h)};
  const Endpoint to{IpAddr::v6(d.dst.b), load_be16(h + 2)};
  const UdpSocketId id = lookup(from, to);
  if (id == kNoUdpSocket) {
    counters_.inc(kUdp6Mib.no_ports);
    counters_.drop(Drop::kUdpNoPort);
    // RFC 4443 §3.1 code 4; the IPv6 layer applies §2.4(e) and its rate limit.
    const auto packet = frame.head().subspan(kEthernetHeaderLen);
    const bool link_multicast = (std::to_integer<unsigned>(frame.head()[0]) & 1) != 0;
    ip_.v6().send_error({kIcmpv6DestUnreachable, kIcmpv6PortUnreachable, 0}, packet, link_multicast, now,
                        out_);
    return;
  }
  enqueue(id, std::move(frame), d.l4_offset, ulen, from);
}

const std::byte* UdpStack::header(const rte_mbuf* m, std::uint16_t l4_offset, std::uint16_t l4_len, bool v4,
                                  std::uint16_t* ulen) noexcept {
  const auto* h =
      l4_len < kUdpHeaderLen
          ? nullptr
          : static_cast<const std::byte*>(rte_pktmbuf_read(m, l4_offset, kUdpHeaderLen, hdr_copy_.data()));
  // RFC 768: the length field counts header and data; bytes past it are not
  // the datagram's (Linux trims them), fewer than it make it malformed.
  *ulen = h == nullptr ? 0 : load_be16(h + 4);
  if (h == nullptr || *ulen < kUdpHeaderLen || *ulen > l4_len) {
    counters_.inc(mib(v4).in_errors);
    counters_.drop(Drop::kUdpMalformed);
    return nullptr;
  }
  return h;
}

void UdpStack::enqueue(UdpSocketId id, Mbuf frame, std::uint16_t l4_offset, std::uint16_t ulen,
                       const Endpoint& from) noexcept {
  rte_mbuf* m = frame.get();
  Sock& s = socks_[id];
  const UdpMib& family = mib(from.addr.is_v4());
  // Like Linux's __udp_enqueue_schedule_skb: refused once the queue holds
  // rcv_buf bytes, so any one datagram fits an empty queue.
  if (s.count == o_.cfg.rcv_queue || s.bytes >= o_.cfg.rcv_buf) {
    counters_.inc(family.rcvbuf_errors);
    counters_.inc(family.in_errors);
    return counters_.drop(Drop::kUdpRcvQueueFull);
  }
  // The payload alone: headers off the front, anything past the length off the end.
  if (rte_pktmbuf_adj(m, static_cast<std::uint16_t>(l4_offset + kUdpHeaderLen)) == nullptr) {
    counters_.inc(family.in_errors);
    return counters_.drop(Drop::kUdpMalformed);
  }
  trim_chain(m, ulen - kUdpHeaderLen);
  const std::uint32_t truesize = mbuf_truesize(m);
  Entry& e = s.ring[(s.head + s.count) % o_.cfg.rcv_queue];
  e.m = frame.release();
  e.truesize = truesize;
  e.from = from;
  s.bytes += truesize;
  if (mem_ != nullptr) mem_->charge(truesize);
  counters_.inc(family.in_datagrams);
  if (s.count++ == 0 && events_ != nullptr) events_->on_readable(id);
}

bool UdpStack::unreach_allowed(Instant now) noexcept {
  const std::uint32_t rate = o_.cfg.unreach_per_sec;
  if (rate == 0) return false;
  if (unreach_tokens_ >= o_.cfg.unreach_burst) {
    unreach_refilled_ = now;
  } else {
    // Whole tokens earned since the last refill; the remainder is kept by
    // not moving the refill time until at least one is earned.
    const std::int64_t elapsed =
        std::min<std::int64_t>((now - unreach_refilled_).count_ns(), 1'000'000'000'000);
    const std::uint64_t earned =
        static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed, 0)) * rate / 1'000'000'000;
    if (earned > 0) {
      unreach_tokens_ =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(o_.cfg.unreach_burst, unreach_tokens_ + earned));
      unreach_refilled_ = now;
    }
  }
  if (unreach_tokens_ == 0) return false;
  --unreach_tokens_;
  return true;
}

// RFC 1122 §4.1.3.1: a datagram for a port with no socket SHOULD be answered
// with ICMP Port Unreachable; §3.2.2 forbids it for a datagram sent to a
// broadcast or multicast address (or from one, which IPv4 already dropped).
void UdpStack::port_unreachable(const Ipv4Delivery& d, const rte_mbuf* frame, Instant now) noexcept {
  if (d.dst != ip_.settings().addr) return;
  if (!unreach_allowed(now)) return counters_.inc(Counter::kIcmpOutRateLimitGlobal);
  const std::uint32_t ip_len = d.l4_offset - kEthernetHeaderLen + d.l4_len;
  const std::uint32_t quote = std::min(ip_len, kMaxIcmpQuote);
  Mbuf r = Mbuf::alloc(pool_);
  auto b = r ? r.append(static_cast<std::uint16_t>(kIcmpHeaderLen + quote)) : std::span<std::byte>{};
  if (b.empty()) return counters_.drop(Drop::kMbufExhausted);
  std::memset(b.data(), 0, kIcmpHeaderLen);
  b[0] = std::byte{kIcmpDestUnreachable};
  b[1] = std::byte{kIcmpPortUnreachable};
  std::byte* q = b.data() + kIcmpHeaderLen;
  const void* got = rte_pktmbuf_read(frame, kEthernetHeaderLen, quote, q);
  if (got == nullptr) return counters_.drop(Drop::kUdpMalformed);
  if (got != q) std::memcpy(q, got, quote);
  store_be16(b.data() + 2, internet_checksum(b));
  counters_.inc(Counter::kIcmpOutMsgs);
  counters_.inc(Counter::kIcmpOutDestUnreachs);
  ip_.send(std::move(r), d.src, kIpProtoIcmp, now, out_);
}

}  // namespace tern
