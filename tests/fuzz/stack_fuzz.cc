// Whole-stack fuzzer: one IpLayer (ARP, IPv4 input, reassembly, ICMP echo
// and Destination Unreachable, fragmentation, next hop and ARP parking; IPv6
// input, the extension-header walk, reassembly and fragmentation, ICMPv6
// and neighbour discovery) fed
// a sequence of frames on virtual time, with real mbufs from an in-memory EAL.
//
// Input: one configuration byte, then records until the input runs out:
//
//   flags:u8  dt:u8  len:u16be  bytes[len]
//
// Each record advances virtual time by dt * 50 ms (so ARP retries, ARP expiry
// and reassembly timeouts are reachable) and then either delivers `bytes` as a
// received frame or, with kSend, asks the layer to send them. Other flag bits
// repair what random bytes rarely get right (our MAC and address, checksums),
// so the fuzzer spends its time past the first checks.
//
// With configuration bit 0x80, received frames go through receive-side
// coalescing first (runtime/rx_coalesce.h, as a worker with [port] gro):
// consecutive received records with dt = 0 form one burst (at most 32).
//
// Checked after every record: every frame the layer emits is well formed and
// ours (source MAC and address, header checksum, lengths, MTU, a valid ICMP
// checksum on echo replies), and the mbufs it holds stay bounded. After the
// input: destroying the layer returns every mbuf to its pool.
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "fuzz_check.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "runtime/eal_in_memory.h"
#include "runtime/rx_coalesce.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv6.h"

