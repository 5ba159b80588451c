#include "ip/ip_frag.h"

#include <rte_random.h>

#include <algorithm>
#include <cstring>

#include "base/keyed_mix.h"
#include "ip/chain_checksum.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

constexpr std::uint8_t kFamily4 = 4;
constexpr std::uint8_t kFamily6 = 6;
// Fragment slots for the whole table: 8 a datagram on average, and always
// room for one datagram of frag_max_fragments. The memory bound
// (frag_high_thresh, 455 full-size mbufs by default) binds long before.
constexpr std::uint32_t kPiecesPerFlow = 8;

std::uint32_t pow2_at_least(std::uint32_t n) noexcept {
  std::uint32_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

FragReassembler::FragReassembler(const IpConfig& c, Counters& counters, const FragCounting& counting)
    : c_(c), counters_(counters), counting_(counting), seed_(rte_rand()) {
  c_.frag_max_flows = std::max<std::uint32_t>(c_.frag_max_flows, 1);
  c_.frag_max_fragments = std::clamp<std::uint32_t>(c_.frag_max_fragments, 1, kIpFragMaxFrag);
  datagrams_.resize(c_.frag_max_flows);
  buckets_.assign(pow2_at_least(2 * c_.frag_max_flows), kNone);
  pieces_.resize(static_cast<std::size_t>(c_.frag_max_flows) * kPiecesPerFlow + c_.frag_max_fragments);
  for (std::uint32_t i = 0; i < datagrams_.size(); ++i)
    datagrams_[i].newer = i + 1 < datagrams_.size() ? i + 1 : kNone;
  free_datagrams_ = 0;
  for (std::uint32_t i = 0; i < pieces_.size(); ++i) pieces_[i].next = i + 1 < pieces_.size() ? i + 1 : kNone;
  free_pieces_ = 0;
}

FragReassembler::~FragReassembler() {
  drop_expired();
  // Frees what is still held, uncounted (the counters may be gone), and
  // gives back its charges.
  for (std::uint32_t di = live_.oldest; di != kNone; di = datagrams_[di].newer)
    for (std::uint32_t p = datagrams_[di].pieces; p != kNone; p = pieces_[p].next) {
      uncharge(mbuf_truesize(pieces_[p].m));
      rte_pktmbuf_free(pieces_[p].m);
    }
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

Mbuf FragReassembler::add_ipv4(Mbuf frag, rte_ipv4_hdr* hdr, Instant now) noexcept {
  Fragment f{};
  f.key.family = kFamily4;
  auto* addrs = reinterpret_cast<std::byte*>(f.key.addrs.data());
  std::memcpy(addrs, &hdr->src_addr, 4);
  std::memcpy(addrs + 4, &hdr->dst_addr, 4);
  f.key.id = hdr->packet_id;
  f.key.protocol = hdr->next_proto_id;
  const std::uint16_t word = rte_be_to_cpu_16(hdr->fragment_offset);
  f.begin = static_cast<std::uint32_t>(word & RTE_IPV4_HDR_OFFSET_MASK) * RTE_IPV4_HDR_OFFSET_UNITS;
  f.more = (word & RTE_IPV4_HDR_MF_FLAG) != 0;
  const std::uint32_t total = rte_be_to_cpu_16(hdr->total_length);
  f.length = total > frag->l3_len ? total - frag->l3_len : 0;
  return add(std::move(frag), f, now);
}

Mbuf FragReassembler::add_ipv6(Mbuf frag, rte_ipv6_hdr* hdr, rte_ipv6_fragment_ext* fh,
                               Instant now) noexcept {
  Fragment f{};
  f.key.family = kFamily6;
  auto* addrs = reinterpret_cast<std::byte*>(f.key.addrs.data());
  std::memcpy(addrs, hdr->src_addr, 16);
  std::memcpy(addrs + 16, hdr->dst_addr, 16);
  f.key.id = fh->id;
  const std::uint16_t word = rte_be_to_cpu_16(fh->frag_data);
  f.begin = word & 0xFFF8u;
  f.more = (word & 1u) != 0;
  const std::uint32_t payload = rte_be_to_cpu_16(hdr->payload_len);
  f.length = payload > sizeof(*fh) ? payload - static_cast<std::uint32_t>(sizeof(*fh)) : 0;
  return add(std::move(frag), f, now);
}

// RFC 791 §3.2 and RFC 8200 §4.5, with Linux's rules where the RFCs leave a
// choice: the last fragment fixes the length, and one that disagrees with
// it (a second, different last fragment; data past the end) discards the
// datagram; an overlap discards it too (RFC 5722 §4, for IPv4 as Linux
// does), but an exact copy of a fragment held is dropped alone (§4 allows
// it; retransmitted or duplicated frames are common). With no overlap no
// byte is held twice, so the datagram is complete when the bytes held add
// up to the length.
Mbuf FragReassembler::add(Mbuf frag, const Fragment& f, Instant now) noexcept {
  rte_mbuf* m = frag.get();
  const std::uint32_t headers = static_cast<std::uint32_t>(m->l2_len) + m->l3_len;
  // Ethernet padding past the datagram is cut so the chain is the datagram
  // and nothing more (it lies in the last segment).
  if (f.length == 0 || m->pkt_len < headers + f.length ||
      (m->pkt_len > headers + f.length &&
       rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - headers - f.length)) != 0)) {
    drop_one(frag.release(), counting_.discarded);
    return {};
  }
  const std::uint32_t truesize = mbuf_truesize(m);
  // Like Linux before 4.17 (ipfrag_high_thresh): past frag_high_thresh, make
  // room down to frag_low_thresh by dropping the oldest incomplete datagrams,
  // so a flood of fragments that never complete cannot empty the pool.
  if (held_ + truesize > c_.frag_high_thresh || free_pieces_ == kNone) evict_oldest(truesize);

  std::uint32_t di = find(f.key);
  if (di != kNone && expired(datagrams_[di], now)) {
    // A fragment for a datagram past its time starts a new one (as
    // rte_ip_frag and Linux); the old one's fragments are discarded.
    if (!datagrams_[di].dead) counters_.inc(counting_.fails);
    discard(di, counting_.discarded);
    di = kNone;
  }
  if (di == kNone) di = create(f.key, now);
  if (di == kNone || free_pieces_ == kNone) {  // table full of live datagrams: the new one is refused
    counters_.inc(counting_.fails);
    drop_one(frag.release(), counting_.discarded);
    return {};
  }
  Datagram& d = datagrams_[di];
  if (d.dead) {
    drop_one(frag.release(), counting_.discarded);
    return {};
  }

  const std::uint32_t end = f.begin + f.length;
  bool inconsistent = f.more ? d.has_last && end > d.total : d.has_last && end != d.total;
  if (!f.more && !d.has_last) {
    for (std::uint32_t p = d.pieces; p != kNone; p = pieces_[p].next) inconsistent |= pieces_[p].end > end;
    d.has_last = !inconsistent;
    d.total = end;
  }
  std::uint32_t before = kNone;  // the piece the new one follows
  for (std::uint32_t p = d.pieces; p != kNone && !inconsistent; p = pieces_[p].next) {
    const Piece& q = pieces_[p];
    if (q.begin == f.begin && q.end == end) {
      drop_one(frag.release(), counting_.duplicate);
      return {};
    }
    inconsistent = q.begin < end && f.begin < q.end;  // RFC 5722: an overlap
    if (q.begin < f.begin) before = p;
  }
  if (inconsistent || d.count >= c_.frag_max_fragments) {
    const Drop why = inconsistent ? counting_.discarded : counting_.too_many;
    counters_.inc(counting_.fails);
    kill(di, why);
    drop_one(frag.release(), why);
    return {};
  }

  const std::uint32_t pi = free_pieces_;
  free_pieces_ = pieces_[pi].next;
  pieces_[pi] = {frag.release(), f.begin, end, before == kNone ? d.pieces : pieces_[before].next};
  (before == kNone ? d.pieces : pieces_[before].next) = pi;
  ++d.count;
  d.received += f.length;
  charge(truesize);
  if (!d.has_last || d.received != d.total) return {};  // held for more fragments

  rte_mbuf* whole = join(d);
  if (whole == nullptr) {  // a fragment whose headers span segments, or too many segments
    counters_.inc(counting_.fails);
    discard(di, counting_.discarded);
    return {};
  }
  d.pieces = kNone;
  unlink(di);
  uncharge(mbuf_truesize(whole));
  return Mbuf{whole};
}

