// Fuzzer for FragReassembler (lib/ip/ip_frag.{h,cc}), both families, on
// virtual time. Every fragment of datagram k carries, at each byte offset i
// of the datagram, the byte pattern(k, i); so whatever the order, overlaps,
// duplicates, caps and timeouts, a datagram that comes out must hold exactly
// pattern(k, 0..n) with its headers rewritten. Memory: the reassembler's
// held() is always the truesize of the mbufs it holds (every mbuf out of the
// pool is one it holds) and at most frag_high_thresh; expired batches are one
// datagram's fragments in offset order; at the end every mbuf is back.
//
// Input: byte 0 sets frag_max_fragments (1..64) and frag_max_flows (1..4),
// byte 1 frag_high_thresh (4..67 mbufs); then 4-byte records:
//   b0: bit 0 family (IPv6 when set), bits 1-2 datagram (of 4), bit 3 M,
//       bits 4-7 seconds to advance (frag_timeout is 30 s)
//   b1: offset in 8-byte units;  b2: length in 8-byte units (0..31), plus
//   b3 & 7 bytes for a last fragment;  b3 & 0xF8 == 0xF8: run the expiry sweep.
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/counters.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "fuzz_check.h"
#include "ip/ip_frag.h"
#include "runtime/eal_in_memory.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

