// Whole-stack fuzzer: one IpLayer (ARP, IPv4 input, reassembly, ICMP echo
// and Destination Unreachable, fragmentation, next hop and ARP parking; IPv6
// input, the extension-header walk, reassembly and fragmentation, ICMPv6
// and neighbour discovery) and, with configuration bit 0x10, a TcpStack
// joined to it by TcpIpGlue as a worker joins them (a listener on port 80
// for both families whose application echoes, and an active open over IPv4
// and one over IPv6 at start), fed
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
// so the fuzzer spends its time past the first checks. On a TCP segment of
// either family, kFixArpTarget makes it an answer to the last TCP segment
// the stack sent in that family (addresses, ports, SEQ = its ACK, ACK = its
// SEQ + SEG.LEN), so handshakes complete and data is in window.
//
// With configuration bit 0x80, received frames go through receive-side
// coalescing first (runtime/rx_coalesce.h and rx_coalesce6.h, as a worker
// with [port] gro, both families):
// consecutive received records with dt = 0 form one burst (at most 32).
//
// Checked after every record: every frame the layer emits is well formed and
// ours (source MAC and address, header checksum, lengths, MTU, a valid ICMP
// checksum on echo replies, a valid TCP checksum over either family's
// pseudo-header), and the mbufs it holds stay bounded. The IPv6 active open
// at start fails with kNoSource exactly when duplicate address detection
// runs (RFC 4862 §5.4: no SYN from a tentative address). After the input:
// destroying the stack and the layer returns every mbuf to its pool.
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
#include "tcp/ip_glue.h"
#include "tcp/tcp_stack.h"
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
// The active opens' peers (port 80), on link.
constexpr std::uint32_t kPeerIp = 0x0A000002;
constexpr Ipv6Addr kPeerIp6 = Ipv6Addr::from_groups({0x2001, 0xDB8, 1, 0, 0, 0, 0, 2});

// Flag bits of a record.
constexpr std::uint8_t kFixEthDst = 1 << 0;
constexpr std::uint8_t kFixIpDst = 1 << 1;
constexpr std::uint8_t kFixIpChecksum = 1 << 2;
constexpr std::uint8_t kFixIcmpChecksum = 1 << 3;  // or the TCP checksum of a TCP datagram
constexpr std::uint8_t kFixArpTarget = 1 << 4;     // on TCP: answer the last segment sent
constexpr std::uint8_t kSplitInTwo = 1 << 5;       // deliver as a two-segment chain
constexpr std::uint8_t kSend = 1 << 6;             // ip.send(): dst:4, protocol:1, payload
constexpr std::uint8_t kSend6 = 1 << 7;            // with kSend: send_ipv6(): dst:16, protocol:1, payload

// The small tables keep per-input set-up cheap and make their limits reachable.
constexpr std::uint32_t kFragFlows = 16;
constexpr std::uint32_t kArpPending = 8;
// Held at most: the reassembly tables' fragments (one table per family; two
// segments each before linearising), and parked frames, each up to a 64 KiB
// reply in 2 KiB segments.
// TCP: small buffers and few connections; the application reads everything
// at once, so a connection holds its out-of-order queue (segments of up to
// two mbufs) and its send queue (copied into whole mbufs) at most.
constexpr std::uint32_t kTcpConns = 6;
constexpr std::uint32_t kTcpBuf = 4096;
constexpr std::uint32_t kTcpOfo = 4;
constexpr unsigned kTcpHeld = kTcpConns * (2 * kTcpOfo + kTcpBuf / 1024 + 8);
constexpr unsigned kHeldBound =
    2 * kFragFlows * RTE_LIBRTE_IP_FRAG_MAX_FRAG * 2 + kArpPending * 40 + kArpPending + 64 + kTcpHeld;

rte_mempool* g_pool = nullptr;
rte_mempool* g_indirect = nullptr;
constexpr std::uint16_t kGroBurst = 32;
tern::RxCoalescer* g_gro = nullptr;  // one for the process, as a worker keeps one

