#include "udp/udp_stack.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

namespace tern {
namespace {

// RFC 1812 §4.3.2.3: an ICMP error quotes as much of the datagram as fits in
// 576 bytes (IPv4 header 20 + ICMP header 8 + quote), as Linux does.
constexpr std::uint32_t kMaxIcmpQuote = 576 - kIpv4MinHeaderLen - kIcmpHeaderLen;

// Verifies the checksum of `len` bytes from `off` in a chain, unless the NIC
// already found it good (a "bad" verdict is checked again, as TCP does).
bool checksum_ok(const rte_mbuf* m, std::uint32_t pseudo, std::uint32_t off, std::uint32_t len) noexcept {
  if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) return true;
  ChecksumAccumulator acc{pseudo};
  for (; m != nullptr && len > 0; m = m->next) {
    if (off >= m->data_len) {
      off -= m->data_len;
      continue;
    }
    const std::uint32_t n = std::min<std::uint32_t>(m->data_len - off, len);
    acc.add({rte_pktmbuf_mtod_offset(m, const std::byte*, off), n});
    len -= n;
    off = 0;
  }
  return len == 0 && acc.finish() == 0;
}

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
  return a.is_v4() && a.v4_host() == ip_.settings().addr;
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

UdpResult UdpStack::autobind(UdpSocketId id, const Endpoint& remote) noexcept {
  Sock& s = socks_[id];
  const std::uint32_t range = std::uint32_t{o_.ephemeral_last} - o_.ephemeral_first + 1;
  const Endpoint us{s.local.addr.is_unspecified() ? IpAddr::v4(ip_.settings().addr) : s.local.addr, 0};
  for (std::uint32_t i = 0; i < range; ++i) {
    const auto port = static_cast<std::uint16_t>(o_.ephemeral_first + (next_ephemeral_ + i) % range);
    if (by_port_[port] != kNoUdpSocket) continue;
    if (filter_ != nullptr && !filter_(filter_ctx_, Endpoint{us.addr, port}, remote)) continue;
    next_ephemeral_ += i + 1;
    s.local.port = port;
    hash(id);
    return UdpResult::kOk;
  }
  return UdpResult::kNoPorts;
}

UdpResult UdpStack::connect(UdpSocketId id, const Endpoint& remote) noexcept {
  Sock& s = socks_[id];
  if (remote.addr.is_unspecified()) {  // AF_UNSPEC: dissolve the association
    s.connected = false;
    return UdpResult::kOk;
  }
  if (remote.port == 0 || remote.addr.is_multicast()) return UdpResult::kInvalid;
  if (!remote.addr.is_v4()) return UdpResult::kUnreachable;  // IPv6: not yet
  if (!s.local.addr.is_unspecified() && !s.local.addr.is_v4()) return UdpResult::kInvalid;
  if (!ip_.next_hop(remote.addr.v4_host())) return UdpResult::kUnreachable;
  if (!s.hashed) {
    const UdpResult r = autobind(id, remote);
    if (r != UdpResult::kOk) return r;
  }
  s.remote = remote;
  s.connected = true;
  return UdpResult::kOk;
}

Mbuf UdpStack::copy_payload(std::span<const std::byte> bytes) noexcept {
  Mbuf head = Mbuf::alloc(pool_);  // the pool's headroom (128) holds the headers
  if (!head) return {};
  rte_mbuf* tail = head.get();
  while (!bytes.empty()) {
    std::uint16_t room = rte_pktmbuf_tailroom(tail);
    if (room == 0) {
      rte_mbuf* seg = rte_pktmbuf_alloc(pool_);
      if (seg == nullptr) return {};
      if (rte_pktmbuf_chain(head.get(), seg) != 0) {
        rte_pktmbuf_free(seg);
        return {};
      }
      tail = seg;
      continue;
    }
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(room, bytes.size()));
    std::memcpy(rte_pktmbuf_mtod_offset(tail, std::byte*, tail->data_len), bytes.data(), n);
    tail->data_len = static_cast<std::uint16_t>(tail->data_len + n);
    head->pkt_len += n;
    bytes = bytes.subspan(n);
  }
  return head;
}

