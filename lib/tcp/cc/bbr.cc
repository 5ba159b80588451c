// BBR v1, draft-cardwell-iccrg-bbr-congestion-control-00 (see bbr.h). Each
// function names the draft's pseudocode routine it follows.
#include "tcp/cc/bbr.h"

#include <algorithm>

namespace tern {

template class RenoRecovery<BbrLossGrowth>;

std::uint64_t WindowedMaxFilter::update(std::uint32_t t, std::uint64_t v, std::uint32_t window) noexcept {
  // A new maximum, or nothing left in the window: it is the only sample.
  if (v >= v_[0] || t - t_[2] > window) {
    reset(t, v);
    return v;
  }
  if (v >= v_[1]) {
    set(1, t, v);
    set(2, t, v);
  } else if (v >= v_[2]) {
    set(2, t, v);
  }
  // The best sample aged out: the second and third move up. Otherwise keep
  // the second and third from sub-windows a quarter and a half of the
  // window later than the best, so one of them can take over in time.
  const std::uint32_t dt = t - t_[0];
  if (dt > window) {
    copy(0, 1);
    copy(1, 2);
    set(2, t, v);
    if (t - t_[0] > window) {
      copy(0, 1);
      copy(1, 2);
      set(2, t, v);
    }
  } else if (t_[1] == t_[0] && dt > window / 4) {
    set(1, t, v);
    set(2, t, v);
  } else if (t_[2] == t_[1] && dt > window / 2) {
    set(2, t, v);
  }
  return v_[0];
}

Bbr::Bbr(const NewRenoConfig& cfg) noexcept
    : core_(cfg),
      mss_(std::max<std::uint32_t>(cfg.mss, 1)),
      iw_(BbrLossCore::initial_window(mss_)),
      cwnd_(iw_),
      send_quantum_(mss_),
      rng_(cfg.seed * 2654435761u + 0x6b43a9b5u) {
  if (rng_ == 0) rng_ = 1;  // xorshift's fixed point
  // §4.3.1 BBRInit: RTprop unknown (no SRTT yet: the handshake's RTT comes
  // with the first ACKs), pacing from the initial window over 1 ms until an
  // SRTT exists (BBRInitPacingRate), STARTUP.
  enter_startup();
  init_pacing_rate(Duration{});
  set_send_quantum();
}

std::uint32_t Bbr::next_random() noexcept {
  // xorshift32 (Marsaglia 2003): deterministic from the connection's seed.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  return rng_;
}

// ---- the model (§4.1) --------------------------------------------------------

std::uint64_t Bbr::bdp() const noexcept {
  if (!rtprop_valid_) return 0;
  const auto us = static_cast<std::uint64_t>(rtprop_.count_ns() / 1000);
  return btl_bw_.get() * us / 1'000'000u;
}

// §4.2.3.2 BBRInflight(gain).
std::uint32_t Bbr::inflight(std::uint32_t gain) const noexcept {
  if (!rtprop_valid_ || btl_bw_.get() == 0) return iw_;  // "no valid RTT samples yet"
  const std::uint64_t v = bdp() * gain / kUnit + 3ull * send_quantum_;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, kCcMaxCwnd));
}

// §4.1.1.3 BBRUpdateRound: a round trip ends when data sent after the
// previous round ended is delivered (counted in delivered bytes, so it
// needs no per-packet sequence bookkeeping).
void Bbr::update_round(const RateSample& rs, const BbrAck& a) noexcept {
  round_start_ = false;
  if (!rs.has_prior || static_cast<std::int32_t>(rs.prior_delivered - next_round_delivered_) < 0) return;
  next_round_delivered_ = a.delivered_total;
  ++round_count_;
  round_start_ = true;
  packet_conservation_ = false;  // §4.2.3.4: conservation lasts one round of recovery
}

// §4.1.1.5 BBRUpdateBtlBw: app-limited samples only when they raise the max.
void Bbr::update_btl_bw(const RateSample& rs) noexcept {
  if (!rs.valid) return;
  if (rs.delivery_rate >= btl_bw_.get() || !rs.is_app_limited)
    btl_bw_.update(round_count_, rs.delivery_rate, kBtlBwFilterLen);
}

