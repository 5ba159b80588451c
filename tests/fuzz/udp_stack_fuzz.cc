// UDP sockets fuzzer: one IpLayer with a UdpStack (lib/udp) driven by a
// sequence of operations on virtual time, with real mbufs from an in-memory
// EAL: received UDP datagrams (well-formed IPv4 around fuzzer-chosen UDP
// headers and payloads, checksums fixed or broken, now and then in two
// fragments), and the application's calls: open, connect, close, send_to
// (copying, zero-copy with and without headroom) and pop.
//
// Input: one configuration byte, then records until the input runs out:
//
//   op:u8  dt:u8  len:u16be  bytes[len]
//
// Checked after every record: every frame sent is well formed and ours
// (IPv4 header checksum, lengths, MTU; a whole UDP datagram's checksum and
// length; an ICMP Port Unreachable's checksum and quote of our address);
// every socket's queue stays within rcv_queue; the worker's account holds
// exactly what the queues and popped buffers hold. After the input:
// destroying the stack and the layer returns every mbuf to its pool.
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "base/counters.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "fuzz_check.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "runtime/eal_in_memory.h"
#include "udp/udp_stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

namespace {

using namespace tern;

constexpr MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr std::uint32_t kOurIp = 0x0A000001;   // 10.0.0.1/24
constexpr std::uint32_t kPeerIp = 0x0A000002;  // on the link, ARP answered at start
constexpr std::uint32_t kSockets = 8;
constexpr std::uint32_t kQueue = 4;

rte_mempool* g_pool = nullptr;
rte_mempool* g_indirect = nullptr;

enum Op : std::uint8_t { kRecv, kRecvFragments, kOpen, kConnect, kClose, kSend, kSendZeroCopy, kPop, kOps };

std::vector<std::byte> ipv4_frame(std::span<const std::byte> l4, std::uint16_t frag, std::uint16_t id) {
  std::vector<std::byte> f(14 + 20 + l4.size());
  kOurMac.store(f.data());
  kPeerMac.store(f.data() + 6);
  store_be16(f.data() + 12, kEtherTypeIpv4);
  std::byte* ip = f.data() + 14;
  store_u8(ip, 0x45);
  store_be16(ip + 2, static_cast<std::uint16_t>(20 + l4.size()));
  store_be16(ip + 4, id);
  store_be16(ip + 6, frag);
  store_u8(ip + 8, 64);
  store_u8(ip + 9, kIpProtoUdp);
  store_be32(ip + 12, kPeerIp);
  store_be32(ip + 16, kOurIp);
  store_be16(ip + 10, internet_checksum({ip, 20}));
  if (!l4.empty()) std::memcpy(ip + 20, l4.data(), l4.size());
  return f;
}

Mbuf to_mbuf(std::span<const std::byte> bytes) {
  Mbuf m = Mbuf::alloc(g_pool);
  FUZZ_CHECK(m);
  if (!bytes.empty())
    std::memcpy(m.append(static_cast<std::uint16_t>(bytes.size())).data(), bytes.data(), bytes.size());
  return m;
}

void check_sent(const rte_mbuf* m, std::uint16_t mtu, std::vector<std::byte>& buf) {
  const std::uint32_t len = rte_pktmbuf_pkt_len(m);
  FUZZ_CHECK(len >= 14 + 20);
  buf.resize(len);
  const auto* p = static_cast<const std::byte*>(rte_pktmbuf_read(m, 0, len, buf.data()));
  FUZZ_CHECK(p != nullptr);
  FUZZ_CHECK(MacAddr::load(p + 6) == kOurMac);
  FUZZ_CHECK(load_be16(p + 12) == kEtherTypeIpv4);
  const std::byte* ip = p + 14;
  const std::uint16_t total = load_be16(ip + 2);
  FUZZ_CHECK(total == len - 14 && total <= mtu);
  FUZZ_CHECK(internet_checksum({ip, 20}) == 0);
  FUZZ_CHECK(load_be32(ip + 12) == kOurIp);
  if ((load_be16(ip + 6) & 0x3FFF) != 0) return;  // a fragment: checked as a whole by the receiver
  const std::byte* l4 = ip + 20;
  const std::size_t l4_len = total - 20u;
  if (load_u8(ip + 9) == kIpProtoIcmp) {
    FUZZ_CHECK(l4_len >= 8 + 28 && load_u8(l4) == 3 && load_u8(l4 + 1) == 3);
    FUZZ_CHECK(internet_checksum({l4, l4_len}) == 0);
    FUZZ_CHECK(load_be32(l4 + 8 + 16) == kOurIp);  // the quote is a datagram sent to us
    return;
  }
  FUZZ_CHECK(load_u8(ip + 9) == kIpProtoUdp);
  FUZZ_CHECK(l4_len >= 8 && load_be16(l4 + 4) == l4_len);
  FUZZ_CHECK(load_be16(l4 + 6) != 0);
  const std::uint32_t pseudo =
      pseudo_header_sum(kOurIp, load_be32(ip + 16), kIpProtoUdp, static_cast<std::uint16_t>(l4_len));
  if ((m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM) != 0) {
    // Offloaded (DPDK's contract): the field holds the folded pseudo-header
    // sum, which the NIC finishes over the datagram.
    FUZZ_CHECK(load_be16(l4 + 6) == checksum_fold(pseudo));
    return;
  }
  FUZZ_CHECK(checksum_finish(checksum_partial({l4, l4_len}, pseudo)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!tern::start_eal_in_memory("ternudpfuzz", "crit")) std::abort();
  g_pool = rte_pktmbuf_pool_create("udp_fuzz", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  g_indirect = rte_pktmbuf_pool_create("udp_fuzz_ind", 2047, 0, 0, 0, SOCKET_ID_ANY);
  if (g_pool == nullptr || g_indirect == nullptr) std::abort();
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
  s.mtu = (cfg & 1) ? 576 : 1500;
  s.ip.frag_max_flows = 16;
  UdpStackOptions o;
  o.cfg.max_sockets = kSockets;
  o.cfg.rcv_queue = kQueue;
  o.cfg.rcv_buf = (cfg & 2) ? 2304 : 65536;
  o.cfg.unreach_burst = 3;
  o.cfg.unreach_per_sec = (cfg & 4) ? 0 : 10;
  o.ephemeral_first = 40000;
  o.ephemeral_last = static_cast<std::uint16_t>(40000 + (cfg >> 4));  // a small range runs out
  o.tx_checksum_offload = (cfg & 8) != 0;

  const unsigned base = rte_mempool_in_use_count(g_pool);
  std::vector<std::byte> buf;
  {
    Counters counters;
    FrameQueue out;
    MemAccount mem;
    auto ip = std::make_unique<IpLayer>(s, counters, g_pool, g_indirect);
    auto udp = std::make_unique<UdpStack>(o, counters, *ip, out, g_pool);
    udp->set_mem_account(&mem);
    ip->set_udp(udp.get());
    std::array<UdpSocketId, kSockets> socks{};
    socks.fill(kNoUdpSocket);
    std::vector<Buffer> held;  // popped datagrams the "application" keeps a while
    Instant now = Instant::from_ns(0);
    // The peer's MAC is known, so sends go out rather than wait for ARP.
    {
      std::vector<std::byte> arp(60);
      kOurMac.store(arp.data());
      kPeerMac.store(arp.data() + 6);
      store_be16(arp.data() + 12, kEtherTypeArp);
      std::byte* a = arp.data() + 14;
      store_be16(a, 1);
      store_be16(a + 2, kEtherTypeIpv4);
      store_u8(a + 4, 6);
      store_u8(a + 5, 4);
      store_be16(a + 6, 2);
      kPeerMac.store(a + 8);
      store_be32(a + 14, kPeerIp);
      kOurMac.store(a + 18);
      store_be32(a + 24, kOurIp);
      ip->on_frame(to_mbuf(arp), now, out);
      out.clear();
    }
    std::size_t at = 1;
    std::uint16_t ip_id = 1;
    while (size - at >= 4) {
      const std::uint8_t op = data[at] % kOps;
      const std::uint8_t arg = data[at] / kOps;
      now = now + Duration::ms(10 * data[at + 1]);
      const std::size_t len = std::min<std::size_t>(
          {std::size_t{load_be16(in.data() + at + 2)}, size - at - 4, std::size_t{1400}});
      const auto bytes = in.subspan(at + 4, len);
      at += 4 + len;
      UdpSocketId& sock = socks[arg & 7u];
      switch (op) {
        case kRecv:
        case kRecvFragments: {
          // bytes: the UDP header and payload as the fuzzer wrote them;
          // arg bit 3 fixes the length field, bit 4 the checksum.
          std::vector<std::byte> l4(bytes.begin(), bytes.end());
          if (l4.size() >= 8 && (arg & 0x08))
            store_be16(l4.data() + 4, static_cast<std::uint16_t>(l4.size()));
          if (l4.size() >= 8 && (arg & 0x10)) {
            store_be16(l4.data() + 6, 0);
            std::uint16_t c = checksum_finish(checksum_partial(
                l4, pseudo_header_sum(kPeerIp, kOurIp, kIpProtoUdp, static_cast<std::uint16_t>(l4.size()))));
            store_be16(l4.data() + 6, c == 0 ? 0xFFFF : c);
          }
          if (op == kRecv || l4.size() < 16) {
            ip->on_frame(to_mbuf(ipv4_frame(l4, 0, ip_id++)), now, out);
          } else {
            const std::size_t cut = (l4.size() / 2) & ~std::size_t{7};
            const std::uint16_t id = ip_id++;
            ip->on_frame(to_mbuf(ipv4_frame(std::span(l4).first(cut), 0x2000, id)), now, out);
            ip->on_frame(
                to_mbuf(ipv4_frame(std::span(l4).subspan(cut), static_cast<std::uint16_t>(cut / 8), id)), now,
                out);
          }
          break;
        }
        case kOpen: {
          if (sock != kNoUdpSocket) break;
          const std::uint16_t port = len >= 2 ? load_be16(bytes.data()) : 0;
          const IpAddr addr = (arg & 0x08) ? IpAddr{} : (arg & 0x10) ? IpAddr::v4(kOurIp) : IpAddr::any_v4();
          UdpSocketId id = kNoUdpSocket;
          if (udp->open({addr, port}, &id) == UdpResult::kOk) sock = id;
          break;
        }
        case kConnect:
          if (sock != kNoUdpSocket)
            (void)udp->connect(sock,
                               {(arg & 0x08) ? IpAddr{} : IpAddr::v4(kPeerIp),
                                static_cast<std::uint16_t>(len >= 2 ? load_be16(bytes.data()) : 0)},
                               now);
          break;
        case kClose:
          if (sock != kNoUdpSocket) udp->close(sock);
          sock = kNoUdpSocket;
          break;
        case kSend:
        case kSendZeroCopy: {
          if (sock == kNoUdpSocket) break;
          const std::uint16_t port = len >= 2 ? load_be16(bytes.data()) : 7;
          const auto payload = bytes.subspan(std::min<std::size_t>(len, 2));
          // Big sends (up to 8 x 1,400 bytes) reach fragmentation.
          const unsigned reps = op == kSend ? ((arg & 0x08) ? 8 : 1) : 1 + ((arg >> 3) & 3u);
          std::vector<std::byte> p;
          for (unsigned r = 0; r < reps; ++r) p.insert(p.end(), payload.begin(), payload.end());
          Mbuf m = udp->copy_payload(p);
          if (!m) break;
          if (op == kSendZeroCopy && m->nb_segs == 1) {
            // No headroom: the header needs an mbuf of its own in front.
            std::memmove(rte_pktmbuf_mtod_offset(m.get(), char*, -static_cast<int>(m->data_off)),
                         rte_pktmbuf_mtod(m.get(), char*), m->data_len);
            m->data_off = 0;
          }
          const std::optional<Endpoint> to =
              (op == kSend && (arg & 0x10)) ? std::nullopt
                                            : std::optional<Endpoint>{Endpoint{IpAddr::v4(kPeerIp), port}};
          (void)udp->send_to(sock, m, to, now);
          break;
        }
        case kPop: {
          if (sock == kNoUdpSocket) break;
          Buffer b;
          Endpoint from;
          while (udp->pop(sock, &b, &from)) {
            FUZZ_CHECK(from.addr == IpAddr::v4(kPeerIp));
            std::uint32_t n = 0;
            for (const rte_mbuf* seg = b.get(); seg != nullptr; seg = seg->next) n += seg->data_len;
            FUZZ_CHECK(n == b.pkt_len());
            if (arg & 0x08) held.push_back(std::move(b));
          }
          if (held.size() > 16) held.clear();
          break;
        }
        default:
          break;
      }
      ip->on_timer(now, out);
      while (!out.empty()) {
        Mbuf m = out.pop_front();
        check_sent(m.get(), s.mtu, buf);
      }
      std::uint64_t queued = 0;
      for (const UdpSocketId id : socks) {
        if (id == kNoUdpSocket) continue;
        FUZZ_CHECK(udp->queued(id) <= kQueue);
        queued += udp->queued_bytes(id);
      }
      std::uint64_t in_hand = 0;
      for (const Buffer& b : held) in_hand += b.charged();
      FUZZ_CHECK(mem.charged() == queued + in_hand);
    }
    held.clear();
    udp.reset();
    ip.reset();
  }
  FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
  FUZZ_CHECK(rte_mempool_in_use_count(g_indirect) == 0);
  return 0;
}