// In front of TCP's glue (configuration bit 0x10): checks what the IP layer
// hands the transport, then passes it on. What reaches the transport as a
// Destination Unreachable must come from a quote of our own datagram, with a
// code RFC 1812 §5.2.7.1 defines.
class CheckingTransport final : public TransportInput {
 public:
  explicit CheckingTransport(TransportInput& next) noexcept : next_(next) {}
  // A segment GRO merged: a chain of whole frames, its length the datagram's,
  // its headers (and their checksum) made valid again, both checksums marked
  // verified.
  void on_ipv4(const Ipv4Delivery& d, Mbuf m, Instant now, FrameQueue& out) override {
    if ((m->ol_flags & RTE_MBUF_F_RX_LRO) != 0) {
      FUZZ_CHECK(m->nb_segs >= 2 && d.protocol == 6 && d.l4_offset == 34);
      FUZZ_CHECK(m.pkt_len() == std::uint32_t{d.l4_offset} + d.l4_len);
      FUZZ_CHECK((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD);
      FUZZ_CHECK(internet_checksum(m.head().subspan(14, 20)) == 0);
    }
    next_.on_ipv4(d, std::move(m), now, out);
  }
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant now) override {
    FUZZ_CHECK(u.src == kOurIp && u.code <= 15);
    next_.on_icmp_unreachable(u, now);
  }
  // TCP over IPv6 from a unicast source to one of our unicast addresses.
  void on_ipv6(const Ipv6Delivery& d, Mbuf m, Instant now, FrameQueue& out) override {
    FUZZ_CHECK(d.protocol == 6 && (d.dst == kOurIp6 || d.dst == kOurLl));
    FUZZ_CHECK(!d.src.is_multicast() && !d.src.is_unspecified());
    FUZZ_CHECK(std::uint32_t{d.l4_offset} + d.l4_len <= m.pkt_len());
    // Merged by GRO (rx_coalesce6.h): TCP right after the fixed header, the
    // chain exactly the datagram (no padding inside), the sum marked good.
    if ((m->ol_flags & RTE_MBUF_F_RX_LRO) != 0) {
      FUZZ_CHECK(m->nb_segs >= 2 && d.l4_offset == 54);
      FUZZ_CHECK(m.pkt_len() == std::uint32_t{d.l4_offset} + d.l4_len);
      FUZZ_CHECK((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD);
    }
    next_.on_ipv6(d, std::move(m), now, out);
  }
  void on_icmpv6_error(const Icmpv6Report& r, Instant now) override {
    FUZZ_CHECK(r.src == kOurIp6 || r.src == kOurLl);
    next_.on_icmpv6_error(r, now);
  }

 private:
  TransportInput& next_;
};

// The application on the listener and the active opens: accepts
// everything, echoes what it reads, closes on the peer's FIN and on
// kTcpEvClosed (the API's rule: a Tcb is the application's until it closes
// it).
class EchoApp final : public TcpHandler {
 public:
  EchoApp(TcpStack& tcp, const Instant& now) noexcept : tcp_(tcp), now_(now) {}
  void on_acceptable(Listener& l) override {
    while (tcp_.accept(l) != nullptr) {
    }
  }
  void on_event(Tcb& c, std::uint8_t events) override {
    if (events & kTcpEvClosed) {
      tcp_.close(c, now_);
      return;
    }
    if (events & kTcpEvReadable) {
      std::array<std::byte, 1024> b;
      while (const std::size_t n = tcp_.read(c, b, now_)) tcp_.send_copy(c, {b.data(), n}, now_);
    }
    if (events & kTcpEvPeerFin) tcp_.close(c, now_);
  }

