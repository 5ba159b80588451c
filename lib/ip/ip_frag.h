#pragma once
// What IPv4 and IPv6 share for fragments: the bounded reassembly table (one
// per family per worker), the software finish of an offloaded L4 checksum
// before a datagram leaves in fragments, and copying bytes onto an mbuf
// chain.
//
// Reassembly is Tern's own rather than rte_ip_frag's: DPDK 22.11 compiles
// RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) into librte_ip_frag's table layout, so it
// cannot put back a datagram of more than 8 fragments (11,840 bytes at MTU
// 1500), and Linux sends and accepts up to 64 KB (docs/architecture.md,
// "Dual stack").
#include <rte_ip.h>
#include <rte_ip_frag.h>  // fragmentation (rte_ipv4/6_fragment_packet) stays DPDK's
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "base/mem_account.h"
#include "config/config.h"
#include "wire/tcp.h"

namespace tern {

// How a table reports what it discards: the family's MIB counter for a
// failed reassembly and the drop reasons for its fragments.
struct FragCounting {
  Counter fails;   // IpReasmFails / Ip6ReasmFails
  Drop discarded;  // timed out, table full, inconsistent (overlap, bad total)
  Drop evicted;    // evicted to stay under frag_high_thresh
  Drop duplicate;  // an exact copy of a fragment held: dropped alone
  Drop too_many;   // the datagram needed more than frag_max_fragments
};

class FragReassembler {
 public:
  // Bounded by [ip] frag_max_flows (datagrams), frag_max_fragments (per
  // datagram), frag_timeout_s, frag_high_thresh and frag_low_thresh. All
  // storage is allocated here: nothing on the per-fragment path.
  FragReassembler(const IpConfig& c, Counters& counters, const FragCounting& counting);
  ~FragReassembler();
  FragReassembler(const FragReassembler&) = delete;
  FragReassembler& operator=(const FragReassembler&) = delete;

  // Charges the truesize of every fragment held to `a` too (nullptr: only
  // held()). What is held now moves to the new account.
  void set_mem_account(MemAccount* a) noexcept;
  std::uint64_t held() const noexcept { return held_; }

  // Takes one fragment (l2_len and l3_len set, the header valid) within the
  // bounds; returns the datagram it completes, if any: a chain whose first
  // segment keeps the first fragment's headers, the total length set and
  // the fragment fields cleared (the DF bit kept), the header checksum
  // recomputed; the other fragments follow without their headers.
  Mbuf add_ipv4(Mbuf frag, rte_ipv4_hdr* hdr, Instant now) noexcept;
  // IPv6: the fragment header must follow the fixed header (l3_len 48).
  // The result has the fragment header removed, its Next Header in the
  // fixed header and l3_len 40.
  Mbuf add_ipv6(Mbuf frag, rte_ipv6_hdr* hdr, rte_ipv6_fragment_ext* fh, Instant now) noexcept;

  // Takes out of the table the fragments of the oldest datagram older than
  // frag_timeout_s, in offset order (the first fragment first if it came),
  // for the caller to read; empty when none is left. Each batch is freed and
  // counted (`discarded`) by the next call or by drop_expired().
  std::span<rte_mbuf* const> take_expired(Instant now) noexcept;
  void drop_expired() noexcept;

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFF;

  // RFC 791 §3.2: source, destination, protocol, Identification; RFC 8200
  // §4.5: source, destination, Identification (protocol 0). IPv4 addresses
  // fill the first 8 bytes of `addrs`.
  struct Key {
    std::array<std::uint64_t, 4> addrs{};
    std::uint32_t id = 0;
    std::uint8_t protocol = 0;
    std::uint8_t family = 0;
    bool operator==(const Key&) const noexcept = default;
  };
  // One fragment held: its payload's byte range in the datagram.
  struct Piece {
    rte_mbuf* m = nullptr;
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
    std::uint32_t next = kNone;  // in offset order, or the free list
  };
  // One datagram being reassembled. A `dead` one (discarded for an overlap
  // or too many fragments) holds nothing and stays until its timeout (or
  // until the table needs the entry) so that its later fragments are
  // dropped too (RFC 5722 §4) rather than start a datagram that can only
  // time out.
  struct Datagram {
    Key key;
    Instant start;
    std::uint32_t pieces = kNone;  // head of the offset-ordered list
    std::uint32_t count = 0;       // fragments held
    std::uint32_t received = 0;    // payload bytes held (no overlaps: no byte twice)
    std::uint32_t total = 0;       // payload length, once the last fragment came
    std::uint32_t hash_next = kNone;
    std::uint32_t older = kNone;  // age list (oldest first); the free list uses `newer`
    std::uint32_t newer = kNone;
    bool has_last = false;
    bool dead = false;
  };
  // What one fragment says, from either family's headers.
  struct Fragment {
    Key key;
    std::uint32_t begin;
    std::uint32_t length;
    bool more;
  };

