// Pacing and the rate-based controller's per-ACK input (BBR, cc/bbr.h).
//
// Pacing without a timer per segment: each connection whose controller
// paces (Congestion::pacing_rate() > 0) has a next-send time, Tcb::pace_next.
// The send path lets a data segment leave only when now >= pace_next, and
// moves pace_next on by len / pacing_rate after each one; segments leave in
// bursts of one send quantum (BBR's §4.2.2: 1 ms of data, 2 to 44
// segments), a burst that small costs nothing at the bottleneck and keeps
// high rates affordable (pace_hold). A connection held back joins the
// worker's pacing list (intrusive, no allocation), which the worker loop
// checks on every poll (on_timer calls on_pacing; the simulator and the
// tests call it at pacing_deadline()), so a paced connection goes on as
// soon as its time comes, at the resolution of the poll loop rather than of
// the 1 ms timer wheel.
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace tern {

namespace {

// Time to send `bytes` at `rate` bytes per second.
inline Duration at_rate(std::uint64_t bytes, std::uint64_t rate) noexcept {
  return Duration::ns(static_cast<std::int64_t>(bytes * 1'000'000'000u / rate));
}

}  // namespace

// The rate: BBR's own (cc/bbr.h), else, with [tcp] pacing, the window's
// over SRTT as Linux paces a window-based controller (tcp_update_pacing_rate
// when fq or internal pacing is on): pacing_ss_ratio percent of cwnd / SRTT
// while cwnd is below half of ssthresh (slow start may double it in an RTT),
// pacing_ca_ratio percent after; max(cwnd, flight) so a flight above a
// reduced cwnd drains at its own pace. Spreading a window over the RTT
// gives a receiver that ACKs per read (Linux: once more than one MSS is
// unacknowledged when its reader drains the queue) one ACK per few
// segments instead of one per burst, so a lost ACK no longer leaves the
// flight's tail waiting for a probe (bench/loss/README.md).
std::uint64_t TcpStack::pacing_rate(const Tcb& c) const noexcept {
  if (const std::uint64_t r = c.cc.pacing_rate(); r != 0 || !o_.cfg.pacing) return r;
  const std::int64_t srtt_ns = c.rto.srtt().count_ns();
  if (srtt_ns <= 0) return 0;  // no sample yet: the first window goes at once
  const std::uint64_t srtt_us = std::max<std::int64_t>(srtt_ns / 1000, 1);
  const std::uint64_t cwnd = std::max(c.cc.cwnd(), c.flight());
  const std::uint64_t pct =
      c.cc.cwnd() < c.cc.ssthresh() / 2 ? o_.cfg.pacing_ss_ratio : o_.cfg.pacing_ca_ratio;
  return cwnd * pct * 10'000u / srtt_us;  // bytes * percent / 100 per us, per second
}

// The burst the pacer lets go at once, at least two segments (BBR's send
// quantum has the same floor, -00 §4.2.2).
std::uint32_t TcpStack::pacing_quantum(const Tcb& c) const noexcept {
  const std::uint32_t q = c.cc.pacing_rate() != 0 ? c.cc.pacing_quantum() : o_.cfg.pacing_burst * c.mss;
  return std::max<std::uint32_t>(q, 2u * c.mss);
}

// A burst starts once the connection is a burst's time behind its
// schedule (pace_next + horizon <= now) and goes on while it is not ahead
// of it (pace_next <= now): each burst is one send quantum, so a paced
// connection wakes once per quantum, not once per segment, and each burst
// is one batch (one transmit-log record: a log of 64 records then covers a
// window of 64 quanta, where a record per segment would overflow it at a
// few hundred segments in flight). The average rate is exact: pace_next
// moves by len / rate for every byte sent.
bool TcpStack::pace_hold(Tcb& c, Instant now, bool starting) noexcept {
  const std::uint64_t rate = pacing_rate(c);
  if (rate == 0) return false;
  const Instant start = c.pace_next + pace_horizon(c, rate);
  if (starting ? start <= now : c.pace_next <= now) return false;
  if (!c.in_pace_list) {
    c.in_pace_list = true;
    c.pace_link = pace_head_;
    pace_head_ = &c;
  }
  pace_earliest_ = std::min(pace_earliest_, start);
  return true;
}

// One send quantum less one segment, at the pacing rate.
Duration TcpStack::pace_horizon(const Tcb& c, std::uint64_t rate) const noexcept {
  return at_rate(pacing_quantum(c) - c.mss, rate);
}

void TcpStack::pace_sent(Tcb& c, std::uint32_t bytes, Instant now) noexcept {
  const std::uint64_t rate = pacing_rate(c);
  if (rate == 0) return;
  // An idle connection's credit is one burst: pace_next never lags now by
  // more than the horizon.
  const Instant floor = now - pace_horizon(c, rate);
  c.pace_next = std::max(c.pace_next, floor) + at_rate(bytes, rate);
}

void TcpStack::on_pacing(Instant now) noexcept {
  if (now < pace_earliest_) return;
  // Take the list: output() may put a connection back (its next segment
  // is not due yet), onto the new list.
  Tcb* t = pace_head_;
  pace_head_ = nullptr;
  pace_earliest_ = Instant::max();
  bool sent = false;
  while (t != nullptr) {
    Tcb& c = *t;
    t = c.pace_link;
    c.pace_link = nullptr;
    const std::uint64_t rate = pacing_rate(c);
    const Instant wake = rate != 0 && !c.removed ? c.pace_next + pace_horizon(c, rate) : now;
    if (wake > now) {
      c.pace_link = pace_head_;  // its next burst is not due yet: stays
      pace_head_ = &c;
      pace_earliest_ = std::min(pace_earliest_, wake);
      continue;
    }
    c.in_pace_list = false;
    if (c.removed) continue;
    output(c, now);
    sent = true;
  }
  if (sent) dispatch();
}

// BBR's per-ACK input (cc/bbr.h: BbrAck and the rate sample), after the
// ACK moved SND.UNA, the scoreboard and tx_log_on_ack counted what it
// delivered and handed the sampler the transmissions it delivered, and loss
// detection marked what it found lost (RACK, RFC 8985 §6.2 step 5, or RFC
// 6675 IsLost without a log), and before anything is sent: `delivered`
// bytes newly ACKed or SACKed, `lost` bytes newly marked lost by this ACK
// (-00 §4.2.3.4 packets_lost; Linux's rs->losses), `inflight` the pipe
// after it (what neither is delivered nor lost: RACK's pipe, RFC 6675
// SetPipe, or the bytes outstanding without SACK) and `prior_inflight` the
// pipe before it (Linux's prior_in_flight). `rtt` is the ACK's RTT sample.
void TcpStack::rate_on_ack(Tcb& c, std::uint32_t delivered, std::uint32_t lost, std::uint32_t inflight,
                           std::uint32_t prior_inflight, Duration rtt, Instant now) noexcept {
  const Bbr* bbr = c.cc.bbr();
  // draft-cheng §3.3: samples over less than the minimum RTT are unreliable.
  const std::uint32_t min_rtt_us =
      bbr != nullptr && bbr->rtprop_valid() ? static_cast<std::uint32_t>(bbr->rtprop().count_ns() / 1000) : 0;
  DeliveryClock clk{c.delivered, c.delivered_us, c.first_sent_us, c.app_limited};
  RateSample rs = rate_sampler_.finish(clk, 0, clock_us(now), min_rtt_us);  // delivery counted already
  c.first_sent_us = clk.first_sent_us;
  c.app_limited = clk.app_limited;
  // The sample's RTT is exact while the log never merged records for lack
  // of room (a merged range takes the later send time, so its RTT comes out
  // short and RTprop with it); else the ACK's own RTT sample (RFC 7323
  // timestamps, or Karn's timing) serves.
  if (rs.rtt == Duration{} || c.txlog == nullptr || c.txlog->merges() != 0) rs.rtt = rtt;
  BbrAck a;
  a.now = now;
  a.delivered = delivered;
  a.lost = lost;
  a.inflight = inflight;
  a.prior_inflight = prior_inflight;
  a.delivered_total = c.delivered;
  a.srtt = c.rto.srtt();
  c.cc.on_rate_sample(rs, a);
  // -00 §4.3.5 BBRHandleProbeRTT: samples taken in PROBE_RTT are app-limited
  // ("ignore low rate samples during ProbeRTT").
  if (bbr != nullptr && bbr->wants_app_limited()) {
    clk.delivered = c.delivered;
    delivery_mark_app_limited(clk, inflight);
    c.app_limited = clk.app_limited;
  }
}

// draft-cheng §3.4: the send path stopped with less than a segment of new
// data left, no retransmission pending (SND.NXT at SND.MAX) and pipe <
// cwnd: the application, not the network, is the limit; samples of data
// in flight until it is all delivered say so.
void TcpStack::rate_note_app_limited(Tcb& c) noexcept {
  const std::uint32_t off = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  const std::uint32_t queued = c.sndq.bytes();
  const std::uint32_t unsent = queued > off ? queued - off : 0;
  if (unsent >= c.mss || c.snd_nxt != c.snd_max || c.sack_recovery || c.flight() >= c.cc.cwnd()) return;
  DeliveryClock clk{c.delivered, c.delivered_us, c.first_sent_us, c.app_limited};
  delivery_mark_app_limited(clk, c.flight());
  c.app_limited = clk.app_limited;
}

}  // namespace tern
