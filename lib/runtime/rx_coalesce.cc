#include "runtime/rx_coalesce.h"

#include <rte_errno.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ip/chain_checksum.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace tern {

namespace {

constexpr std::uint64_t kRxChecksumMasks = RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK;

}  // namespace

RxCoalescer::RxCoalescer(std::uint16_t burst, int socket) {
  // A run never holds more than a burst, and each frame takes at most one
  // flow and one item: with a burst's worth of each, rte_gro never refuses a
  // candidate for want of room. The table is allocated once, here; the
  // lightweight rte_gro_reassemble_burst would zero four tables of 128
  // items on the stack on every call instead.
  const rte_gro_param p{.gro_types = RTE_GRO_TCP_IPV4,
                        .max_flow_num = std::min<std::uint16_t>(burst, kMaxRun),
                        .max_item_per_flow = 1,
                        .socket_id = static_cast<std::uint16_t>(socket < 0 ? 0 : socket)};
  ctx_ = rte_gro_ctx_create(&p);
  if (ctx_ == nullptr)
    throw std::runtime_error(std::string("cannot create rte_gro context: ") + rte_strerror(rte_errno));
}

RxCoalescer::~RxCoalescer() { rte_gro_ctx_destroy(ctx_); }

bool RxCoalescer::candidate(rte_mbuf* m) noexcept {
  // Most frames that are not candidates are a request with PSH or a pure
  // ACK: the flags byte is checked as soon as its place is known.
  if (m->nb_segs != 1) return false;
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  if (len < kEthernetHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen) return false;
  std::byte* eth = rte_pktmbuf_mtod(m, std::byte*);
  const std::byte* ip = eth + kEthernetHeaderLen;
  const std::byte* tcp = ip + kIpv4MinHeaderLen;
  // Version 4 without options (rte_gro compares no IP option), TCP, and
  // ACK alone: SYN, FIN, RST, URG, PSH, ECE, CWR and the reserved bits each
  // mean something for this segment that a merge would move or drop.
  if (load_be16(eth + 12) != kEtherTypeIpv4 || load_u8(ip) != 0x45 || load_u8(ip + 9) != kIpProtoTcp ||
      load_u8(tcp + 13) != kTcpAck || (load_u8(tcp + 12) & 0x0F) != 0)
    return false;
  // Not a fragment, and not ECN-CE: the merged frame keeps the first
  // segment's TOS, so a CE mark on a later one would be lost (RFC 3168
  // §6.1.3 wants every CE echoed).
  if ((load_u8(ip + 1) & 0x03) == 0x03 || (load_be16(ip + 6) & 0x3FFF) != 0) return false;
  const std::uint32_t total = load_be16(ip + 2);
  const std::uint32_t doff = static_cast<std::uint32_t>(load_u8(tcp + 12) >> 4) * 4u;
  // With data (a pure ACK is not merged).
  if (kEthernetHeaderLen + total > len || doff < kTcpMinHeaderLen || kIpv4MinHeaderLen + doff >= total)
    return false;
  const std::uint64_t ip_ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ip_ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
      (ip_ck != RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN || internet_checksum({ip, kIpv4MinHeaderLen}) != 0))
    return false;
  const std::uint64_t l4_ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (l4_ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
    if (l4_ck != RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN) return false;  // bad, or not computed (NONE): TCP decides
    const auto tcp_len = static_cast<std::uint32_t>(total - kIpv4MinHeaderLen);
    const std::uint32_t pseudo = pseudo_header_sum(load_be32(ip + 12), load_be32(ip + 16), kIpProtoTcp,
                                                   static_cast<std::uint16_t>(tcp_len));
    if (chain_checksum(m, pseudo, kEthernetHeaderLen + kIpv4MinHeaderLen, tcp_len) != 0) return false;
  }
  // Verified here or by the port: TCP need not sum it again.
  m->ol_flags = (m->ol_flags & ~kRxChecksumMasks) | RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv4MinHeaderLen;
  m->l4_len = doff;
  m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
  return true;
}

