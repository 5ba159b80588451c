// rte_ip_frag_table_del_expired_entries is still marked experimental in 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include "ip/ip_frag.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "ip/chain_checksum.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {

FragReassembler::FragReassembler(const IpConfig& c, Counters& counters, const FragCounting& counting)
    : c_(c), counters_(counters), counting_(counting) {
  tbl_ = rte_ip_frag_table_create(c.frag_max_flows, 4, c.frag_max_flows,
                                  static_cast<std::uint64_t>(c.frag_timeout.count_ns()), SOCKET_ID_ANY);
  if (tbl_ == nullptr) throw std::runtime_error("ip: cannot create a fragment reassembly table");
}

FragReassembler::~FragReassembler() {
  drop_expired();
  // The table frees the fragments it still holds; give back their charges.
  set_mem_account(nullptr);
  if (tbl_ != nullptr) rte_ip_frag_table_destroy(tbl_);
}

void FragReassembler::set_mem_account(MemAccount* a) noexcept {
  // held_ fits: it stays under frag_high_thresh (at most 1 GiB) plus a fragment.
  if (mem_ != nullptr) mem_->uncharge(static_cast<std::uint32_t>(held_));
  mem_ = a;
  if (mem_ != nullptr) mem_->charge(static_cast<std::uint32_t>(held_));
}

void FragReassembler::charge(std::uint32_t bytes) noexcept {
  held_ += bytes;
  if (mem_ != nullptr) mem_->charge(bytes);
}

void FragReassembler::uncharge(std::uint32_t bytes) noexcept {
  held_ -= bytes;
  if (mem_ != nullptr) mem_->uncharge(bytes);
}

// Every mbuf in the table is charged its truesize (trimming and chaining
// change neither buf_len nor the set of mbufs), so what comes out, complete
// or on the death row, uncharges exactly what went in.
Mbuf FragReassembler::add_ipv4(Mbuf frag, rte_ipv4_hdr* hdr, Instant now) noexcept {
  const std::uint32_t truesize = mbuf_truesize(frag.get());
  // Like Linux before 4.17 (ipfrag_high_thresh): past frag_high_thresh, make
  // room down to frag_low_thresh by dropping the oldest incomplete datagrams,
  // so a flood of fragments that never complete cannot empty the pool.
  if (held_ + truesize > c_.frag_high_thresh) evict_oldest(truesize);
  charge(truesize);
  return finish(rte_ipv4_frag_reassemble_packet(tbl_, &death_row_, frag.release(),
                                                static_cast<std::uint64_t>(now.ns_since_epoch()), hdr));
}

Mbuf FragReassembler::add_ipv6(Mbuf frag, rte_ipv6_hdr* hdr, rte_ipv6_fragment_ext* fh,
                               Instant now) noexcept {
  const std::uint32_t truesize = mbuf_truesize(frag.get());
  if (held_ + truesize > c_.frag_high_thresh) evict_oldest(truesize);
  charge(truesize);
  return finish(rte_ipv6_frag_reassemble_packet(tbl_, &death_row_, frag.release(),
                                                static_cast<std::uint64_t>(now.ns_since_epoch()), hdr, fh));
}

Mbuf FragReassembler::finish(rte_mbuf* whole) noexcept {
  // Timed out, table full, inconsistent: this fragment and/or others. An
  // overlap (RFC 5722) lands here too: rte_ip_frag sums the fragments'
  // lengths, and once the last fragment has fixed the total, a sum past it,
  // or one equal to it with a hole (which any overlap leaves then), discards
  // the whole datagram; it never delivers overlapping data.
  if (death_row_.cnt > 0) {
    counters_.inc(counting_.fails);
    release(0, counting_.discarded);
  }
  if (whole != nullptr) uncharge(mbuf_truesize(whole));
  return Mbuf{whole};
}

