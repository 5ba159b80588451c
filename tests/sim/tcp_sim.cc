#include "tcp_sim.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern::sim {

namespace {

constexpr MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x01}};
constexpr MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x02}};

rte_mempool* make_host_pool(const char* what) {
  // Names are per process (the EAL is private to it); a counter keeps them
  // unique when a process makes more than one SimPools.
  static std::atomic<unsigned> seq{0};
  const std::string name = std::string(what) + std::to_string(seq.fetch_add(1));
  // No per-lcore cache, so the in-use count is exact.
  return rte_pktmbuf_pool_create(name.c_str(), SimPools::kMbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                 SOCKET_ID_ANY);
}

IpSettings ip_settings(Side side, const HostOptions& o) {
  IpSettings s;
  s.mac = side == Side::kA ? kMacA : kMacB;
  s.addr = side == Side::kA ? kAddrA : kAddrB;
  s.prefix_len = 24;
  s.gateway = o.gateway;
  s.mtu = o.mtu;
  s.ip.frag_max_flows = 16;
  if (o.ipv6) s.v6.addrs.push_back(Ipv6Prefix{Ipv6Addr{(side == Side::kA ? kAddr6A : kAddr6B).bytes()}, 64});
  return s;
}

// splitmix64 of a few words: per-host keys and seeds from the scenario seed.
std::uint64_t mix(std::uint64_t seed, std::uint64_t salt) {
  SimRng r(seed ^ (salt * 0xD1B54A32D192ED03ull));
  return r.next();
}

TcpStackOptions stack_options(Side side, const HostOptions& o, std::uint64_t seed) {
  TcpStackOptions t;
  t.local_addr = side == Side::kA ? kAddrA : kAddrB;
  t.mtu = o.mtu;
  t.cfg = o.tcp;
  const std::uint64_t salt = side == Side::kA ? 0x100 : 0x200;
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t k1 = mix(seed, salt + i);
    const std::uint64_t k2 = mix(seed, salt + 0x10 + i);
    for (std::size_t j = 0; j < 8; ++j) {
      t.isn_key[i + j] = static_cast<std::uint8_t>(k1 >> (8 * j));
      t.cookie_key[i + j] = static_cast<std::uint8_t>(k2 >> (8 * j));
    }
  }
  t.hash_seed = mix(seed, salt + 0x20);
  t.port_seed = mix(seed, salt + 0x21);
  t.timer_tick = kTick;
  t.tso_max = o.tso ? TcpStackOptions::kTsoMaxPayload : 0;
  return t;
}

std::string ip_string(std::uint32_t a) {
  char b[20];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
  return b;
}

}  // namespace

std::string format_time(Instant t) {
  const std::int64_t ns = t.ns_since_epoch();
  char b[32];
  std::snprintf(b, sizeof b, "%" PRId64 ".%06" PRId64, ns / 1'000'000'000, (ns % 1'000'000'000) / 1000);
  return b;
}

SimPools::SimPools() : a(make_host_pool("simA")), b(make_host_pool("simB")) {}
SimPools::~SimPools() {
  rte_mempool_free(a);
  rte_mempool_free(b);
}

SimHost::SimHost(Side s, const HostOptions& o, std::uint64_t seed, rte_mempool* p, Instant start)
    : side(s),
      pool(p),
      ip(ip_settings(s, o), counters, p),
      glue(ip, out),
      tcp(stack_options(s, o, seed), counters, glue, p, p, start),
      nic_tso(p, p) {
  glue.attach(tcp);
  if (o.gro) {
    gro = std::make_unique<RxCoalescer>(kSimRxBurst, SOCKET_ID_ANY);
    rx.reserve(kSimRxBurst);
  }
}

TcpSim::TcpSim(const TcpSimOptions& o, const SimPools& pools)
    : o_(o), link_(o.ab, o.ba, o.seed, o.max_in_flight) {
  a_ = std::make_unique<SimHost>(Side::kA, o.a, o.seed, pools.a, now_);
  b_ = std::make_unique<SimHost>(Side::kB, o.b, o.seed, pools.b, now_);
  a_->out.set_drain(&TcpSim::drain_cb, this);
  b_->out.set_drain(&TcpSim::drain_cb, this);
}

TcpSim::~TcpSim() {
  // The stacks first (they free their queues into the pools), then the link.
  b_.reset();
  a_.reset();
}

void TcpSim::drain_cb(void* ctx, FrameQueue& q) {
  auto* sim = static_cast<TcpSim*>(ctx);
  sim->drain(&q == &sim->a_->out ? Side::kA : Side::kB);
}