// Chains the pieces (complete, in offset order, the first at 0) behind the
// first fragment's headers and rewrites those as the datagram's. Returns
// nullptr, having changed nothing, when they cannot be chained.
rte_mbuf* FragReassembler::join(Datagram& d) noexcept {
  rte_mbuf* head = pieces_[d.pieces].m;
  std::uint32_t segs = head->nb_segs;
  for (std::uint32_t p = pieces_[d.pieces].next; p != kNone; p = pieces_[p].next) {
    const rte_mbuf* m = pieces_[p].m;
    segs += m->nb_segs;
    if (m->data_len < static_cast<std::uint32_t>(m->l2_len) + m->l3_len) return nullptr;
  }
  if (segs > RTE_MBUF_MAX_NB_SEGS) return nullptr;
  for (std::uint32_t p = pieces_[d.pieces].next; p != kNone;) {
    rte_mbuf* m = pieces_[p].m;
    rte_pktmbuf_adj(m, static_cast<std::uint16_t>(m->l2_len + m->l3_len));
    (void)rte_pktmbuf_chain(head, m);  // cannot fail: segments counted above
    const std::uint32_t next = pieces_[p].next;
    pieces_[p].next = free_pieces_;
    free_pieces_ = p;
    p = next;
  }
  pieces_[d.pieces].next = free_pieces_;
  free_pieces_ = d.pieces;
  if (d.key.family == kFamily4) {
    auto* ip = rte_pktmbuf_mtod_offset(head, rte_ipv4_hdr*, head->l2_len);
    ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(d.total + head->l3_len));
    ip->fragment_offset &= rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  } else {
    // The fragment header goes (RFC 8200 §4.5): its Next Header moves into
    // the fixed header, and the Ethernet and fixed headers slide over it.
    auto* ip = rte_pktmbuf_mtod_offset(head, rte_ipv6_hdr*, head->l2_len);
    ip->proto = reinterpret_cast<const rte_ipv6_fragment_ext*>(ip + 1)->next_header;
    ip->payload_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(d.total));
    auto* base = rte_pktmbuf_mtod(head, std::byte*);
    std::memmove(base + sizeof(rte_ipv6_fragment_ext), base, head->l2_len + sizeof(rte_ipv6_hdr));
    rte_pktmbuf_adj(head, sizeof(rte_ipv6_fragment_ext));
    head->l3_len = sizeof(rte_ipv6_hdr);
  }
  return head;
}

