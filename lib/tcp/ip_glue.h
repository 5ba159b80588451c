#pragma once
// Joins one worker's IpLayer and TcpStack: IPv4 and IPv6 deliver TCP
// segments, and the ICMP errors about them (IPv4 only so far), to the stack
// (TransportInput), and the stack's segments go out through IPv4 or IPv6 by
// their family (SegmentSink). The FrameQueue is the worker's
// transmit queue; the runtime and the simulator own it and drain it.
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "tcp/tcp_stack.h"
#include "wire/ipv4.h"

namespace tern {

class TcpIpGlue final : public TransportInput, public SegmentSink {
 public:
  TcpIpGlue(IpLayer& ip, FrameQueue& out) noexcept : ip_(ip), out_(out) {}
  void attach(TcpStack& tcp) noexcept {
    tcp_ = &tcp;
    ip_.set_tcp(this);
    tcp.set_source_selector(&TcpIpGlue::source_for, this);
  }

  void on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue&) override {
    tcp_->on_segment(d.src, d.dst, std::move(frame), d.l4_offset, d.l4_len, now);
  }
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant now) override {
    tcp_->on_icmp_unreachable(u, now);
  }
  void on_ipv6(const Ipv6Delivery& d, Mbuf frame, Instant now, FrameQueue&) override {
    tcp_->on_segment6(IpAddr::v6(d.src.b), IpAddr::v6(d.dst.b), std::move(frame), d.l4_offset, d.l4_len, now);
  }
  void on_icmpv6_error(const Icmpv6Report& r, Instant now) override {
    tcp_->on_icmpv6_error(r.type, r.code, r.param, IpAddr::v6(r.src.b), IpAddr::v6(r.dst.b), r.quote, now);
  }
  void send_segment(Mbuf segment, std::uint32_t /*src*/, std::uint32_t dst, Instant now) override {
    ip_.send(std::move(segment), dst, kIpProtoTcp, now, out_);
  }
  // The IP layer sends from source_for(dst) only; a segment whose tuple
  // says otherwise (accepted on another of our addresses) would reach the
  // peer from an address it does not know, with a checksum over the wrong
  // pseudo-header: dropped and counted instead.
  void send_segment6(Mbuf segment, const IpAddr& src, const IpAddr& dst, Instant now) override {
    // From the connection's own address: one accepted on a second
    // address keeps it, whatever source selection would pick for the peer.
    ip_.send_ipv6(std::move(segment), Ipv6Addr{src.bytes()}, Ipv6Addr{dst.bytes()}, kIpProtoTcp, now, out_);
  }
  PathMtu path_mtu(const IpAddr& dst, Instant now) override { return ip_.path_mtu_estimate(dst, now); }
  const std::uint32_t* path_mtu_generation() const override { return &ip_.path_mtus().generation(); }
  // IPv6 prefixes only while the neighbour is REACHABLE (Ipv6Layer::
  // build_prefix): a STALE one must see the send to move to DELAY (RFC 4861
  // §7.3.3), which send_segment6 does. prefix_generation() only says that
  // prefixes are built; each names its own counter (FramePrefix).
  const std::uint32_t* prefix_generation() const override { return ip_.prefix_generation(); }
  bool frame_prefix(const FourTuple& t, FramePrefix& p, Instant now) override {
    if (t.is_v4()) return ip_.build_prefix(addr_v4_host(t.laddr), addr_v4_host(t.raddr), kIpProtoTcp, p, now);
    return ip_.v6().build_prefix(Ipv6Addr{t.laddr.bytes()}, Ipv6Addr{t.raddr.bytes()}, kIpProtoTcp, p, now);
  }
  void send_prefixed(Mbuf frame, const FramePrefix& p, Instant /*now*/) override {
    if (p.ipv6) {
      ip_.v6().send_prefixed(std::move(frame), p, out_);
    } else {
      ip_.send_prefixed(std::move(frame), p, out_);
    }
  }
  void path_mtu_lowered(const IpAddr& dst, std::uint16_t mtu, Instant now) override {
    ip_.lower_path_mtu(dst, mtu, now);
  }
  void confirm_reachable6(const IpAddr& dst, Instant now) override {
    // The confirmation is for the neighbour the packets go through: the
    // peer itself on link, else the router (RFC 4861 §7.3.1).
    if (auto hop = ip_.v6().next_hop(Ipv6Addr{dst.bytes()}, now)) ip_.confirm(*hop, now);
  }

 private:
  // "::" while no address may be a source (duplicate address detection,
  // RFC 4862 §5.4): connect() then refuses with kNoSource.
  static IpAddr source_for(void* self, const IpAddr& dst) noexcept {
    const auto src = static_cast<TcpIpGlue*>(self)->ip_.usable_source_for(Ipv6Addr{dst.bytes()});
    return src ? IpAddr::v6(src->b) : IpAddr{};
  }

  IpLayer& ip_;
  FrameQueue& out_;
  TcpStack* tcp_ = nullptr;
};

}  // namespace tern
