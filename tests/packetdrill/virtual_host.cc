// The virtual host's clock, wire and waiting (virtual_host.h); the socket
// calls are in sockets.cc.
#include "virtual_host.h"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "config/config.h"
#include "ip/ip_layer.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern::pd {

namespace {

constexpr Duration kTick = Duration::ms(1);
// Virtual time starts well away from 0 so that the engine's "long ago"
// defaults (Instant{}) are long ago.
constexpr Instant kStart = Instant::from_ns(1'000'000'000'000);
// How long (real time) a thread that moves the clock waits for a woken
// thread to read it before deciding that the woken one will not.
constexpr auto kWokenGrace = std::chrono::seconds(5);

std::string ip_str(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xFF) + "." +
         std::to_string((a >> 8) & 0xFF) + "." + std::to_string(a & 0xFF);
}

// A TOML value as given, or quoted when it is neither a number, a boolean
// nor an array (congestion = reno).
std::string toml_value(const std::string& v) {
  if (v == "true" || v == "false" || (!v.empty() && (v[0] == '[' || v[0] == '"'))) return v;
  if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) return v;
  return "\"" + v + "\"";
}

}  // namespace

std::optional<Flags> parse_flags(const char* text, std::string* error) {
  Flags f;
  std::string tcp_keys;
  std::string s = text != nullptr ? text : "";
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s);
  std::string item;
  while (in >> item) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "local_ip") {
      const auto a = parse_ipv4(value);
      if (!a) {
        *error = "local_ip=" + value + ": not a dotted-quad IPv4 address";
        return std::nullopt;
      }
      f.local_ip = *a;
      f.local_ip_given = true;
    } else if (key == "mtu") {
      const long v = std::strtol(value.c_str(), nullptr, 10);
      if (v < 576 || v > 9000) {
        *error = "mtu=" + value + ": must be 576..9000";
        return std::nullopt;
      }
      f.mtu = static_cast<std::uint16_t>(v);
    } else if (key == "sniff_limit_s") {
      const long v = std::strtol(value.c_str(), nullptr, 10);
      if (v < 1) {
        *error = "sniff_limit_s=" + value + ": must be a positive number of seconds";
        return std::nullopt;
      }
      f.sniff_limit = Duration::s(v);
    } else if (key == "verbose") {
      f.verbose = value.empty() || value == "1" || value == "true";
    } else if (key.rfind("tcp.", 0) == 0 && eq != std::string::npos) {
      tcp_keys += key.substr(4) + " = " + toml_value(value) + "\n";
    } else {
      *error = "unknown flag '" + item + "' (known: local_ip=, mtu=, sniff_limit_s=, verbose, tcp.KEY=VALUE)";
      return std::nullopt;
    }
  }
  // The [tcp] keys go through the configuration's own reader, so they are
  // checked as a config file's are; the port is only there because the
  // reader requires one.
  try {
    const Config c = parse_config(
        "[[port]]\nname = \"pd\"\ndevice = \"net_null0\"\naddress = \"10.0.0.1/24\"\n[tcp]\n" + tcp_keys,
        "--so_flags");
    f.tcp = c.tcp;
    // A script states the window scale and windows it expects, which follow
    // from rcv_buf alone unless it asks for autotuning (tcp.rcv_buf_max=).
    if (tcp_keys.find("rcv_buf_max") == std::string::npos) f.tcp.rcv_buf_max = f.tcp.rcv_buf;
  } catch (const ConfigError& e) {
    *error = e.what();
    return std::nullopt;
  }
  return f;
}

VirtualHost::VirtualHost(const Flags& f)
    : flags_(f),
      main_thread_(std::this_thread::get_id()),
      now_(kStart),
      last_tick_(kStart),
      local_ip_(f.local_ip) {}