std::uint16_t RxCoalescer::coalesce(rte_mbuf** frames, std::uint16_t n, Counters& counters) noexcept {
  // 4 or 6: a candidate for rte_gro or for gro6_; 0: not a candidate. The
  // EtherType picks the one check a frame gets (most frames that are not
  // candidates, a request or an ACK, fail their family's first tests).
  const auto family = [](rte_mbuf* m) noexcept -> int {
    if (rte_pktmbuf_data_len(m) < kEthernetHeaderLen) return 0;
    const std::uint16_t type = load_be16(rte_pktmbuf_mtod_offset(m, const std::byte*, 12));
    if (type == kEtherTypeIpv4) return candidate(m) ? 4 : 0;
    if (type == kEtherTypeIpv6) return RxCoalescer6::candidate(m) ? 6 : 0;
    return 0;
  };
  // A burst of requests and ACKs (PSH, or no data) has no candidate: it
  // stays as it came, nothing rewritten.
  std::uint16_t i = 0;
  int first_family = 0;
  while (i < n && (first_family = family(frames[i])) == 0) ++i;
  if (i == n) return n;
  // frames[out..) is written only with frames taken from before index i, so
  // the loop never overwrites one it has not read.
  const std::uint16_t first = i;  // a candidate, found above
  std::uint16_t out = i;
  run_n_ = 0;
  run6_n_ = 0;
  for (; i < n; ++i) {
    rte_mbuf* m = frames[i];
    const int f = i == first ? first_family : family(m);
    if (f == 4) {
      // Where rte_gro would put m ahead of candidates of its flow that
      // came before it, those are handed on first (chain_len_with).
      std::uint32_t chain = chain_len_with(m);
      if (chain == 0) {
        out = flush_run(frames, out, counters);
        chain = chain_len_with(m);  // the first of its connection now
      }
      const std::byte* ip = rte_pktmbuf_mtod_offset(m, const std::byte*, kEthernetHeaderLen);
      const std::byte* tcp = ip + kIpv4MinHeaderLen;
      run_chain_len_[run_n_] = chain;
      run_next_seq_[run_n_] = load_be32(tcp + 4) + (load_be16(ip + 2) - kIpv4MinHeaderLen - m->l4_len);
      run_window_[run_n_] = load_be16(tcp + 14);
      run_[run_n_++] = m;
      continue;
    }
    if (f == 6) {
      run6_[run6_n_++] = m;
      continue;
    }
    if (run_n_ + run6_n_ != 0) out = flush_run(frames, out, counters);
    frames[out++] = m;
  }
  return run_n_ + run6_n_ != 0 ? flush_run(frames, out, counters) : out;
}

// Whether m, a candidate, may join the run without leaving the wire's order
// within its flow. rte_gro (22.11, gro_tcp4_reassemble) merges a segment
// into the first item of its flow that it is adjacent to, appending or
// prepending, and flushes a flow's items in the order they were opened; so
// a segment that does not continue its connection's latest candidate can
// be merged into an earlier item, ahead of the frames that came between.
// The case that mattered: a retransmission that fills a hole, sent between
// new segments with the same TSval (one output pass), came out after the
// new data behind it. The receiver then SACKed data sent after the
// retransmission while the hole looked open, and the sender's RACK (RFC
// 8985 §6.2: a segment is lost once one sent after it is delivered) called
// the retransmission lost and sent it again: Tern sending to Tern through
// tern-impair-bridge at 1 % loss, 221 such resends in 2 s, each a
// duplicate at the receiver (bench/loss/README.md). So m joins only if it
// is the first of its connection in the run, or starts exactly where the
// connection's latest candidate ends, with the same ACK number (rte_gro
// keys its flows by it, and flushes one flow after another). Then no
// earlier item of the connection is adjacent to m, and rte_gro appends m
// to the latest item, or (other options: another TSval) opens an item
// after it. Where it would append beyond IPv4's total length, it would
// open that item before the latest one instead, so m does not join then
// either. Otherwise (0 returned) the run is merged and handed on first, as
// for a frame that is no candidate, and each connection's candidates in a
// run stay one in-order chain. Returns the total length of the IPv4
// datagram m ends up in. Linux's GRO keeps the order the same way: a
// segment that does not continue the held one flushes it
// (tcp_gro_receive).
std::uint32_t RxCoalescer::chain_len_with(const rte_mbuf* m) const noexcept {
  // candidate() took IPv4 without options only: the headers sit at fixed
  // offsets.
  constexpr std::uint32_t kIp = kEthernetHeaderLen;
  constexpr std::uint32_t kTcp = kEthernetHeaderLen + kIpv4MinHeaderLen;
  const std::byte* f = rte_pktmbuf_mtod(m, const std::byte*);
  const std::uint32_t m_total = load_be16(f + kIp + 2);
  for (std::uint16_t i = run_n_; i-- > 0;) {
    const std::byte* pf = rte_pktmbuf_mtod(run_[i], const std::byte*);
    // The connection: addresses (adjacent in the header) and ports.
    if (std::memcmp(pf + kIp + 12, f + kIp + 12, 8) != 0 || std::memcmp(pf + kTcp, f + kTcp, 4) != 0)
      continue;
    if (load_be32(f + kTcp + 4) != run_next_seq_[i] || load_be32(f + kTcp + 8) != load_be32(pf + kTcp + 8))
      return 0;
    // The options (whole 32-bit words: the data offset counts them) decide
    // whether rte_gro appends m or opens an item after the latest.
    const std::uint32_t doff = m->l4_len;
    bool same_options = doff == run_[i]->l4_len;
    for (std::uint32_t k = kTcpMinHeaderLen; same_options && k < doff; k += 4)
      same_options = load_be32(f + kTcp + k) == load_be32(pf + kTcp + k);
    if (!same_options) return m_total;
    const std::uint32_t merged = run_chain_len_[i] + (m_total - kIpv4MinHeaderLen - doff);
    return merged <= 65535u ? merged : 0;
  }
  return m_total;  // the first of its connection in the run
}