void TcpSim::drain(Side from) noexcept {
  FrameQueue& q = host(from).out;
  const std::uint16_t n = q.size();
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = q.data()[i];
    if ((m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) == 0) {
      transmit(from, Mbuf{m});
      continue;
    }
    // The host's NIC cuts a super-segment into its wire frames.
    std::array<rte_mbuf*, 128> wire{};
    const std::uint16_t k =
        host(from).nic_tso.segment(m, wire.data(), static_cast<std::uint16_t>(wire.size()));
    for (std::uint16_t j = 0; j < k; ++j) transmit(from, Mbuf{wire[j]});
  }
  q.consume(n);
}

void TcpSim::transmit(Side from, Mbuf frame) noexcept {
  if (!o_.trace) {
    link_.send(from, std::move(frame), now_);
    return;
  }
  std::string line = format_time(now_) + (from == Side::kA ? " A>B " : " B>A ") + describe(from, frame.get());
  const LinkCounts before = link_.counts(from);
  link_.send(from, std::move(frame), now_);
  const LinkCounts& after = link_.counts(from);
  if (after.dropped_queue != before.dropped_queue) line += "  [QUEUE DROP]";
  if (after.lost != before.lost) line += "  [LOST]";
  if (after.corrupted != before.corrupted) line += "  [CORRUPTED]";
  if (after.reordered != before.reordered) line += "  [DELAYED]";
  if (after.duplicated != before.duplicated) line += "  [DUPLICATED]";
  trace_.push_back(std::move(line));
}

std::string TcpSim::describe(Side from, const rte_mbuf* m) {
  std::vector<std::byte> f(rte_pktmbuf_pkt_len(m));
  if (!f.empty()) {
    const void* p = rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(f.size()), f.data());
    if (p != f.data()) std::memcpy(f.data(), p, f.size());
  }
  const auto eth = EthernetHeader::parse(f);
  if (!eth) return "truncated frame";
  if (eth->ether_type() == 0x0806) {
    const auto a = eth->payload();
    if (a.size() < 28) return "ARP, truncated";
    const auto op = load_be16(a.data() + 6);
    const auto spa = load_be32(a.data() + 14);
    const auto tpa = load_be32(a.data() + 24);
    return op == 1 ? "ARP, Request who-has " + ip_string(tpa) + " tell " + ip_string(spa)
                   : "ARP, Reply " + ip_string(spa) + " is-at " + MacAddr::load(a.data() + 8).to_string();
  }
  if (eth->ether_type() != 0x0800) return "ethertype " + std::to_string(eth->ether_type());
  const auto ip = Ipv4Header::parse(eth->payload());
  if (!ip) return "IP, malformed";
  std::string s = "IP " + ip_string(ip->src());
  if (ip->protocol() != kIpProtoTcp || ip->is_fragment()) {
    return s + " > " + ip_string(ip->dst()) + ": proto " + std::to_string(ip->protocol()) +
           (ip->is_fragment() ? " fragment" : "") + ", length " + std::to_string(ip->payload().size());
  }
  const auto tcp = TcpHeader::parse(ip->payload());
  if (!tcp) return s + " > " + ip_string(ip->dst()) + ": TCP, malformed";
  const std::size_t d = static_cast<std::size_t>(from);
  const std::size_t r = 1 - d;
  // tcpdump numbers relative to the connection's ISN; SYNs to third parties
  // (a SYN flood's SYN-ACKs) do not move the base.
  if (tcp->flags().syn() && (ip->dst() == kAddrA || ip->dst() == kAddrB)) {
    base_seq_[d] = tcp->seq();
    have_base_[d] = true;
  }
  const std::uint32_t seq = tcp->seq() - (have_base_[d] ? base_seq_[d] : 0);
  const std::uint32_t ack = tcp->ack() - (have_base_[r] ? base_seq_[r] : 0);
  const std::size_t len = tcp->payload().size();
  char b[160];
  std::snprintf(b, sizeof b, ".%u > %s.%u: Flags [%s], seq %u", tcp->src_port(), ip_string(ip->dst()).c_str(),
                tcp->dst_port(), tcp->flags().to_string().c_str(), seq);
  s += b;
  if (len > 0) s += ":" + std::to_string(seq + len);
  if (tcp->flags().ack()) s += ", ack " + std::to_string(ack);
  s += ", win " + std::to_string(tcp->window());
  const auto opts = parse_tcp_options(tcp->options());
  if (opts && !tcp->options().empty()) {
    std::string o;
    auto add = [&](const std::string& x) { o += (o.empty() ? "" : ",") + x; };
    if (opts->mss) add("mss " + std::to_string(*opts->mss));
    if (opts->sack_permitted) add("sackOK");
    if (opts->window_scale) add("wscale " + std::to_string(*opts->window_scale));
    if (opts->timestamps)
      add("TS val " + std::to_string(opts->timestamps->first) + " ecr " +
          std::to_string(opts->timestamps->second));
    if (opts->sack_count > 0) {
      std::string sk = "sack " + std::to_string(opts->sack_count);
      for (const SackBlock& blk : opts->sack_blocks()) {
        sk += " {" + std::to_string(blk.left - (have_base_[r] ? base_seq_[r] : 0)) + ":" +
              std::to_string(blk.right - (have_base_[r] ? base_seq_[r] : 0)) + "}";
      }
      add(sk);
    }
    s += ", options [" + o + "]";
  } else if (!opts) {
    s += ", options [bad]";
  }
  s += ", length " + std::to_string(len);
  if (!ip->checksum_ok() || !tcp->checksum_ok(ip->src(), ip->dst())) s += " [bad cksum]";
  return s;
}