// §4.1.2.3 BBRUpdateRTprop.
void Bbr::update_rtprop(const RateSample& rs, Instant now) noexcept {
  rtprop_expired_ = rtprop_valid_ && now > rtprop_stamp_ + kRtpropFilterLen;
  if (rs.rtt > Duration{} && (!rtprop_valid_ || rs.rtt <= rtprop_ || rtprop_expired_)) {
    rtprop_ = rs.rtt;
    rtprop_stamp_ = now;
    rtprop_valid_ = true;
  }
}

// ---- the state machine (§4.3) -------------------------------------------------

void Bbr::enter_startup() noexcept {  // §4.3.2.1
  state_ = State::kStartup;
  pacing_gain_ = kHighGain;
  cwnd_gain_ = kHighGain;
}

// §4.3.2.2 BBRCheckFullPipe: three rounds in a row without 25 % growth of
// BtlBw (app-limited rounds do not count: they could not have grown it).
void Bbr::check_full_pipe(const RateSample& rs) noexcept {
  if (filled_pipe_ || !round_start_ || rs.is_app_limited) return;
  if (btl_bw_.get() * 4 >= full_bw_ * 5) {
    full_bw_ = btl_bw_.get();
    full_bw_count_ = 0;
    return;
  }
  if (++full_bw_count_ >= 3) filled_pipe_ = true;
}

void Bbr::enter_drain() noexcept {  // §4.3.3
  state_ = State::kDrain;
  pacing_gain_ = kDrainGain;
  cwnd_gain_ = kHighGain;
}

// §4.3.3 BBRCheckDrain.
void Bbr::check_drain(const BbrAck& a) noexcept {
  if (state_ == State::kStartup && filled_pipe_) enter_drain();
  if (state_ == State::kDrain && a.inflight <= inflight(kUnit)) enter_probe_bw(a.now);
}

// §4.3.4.3 BBREnterProbeBW: a random phase, never the 3/4 one (index 1):
// index 7 - [0, 6] is in [1, 7], and advancing moves it to [2, 7] or 0.
void Bbr::enter_probe_bw(Instant now) noexcept {
  state_ = State::kProbeBw;
  pacing_gain_ = kUnit;
  cwnd_gain_ = kProbeBwCwndGain;
  cycle_index_ = static_cast<std::uint8_t>(kCycleLen - 1 - next_random() % (kCycleLen - 1));
  advance_cycle_phase(now);
}

void Bbr::advance_cycle_phase(Instant now) noexcept {
  cycle_stamp_ = now;
  cycle_index_ = static_cast<std::uint8_t>((cycle_index_ + 1) % kCycleLen);
  pacing_gain_ = kCycleGain[cycle_index_];
}

// §4.3.4.4 BBRCheckCyclePhase / BBRIsNextCyclePhase: each phase lasts an
// RTprop; the 5/4 phase longer, until inflight reached 5/4 BDP (or loss
// says it cannot), the 3/4 phase shorter once inflight is down to the BDP.
void Bbr::check_cycle_phase(const RateSample&, const BbrAck& a) noexcept {
  if (state_ != State::kProbeBw) return;
  const bool full_length = a.now - cycle_stamp_ > (rtprop_valid_ ? rtprop_ : Duration{});
  bool next;
  if (pacing_gain_ == kUnit) {
    next = full_length;
  } else if (pacing_gain_ > kUnit) {
    next = full_length && (a.lost > 0 || a.prior_inflight >= inflight(pacing_gain_));
  } else {
    next = full_length || a.prior_inflight <= inflight(kUnit);
  }
  if (next) advance_cycle_phase(a.now);
}

void Bbr::enter_probe_rtt() noexcept {  // §4.3.5
  state_ = State::kProbeRtt;
  pacing_gain_ = kUnit;
  cwnd_gain_ = kUnit;
}

void Bbr::exit_probe_rtt(Instant now) noexcept {
  if (filled_pipe_) {
    enter_probe_bw(now);
  } else {
    enter_startup();
  }
}