bool FragReassembler::expired(const Datagram& d, Instant now) const noexcept {
  return d.start + c_.frag_timeout < now;
}

std::uint32_t FragReassembler::bucket_of(const Key& k) const noexcept {
  std::uint64_t h = seed_;
  for (std::uint64_t w : k.addrs) h = keyed_mix(h, w);
  h = keyed_mix(
      h, (static_cast<std::uint64_t>(k.id) << 16) | (static_cast<std::uint64_t>(k.protocol) << 8) | k.family);
  return static_cast<std::uint32_t>(h) & static_cast<std::uint32_t>(buckets_.size() - 1);
}

std::uint32_t FragReassembler::find(const Key& k) const noexcept {
  for (std::uint32_t di = buckets_[bucket_of(k)]; di != kNone; di = datagrams_[di].hash_next)
    if (datagrams_[di].key == k) return di;
  return kNone;
}

// A new datagram at the young end of the age list. With the table full, the
// oldest dead entry is reused (so overlapping floods cannot fill the table
// with markers), else the oldest datagram if it has expired (counted as a
// timeout would be); otherwise kNone: the new datagram is refused rather
// than a live one evicted, as rte_ip_frag does, so a flood of first
// fragments cannot push out datagrams about to complete (memory pressure
// evicts, above).
std::uint32_t FragReassembler::create(const Key& k, Instant now) noexcept {
  if (free_datagrams_ == kNone && dead_.oldest != kNone) {
    unlink(dead_.oldest);  // a discarded datagram's marker is only worth a free entry
  } else if (free_datagrams_ == kNone && live_.oldest != kNone && expired(datagrams_[live_.oldest], now)) {
    counters_.inc(counting_.fails);
    discard(live_.oldest, counting_.discarded);
  }
  const std::uint32_t di = free_datagrams_;
  if (di == kNone) return kNone;
  free_datagrams_ = datagrams_[di].newer;
  Datagram& d = datagrams_[di];
  d = Datagram{};
  d.key = k;
  d.start = now;
  const std::uint32_t b = bucket_of(k);
  d.hash_next = buckets_[b];
  buckets_[b] = di;
  append(live_, di);
  return di;
}

