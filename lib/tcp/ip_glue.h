#pragma once
// Joins one worker's IpLayer and TcpStack: IPv4 delivers TCP datagrams, and
// the ICMP errors about them, to the stack (TransportInput), and the stack's
// segments go out through IPv4 (SegmentSink). The FrameQueue is the worker's
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
  }

  void on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant now, FrameQueue&) override {
    tcp_->on_segment(d.src, d.dst, std::move(frame), d.l4_offset, d.l4_len, now);
  }
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant now) override {
    tcp_->on_icmp_unreachable(u, now);
  }
  void send_segment(Mbuf segment, std::uint32_t /*src*/, std::uint32_t dst, Instant now) override {
    ip_.send(std::move(segment), dst, kIpProtoTcp, now, out_);
  }
  // TODO(issue 15): IpLayer::send_ipv6 once the IP layer speaks IPv6; until
  // then no IPv6 segment reaches here (nothing delivers one, and connect()
  // to an IPv6 peer needs TcpStackOptions::local_addr6, which the runtime
  // leaves unset).
  void send_segment6(Mbuf /*segment*/, const IpAddr& /*src*/, const IpAddr& /*dst*/,
                     Instant /*now*/) override {}

 private:
  IpLayer& ip_;
  FrameQueue& out_;
  TcpStack* tcp_ = nullptr;
};

}  // namespace tern