  // Datagrams in order of arrival, linked through older/newer.
  struct AgeList {
    std::uint32_t oldest = kNone;
    std::uint32_t newest = kNone;
  };

  Mbuf add(Mbuf frag, const Fragment& f, Instant now) noexcept;
  void append(AgeList& l, std::uint32_t di) noexcept;
  void remove(AgeList& l, std::uint32_t di) noexcept;
  bool expired(const Datagram& d, Instant now) const noexcept;
  std::uint32_t bucket_of(const Key& k) const noexcept;
  std::uint32_t find(const Key& k) const noexcept;
  std::uint32_t create(const Key& k, Instant now) noexcept;
  void unlink(std::uint32_t di) noexcept;
  void discard(std::uint32_t di, Drop why) noexcept;
  void kill(std::uint32_t di, Drop why) noexcept;
  void evict_oldest(std::uint32_t room) noexcept;
  rte_mbuf* join(Datagram& d) noexcept;
  void drop_one(rte_mbuf* m, Drop why) noexcept;
  void charge(std::uint32_t bytes) noexcept;
  void uncharge(std::uint32_t bytes) noexcept;

  IpConfig c_;
  Counters& counters_;
  FragCounting counting_;
  std::uint64_t seed_;
  std::vector<Datagram> datagrams_;       // frag_max_flows
  std::vector<std::uint32_t> buckets_;    // a power of two >= 2 * frag_max_flows
  std::vector<Piece> pieces_;             // the fragments all datagrams may hold
  std::uint32_t free_datagrams_ = kNone;  // linked through `newer`
  std::uint32_t free_pieces_ = kNone;
  AgeList live_;  // datagrams being reassembled: expiry and eviction take the oldest
  AgeList dead_;  // dead entries in the order they died: reused first when the table is full
  std::array<rte_mbuf*, kIpFragMaxFrag> expired_{};  // the batch take_expired() returned
  std::uint32_t n_expired_ = 0;
  std::uint64_t held_ = 0;  // truesize of the mbufs held
  MemAccount* mem_ = nullptr;
};

// Completes in software an L4 checksum left to the NIC (the field holds the
// folded pseudo-header sum): no NIC sums a datagram it sees in pieces.
// `l4_offset` is where the TCP or UDP header starts in the first segment;
// `pseudo` the pseudo-header sum over the real length.
void finish_l4_checksum(rte_mbuf* m, std::size_t l4_offset, std::uint32_t pseudo,
                        std::uint8_t proto) noexcept;

// TCP reads its header from a frame's first segment. A reassembled TCP
// datagram whose first fragment ends inside the header (a first fragment
// of 8 or 16 bytes of it) is made contiguous when it fits one mbuf, as
// IpLayer makes a received chain; otherwise it stays as it is and TCP
// counts it malformed.
inline void gather_tcp_header(rte_mbuf* m, std::size_t l4_offset) noexcept {
  if (m->nb_segs > 1 && m->data_len < std::min<std::size_t>(m->pkt_len, l4_offset + kTcpMaxHeaderLen))
    (void)rte_pktmbuf_linearize(m);
}

// Appends `data` to the chain `m`, taking segments from `pool` as the last
// one fills. False when the pool is empty (what was appended stays).
bool append_chain(Mbuf& m, std::span<const std::byte> data, rte_mempool* pool) noexcept;

}  // namespace tern
