// The TCP transmit checksum, two ways, on the mbuf chains the engine really
// builds (a header mbuf with a 32-byte TCP header carrying timestamps,
// followed by the payload mbufs):
//
//  - BM_TxTcpChecksumSoftware: what tcp_output.cc's fill_checksum() does on
//    every segment today: the pseudo-header sum plus a walk over every byte
//    of every mbuf in the chain. Cost grows with the payload.
//  - BM_TxTcpChecksumOffload: what a port offering TX TCP checksum offload
//    needs instead (DPDK's convention for RTE_MBUF_F_TX_TCP_CKSUM): the folded
//    pseudo-header sum in the checksum field, l2/l3/l4 lengths and the
//    ol_flags; the NIC sums the payload. Cost is flat in the payload.
//  - BM_TxTcpChecksumOffloadRte: the same with DPDK's own
//    rte_ipv4_phdr_cksum() over a written IPv4 header, for reference.
//
// Arg: payload bytes. 64 (a small request), 1448 (one full MSS with
// timestamps at a 1500 MTU) and kBigChain: 44 MSS = 63712 bytes in 32 mbufs,
// the largest TSO super-segment of full MSS segments, since header and
// payload must fit the 16-bit IPv4 total length (a 64 KiB payload cannot).
// items = segments; bytes (software only) = TCP header + payload. The
// payload is hot in cache here; in a real zero-copy send the application
// wrote it earlier and it may not be, so the software numbers are a lower
// bound. Starts the EAL in memory.
#include <benchmark/benchmark.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/mbuf.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern {
namespace {

constexpr std::uint32_t kSrc = 0x0A000001;
constexpr std::uint32_t kDst = 0x0A000002;
constexpr std::int64_t kBigChain = 44 * 1448;

rte_mempool* make_pool(unsigned n) {
  static int count = 0;
  const std::string name = "ckb" + std::to_string(count++);
  return rte_pktmbuf_pool_create(name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
}

// A segment as the engine hands it to IPv4: TCP header (with timestamps) in
// its own mbuf, then `payload` bytes in mbufs of up to one data room each.
// The headroom in front of the header is where IPv4 will put its headers.
Mbuf make_segment(rte_mempool* pool, std::uint32_t payload) {
  Mbuf head = Mbuf::alloc(pool);
  if (!head) return head;
  TcpOptions o;
  o.timestamps = std::pair{123456u, 654321u};
  std::array<std::byte, kTcpMaxOptionsLen> ob{};
  const std::size_t olen = write_tcp_options(ob, o);
  auto h = head.append(static_cast<std::uint16_t>(kTcpMinHeaderLen + olen));
  if (h.empty()) return Mbuf{};
  write_tcp(h, TcpFields{40000, 80, 1, 1, kTcpAck | kTcpPsh, 509},
            std::span<const std::byte>{ob.data(), olen});
  std::uint32_t left = payload;
  std::uint32_t pos = 0;
  while (left > 0) {
    Mbuf m = Mbuf::alloc(pool);
    if (!m) return Mbuf{};
    const auto n = static_cast<std::uint16_t>(std::min<std::uint32_t>(left, rte_pktmbuf_tailroom(m.get())));
    auto d = m.append(n);
    for (auto& b : d) b = static_cast<std::byte>(pos++ * 131);
    if (rte_pktmbuf_chain(head.get(), m.get()) != 0) return Mbuf{};
    (void)m.release();
    left -= n;
  }
  return head;
}

// A copy of tcp_output.cc's fill_checksum() (file-local there): zero the
// field, sum the pseudo header and every mbuf of the chain, store.
void software_checksum(rte_mbuf* m, std::uint32_t src, std::uint32_t dst) noexcept {
  auto* th = rte_pktmbuf_mtod(m, std::byte*);
  th[16] = th[17] = std::byte{0};
  ChecksumAccumulator acc{pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint16_t>(m->pkt_len))};
  for (const rte_mbuf* s = m; s != nullptr; s = s->next)
    acc.add({rte_pktmbuf_mtod(s, const std::byte*), s->data_len});
  store_be16(th + 16, acc.finish());
}

// Sums the whole segment with its checksum field: 0 when the field is right.
bool checksum_verifies(const rte_mbuf* m) {
  ChecksumAccumulator acc{pseudo_header_sum(kSrc, kDst, kIpProtoTcp, static_cast<std::uint16_t>(m->pkt_len))};
  for (const rte_mbuf* s = m; s != nullptr; s = s->next)
    acc.add({rte_pktmbuf_mtod(s, const std::byte*), s->data_len});
  return acc.finish() == 0;
}

// What the transmit path would do per segment on a port with TX L4
// checksum offload: the pseudo-header sum, folded but not complemented, in
// the checksum field, and the offsets and flags the PMD reads.
void offload_checksum(rte_mbuf* m, std::uint32_t src, std::uint32_t dst) noexcept {
  auto* th = rte_pktmbuf_mtod(m, std::byte*);
  store_be16(th + 16,
             checksum_fold(pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint16_t>(m->pkt_len))));
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv4MinHeaderLen;
  m->l4_len = static_cast<std::uint8_t>((load_u8(th + 12) >> 4) * 4);
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
}

