// Per-connection figures (tern/connection_info.h), computed when asked from
// what the engine keeps anyway: nothing here runs on the packet path.
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace tern {

std::string_view to_string(CaState s) noexcept {
  switch (s) {
    case CaState::kOpen:
      return "open";
    case CaState::kDisorder:
      return "disorder";
    case CaState::kCwr:
      return "cwr";
    case CaState::kRecovery:
      return "recovery";
    case CaState::kLoss:
      return "loss";
  }
  return "open";
}

namespace {

std::uint32_t us_of(Duration d) noexcept {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(d.count_ns() / 1000, 0, UINT32_MAX));
}

// Linux's states from Tern's: a timeout not yet answered (or, with SACK, the
// hold after it: RFC 6675 §5.1) is Loss; SACK or NewReno recovery is
// Recovery; duplicates or SACKed data without recovery is Disorder.
CaState ca_state_of(const Tcb& c) noexcept {
  if (c.recovery_hold || (c.rtx_kind == Tcb::RtxKind::kRetransmit && c.retries > 0)) return CaState::kLoss;
  if (c.sack_recovery || c.cc.in_recovery()) return CaState::kRecovery;
  if (c.sack_dupacks > 0 || !c.sb.empty() || c.cc.dup_acks() > 0) return CaState::kDisorder;
  return CaState::kOpen;
}

// Outstanding bytes presumed lost: after a timeout everything not SACKed
// (what go-back-N resends); otherwise the holes below SACKed data that RFC
// 6675's IsLost marks (every octet of a hole has the same ranges above it,
// so its first octet decides).
std::uint32_t lost_of(const Tcb& c, CaState ca, std::uint32_t dupthresh) noexcept {
  if (!synchronized(c.state) || c.snd_una == c.snd_max) return 0;
  const auto outstanding = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  if (ca == CaState::kLoss) return outstanding - std::min(outstanding, c.sb.sacked_bytes());
  std::uint32_t lost = 0;
  Seq32 hole = c.snd_una;
  for (const SackRange& r : c.sb.ranges()) {
    if (seq_lt(hole, r.left) && c.sb.is_lost(hole, dupthresh, c.mss))
      lost += static_cast<std::uint32_t>(r.left - hole);
    if (seq_gt(r.right, hole)) hole = r.right;
  }
  return lost;
}

}  // namespace

ConnectionInfo TcpStack::info(const Tcb& c) const noexcept {
  ConnectionInfo i;
  const std::uint32_t mss = std::max<std::uint32_t>(c.mss, 1);
  const std::uint32_t dupthresh = std::max<std::uint32_t>(o_.cfg.dupthresh, 1);
  i.state = to_string(c.state);
  i.congestion = c.cc.name();
  i.ca_state = ca_state_of(c);
  i.mss = c.mss;
  i.rcv_mss = c.rcv_mss;
  i.pmtu = c.pmtu;
  i.cwnd = c.cc.cwnd();
  i.cwnd_segments = i.cwnd / mss;
  i.ssthresh = c.cc.ssthresh();
  i.ssthresh_segments = i.ssthresh / mss;
  i.srtt_us = us_of(c.rto.srtt());
  i.rttvar_us = us_of(c.rto.rttvar());
  i.rto_us = us_of(c.rto.rto());
  i.min_rtt_us = us_of(c.rto.min_rtt());
  i.pacing_rate = pacing_rate(c);
  i.bytes_acked = c.bytes_acked;
  i.bytes_received = c.bytes_received;
  i.delivered = c.bytes_acked + c.sb.sacked_bytes();
  i.segs_out = c.segs_out;
  i.segs_in = c.segs_in;
  i.total_retrans = c.retransmitted_segs;
  i.lost = rack_active(c) ? rack_lost_bytes(c) : lost_of(c, i.ca_state, dupthresh);
  i.reordering = std::max(dupthresh, c.reordering);  // RACK's estimate (tcp_rack.cc), at least DupThresh
  i.snd_queue = c.sndq.bytes();
  i.rcv_queue = c.rcvq.bytes();
  i.snd_wnd = c.snd_wnd;
  const std::int32_t adv = c.rcv_adv - c.rcv_nxt;
  i.rcv_wnd = adv > 0 ? static_cast<std::uint32_t>(adv) : 0;
  i.snd_buf = c.snd_buf;
  i.rcv_buf = c.rcv_buf;
  i.rcv_space = c.rcv_space;
  i.rcv_rtt_us = static_cast<std::uint32_t>(c.rcv_rtt.count_ns() / 1000);
  return i;
}

}  // namespace tern
