#include "perf_udp_tern.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>

namespace tern::perf {

void TernUdpClient::on_start(api::WorkerContext& w) {
  sender_ = w.id() == 0;
  sum_ = UdpSummary{
      "client",    "tern", o_.test, o_.length != 0 ? o_.length : default_udp_length(o_.addr.is_v6()),
      o_.bitrate,  0,      0,       0,
      std::nullopt};
  const api::IpAddr any = o_.addr.is_v4() ? api::IpAddr::any_v4() : api::IpAddr{};
  api::Error e = api::Error::kOk;
  s_ = w.udp_open(api::Endpoint{any, udp_client_port(o_.test)}, *this, &e);
  if (s_ == nullptr) {
    std::fprintf(stderr, "tern-perf: worker %u: UDP port %u: %s\n", w.id(), udp_client_port(o_.test),
                 std::string(api::to_string(e)).c_str());
    if (sender_) done(w);
  }
}

bool TernUdpClient::send_one(api::WorkerContext& w, std::int64_t now_ns) {
  // One chain from the worker's pool: the header and zeros, in as many
  // mbufs as the length needs (the stack puts its headers in the headroom).
  Buffer head = w.alloc();
  if (!head) return false;
  std::uint32_t left = sum_.length;
  rte_mbuf* tail = head.get();
  for (;;) {
    const auto take = static_cast<std::uint16_t>(std::min<std::uint32_t>(left, rte_pktmbuf_tailroom(tail)));
    auto* p = rte_pktmbuf_append(tail, take);
    std::memset(p, 0, take);
    left -= take;
    if (left == 0) break;
    rte_mbuf* seg = rte_pktmbuf_alloc(w.pool());
    if (seg == nullptr) return false;  // `head` frees what it holds
    if (rte_pktmbuf_chain(head.get(), seg) != 0) {
      rte_pktmbuf_free(seg);
      return false;
    }
    tail = seg;
  }
  std::array<std::byte, kUdpHeaderSize> h{};
  encode_udp_header(UdpHeader{UdpType::kData, o_.test, sum_.sent, static_cast<std::uint64_t>(now_ns)}, h);
  std::memcpy(rte_pktmbuf_mtod(head.get(), void*), h.data(), h.size());  // the first mbuf holds >= 32 bytes
  if (s_->send_to(head, api::Endpoint{o_.addr, o_.port}) != api::Error::kOk) {
    ++sum_.send_errors;  // the TX ring full, no ARP/ND entry yet: this seq goes again later
    return false;
  }
  ++sum_.sent;
  return true;
}

bool TernUdpClient::ask(UdpType type, std::int64_t now_ns) {
  if (now_ns < next_ask_ns_) return true;
  if (tries_++ == kEndTries) return false;
  next_ask_ns_ = now_ns + kEndRetryNs;
  const bool end = type == UdpType::kEnd;
  std::array<std::byte, kUdpHeaderSize> m{};
  encode_udp_header(UdpHeader{type, o_.test, end ? sum_.sent : 0,
                              end ? static_cast<std::uint64_t>(sum_.duration_s * 1e9) : 0},
                    m);
  s_->send_to(m, api::Endpoint{o_.addr, o_.port});  // lost or refused: the next try
  return true;
}

void TernUdpClient::on_poll(api::WorkerContext& w) {
  if (!sender_ || finished_ || s_ == nullptr || !start_file_.ready(w.now())) return;
  const std::int64_t now = w.now().ns_since_epoch();
  if (start_ns_ < 0) {
    if (!shared_.started()) {
      if (!ask(UdpType::kStart, now)) {
        std::fprintf(stderr, "tern-perf: no answer from a UDP server at %s\n",
                     api::Endpoint{o_.addr, o_.port}.to_string().c_str());
        done(w);
      }
      return;
    }
    start_ns_ = now;
    tries_ = 0;
    next_ask_ns_ = 0;
  }
  if (!ended_) {
    const std::int64_t elapsed = now - start_ns_;
    if (elapsed < static_cast<std::int64_t>(o_.time_s * 1e9)) {
      // A burst up to the schedule, at most 64 per iteration so received
      // frames are still processed between bursts.
      const std::uint64_t allowed = udp_allowed(o_.bitrate, sum_.length, elapsed);
      for (int i = 0; i < 64 && sum_.sent < allowed; ++i)
        if (!send_one(w, now)) break;
      return;
    }
    ended_ = true;
    sum_.duration_s = static_cast<double>(elapsed) / 1e9;
  }
  if (auto r = shared_.report()) {
    sum_.report = r;
    return done(w);
  }
  if (!ask(UdpType::kEnd, now)) {
    std::fprintf(stderr, "tern-perf: no report from the UDP server at %s\n",
                 api::Endpoint{o_.addr, o_.port}.to_string().c_str());
    done(w);
  }
}

void TernUdpClient::on_datagram(api::UdpSocket&, const api::Endpoint&, Buffer data) {
  std::array<std::byte, kUdpReportSize> in{};
  if (!data || data.pkt_len() < kUdpReportSize) return;
  const auto* p = static_cast<const std::byte*>(rte_pktmbuf_read(data.get(), 0, kUdpReportSize, in.data()));
  if (decode_udp_report({p, kUdpReportSize}, o_.test, UdpType::kStart)) shared_.set_started();
  if (auto r = decode_udp_report({p, kUdpReportSize}, o_.test, UdpType::kEnd)) shared_.offer_report(*r);
}

void TernUdpClient::done(api::WorkerContext&) {
  finished_ = true;
  shared_.finish(sum_);
}

void TernUdpServer::on_start(api::WorkerContext& w) {
  w_ = &w;
  api::Error e = api::Error::kOk;
  if (w.udp_open(api::Endpoint{api::IpAddr{}, o_.port}, *this, &e) == nullptr) {
    std::fprintf(stderr, "tern-perf: worker %u cannot open UDP port %u: %s\n", w.id(), o_.port,
                 std::string(api::to_string(e)).c_str());
    open_failed_ = true;
  }
}

void TernUdpServer::on_datagram(api::UdpSocket& s, const api::Endpoint& from, Buffer data) {
  // The header may span mbufs: rte_pktmbuf_read copies it out only then.
  std::array<std::byte, kUdpHeaderSize> buf{};
  const std::uint32_t len = data ? data.pkt_len() : 0;
  const auto* p =
      len >= kUdpHeaderSize
          ? static_cast<const std::byte*>(rte_pktmbuf_read(data.get(), 0, kUdpHeaderSize, buf.data()))
          : nullptr;
  std::array<std::byte, kUdpReportSize> rep{};
  if (server_.on_datagram({p, p != nullptr ? kUdpHeaderSize : 0}, len, w_->now().ns_since_epoch(), rep))
    s.send_to(rep, from);  // lost: the client asks again
}

}  // namespace tern::perf