 private:
  TcpStack& tcp_;
  const Instant& now_;
};

// The last TCP segment the stack sent in each family, for kFixArpTarget.
struct LastTcp {
  bool valid = false;
  std::array<std::byte, 16> src{}, dst{};  // IPv4: the first 4 bytes
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0, seg_len = 0;
};
LastTcp g_last4, g_last6;

void remember_tcp(LastTcp& t, const std::byte* src, const std::byte* dst, std::size_t addr_len,
                  const std::byte* tcp, std::size_t tcp_len) {
  const std::size_t off = static_cast<std::size_t>(load_u8(tcp + 12) >> 4) * 4;
  if (off < 20 || off > tcp_len) return;
  const std::uint8_t fl = load_u8(tcp + 13);
  t.valid = true;
  std::memcpy(t.src.data(), src, addr_len);
  std::memcpy(t.dst.data(), dst, addr_len);
  t.sport = load_be16(tcp);
  t.dport = load_be16(tcp + 2);
  t.seq = load_be32(tcp + 4);
  t.ack = load_be32(tcp + 8);
  t.seg_len = static_cast<std::uint32_t>(tcp_len - off) + ((fl & 0x02) ? 1 : 0) + ((fl & 0x01) ? 1 : 0);
}

// Turns the TCP segment at `tcp` into an answer to `t` (see the top).
void answer_last(const LastTcp& t, std::byte* src, std::byte* dst, std::size_t addr_len, std::byte* tcp) {
  if (!t.valid) return;
  std::memcpy(src, t.dst.data(), addr_len);
  std::memcpy(dst, t.src.data(), addr_len);
  store_be16(tcp, t.dport);
  store_be16(tcp + 2, t.sport);
  store_be32(tcp + 4, t.ack);
  store_be32(tcp + 8, t.seq + t.seg_len);
}

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

void fix_tcp_checksum(std::byte* ip, std::size_t avail, bool answer) {
  const std::size_t hl = static_cast<std::size_t>(load_u8(ip) & 0x0F) * 4;
  if (hl < 20 || hl > avail || load_u8(ip + 9) != 6 || (load_be16(ip + 6) & 0x3FFF) != 0) return;
  const std::size_t total = std::min<std::size_t>(load_be16(ip + 2), avail);
  if (total < hl + 20) return;
  std::byte* tcp = ip + hl;
  if (answer) answer_last(g_last4, ip + 12, ip + 16, 4, tcp);
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
    const bool tcp = load_u8(l3 + 6) == kIpProtoTcp;
    if (flags & kFixIpDst) (flags & kFixArpTarget && !tcp ? solicited_node(kOurIp6) : kOurIp6).store(l3 + 24);
    // The ICMPv6 or TCP checksum, when that header follows the fixed header directly.
    const std::size_t plen = std::min<std::size_t>(load_be16(l3 + 4), avail - 40);
    if (tcp && plen >= 20) {
      if (flags & kFixArpTarget) answer_last(g_last6, l3 + 8, l3 + 24, 16, l3 + 40);
      if (flags & kFixIcmpChecksum) {
        std::byte* seg = l3 + 40;
        store_be16(seg + 16, 0);
        ChecksumAccumulator acc{ipv6_pseudo_header_sum(Ipv6Addr::load(l3 + 8), Ipv6Addr::load(l3 + 24),
                                                       static_cast<std::uint32_t>(plen), kIpProtoTcp)};
        acc.add({seg, plen});
        store_be16(seg + 16, acc.finish());
      }
    }
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
    fix_tcp_checksum(l3, avail, (flags & kFixArpTarget) != 0);
  } else if (flags & kFixArpTarget) {
    const std::size_t hl = static_cast<std::size_t>(load_u8(l3) & 0x0F) * 4;
    if (hl >= 20 && avail >= hl + 20 && load_u8(l3 + 9) == 6)
      answer_last(g_last4, l3 + 12, l3 + 16, 4, l3 + hl);
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
    // TCP (a whole segment: no extension header): from a usable unicast
    // address of ours, to a unicast peer, its checksum over the IPv6
    // pseudo-header (RFC 8200 §8.1).
    if (load_u8(ip + 6) == kIpProtoTcp) {
      FUZZ_CHECK(plen >= 20 && !from.is_unspecified() && !to.is_multicast());
      ChecksumAccumulator acc{ipv6_pseudo_header_sum(from, to, plen, kIpProtoTcp)};
      acc.add({ip + 40, plen});
      FUZZ_CHECK(acc.finish() == 0);
      remember_tcp(g_last6, ip + 8, ip + 24, 16, ip + 40, plen);
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
  // A TCP segment (never fragmented: TCP fits the MTU) with a valid checksum.
  if (load_u8(ip + 9) == 6) {
    FUZZ_CHECK((frag & 0x3FFF) == 0 && total >= 40);
    ChecksumAccumulator acc{
        pseudo_header_sum(load_be32(ip + 12), load_be32(ip + 16), 6, static_cast<std::uint16_t>(total - 20))};
    acc.add({ip + 20, static_cast<std::size_t>(total - 20)});
    FUZZ_CHECK(acc.finish() == 0);
    remember_tcp(g_last4, ip + 12, ip + 16, 4, ip + 20, total - 20u);
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
  g_last4 = {};
  g_last6 = {};
  {
    Counters counters;
    FrameQueue out;
    Instant now = Instant::from_ns(0);
    auto ip = std::make_unique<IpLayer>(s, counters, g_pool, (cfg & 0x08) ? nullptr : g_indirect);
    // TCP behind the checks, as a worker joins them (cfg 0x10).
    std::unique_ptr<TcpIpGlue> glue;
    std::unique_ptr<CheckingTransport> checking;
    std::unique_ptr<TcpStack> tcp;
    std::unique_ptr<EchoApp> app;
    if ((cfg & 0x10) != 0) {
      TcpStackOptions o;
      o.local_addr = kOurIp;
      o.mtu = s.mtu;
      o.cfg.max_connections = kTcpConns;
      o.cfg.syn_backlog = 2;
      o.cfg.max_backlog = 2;
      o.cfg.rcv_buf = kTcpBuf;
      o.cfg.snd_buf = kTcpBuf;
      o.cfg.ofo_max_segments = kTcpOfo;
      o.cfg.max_time_wait = 4;
      o.cfg.syn_retries = 2;
      o.cfg.synack_retries = 2;
      o.cfg.retries = 3;
      o.cfg.rto_max = Duration::s(4);
      o.cfg.fin_timeout = Duration::s(3);
      o.cfg.time_wait = Duration::s(2);
      glue = std::make_unique<TcpIpGlue>(*ip, out);
      tcp = std::make_unique<TcpStack>(o, counters, *glue, g_pool, g_indirect, now);
      glue->attach(*tcp);
      checking = std::make_unique<CheckingTransport>(*glue);
      ip->set_tcp(checking.get());
      app = std::make_unique<EchoApp>(*tcp, now);
      tcp->set_handler(app.get());
      FUZZ_CHECK(tcp->listen(80, 2) != nullptr);
      ConnectError e = ConnectError::kNone;
      FUZZ_CHECK(tcp->connect(IpAddr::v4(kPeerIp), 80, now, &e) != nullptr);
      // RFC 4862 §5.4: while DAD runs no address of ours is a source; the
      // connect fails at once rather than sending from a tentative one.
      const bool opened = tcp->connect(IpAddr::v6(kPeerIp6.b), 80, now, &e) != nullptr;
      FUZZ_CHECK(opened == ((cfg & 0x40) == 0));
      FUZZ_CHECK(opened || e == ConnectError::kNoSource);
    }
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
        // Our own ICMPv6 is built by the layer, TCP by the stack.
        if (proto == kIpProtoIcmpv6 || proto == kIpProtoTcp) proto = 17;
        Mbuf l4 = make_frame(bytes.subspan(17), false);
        ip->send_ipv6(std::move(l4), Ipv6Addr::load(bytes.data()), proto, now, out);
      } else if (flags & kSend) {
        if (len < 5) continue;
        std::uint8_t proto = load_u8(bytes.data() + 4);
        if (proto == 1 || proto == kIpProtoTcp) proto = 17;  // our own ICMP is an echo reply; TCP the stack's
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
      if (tcp) tcp->on_timer(now);
      ip->on_timer(now, out);
      drain(out, s.mtu, buf);
      // TCP's stash of reset header mbufs (at most
      // TcpStack::kHeaderMbufsKept between calls) is out of the pool too.
      const unsigned stash = tcp ? tcp->header_mbufs_held() : 0;
      FUZZ_CHECK(stash <= TcpStack::kHeaderMbufsKept);
      FUZZ_CHECK(rte_mempool_in_use_count(g_pool) <= base + kHeldBound + stash);
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
    tcp.reset();  // frees every TCB and what its queues hold, before the layer goes
    out.clear();
  }
  // The layer freed everything it held: fragments, parked frames, death row.
  FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
  FUZZ_CHECK(rte_mempool_in_use_count(g_indirect) == 0);
  return 0;
}