void FragReassembler::append(AgeList& l, std::uint32_t di) noexcept {
  Datagram& d = datagrams_[di];
  d.older = l.newest;
  d.newer = kNone;
  (l.newest == kNone ? l.oldest : datagrams_[l.newest].newer) = di;
  l.newest = di;
}

void FragReassembler::remove(AgeList& l, std::uint32_t di) noexcept {
  const Datagram& d = datagrams_[di];
  (d.older == kNone ? l.oldest : datagrams_[d.older].newer) = d.newer;
  (d.newer == kNone ? l.newest : datagrams_[d.newer].older) = d.older;
}

// Out of the hash chain and its list, onto the free list. Its pieces must be
// gone.
void FragReassembler::unlink(std::uint32_t di) noexcept {
  Datagram& d = datagrams_[di];
  std::uint32_t* at = &buckets_[bucket_of(d.key)];
  while (*at != di) at = &datagrams_[*at].hash_next;
  *at = d.hash_next;
  remove(d.dead ? dead_ : live_, di);
  d.newer = free_datagrams_;
  free_datagrams_ = di;
}

// Frees the fragments of `di` (counted as `why`, per fragment) and the entry.
void FragReassembler::discard(std::uint32_t di, Drop why) noexcept {
  kill(di, why);
  unlink(di);
}

// Frees the fragments of `di`, counted as `why`; the entry stays, dead (on
// the dead list, in the order they died), so later fragments of the
// datagram are dropped until it times out.
void FragReassembler::kill(std::uint32_t di, Drop why) noexcept {
  Datagram& d = datagrams_[di];
  if (d.dead) return;
  std::uint32_t n = 0;
  for (std::uint32_t p = d.pieces; p != kNone;) {
    uncharge(mbuf_truesize(pieces_[p].m));
    rte_pktmbuf_free(pieces_[p].m);
    const std::uint32_t next = pieces_[p].next;
    pieces_[p].next = free_pieces_;
    free_pieces_ = p;
    p = next;
    ++n;
  }
  if (n > 0) counters_.drop(why, n);
  d.pieces = kNone;
  d.count = 0;
  d.received = 0;
  remove(live_, di);
  d.dead = true;
  append(dead_, di);
}

// Drops the oldest datagrams until the held truesize plus `room` is at most
// frag_low_thresh and a fragment slot is free.
void FragReassembler::evict_oldest(std::uint32_t room) noexcept {
  while (live_.oldest != kNone && (held_ + room > c_.frag_low_thresh || free_pieces_ == kNone)) {
    counters_.inc(counting_.fails);
    discard(live_.oldest, counting_.evicted);
  }
}

void FragReassembler::drop_one(rte_mbuf* m, Drop why) noexcept {
  rte_pktmbuf_free(m);
  counters_.drop(why);
}

std::span<rte_mbuf* const> FragReassembler::take_expired(Instant now) noexcept {
  drop_expired();
  // Both lists are in time order: O(1) when nothing expired. Dead entries
  // go silently (their datagram was counted when it died).
  while (dead_.oldest != kNone && expired(datagrams_[dead_.oldest], now)) unlink(dead_.oldest);
  while (live_.oldest != kNone && expired(datagrams_[live_.oldest], now)) {
    const std::uint32_t di = live_.oldest;
    Datagram& d = datagrams_[di];
    for (std::uint32_t p = d.pieces; p != kNone;) {
      expired_[n_expired_++] = pieces_[p].m;  // at most frag_max_fragments <= kIpFragMaxFrag
      const std::uint32_t next = pieces_[p].next;
      pieces_[p].next = free_pieces_;
      free_pieces_ = p;
      p = next;
    }
    d.pieces = kNone;
    unlink(di);
    if (n_expired_ > 0) return {expired_.data(), n_expired_};
  }
  return {};
}

void FragReassembler::drop_expired() noexcept {
  for (std::uint32_t i = 0; i < n_expired_; ++i) {
    uncharge(mbuf_truesize(expired_[i]));
    rte_pktmbuf_free(expired_[i]);
  }
  if (n_expired_ > 0) counters_.drop(counting_.discarded, n_expired_);
  n_expired_ = 0;
}

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