// §4.3.5 BBRCheckProbeRTT / BBRHandleProbeRTT: after 10 s without a new
// RTprop, hold inflight at BBRMinPipeCwnd for 200 ms and at least one
// round, then take what the path showed as the new RTprop stamp.
void Bbr::check_probe_rtt(const BbrAck& a) noexcept {
  if (state_ != State::kProbeRtt && rtprop_expired_ && !idle_restart_) {
    enter_probe_rtt();
    prior_cwnd_ = save_cwnd();
    probe_rtt_done_valid_ = false;
  }
  if (state_ == State::kProbeRtt) {
    if (!probe_rtt_done_valid_ && a.inflight <= kMinPipeSegments * mss_) {
      probe_rtt_done_stamp_ = a.now + kProbeRttDuration;
      probe_rtt_done_valid_ = true;
      probe_rtt_round_done_ = false;
      next_round_delivered_ = a.delivered_total;
    } else if (probe_rtt_done_valid_) {
      if (round_start_) probe_rtt_round_done_ = true;
      if (probe_rtt_round_done_ && a.now > probe_rtt_done_stamp_) {
        rtprop_stamp_ = a.now;
        restore_cwnd();
        exit_probe_rtt(a.now);
      }
    }
  }
  idle_restart_ = false;
}

// ---- the control parameters (§4.2) --------------------------------------------

// gain * bw, less the 1 % margin (-02 §4.6.2: pacing a little below the
// estimate keeps the bottleneck queue from building up).
std::uint64_t Bbr::rate_with_gain(std::uint64_t bw, std::uint32_t gain) const noexcept {
  return bw * gain / kUnit * (100 - kPacingMarginPercent) / 100;
}

// §4.2.1 BBRInitPacingRate: nominal bandwidth = InitialCwnd / (SRTT or 1 ms).
void Bbr::init_pacing_rate(Duration srtt) noexcept {
  const std::int64_t us = srtt > Duration{} ? std::max<std::int64_t>(srtt.count_ns() / 1000, 1) : 1000;
  const std::uint64_t nominal = std::uint64_t{iw_} * 1'000'000u / static_cast<std::uint64_t>(us);
  pacing_rate_ = rate_with_gain(nominal, pacing_gain_);
  pacing_from_srtt_ = srtt > Duration{};
}

// §4.2.1 BBRSetPacingRateWithGain: before the pipe is full, only upwards.
void Bbr::set_pacing_rate(std::uint32_t gain) noexcept {
  const std::uint64_t rate = rate_with_gain(btl_bw_.get(), gain);
  if (filled_pipe_ || rate > pacing_rate_) pacing_rate_ = rate;
}

// §4.2.2 BBRSetSendQuantum: 1 ms of data, at most 64 KB, at least one
// segment below 1.2 Mb/s and two above.
void Bbr::set_send_quantum() noexcept {
  const std::uint32_t floor = pacing_rate_ < 150'000u ? mss_ : 2 * mss_;
  const std::uint64_t q = std::min<std::uint64_t>(pacing_rate_ / 1000u, 64 * 1024);
  send_quantum_ = std::max(static_cast<std::uint32_t>(q), floor);
}

// §4.2.3.4 BBRSaveCwnd / BBRRestoreCwnd.
std::uint32_t Bbr::save_cwnd() const noexcept {
  if (!in_recovery() && state_ != State::kProbeRtt) return cwnd_;
  return std::max(prior_cwnd_, cwnd_);
}

void Bbr::restore_cwnd() noexcept { cwnd_ = std::max(cwnd_, prior_cwnd_); }

// §4.2.3.5 BBRSetCwnd with §4.2.3.4 BBRModulateCwndForRecovery and §4.2.3.5
// BBRModulateCwndForProbeRTT.
void Bbr::set_cwnd(const BbrAck& a) noexcept {
  target_cwnd_ = inflight(cwnd_gain_);
  const std::uint32_t min_pipe = kMinPipeSegments * mss_;
  if (a.lost > 0) cwnd_ = std::max(cwnd_ > a.lost ? cwnd_ - a.lost : 0, mss_);
  if (packet_conservation_) {
    cwnd_ = std::max(cwnd_, a.inflight + a.delivered);
  } else {
    if (filled_pipe_) {
      cwnd_ = std::min(cwnd_ + a.delivered, target_cwnd_);
    } else if (cwnd_ < target_cwnd_ || delivered_total_ < iw_) {
      cwnd_ += a.delivered;
    }
    cwnd_ = std::max(cwnd_, min_pipe);
  }
  if (state_ == State::kProbeRtt) cwnd_ = std::min(cwnd_, min_pipe);
  cwnd_ = std::min(cwnd_, kCcMaxCwnd);
}