void BM_TxTcpChecksumSoftware(benchmark::State& state) {
  const auto payload = static_cast<std::uint32_t>(state.range(0));
  rte_mempool* pool = make_pool(255);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Mbuf seg = make_segment(pool, payload);
    if (!seg) return state.SkipWithError("cannot build the segment");
    for (auto _ : state) {
      // Addresses come from the TCB in the engine: keep them out of constant folding.
      std::uint32_t src = kSrc, dst = kDst;
      benchmark::DoNotOptimize(src);
      benchmark::DoNotOptimize(dst);
      software_checksum(seg.get(), src, dst);
      benchmark::ClobberMemory();
    }
    if (!checksum_verifies(seg.get())) state.SkipWithError("checksum does not verify");
    state.counters["mbufs"] = seg->nb_segs;
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(seg.pkt_len()));
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_TxTcpChecksumSoftware)->Arg(64)->Arg(1448)->Arg(kBigChain);

void BM_TxTcpChecksumOffload(benchmark::State& state) {
  const auto payload = static_cast<std::uint32_t>(state.range(0));
  rte_mempool* pool = make_pool(255);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Mbuf seg = make_segment(pool, payload);
    if (!seg) return state.SkipWithError("cannot build the segment");
    for (auto _ : state) {
      std::uint32_t src = kSrc, dst = kDst;
      benchmark::DoNotOptimize(src);
      benchmark::DoNotOptimize(dst);
      seg->ol_flags = 0;  // a fresh header mbuf has none set
      offload_checksum(seg.get(), src, dst);
      benchmark::ClobberMemory();
    }
    // What the NIC would store: the one's-complement sum of the payload
    // added to the pseudo-header sum already in the field.
    ChecksumAccumulator nic;
    for (const rte_mbuf* s = seg.get(); s != nullptr; s = s->next) {
      nic.add({rte_pktmbuf_mtod(s, const std::byte*), s->data_len});
    }
    store_be16(rte_pktmbuf_mtod(seg.get(), std::byte*) + 16, nic.finish());
    if (!checksum_verifies(seg.get())) state.SkipWithError("pseudo-header sum is not what the NIC needs");
    state.SetItemsProcessed(state.iterations());  // no bytes: the cost does not depend on them
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_TxTcpChecksumOffload)->Arg(64)->Arg(1448)->Arg(kBigChain);

// DPDK's helper needs the IPv4 header written first (it reads the addresses
// and lengths from it), so this one prepends and writes it like IPv4 output.
void BM_TxTcpChecksumOffloadRte(benchmark::State& state) {
  const auto payload = static_cast<std::uint32_t>(state.range(0));
  rte_mempool* pool = make_pool(255);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Mbuf seg = make_segment(pool, payload);
    if (!seg) return state.SkipWithError("cannot build the segment");
    const std::uint32_t l4_len = seg.pkt_len();
    auto ip = seg.prepend(kIpv4MinHeaderLen);
    if (ip.empty()) return state.SkipWithError("no headroom");
    write_ipv4(ip,
               Ipv4Fields{.src = kSrc,
                          .dst = kDst,
                          .protocol = kIpProtoTcp,
                          .payload_len = static_cast<std::uint16_t>(l4_len)},
               /*fill_checksum=*/false);
    auto* iph = rte_pktmbuf_mtod(seg.get(), rte_ipv4_hdr*);
    auto* th = rte_pktmbuf_mtod_offset(seg.get(), std::byte*, kIpv4MinHeaderLen);
    std::uint16_t phdr = 0;
    for (auto _ : state) {
      seg->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
      phdr = rte_ipv4_phdr_cksum(iph, seg->ol_flags);
      std::memcpy(th + 16, &phdr, 2);  // rte_ipv4_phdr_cksum returns network order
      benchmark::ClobberMemory();
    }
    if (phdr != rte_cpu_to_be_16(checksum_fold(
                    pseudo_header_sum(kSrc, kDst, kIpProtoTcp, static_cast<std::uint16_t>(l4_len))))) {
      state.SkipWithError("rte_ipv4_phdr_cksum disagrees with pseudo_header_sum");
    }
    state.SetItemsProcessed(state.iterations());
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_TxTcpChecksumOffloadRte)->Arg(64)->Arg(1448)->Arg(kBigChain);

}  // namespace
}  // namespace tern