UdpResult UdpStack::send_to(UdpSocketId id, Mbuf& payload, const std::optional<Endpoint>& to,
                            Instant now) noexcept {
  Sock& s = socks_[id];
  if (!to && !s.connected) return UdpResult::kNotConnected;
  const Endpoint dst = to ? *to : s.remote;
  if (dst.port == 0 || dst.addr.is_unspecified() || dst.addr.is_multicast()) return UdpResult::kInvalid;
  if (!dst.addr.is_v4()) return UdpResult::kUnreachable;  // IPv6: not yet
  if (!s.local.addr.is_unspecified() && !s.local.addr.is_v4()) return UdpResult::kInvalid;
  const std::uint32_t dst4 = dst.addr.v4_host();
  if (dst4 == 0xFFFFFFFFu) return UdpResult::kInvalid;  // broadcast: not supported
  const std::uint32_t len = payload ? payload.pkt_len() : 0;
  if (len > kMaxPayloadV4) return UdpResult::kTooBig;
  if (!ip_.next_hop(dst4)) return UdpResult::kUnreachable;
  if (!s.hashed) {
    const UdpResult r = autobind(id, dst);
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
  const std::uint32_t src4 = ip_.settings().addr;
  const auto ulen = static_cast<std::uint16_t>(kUdpHeaderLen + len);
  auto* h = rte_pktmbuf_mtod(m.get(), std::byte*);
  write_udp({h, kUdpHeaderLen}, s.local.port, dst.port, static_cast<std::uint16_t>(len));
  const std::uint32_t pseudo = pseudo_header_sum(src4, dst4, kIpProtoUdp, ulen);
  // Fragments are summed here: no NIC sums a datagram it sees in pieces.
  if (o_.tx_checksum_offload && kIpv4MinHeaderLen + ulen <= ip_.settings().mtu) {
    // DPDK's contract: the folded pseudo-header sum in the field, l4_len
    // set; the IP layer sets l2_len, l3_len and RTE_MBUF_F_TX_IPV4.
    store_be16(h + 6, checksum_fold(pseudo));
    m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
    m->l4_len = kUdpHeaderLen;
  } else {
    ChecksumAccumulator acc{pseudo};
    for (const rte_mbuf* seg = m.get(); seg != nullptr; seg = seg->next)
      acc.add({rte_pktmbuf_mtod(seg, const std::byte*), seg->data_len});
    std::uint16_t sum = acc.finish();
    if (sum == 0) sum = 0xFFFF;  // RFC 768: zero means "no checksum"; send all ones
    store_be16(h + 6, sum);
  }
  // Dropped and counted by IPv4: no mbuf, or too big with no way to fragment.
  if (!ip_.send(std::move(m), dst4, kIpProtoUdp, now, out_))
    return kIpv4MinHeaderLen + ulen > ip_.settings().mtu ? UdpResult::kTooBig : UdpResult::kNoMemory;
  counters_.inc(Counter::kUdpOutDatagrams);
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
  rte_mbuf* m = frame.get();
  std::array<std::byte, kUdpHeaderLen> copy{};
  const auto* h =
      d.l4_len < kUdpHeaderLen
          ? nullptr
          : static_cast<const std::byte*>(rte_pktmbuf_read(m, d.l4_offset, kUdpHeaderLen, copy.data()));
  // RFC 768: the length field counts header and data; bytes past it are not
  // the datagram's (Linux trims them), fewer than it make it malformed.
  const std::uint16_t ulen = h == nullptr ? 0 : load_be16(h + 4);
  if (h == nullptr || ulen < kUdpHeaderLen || ulen > d.l4_len) {
    counters_.inc(Counter::kUdpInErrors);
    return counters_.drop(Drop::kUdpMalformed);
  }
  // RFC 768: a zero checksum was not computed by the sender (IPv4 only).
  if (load_be16(h + 6) != 0 &&
      !checksum_ok(m, pseudo_header_sum(d.src, d.dst, kIpProtoUdp, ulen), d.l4_offset, ulen)) {
    counters_.inc(Counter::kUdpInCsumErrors);
    counters_.inc(Counter::kUdpInErrors);
    return counters_.drop(Drop::kUdpBadChecksum);
  }
  const Endpoint from{IpAddr::v4(d.src), load_be16(h)};
  const Endpoint to{IpAddr::v4(d.dst), load_be16(h + 2)};
  const UdpSocketId id = lookup(from, to);
  if (id == kNoUdpSocket) {
    counters_.inc(Counter::kUdpNoPorts);
    counters_.drop(Drop::kUdpNoPort);
    return port_unreachable(d, m, now);
  }
  Sock& s = socks_[id];
  // Like Linux's __udp_enqueue_schedule_skb: refused once the queue holds
  // rcv_buf bytes, so any one datagram fits an empty queue.
  if (s.count == o_.cfg.rcv_queue || s.bytes >= o_.cfg.rcv_buf) {
    counters_.inc(Counter::kUdpRcvbufErrors);
    counters_.inc(Counter::kUdpInErrors);
    return counters_.drop(Drop::kUdpRcvQueueFull);
  }
  // The payload alone: headers off the front, anything past the length off the end.
  if (rte_pktmbuf_adj(m, static_cast<std::uint16_t>(d.l4_offset + kUdpHeaderLen)) == nullptr) {
    counters_.inc(Counter::kUdpInErrors);
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
  counters_.inc(Counter::kUdpInDatagrams);
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
  // A reassembled datagram's header comes back from rte_ip_frag with its
  // checksum zeroed: quote it as it was valid on the wire.
  const std::size_t ihl = d.l4_offset - kEthernetHeaderLen;
  if (ihl <= quote && load_be16(q + 10) == 0) store_be16(q + 10, internet_checksum({q, ihl}));
  store_be16(b.data() + 2, internet_checksum(b));
  counters_.inc(Counter::kIcmpOutMsgs);
  counters_.inc(Counter::kIcmpOutDestUnreachs);
  ip_.send(std::move(r), d.src, kIpProtoIcmp, now, out_);
}

}  // namespace tern