namespace {

using namespace tern;

constexpr std::size_t kEth = 14;
constexpr std::uint8_t kNextHeader = 17;  // what every IPv6 fragment header says follows
rte_mempool* g_pool = nullptr;

std::uint8_t pattern(unsigned k, std::uint32_t i) {
  return static_cast<std::uint8_t>(k * 131u + i * 7u + (i >> 8));
}

// Source address byte that tells the 4 datagrams apart (with the ID).
std::uint8_t source_of(unsigned k) { return static_cast<std::uint8_t>(1 + k); }

Mbuf fragment(bool v6, unsigned k, std::uint32_t offset, std::uint32_t len, bool more) {
  Mbuf m = Mbuf::alloc(g_pool);
  FUZZ_CHECK(m);
  const std::uint32_t l3 = v6 ? 48 : 20;
  auto bytes = m.append(static_cast<std::uint16_t>(kEth + l3 + len));
  FUZZ_CHECK(!bytes.empty());
  std::byte* p = bytes.data();
  std::memset(p, 0, kEth + l3);
  store_be16(p + 12, v6 ? 0x86DD : 0x0800);
  std::byte* ip = p + kEth;
  if (v6) {
    store_u8(ip, 0x60);
    store_be16(ip + 4, static_cast<std::uint16_t>(8 + len));
    store_u8(ip + 6, 44);
    store_u8(ip + 7, 64);
    store_u8(ip + 8, 0x20);
    store_u8(ip + 23, source_of(k));
    store_u8(ip + 24, 0x20);
    store_u8(ip + 39, 0xFF);
    store_u8(ip + 40, kNextHeader);
    store_be16(ip + 42, static_cast<std::uint16_t>(offset | (more ? 1 : 0)));
    store_be32(ip + 44, 0x1000 + k);
  } else {
    store_u8(ip, 0x45);
    store_be16(ip + 2, static_cast<std::uint16_t>(20 + len));
    store_be16(ip + 4, static_cast<std::uint16_t>(0x1000 + k));
    store_be16(ip + 6, static_cast<std::uint16_t>((offset / 8) | (more ? 0x2000 : 0)));
    store_u8(ip + 8, 64);
    store_u8(ip + 9, 17);
    store_be32(ip + 12, 0x0A000000u + source_of(k));
    store_be32(ip + 16, 0x0A0000FFu);
  }
  for (std::uint32_t i = 0; i < len; ++i) p[kEth + l3 + i] = std::byte{pattern(k, offset + i)};
  m->l2_len = kEth;
  m->l3_len = static_cast<std::uint16_t>(l3);
  return m;
}

// A datagram that came out: headers rewritten, every byte the pattern's.
void check_whole(const Mbuf& whole, bool v6, unsigned k) {
  const rte_mbuf* m = whole.get();
  std::uint32_t len = m->pkt_len;
  FUZZ_CHECK(m->l2_len == kEth && m->data_len >= kEth + (v6 ? 40u : 20u));
  const auto* ip = rte_pktmbuf_mtod_offset(m, const std::byte*, kEth);
  std::uint32_t l3 = 0;
  if (v6) {
    l3 = 40;
    FUZZ_CHECK(m->l3_len == 40);
    FUZZ_CHECK(load_u8(ip + 6) == kNextHeader);
    FUZZ_CHECK(load_be16(ip + 4) == len - kEth - l3);
    FUZZ_CHECK(load_u8(ip + 23) == source_of(k));
  } else {
    l3 = 20;
    FUZZ_CHECK(load_be16(ip + 2) == len - kEth);
    FUZZ_CHECK((load_be16(ip + 6) & 0x3FFF) == 0);
    FUZZ_CHECK(internet_checksum({ip, 20}) == 0);
    FUZZ_CHECK(load_be16(ip + 4) == 0x1000 + k);
  }
  FUZZ_CHECK(len > kEth + l3);
  std::uint32_t i = 0;
  std::uint32_t skip = kEth + l3;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
    const auto* d = rte_pktmbuf_mtod(s, const std::uint8_t*);
    for (std::uint32_t j = skip; j < s->data_len; ++j, ++i) FUZZ_CHECK(d[j] == pattern(k, i));
    skip = 0;
  }
  FUZZ_CHECK(i == len - kEth - l3);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!tern::start_eal_in_memory("ternfragfuzz", "crit")) std::abort();
  g_pool = rte_pktmbuf_pool_create("frag_fuzz", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (g_pool == nullptr) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr std::uint32_t kTruesize = sizeof(rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
  IpConfig c;
  c.frag_max_fragments = 1 + data[0] % 64;
  c.frag_max_flows = 1 + (data[0] >> 6);
  c.frag_timeout = Duration::s(30);
  c.frag_high_thresh = (4 + data[1] % 64) * std::uint64_t{kTruesize};
  c.frag_low_thresh = c.frag_high_thresh * 3 / 4;
  const unsigned base = rte_mempool_in_use_count(g_pool);
  {
    Counters counters;
    MemAccount mem;
    const FragCounting counting{Counter::kIpReasmFails, Drop::kIpFragDiscarded, Drop::kIpFragEvicted,
                                Drop::kIpFragDuplicate, Drop::kIpFragTooMany};
    auto r = std::make_unique<FragReassembler>(c, counters, counting);
    r->set_mem_account(&mem);
    Instant now = Instant::from_ns(0);
    for (std::size_t at = 2; at + 4 <= size; at += 4) {
      const std::uint8_t b0 = data[at], b1 = data[at + 1], b2 = data[at + 2], b3 = data[at + 3];
      now = now + Duration::s(b0 >> 4);
      if ((b3 & 0xF8) == 0xF8) {
        for (auto batch = r->take_expired(now); !batch.empty(); batch = r->take_expired(now)) {
          FUZZ_CHECK(batch.size() <= c.frag_max_fragments);
          for (std::size_t i = 1; i < batch.size(); ++i) {
            // One datagram (same addresses), in offset order.
            const bool v6 = batch[0]->l3_len == 48;
            FUZZ_CHECK((batch[i]->l3_len == 48) == v6);
            const auto* a = rte_pktmbuf_mtod_offset(batch[i - 1], const std::byte*, kEth);
            const auto* b = rte_pktmbuf_mtod_offset(batch[i], const std::byte*, kEth);
            FUZZ_CHECK(std::memcmp(a + (v6 ? 8 : 12), b + (v6 ? 8 : 12), v6 ? 32 : 8) == 0);
            const std::uint32_t off_a = v6 ? load_be16(a + 42) & 0xFFF8u : (load_be16(a + 6) & 0x1FFFu) * 8;
            const std::uint32_t off_b = v6 ? load_be16(b + 42) & 0xFFF8u : (load_be16(b + 6) & 0x1FFFu) * 8;
            FUZZ_CHECK(off_a < off_b);
          }
        }
      } else {
        const bool v6 = (b0 & 1) != 0;
        const unsigned k = (b0 >> 1) & 3u;
        const bool more = (b0 & 8) != 0;
        const std::uint32_t offset = 8u * b1;
        const std::uint32_t len = 8u * (b2 % 32) + (more ? 0u : (b3 & 7u));
        Mbuf f = fragment(v6, k, offset, len, more);
        rte_mbuf* m = f.get();
        Mbuf whole = v6 ? r->add_ipv6(std::move(f), rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEth),
                                      rte_pktmbuf_mtod_offset(m, rte_ipv6_fragment_ext*, kEth + 40), now)
                        : r->add_ipv4(std::move(f), rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEth), now);
        if (whole) check_whole(whole, v6, k);
      }
      FUZZ_CHECK(r->held() <= c.frag_high_thresh);
      FUZZ_CHECK(r->held() == std::uint64_t{rte_mempool_in_use_count(g_pool) - base} * kTruesize);
      FUZZ_CHECK(mem.charged() == r->held());
    }
    // Far past every timeout, the sweep gives back everything.
    for (auto batch = r->take_expired(now + Duration::s(31)); !batch.empty();
         batch = r->take_expired(now + Duration::s(31))) {
    }
    FUZZ_CHECK(r->held() == 0);
    FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
    r->set_mem_account(nullptr);
  }
  FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
  return 0;
}