// rte_ip_frag has no call to drop the oldest entry, but its LRU list is in
// order of creation (entries are appended when created or reused and never
// moved), and rte_ip_frag_table_del_expired_entries walks it from the head,
// deleting an entry only if the death row has room for its `last_idx` (2 plus
// its middle fragments, at most RTE_LIBRTE_IP_FRAG_MAX_FRAG) and stopping at
// the first that does not fit. With every entry "expired" (time at its
// maximum) and the row's room set to 2, then 3, ... the first room that
// deletes anything deletes the head, the oldest datagram; whatever room it
// leaves (at most 2) can take one more datagram of two fragment slots, the
// next oldest, and nothing beyond. Stepping the time instead could not tell
// apart datagrams started in the same RX burst, which share one timestamp.
void FragReassembler::evict_oldest(std::uint32_t room) noexcept {
  constexpr std::uint32_t kRow = RTE_IP_FRAG_DEATH_ROW_MBUF_LEN;
  constexpr std::uint64_t kEverythingExpired = std::numeric_limits<std::uint64_t>::max();
  while (held_ > 0 && held_ + room > c_.frag_low_thresh) {
    std::uint32_t evicted = 0;
    for (std::uint32_t slots = 2; slots <= RTE_LIBRTE_IP_FRAG_MAX_FRAG && evicted == 0; ++slots) {
      death_row_.cnt = kRow - slots;  // the row's first entries are stale; release() skips them
      rte_ip_frag_table_del_expired_entries(tbl_, &death_row_, kEverythingExpired);
      evicted = release(kRow - slots, counting_.evicted);
    }
    if (evicted == 0) break;  // the table is empty (then held_ is 0 and the loop ends anyway)
    counters_.inc(counting_.fails);
  }
}

// Uncharges, counts (as `why`, per fragment) and frees what the death row
// holds from index `from` on. Returns how many mbufs it freed.
std::uint32_t FragReassembler::release(std::uint32_t from, Drop why) noexcept {
  const std::uint32_t n = death_row_.cnt - from;
  // An entry may be a chain: fragments that a failed reassembly had already linked.
  for (std::uint32_t i = from; i < death_row_.cnt; ++i) {
    uncharge(mbuf_truesize(death_row_.row[i]));
    rte_pktmbuf_free(death_row_.row[i]);
  }
  death_row_.cnt = 0;
  if (n > 0) counters_.drop(why, n);
  return n;
}

std::span<rte_mbuf* const> FragReassembler::take_expired(Instant now) noexcept {
  drop_expired();
  // The sweep looks at the oldest entries only: O(1) when nothing expired.
  rte_ip_frag_table_del_expired_entries(tbl_, &death_row_, static_cast<std::uint64_t>(now.ns_since_epoch()));
  return {death_row_.row, death_row_.cnt};
}

void FragReassembler::drop_expired() noexcept { release(0, counting_.discarded); }

void finish_l4_checksum(rte_mbuf* m, std::size_t l4_offset, std::uint32_t pseudo,
                        std::uint8_t proto) noexcept {
  const std::size_t field = l4_offset + (proto == kIpProtoTcp ? 16 : 6);
  if (m->data_len < field + 2) return;
  auto* sum_at = rte_pktmbuf_mtod_offset(m, std::byte*, field);
  store_be16(sum_at, 0);
  std::uint16_t sum = chain_checksum(m, pseudo, static_cast<std::uint32_t>(l4_offset),
                                     static_cast<std::uint32_t>(m->pkt_len - l4_offset));
  // RFC 768 / RFC 8200 §8.1: a UDP checksum of zero is sent as all ones.
  if (proto == kIpProtoUdp && sum == 0) sum = 0xFFFF;
  store_be16(sum_at, sum);
  m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
}

bool append_chain(Mbuf& m, std::span<const std::byte> data, rte_mempool* pool) noexcept {
  rte_mbuf* tail = rte_pktmbuf_lastseg(m.get());
  while (!data.empty()) {
    std::uint16_t room = rte_pktmbuf_tailroom(tail);
    if (room == 0) {
      rte_mbuf* seg = rte_pktmbuf_alloc(pool);
      if (seg == nullptr || rte_pktmbuf_chain(m.get(), seg) != 0) {
        rte_pktmbuf_free(seg);
        return false;
      }
      tail = seg;
      room = rte_pktmbuf_tailroom(tail);
    }
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(room, data.size()));
    std::memcpy(rte_pktmbuf_mtod_offset(tail, std::byte*, tail->data_len), data.data(), n);
    tail->data_len = static_cast<std::uint16_t>(tail->data_len + n);
    m->pkt_len += n;
    data = data.subspan(n);
  }
  return true;
}

}  // namespace tern
