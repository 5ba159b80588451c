#pragma once
// What IPv4 and IPv6 share for fragments: the bounded reassembly table
// around DPDK's rte_ip_frag (one per family per worker), the software finish
// of an offloaded L4 checksum before a datagram leaves in fragments, and
// copying bytes onto an mbuf chain.
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mempool.h>

#include <cstdint>
#include <span>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "config/config.h"

namespace tern {

// How a table reports what it discards: the family's MIB counter for a
// failed reassembly and the drop reasons for its fragments.
struct FragCounting {
  Counter fails;   // IpReasmFails / Ip6ReasmFails
  Drop discarded;  // timed out, table full, inconsistent (overlap, too many fragments)
  Drop evicted;    // evicted to stay under frag_high_thresh
};

class FragReassembler {
 public:
  // Bounded by [ip] frag_max_flows, frag_timeout_s, frag_high_thresh and
  // frag_low_thresh. Times are nanoseconds of our own timeline rather than
  // TSC cycles: rte_ip_frag only compares them, and virtual time keeps
  // working in tests.
  FragReassembler(const IpConfig& c, Counters& counters, const FragCounting& counting);
  ~FragReassembler();
  FragReassembler(const FragReassembler&) = delete;
  FragReassembler& operator=(const FragReassembler&) = delete;

  // Charges the truesize of every fragment held to `a` too (nullptr: only
  // held()). What is held now moves to the new account.
  void set_mem_account(MemAccount* a) noexcept;
  std::uint64_t held() const noexcept { return held_; }

  // Hands one fragment (l2_len and l3_len set) to rte_ip_frag within the
  // memory bound; returns the datagram it completes, if any (a chain).
  Mbuf add_ipv4(Mbuf frag, rte_ipv4_hdr* hdr, Instant now) noexcept;
  // IPv6: the fragment header must follow the fixed header (l3_len 48);
  // rte_ip_frag knows no other layout. The result has the fragment header
  // removed and its Next Header in the fixed header.
  Mbuf add_ipv6(Mbuf frag, rte_ipv6_hdr* hdr, rte_ipv6_fragment_ext* fh, Instant now) noexcept;

  // Takes out of the table up to a death row's worth of fragments of
  // datagrams older than frag_timeout_s (the fragments of one datagram next
  // to each other) for the caller to read; empty when none is left. Each
  // batch is freed and counted (`discarded`) by the next call or by
  // drop_expired(). rte_ip_frag only expires a datagram when another
  // fragment hashes to it, so the worker's timer sweeps here.
  std::span<rte_mbuf* const> take_expired(Instant now) noexcept;
  void drop_expired() noexcept;

 private:
  Mbuf finish(rte_mbuf* whole) noexcept;
  void evict_oldest(std::uint32_t room) noexcept;
  std::uint32_t release(std::uint32_t from, Drop why) noexcept;
  void charge(std::uint32_t bytes) noexcept;
  void uncharge(std::uint32_t bytes) noexcept;

  IpConfig c_;
  Counters& counters_;
  FragCounting counting_;
  rte_ip_frag_tbl* tbl_ = nullptr;
  rte_ip_frag_death_row death_row_{};
  std::uint64_t held_ = 0;  // truesize of the mbufs in tbl_
  MemAccount* mem_ = nullptr;
};

// Completes in software an L4 checksum left to the NIC (the field holds the
// folded pseudo-header sum): no NIC sums a datagram it sees in pieces.
// `l4_offset` is where the TCP or UDP header starts in the first segment;
// `pseudo` the pseudo-header sum over the real length.
void finish_l4_checksum(rte_mbuf* m, std::size_t l4_offset, std::uint32_t pseudo,
                        std::uint8_t proto) noexcept;

// Appends `data` to the chain `m`, taking segments from `pool` as the last
// one fills. False when the pool is empty (what was appended stays).
bool append_chain(Mbuf& m, std::span<const std::byte> data, rte_mempool* pool) noexcept;

}  // namespace tern