// §4.2 BBRUpdateOnACK: the model and state, then the control parameters.
void Bbr::on_sample(const RateSample& rs, const BbrAck& a) noexcept {
  delivered_total_ = a.delivered_total;
  update_round(rs, a);
  update_btl_bw(rs);
  check_cycle_phase(rs, a);
  check_full_pipe(rs);
  check_drain(a);
  update_rtprop(rs, a.now);
  check_probe_rtt(a);
  // §4.2.1: the initial rate once there is an SRTT (the handshake's RTT
  // reaches the controller with the first ACK; Linux re-initialises on the
  // first RTT seen as well), then gain x BtlBw (only upwards before the
  // pipe is full).
  if (!pacing_from_srtt_ && a.srtt > Duration{}) init_pacing_rate(a.srtt);
  if (btl_bw_.get() > 0) set_pacing_rate(pacing_gain_);
  set_send_quantum();
  set_cwnd(a);
}

// ---- events from the engine ---------------------------------------------------

CcAction Bbr::on_ack(const AckSample& a) noexcept {
  const bool was = core_.in_recovery();
  const CcAction r = core_.on_ack(a);
  if (was && !core_.in_recovery()) restore_cwnd();  // RFC 6582 recovery over (no SACK)
  if (rto_recovery_ && seq_geq(a.ack, rto_recover_)) {
    // Everything outstanding at the timeout is delivered: the loss episode
    // is over (Linux leaves TCP_CA_Loss here and BBR restores cwnd).
    rto_recovery_ = false;
    restore_cwnd();
  }
  return r;
}

CcAction Bbr::on_dup_ack(const AckSample& a) noexcept {
  const bool was = core_.in_recovery();
  const std::uint32_t saved = save_cwnd();
  const CcAction r = core_.on_dup_ack(a);
  if (!was && core_.in_recovery()) {
    prior_cwnd_ = saved;
    undo_valid_ = true;
  }
  return r;
}

bool Bbr::undo() noexcept {
  const bool core = core_.undo();  // without SACK: ends the core's recovery
  if (!undo_valid_ && !core) return false;
  undo_valid_ = false;
  sack_recovery_ = false;
  rto_recovery_ = false;
  packet_conservation_ = false;
  restore_cwnd();
  full_bw_ = 0;
  full_bw_count_ = 0;
  return true;
}

void Bbr::on_rto(Seq32 snd_una, Seq32 snd_max) noexcept {
  // §4.2.3.4: "upon a retransmission timeout ... BBRSaveCwnd(); cwnd = 1".
  prior_cwnd_ = save_cwnd();
  cwnd_ = mss_;
  rto_recovery_ = true;
  undo_valid_ = true;
  rto_recover_ = snd_max;
  sack_recovery_ = false;  // the engine leaves SACK recovery on a timeout
  packet_conservation_ = false;
  core_.on_rto(snd_una, snd_max);
  // Linux's BBR (CA_EVENT_LOSS) starts the full-pipe count afresh.
  full_bw_ = 0;
  full_bw_count_ = 0;
}

bool Bbr::on_idle_restart(Instant, Instant, Duration) noexcept {
  // §4.3.4.4 BBRHandleRestartFromIdle: nothing in flight and the
  // application was the limit: pace at BtlBw (not below it) in PROBE_BW,
  // and do not take this restart for an RTprop expiry.
  idle_restart_ = true;
  if (state_ == State::kProbeBw && btl_bw_.get() > 0) set_pacing_rate(kUnit);
  return false;
}

void Bbr::enter_sack_recovery(std::uint32_t pipe, std::uint32_t delivered) noexcept {
  // §4.2.3.4: on entering fast recovery cwnd = packets in flight plus what
  // this ACK delivered (at least one segment, for the fast retransmit);
  // packet conservation for one round from now.
  prior_cwnd_ = save_cwnd();
  cwnd_ = pipe + std::max(delivered, mss_);
  packet_conservation_ = true;
  next_round_delivered_ = delivered_total_;
  sack_recovery_ = true;
  undo_valid_ = true;
}

void Bbr::exit_sack_recovery() noexcept {
  sack_recovery_ = false;
  packet_conservation_ = false;
  restore_cwnd();
}

void Bbr::adopt(std::uint32_t cwnd, std::uint32_t, bool in_sack_recovery) noexcept {
  cwnd_ = std::max(cwnd, mss_);
  prior_cwnd_ = cwnd_;
  sack_recovery_ = in_sack_recovery;
  undo_valid_ = false;
}

}  // namespace tern