VirtualHost::~VirtualHost() {
  // Destroying the stack frees every TCB and what its queues hold.
  stack_.reset();
  out_.clear();
  if (clone_pool_ != nullptr) rte_mempool_free(clone_pool_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

bool VirtualHost::start(std::string* error) {
  // No per-lcore cache: packetdrill calls in from two threads, neither an
  // EAL lcore. The data room holds a full 1500-byte frame.
  pool_ = rte_pktmbuf_pool_create("pd_pool", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  clone_pool_ = rte_pktmbuf_pool_create("pd_clones", 16383, 0, 0, 0, SOCKET_ID_ANY);
  if (pool_ == nullptr || clone_pool_ == nullptr) {
    *error = std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno);
    return false;
  }
  return true;
}

TcpStack& VirtualHost::stack() {
  if (!stack_) {
    TcpStackOptions o;
    o.local_addr = local_ip_;
    o.mtu = flags_.mtu;
    o.cfg = flags_.tcp;
    // Fixed keys: a script run twice sees the same ISNs and ports.
    for (std::size_t i = 0; i < 16; ++i) {
      o.isn_key[i] = static_cast<std::uint8_t>(0x11 * (i + 1));
      o.cookie_key[i] = static_cast<std::uint8_t>(0xC0 + i);
    }
    o.hash_seed = 1;
    o.port_seed = 2;
    stack_ = std::make_unique<TcpStack>(o, counters_, *this, pool_, clone_pool_, now_);
    stack_->set_handler(this);
    last_tick_ = now_;  // the wheel's ticks count from here
    if (flags_.verbose)
      std::fprintf(stderr, "tern-pd: stack up, local address %s\n", ip_str(local_ip_).c_str());
  }
  return *stack_;
}

// ---- time ---------------------------------------------------------------------

Instant VirtualHost::next_step(bool sends_only) {
  Instant step = Instant::max();
  if (stack_) {
    Instant due = Instant::max();
    stack_->for_each_connection([&](const Tcb& c) {
      due = std::min(
          {due, c.rtx_deadline, c.delack_deadline, c.linger_deadline, c.tlp_deadline, c.rack_deadline});
    });
    if (!sends_only) due = std::min(due, stack_->time_wait().next_expiry());
    if (due != Instant::max()) {
      // The wheel fires at the first tick at or after the deadline.
      Instant tick = last_tick_ + kTick;
      if (due > tick) {
        const std::int64_t k = ((due - last_tick_).count_ns() + kTick.count_ns() - 1) / kTick.count_ns();
        tick = last_tick_ + kTick * k;
      }
      step = tick;
    }
    const Instant pace = stack_->pacing_deadline();
    if (pace > now_) step = std::min(step, pace);
  }
  if (!sends_only) {
    for (const Waiter* w : waiters_) {
      if (w->deadline > now_) step = std::min(step, w->deadline);
    }
  }
  return step;
}

void VirtualHost::advance_to(Lock& lk, Instant t) {
  if (stack_ && stack_->pacing_deadline() <= now_) {
    stack_->on_pacing(now_);
    wake_ready();
  }
  for (;;) {
    await_woken(lk);
    const Instant step = next_step();
    if (step > t) break;
    now_ = std::max(now_, step);
    if (stack_) {
      const Instant tick = last_tick_ + kTick;
      if (now_ >= tick) {
        // A tick: realign to the grid (steps land on it, but be exact).
        const std::int64_t k = (now_ - last_tick_).count_ns() / kTick.count_ns();
        last_tick_ = last_tick_ + kTick * k;
        stack_->on_timer(now_);
      } else {
        stack_->on_pacing(now_);
      }
    }
    wake_ready();
  }
  if (t > now_) now_ = t;
  wake_ready();
  await_woken(lk);
}

void VirtualHost::wake_ready() {
  bool any = false;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    Waiter* w = *it;
    if ((*w->ready)() || now_ >= w->deadline) {
      w->woken = true;
      woken_.push_back(w->thread);
      it = waiters_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  if (any) cv_.notify_all();
}

void VirtualHost::await_woken(Lock& lk) {
  const auto me = std::this_thread::get_id();
  auto others = [&] { return std::any_of(woken_.begin(), woken_.end(), [&](auto id) { return id != me; }); };
  if (!others()) return;
  if (!cv_.wait_for(lk, kWokenGrace, [&] { return !others(); })) {
    std::fprintf(stderr, "tern-pd: a woken thread did not read the clock within 5 s; time moves on\n");
    std::erase_if(woken_, [&](auto id) { return id != me; });
  }
}

void VirtualHost::clock_read_by_this_thread() {
  const auto me = std::this_thread::get_id();
  if (std::erase(woken_, me) > 0) cv_.notify_all();
}

bool VirtualHost::wait(Lock& lk, const std::function<bool()>& ready, Instant deadline) {
  if (is_main_thread()) {
    // Nobody else moves time while packetdrill's interpreter waits: it does.
    for (;;) {
      if (ready()) return true;
      if (now_ >= deadline) return false;
      const Instant step = std::min(next_step(), deadline);
      if (step == Instant::max()) {
        give_up(
            "a call in packetdrill's main thread would block forever (nothing can wake it); "
            "mark blocking calls in the script with a time range (start...end)");
      }
      advance_to(lk, step);
    }
  }
  for (;;) {
    if (ready()) return true;
    if (now_ >= deadline) return false;
    Waiter w{std::this_thread::get_id(), deadline, &ready, false};
    waiters_.push_back(&w);
    clock_read_by_this_thread();  // asleep again: time may move
    while (!w.woken) cv_.wait(lk);
  }
}

void VirtualHost::give_up(const std::string& why) {
  std::fprintf(stderr, "tern-pd: giving up at virtual time %.6f s: %s\n",
               static_cast<double>((now_ - kStart).count_ns()) / 1e9, why.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

int VirtualHost::usleep(std::uint64_t usec) {
  Lock lk(mu_);
  clock_read_by_this_thread();
  advance_to(lk, now_ + Duration::us(static_cast<std::int64_t>(usec)));
  return 0;
}

int VirtualHost::gettimeofday(timeval* tv) {
  Lock lk(mu_);
  clock_read_by_this_thread();
  // Each read moves the clock 1 µs, so that packetdrill's spin loops end.
  advance_to(lk, now_ + Duration::us(1));
  const std::int64_t us = now_.ns_since_epoch() / 1000;
  if (tv != nullptr) {
    tv->tv_sec = us / 1'000'000;
    tv->tv_usec = us % 1'000'000;
  }
  return 0;
}

// ---- wire -----------------------------------------------------------------------

void VirtualHost::send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant now) {
  static std::uint16_t ip_id = 0;
  const std::uint32_t l4 = segment.pkt_len();
  OutPacket p;
  p.at = now;
  p.bytes.resize(kIpv4MinHeaderLen + l4);
  write_ipv4(std::span(p.bytes).first(kIpv4MinHeaderLen),
             Ipv4Fields{.src = src,
                        .dst = dst,
                        .protocol = kIpProtoTcp,
                        .id = ip_id++,
                        .payload_len = static_cast<std::uint16_t>(l4)});
  const void* d = rte_pktmbuf_read(segment.get(), 0, l4, p.bytes.data() + kIpv4MinHeaderLen);
  if (d != p.bytes.data() + kIpv4MinHeaderLen) std::memcpy(p.bytes.data() + kIpv4MinHeaderLen, d, l4);
  // The engine fills in the TCP checksum (no offload here): check it, so a
  // wrong one fails the script here rather than as a puzzling mismatch.
  const auto tcp = std::span<const std::byte>(p.bytes).subspan(kIpv4MinHeaderLen);
  if (checksum_finish(checksum_partial(
          tcp, pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint16_t>(l4)))) != 0) {
    give_up("Tern sent a TCP segment with a bad checksum");
  }
  if (flags_.verbose) {
    std::fprintf(stderr, "tern-pd: t=%.6f out %u bytes\n",
                 static_cast<double>((now - kStart).count_ns()) / 1e9, static_cast<unsigned>(p.bytes.size()));
  }
  out_.push_back(std::move(p));
}

int VirtualHost::netdev_send(const void* buf, std::size_t count) {
  Lock lk(mu_);
  const std::span<const std::byte> b(static_cast<const std::byte*>(buf), count);
  const auto ip = Ipv4Header::parse(b);
  if (!ip || !ip->checksum_ok() || ip->is_fragment()) {
    // Not something IPv4 would deliver (IPv6 included: Tern is IPv4 only).
    ++bad_inbound_;
    std::fprintf(stderr, "tern-pd: inbound packet dropped: not a whole IPv4 datagram with a good header\n");
    return 0;
  }
  if (!stack_ && !flags_.local_ip_given) local_ip_ = ip->dst();
  TcpStack& tcp = stack();
  if (ip->protocol() == kIpProtoTcp) {
    // The datagram as one chain of pool mbufs, the TCP header at the IPv4
    // header's length, as the IP layer hands it over.
    const std::uint32_t total = ip->total_length();
    Mbuf head;
    rte_mbuf* tail = nullptr;
    for (std::uint32_t off = 0; off < total;) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) give_up("mbuf pool exhausted");
      const std::uint16_t n =
          static_cast<std::uint16_t>(std::min<std::uint32_t>(total - off, rte_pktmbuf_tailroom(m)));
      std::memcpy(rte_pktmbuf_append(m, n), b.data() + off, n);
      if (!head) {
        head.reset(m);
      } else {
        tail->next = m;
        head->nb_segs++;
        head->pkt_len += n;
      }
      tail = m;
      off += n;
    }
    tcp.on_segment(ip->src(), ip->dst(), std::move(head), static_cast<std::uint16_t>(ip->header_len()),
                   static_cast<std::uint16_t>(total - ip->header_len()), now_);
  } else if (ip->protocol() == kIpProtoIcmp) {
    // Destination Unreachable quoting one of our segments (RFC 792): type 3,
    // then the quoted IPv4 header and the first 8 octets of TCP.
    const auto icmp = ip->payload();
    const bool sum_ok = internet_checksum(icmp) == 0;
    const Parsed<Ipv4Header> quoted =
        icmp.size() >= 8 ? Ipv4Header::parse(icmp.subspan(8)) : Parsed<Ipv4Header>{ParseError::kTruncated};
    if (!sum_ok || icmp.size() < 8 || std::to_integer<int>(icmp[0]) != 3 || !quoted ||
        quoted->protocol() != kIpProtoTcp || icmp.size() < 8 + quoted->header_len() + 8) {
      ++bad_inbound_;
      std::fprintf(stderr,
                   "tern-pd: inbound ICMP ignored: only Destination Unreachable quoting TCP is fed in\n");
      return 0;
    }
    const std::byte* t = icmp.data() + 8 + quoted->header_len();
    IcmpUnreachable u;
    u.src = quoted->src();
    u.dst = quoted->dst();
    u.sport = load_be16(t);
    u.dport = load_be16(t + 2);
    u.seq = load_be32(t + 4);
    u.code = std::to_integer<std::uint8_t>(icmp[1]);
    tcp.on_icmp_unreachable(u, now_);
  } else {
    ++bad_inbound_;
    std::fprintf(stderr, "tern-pd: inbound IPv4 protocol %u ignored (Tern's engine takes TCP and ICMP)\n",
                 ip->protocol());
    return 0;
  }
  wake_ready();
  return 0;
}

int VirtualHost::netdev_receive(void* buf, std::size_t* count, long long* time_usecs) {
  Lock lk(mu_);
  const Instant since = now_;
  for (;;) {
    await_woken(lk);
    if (!out_.empty()) {
      OutPacket& p = out_.front();
      const std::size_t n = std::min(*count, p.bytes.size());
      std::memcpy(buf, p.bytes.data(), n);
      *count = n;
      *time_usecs = p.at.ns_since_epoch() / 1000;
      out_.pop_front();
      return 0;
    }
    // packetdrill waits for the packet the script expects. Only the clock
    // can bring it now: move it to the next thing the engine will do.
    const Instant step = next_step(/*sends_only=*/true);
    if (step == Instant::max()) {
      give_up("the script expects a packet from Tern, but Tern has nothing to send and no timer armed");
    }
    if (step - since > flags_.sniff_limit) {
      give_up("the script expects a packet from Tern, and none came within sniff_limit_s=" +
              std::to_string(flags_.sniff_limit.count_ns() / 1'000'000'000) + " s of virtual time");
    }
    advance_to(lk, step);
  }
}

}  // namespace tern::pd