namespace {

using namespace tern;

constexpr MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr std::uint32_t kOurIp = 0x0A000001;      // 10.0.0.1/24
constexpr std::uint32_t kGatewayIp = 0x0A0000FE;  // 10.0.0.254
constexpr std::array<std::uint16_t, 4> kMtus = {1500, 576, 1280, 9000};
// IPv6: 2001:db8:1::1/64, and the link-local address from kOurMac.
constexpr Ipv6Addr kOurIp6 = Ipv6Addr::from_groups({0x2001, 0xDB8, 1, 0, 0, 0, 0, 1});
constexpr Ipv6Addr kOurLl = link_local_from_mac(kOurMac);

// Flag bits of a record.
constexpr std::uint8_t kFixEthDst = 1 << 0;
constexpr std::uint8_t kFixIpDst = 1 << 1;
constexpr std::uint8_t kFixIpChecksum = 1 << 2;
constexpr std::uint8_t kFixIcmpChecksum = 1 << 3;  // or the TCP checksum of a TCP datagram
constexpr std::uint8_t kFixArpTarget = 1 << 4;
constexpr std::uint8_t kSplitInTwo = 1 << 5;  // deliver as a two-segment chain
constexpr std::uint8_t kSend = 1 << 6;        // ip.send(): dst:4, protocol:1, payload
constexpr std::uint8_t kSend6 = 1 << 7;       // with kSend: send_ipv6(): dst:16, protocol:1, payload

// The small tables keep per-input set-up cheap and make their limits reachable.
constexpr std::uint32_t kFragFlows = 16;
constexpr std::uint32_t kArpPending = 8;
// Held at most: the reassembly tables' fragments (one table per family; two
// segments each before linearising), and parked frames, each up to a 64 KiB
// reply in 2 KiB segments.
constexpr unsigned kHeldBound =
    2 * kFragFlows * RTE_LIBRTE_IP_FRAG_MAX_FRAG * 2 + kArpPending * 40 + kArpPending + 64;

rte_mempool* g_pool = nullptr;
rte_mempool* g_indirect = nullptr;
constexpr std::uint16_t kGroBurst = 32;
tern::RxCoalescer* g_gro = nullptr;  // one for the process, as a worker keeps one

// Stands in for TCP (configuration bit 0x10) so that a Destination
// Unreachable gets past the hand-over: what reaches the transport must come
// from a quote of our own datagram, with a code RFC 1812 §5.2.7.1 defines.
class CheckingTransport final : public TransportInput {
 public:
  // A segment GRO merged: a chain of whole frames, its length the datagram's,
  // its headers (and their checksum) made valid again, both checksums marked
  // verified.
  void on_ipv4(const Ipv4Delivery& d, Mbuf m, Instant, FrameQueue&) override {
    if ((m->ol_flags & RTE_MBUF_F_RX_LRO) == 0) return;
    FUZZ_CHECK(m->nb_segs >= 2 && d.protocol == 6 && d.l4_offset == 34);
    FUZZ_CHECK(m.pkt_len() == std::uint32_t{d.l4_offset} + d.l4_len);
    FUZZ_CHECK((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD);
    FUZZ_CHECK(internet_checksum(m.head().subspan(14, 20)) == 0);
  }
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant) override {
    FUZZ_CHECK(u.src == kOurIp && u.code <= 15);
  }
};

void fix_ipv4_checksum(std::byte* ip, std::size_t avail) {
  const std::size_t hl = static_cast<std::size_t>(load_u8(ip) & 0x0F) * 4;
  if (hl < 20 || hl > avail) return;
  store_be16(ip + 10, 0);
  store_be16(ip + 10, internet_checksum({ip, hl}));
}

void fix_icmp_checksum(std::byte* ip, std::size_t avail) {
  const std::size_t hl = static_cast<std::size_t>(load_u8(ip) & 0x0F) * 4;
  if (hl < 20 || hl > avail || load_u8(ip + 9) != 1) return;
  if ((load_be16(ip + 6) & 0x3FFF) != 0) return;  // a fragment carries part of a message
  const std::size_t total = std::min<std::size_t>(load_be16(ip + 2), avail);
  if (total < hl + 8) return;
  std::byte* icmp = ip + hl;
  store_be16(icmp + 2, 0);
  store_be16(icmp + 2, internet_checksum({icmp, total - hl}));
}

void fix_tcp_checksum(std::byte* ip, std::size_t avail) {
  const std::size_t hl = static_cast<std::size_t>(load_u8(ip) & 0x0F) * 4;
  if (hl < 20 || hl > avail || load_u8(ip + 9) != 6 || (load_be16(ip + 6) & 0x3FFF) != 0) return;
  const std::size_t total = std::min<std::size_t>(load_be16(ip + 2), avail);
  if (total < hl + 20) return;
  std::byte* tcp = ip + hl;
  store_be16(tcp + 16, 0);
  ChecksumAccumulator acc{
      pseudo_header_sum(load_be32(ip + 12), load_be32(ip + 16), 6, static_cast<std::uint16_t>(total - hl))};
  acc.add({tcp, total - hl});
  store_be16(tcp + 16, acc.finish());
}

// Applies the record's repairs to a copy of its bytes.
void repair(std::vector<std::byte>& f, std::uint8_t flags) {
  if ((flags & kFixEthDst) && f.size() >= 6) kOurMac.store(f.data());
  if (f.size() < 14) return;
  const std::uint16_t type = load_be16(f.data() + 12);
  std::byte* l3 = f.data() + 14;
  const std::size_t avail = f.size() - 14;
  if (type == kEtherTypeArp && (flags & kFixArpTarget) && avail >= 28) store_be32(l3 + 24, kOurIp);
  if (type == kEtherTypeIpv6 && avail >= 40) {
    if (flags & kFixIpDst) (flags & kFixArpTarget ? solicited_node(kOurIp6) : kOurIp6).store(l3 + 24);
    // The ICMPv6 checksum, when ICMPv6 follows the fixed header directly.
    const std::size_t plen = std::min<std::size_t>(load_be16(l3 + 4), avail - 40);
    if ((flags & kFixIcmpChecksum) && load_u8(l3 + 6) == kIpProtoIcmpv6 && plen >= 4) {
      std::byte* icmp = l3 + 40;
      store_be16(icmp + 2, 0);
      ChecksumAccumulator acc{ipv6_pseudo_header_sum(Ipv6Addr::load(l3 + 8), Ipv6Addr::load(l3 + 24),
                                                     static_cast<std::uint32_t>(plen), kIpProtoIcmpv6)};
      acc.add({icmp, plen});
      store_be16(icmp + 2, acc.finish());
    }
    return;
  }
  if (type != kEtherTypeIpv4 || avail < 20) return;
  if (flags & kFixIpDst) store_be32(l3 + 16, kOurIp);
  if (flags & kFixIcmpChecksum) {
    fix_icmp_checksum(l3, avail);
    fix_tcp_checksum(l3, avail);
  }
  if (flags & kFixIpChecksum) fix_ipv4_checksum(l3, avail);
}

Mbuf make_frame(std::span<const std::byte> bytes, bool split) {
  Mbuf head = Mbuf::alloc(g_pool);
  FUZZ_CHECK(head);
  const std::size_t first = split ? bytes.size() / 2 : bytes.size();
  if (first > 0) std::memcpy(head.append(static_cast<std::uint16_t>(first)).data(), bytes.data(), first);
  if (split) {
    Mbuf tail = Mbuf::alloc(g_pool);
    FUZZ_CHECK(tail);
    const std::size_t rest = bytes.size() - first;
    if (rest > 0)
      std::memcpy(tail.append(static_cast<std::uint16_t>(rest)).data(), bytes.data() + first, rest);
    FUZZ_CHECK(rte_pktmbuf_chain(head.get(), tail.release()) == 0);
  }
  return head;
}

// Everything the layer transmits must be a frame we could put on a wire.
void check_sent(const rte_mbuf* m, std::uint16_t mtu, std::vector<std::byte>& buf) {
  const std::uint32_t len = rte_pktmbuf_pkt_len(m);
  FUZZ_CHECK(len >= 14 && len <= 14u + 65535u);
  buf.resize(len);
  const auto* p = static_cast<const std::byte*>(rte_pktmbuf_read(m, 0, len, buf.data()));
  FUZZ_CHECK(p != nullptr);
  const MacAddr dst = MacAddr::load(p), src = MacAddr::load(p + 6);
  FUZZ_CHECK(src == kOurMac);
  const std::uint16_t type = load_be16(p + 12);
  if (type == kEtherTypeArp) {
    FUZZ_CHECK(len == 60);
    const std::uint16_t op = load_be16(p + 14 + 6);
    FUZZ_CHECK(op == 1 || op == 2);
    FUZZ_CHECK(MacAddr::load(p + 14 + 8) == kOurMac && load_be32(p + 14 + 14) == kOurIp);
    // A request is broadcast; a reply goes where its target hardware address says.
    FUZZ_CHECK(op == 2 ? dst == MacAddr::load(p + 14 + 18) : dst.is_broadcast());
    return;
  }
  if (type == kEtherTypeIpv6) {
    FUZZ_CHECK(len >= 14 + 40);
    const std::byte* ip = p + 14;
    FUZZ_CHECK((load_u8(ip) >> 4) == 6);
    const std::uint16_t plen = load_be16(ip + 4);
    FUZZ_CHECK(plen == len - 54u && 40u + plen <= mtu);
    const Ipv6Addr from = Ipv6Addr::load(ip + 8), to = Ipv6Addr::load(ip + 24);
    // From :: only duplicate address detection's NS (and an RS while the
    // link-local address is tentative).
    const bool unspecified_ok = load_u8(ip + 6) == kIpProtoIcmpv6 && plen >= 1 &&
                                (load_u8(ip + 40) == 135 || load_u8(ip + 40) == 133);
    FUZZ_CHECK(from == kOurIp6 || from == kOurLl || (from.is_unspecified() && unspecified_ok));
    // Multicast goes to its group's MAC; unicast to a MAC learned from a unicast sender.
    FUZZ_CHECK(to.is_multicast() ? dst == multicast_mac(to) : !dst.is_multicast());
    if (load_u8(ip + 6) == kIpProtoIcmpv6) {
      FUZZ_CHECK(plen >= 8);
      ChecksumAccumulator acc{ipv6_pseudo_header_sum(from, to, plen, kIpProtoIcmpv6)};
      acc.add({ip + 40, plen});
      FUZZ_CHECK(acc.finish() == 0);
    }
    return;
  }
  FUZZ_CHECK(type == kEtherTypeIpv4);
  FUZZ_CHECK(!dst.is_multicast());  // a MAC learned from a unicast sender
  const std::byte* ip = p + 14;
  FUZZ_CHECK(len >= 14 + 20);
  FUZZ_CHECK(load_u8(ip) == 0x45);
  const std::uint16_t total = load_be16(ip + 2);
  FUZZ_CHECK(total == len - 14);
  FUZZ_CHECK(total <= mtu);
  FUZZ_CHECK(internet_checksum({ip, 20}) == 0);
  FUZZ_CHECK(load_be32(ip + 12) == kOurIp);
  const std::uint16_t frag = load_be16(ip + 6);
  if (frag & 0x2000) FUZZ_CHECK((total - 20) % 8 == 0);
  // An echo reply that is a whole datagram must carry a valid ICMP checksum.
  if (load_u8(ip + 9) == 1 && (frag & 0x3FFF) == 0) {
    FUZZ_CHECK(total >= 28);
    FUZZ_CHECK(load_u8(ip + 20) == 0);
    FUZZ_CHECK(internet_checksum({ip + 20, static_cast<std::size_t>(total - 20)}) == 0);
  }
}

void drain(FrameQueue& out, std::uint16_t mtu, std::vector<std::byte>& buf) {
  while (!out.empty()) {
    Mbuf m = out.pop_front();
    check_sent(m.get(), mtu, buf);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!tern::start_eal_in_memory("ternfuzz", "crit")) std::abort();
  // No per-lcore cache, so in-use counts are exact.
  g_pool = rte_pktmbuf_pool_create("stack_fuzz", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  g_indirect = rte_pktmbuf_pool_create("stack_fuzz_ind", 2047, 0, 0, 0, SOCKET_ID_ANY);
  if (g_pool == nullptr || g_indirect == nullptr) std::abort();
  g_gro = new tern::RxCoalescer(kGroBurst, SOCKET_ID_ANY);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto in = fuzz::as_bytes(data, size);
  const std::uint8_t cfg = data[0];

  IpSettings s;
  s.mac = kOurMac;
  s.addr = kOurIp;
  s.prefix_len = 24;
  if ((cfg & 0x04) == 0) s.gateway = kGatewayIp;
  s.mtu = kMtus[cfg & 0x03];
  s.arp.retry_interval = Duration::ms(500);
  s.arp.max_retries = 2;
  s.arp.max_pending = kArpPending;
  s.arp.cache_size = 16;
  s.arp.entry_ttl = Duration::s(20);
  s.ip.frag_max_flows = kFragFlows;
  s.ip.frag_timeout = Duration::s(3);
  s.v6.addrs = {Ipv6Prefix{kOurIp6, 64}};
  if ((cfg & 0x20) == 0) s.v6.gateway = Ipv6Addr::from_groups({0xFE80, 0, 0, 0, 0, 0, 0, 0xFE});
  s.v6.nd.retrans_timer = Duration::ms(500);
  if ((cfg & 0x40) != 0) {  // start-up DAD and Router Solicitations
    s.v6.nd.dad_transmits = 1;
    s.v6.nd.router_solicitations = 2;
  }
  s.v6.nd.max_pending = kArpPending;
  s.v6.nd.cache_size = 16;

  const unsigned base = rte_mempool_in_use_count(g_pool);
  std::vector<std::byte> buf;
  {
    Counters counters;
    FrameQueue out;
    CheckingTransport tcp;
    auto ip = std::make_unique<IpLayer>(s, counters, g_pool, (cfg & 0x08) ? nullptr : g_indirect);
    if ((cfg & 0x10) != 0) ip->set_tcp(&tcp);
    Instant now = Instant::from_ns(0);
    // Received frames of the burst being gathered (GRO on), and their hand-over.
    std::array<rte_mbuf*, kGroBurst> burst{};
    std::uint16_t gathered = 0;
    const auto deliver_burst = [&] {
      const std::uint64_t merged = counters.get(Counter::kGroMerged);
      const std::uint16_t n = g_gro->coalesce(burst.data(), gathered, counters);
      // Every frame is handed on or counted as merged into another.
      FUZZ_CHECK(n + (counters.get(Counter::kGroMerged) - merged) == gathered);
      for (std::uint16_t i = 0; i < n; ++i) ip->on_frame(Mbuf{burst[i]}, now, out);
      gathered = 0;
    };
    std::size_t at = 1;
    while (size - at >= 4) {
      const std::uint8_t flags = data[at];
      if (gathered > 0 && (data[at + 1] != 0 || (flags & kSend) || gathered == kGroBurst)) deliver_burst();
      now = now + Duration::ms(50 * data[at + 1]);
      const std::size_t len = std::min<std::size_t>(
          {std::size_t{load_be16(in.data() + at + 2)}, size - at - 4, std::size_t{2048}});
      const auto bytes = in.subspan(at + 4, len);
      at += 4 + len;

      if ((flags & kSend) && (flags & kSend6)) {
        if (len < 17) continue;
        std::uint8_t proto = load_u8(bytes.data() + 16);
        if (proto == kIpProtoIcmpv6) proto = 17;  // our own ICMPv6 is built by the layer
        Mbuf l4 = make_frame(bytes.subspan(17), false);
        ip->send_ipv6(std::move(l4), Ipv6Addr::load(bytes.data()), proto, now, out);
      } else if (flags & kSend) {
        if (len < 5) continue;
        std::uint8_t proto = load_u8(bytes.data() + 4);
        if (proto == 1) proto = 17;  // our own ICMP is only ever an echo reply
        Mbuf l4 = make_frame(bytes.subspan(5), false);
        ip->send(std::move(l4), load_be32(bytes.data()), proto, now, out);
      } else {
        std::vector<std::byte> f(bytes.begin(), bytes.end());
        repair(f, flags);
        Mbuf frame = make_frame(f, (flags & kSplitInTwo) != 0 && f.size() >= 2);
        if ((cfg & 0x80) != 0) {
          burst[gathered++] = frame.release();
          continue;  // the burst goes up when it ends
        }
        ip->on_frame(std::move(frame), now, out);
      }
      ip->on_timer(now, out);
      drain(out, s.mtu, buf);
      FUZZ_CHECK(rte_mempool_in_use_count(g_pool) <= base + kHeldBound);
      FUZZ_CHECK(ip->arp().pending_frames() <= kArpPending);
      FUZZ_CHECK(ip->v6().neighbors().pending_frames() <= kArpPending);
    }
    if (gathered > 0) deliver_burst();
    // Let every incomplete IPv6 datagram time out first: its Time Exceeded
    // (RFC 8200 §4.5) may start a neighbour resolution of its own.
    now = now + s.ip.frag_timeout + Duration::s(1);
    ip->on_timer(now, out);
    drain(out, s.mtu, buf);
    // Let every ARP resolution run out (one retry step per call), then tear down.
    for (std::uint32_t i = 0; i <= std::max<std::uint32_t>(s.arp.max_retries, 3); ++i) {
      now = now + Duration::s(1);
      ip->on_timer(now, out);
      drain(out, s.mtu, buf);
    }
    FUZZ_CHECK(ip->arp().pending_frames() == 0);
    FUZZ_CHECK(ip->v6().neighbors().pending_frames() == 0);
  }
  // The layer freed everything it held: fragments, parked frames, death row.
  FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
  FUZZ_CHECK(rte_mempool_in_use_count(g_indirect) == 0);
  return 0;
}