std::uint16_t RxCoalescer::window_of(const rte_mbuf* last) const noexcept {
  for (std::uint16_t i = run_n_; i-- > 0;)
    if (run_[i] == last) return run_window_[i];
  return 0;  // not reached: every segment of a merged chain came from the run
}

std::uint16_t RxCoalescer::flush_run(rte_mbuf** frames, std::uint16_t out, Counters& counters) noexcept {
  out = flush_run4(frames, out, counters);
  if (run6_n_ == 1) {
    frames[out++] = run6_[0];
  } else if (run6_n_ > 1) {
    out = static_cast<std::uint16_t>(out + gro6_.merge(run6_.data(), run6_n_, frames + out, counters));
  }
  run6_n_ = 0;
  return out;
}

std::uint16_t RxCoalescer::flush_run4(rte_mbuf** frames, std::uint16_t out, Counters& counters) noexcept {
  if (run_n_ < 2) {
    if (run_n_ == 1) frames[out++] = run_[0];
    run_n_ = 0;
    return out;
  }
  // rte_gro_reassemble rewrites the array it is given with what it did not
  // take; run_ stays intact for window_of.
  std::array<rte_mbuf*, kMaxRun> in;
  std::memcpy(in.data(), run_.data(), run_n_ * sizeof(rte_mbuf*));
  const std::uint16_t refused = rte_gro_reassemble(in.data(), run_n_, ctx_);
  // Flushed at once (a timeout of zero), so nothing stays in the table
  // between bursts; within a flow, segments come out in sequence order.
  const std::uint16_t got = rte_gro_timeout_flush(ctx_, 0, RTE_GRO_TCP_IPV4, frames + out, run_n_);
  for (std::uint16_t k = 0; k < got; ++k) {
    rte_mbuf* h = frames[out + k];
    if (h->nb_segs < 2) continue;
    std::byte* ip = rte_pktmbuf_mtod_offset(h, std::byte*, h->l2_len);
    std::byte* tcp = ip + h->l3_len;
    // The merged segment keeps the first's headers; the window is the
    // latest the peer advertised (the last segment's), as the engine would
    // have taken it from the segments one by one (RFC 9293 §3.10.7.4's
    // SND.WL1/WL2 rule: the ACK is the same in all, the last has the
    // highest SEG.SEQ).
    store_be16(tcp + 14, window_of(rte_pktmbuf_lastseg(h)));
    // rte_gro rewrote the total length; make the header checksum right for
    // whoever checks it in software.
    store_be16(ip + 10, 0);
    store_be16(ip + 10, internet_checksum({ip, h->l3_len}));
    h->ol_flags |= RTE_MBUF_F_RX_LRO;
    h->tso_segsz = static_cast<std::uint16_t>(rte_pktmbuf_data_len(h) - h->l2_len - h->l3_len - h->l4_len);
    counters.inc(Counter::kGroMerged, h->nb_segs - 1u);
  }
  out = static_cast<std::uint16_t>(out + got);
  // Candidates rte_gro would not take (none expected: the table holds a
  // burst) follow, after everything of theirs it took.
  for (std::uint16_t k = 0; k < refused; ++k) frames[out++] = in[k];
  run_n_ = 0;
  return out;
}

}  // namespace tern