bool TcpSim::step(Instant limit) {
  // Paced connections (TcpStack::on_pacing) send at their next-send time,
  // between ticks, as a worker polling in a loop lets them.
  const Instant pace = std::max(std::min(a_->tcp.pacing_deadline(), b_->tcp.pacing_deadline()), now_);
  const Instant t = std::min({link_.next_event(), next_tick_, pace});
  if (t > limit) return false;
  now_ = t;
  // A host whose incoming direction batches (LinkParams::batch) takes what
  // arrives at one instant as one receive burst, as a worker takes an
  // rx_burst: its pure ACKs wait for the burst's end (TcpStack::end_burst).
  const bool burst_a = link_.params(Side::kB).batch > Duration{};
  const bool burst_b = link_.params(Side::kA).batch > Duration{};
  if (burst_a) a_->tcp.begin_burst();
  if (burst_b) b_->tcp.begin_burst();
  link_.deliver_until(now_, [&](Side to, Mbuf m) {
    SimHost& h = host(to);
    const bool burst = to == Side::kA ? burst_a : burst_b;
    if (h.gro == nullptr || !burst) {
      h.ip.on_frame(std::move(m), now_, h.out);
      return;
    }
    // A NIC hands over each frame in one buffer; the sender's is a chain
    // (headers, then its send queue's data), which no merger takes.
    if (m->nb_segs > 1) {
      rte_mbuf* flat = rte_pktmbuf_copy(m.get(), m->pool, 0, UINT32_MAX);
      if (flat != nullptr && flat->nb_segs == 1) {
        m.reset(flat);
      } else if (flat != nullptr) {
        rte_pktmbuf_free(flat);
      }
    }
    h.rx.push_back(m.release());
    if (h.rx.size() == kSimRxBurst) take_rx_burst(h);
  });
  take_rx_burst(*a_);
  take_rx_burst(*b_);
  if (burst_a) a_->tcp.end_burst(now_);
  if (burst_b) b_->tcp.end_burst(now_);
  if (now_ >= next_tick_) {
    a_->ip.on_timer(now_, a_->out);
    b_->ip.on_timer(now_, b_->out);
    a_->tcp.on_timer(now_);
    b_->tcp.on_timer(now_);
    next_tick_ = next_tick_ + kTick;
  } else {
    a_->tcp.on_pacing(now_);
    b_->tcp.on_pacing(now_);
  }
  if (hook_) hook_(now_);
  drain(Side::kA);
  drain(Side::kB);
  return true;
}

// A worker's poll with [port] gro: the burst's TCP segments merged
// (RxCoalescer), then each frame up the stack.
void TcpSim::take_rx_burst(SimHost& h) noexcept {
  if (h.rx.empty()) return;
  const std::uint16_t n = h.gro->coalesce(h.rx.data(), static_cast<std::uint16_t>(h.rx.size()), h.counters);
  for (std::uint16_t i = 0; i < n; ++i) h.ip.on_frame(Mbuf{h.rx[i]}, now_, h.out);
  h.rx.clear();
}

void TcpSim::inject(Side to, Mbuf frame) noexcept {
  SimHost& h = host(to);
  h.ip.on_frame(std::move(frame), now_, h.out);
}

std::string TcpSim::trace_tail(std::size_t lines) const {
  std::string s;
  const std::size_t first = trace_.size() > lines ? trace_.size() - lines : 0;
  if (first > 0) s += "... (" + std::to_string(first) + " earlier lines)\n";
  for (std::size_t i = first; i < trace_.size(); ++i) s += trace_[i] + "\n";
  return s;
}

}  // namespace tern::sim
