#pragma once
// CUBIC (RFC 9438) with HyStart++ (RFC 9406), byte-based like NewReno.
//
// Loss recovery is NewReno's, unchanged (RFC 9438 §4.2: CUBIC "does not make
// any changes to the TCP Fast Recovery and Fast Retransmit algorithms"):
// Cubic is RenoRecovery (reno_recovery.h) over CubicGrowth, which differs
// from RenoGrowth in
//   - congestion avoidance: cwnd moves toward W_cubic(t + SRTT) (eq. 1,
//     §4.2, §4.4, §4.5), or follows the Reno estimate W_est when that is
//     larger (the Reno-friendly region, eq. 4, §4.3);
//   - the reduction: ssthresh = max(beta_cubic * FlightSize, 2*SMSS) with
//     beta_cubic = 0.7, and W_max with fast convergence (§4.6, §4.7), also
//     after a timeout (§4.8, where the next epoch starts with K = 0);
//   - the first slow start, which HyStart++ may end before a loss (§4.10).
//
// All integer: time on the curve in ticks of 2^-13 s (122 us), cube root by
// bisection of bits once per epoch, W_est kept to 1/1024 byte. The per-ACK
// cost is a few multiplications and divisions (bench/micro/cc_bench.cc).
//
// Decisions where the RFC leaves room (see the .cc for each):
//   - The window a reduction starts from is FlightSize less limited-transmit
//     bytes, as for NewReno, for ssthresh, cwnd_prior and W_max alike: §4.6
//     allows cwnd only with measures that stop cwnd growing while it is not
//     used (RFC 7661), and this engine grows cwnd whenever data is ACKed.
//   - t counts from the first ACK in congestion avoidance after the event
//     (the start of the "current congestion avoidance stage"), so time in
//     fast recovery and in the slow start after a timeout is not on the
//     curve. Idle time is not either (§5.8): see on_idle.
//   - Each ACK takes the larger of the cubic step and W_est (§4.2's "chooses
//     the larger of the two values"), not W_est whenever W_cubic(t) < W_est
//     as §4.3 words it: the same away from the boundary, and right after an
//     epoch starts the cubic step (toward t + RTT) is not held back by a
//     W_est one ACK ahead of W_cubic(t).
//   - cwnd never grows by more than half of the bytes an ACK acknowledges
//     (the 1.5 * cwnd per RTT bound of §4.2 applied per ACK, also to W_est),
//     so one ACK releases at most 1.5 times what it acknowledged.
#include <cstdint>
#include <string_view>

#include "tcp/cc/congestion.h"
#include "tcp/cc/hystart.h"
#include "tcp/cc/reno_recovery.h"

namespace tern {

struct CubicConfig {
  bool hystart = true;           // RFC 9438 §4.10: SHOULD use HyStart++ (RFC 9406)
  bool fast_convergence = true;  // RFC 9438 §4.7: SHOULD (off only for a lone flow)
};

class CubicGrowth {
 public:
  using Config = CubicConfig;
  static constexpr std::string_view kName = "cubic";
  static constexpr bool kReducesFromCwnd = true;  // RFC 9438 §4.6: cwnd * beta_cubic in SACK recovery

  // RFC 9438 §4.6 beta_cubic = 0.7 and §5.1 C = 0.4, as exact fractions;
  // §4.3 alpha_cubic = 3 * (1 - beta) / (1 + beta) = 0.9 / 1.7 = 9/17; §4.7
  // fast convergence W_max = cwnd * (1 + beta) / 2 = cwnd * 17/20.
  static constexpr std::uint64_t kBetaNum = 7, kBetaDen = 10;
  static constexpr std::uint64_t kCNum = 2, kCDen = 5;
  static constexpr std::uint64_t kAlphaNum = 9, kAlphaDen = 17;
  static constexpr std::uint64_t kFastConvNum = 17, kFastConvDen = 20;
  // The curve's clock: ticks of 2^-kTickShift s. |t - K| is clamped to
  // kMaxTicks (256 s), where C * (t - K)^3 is already 6.7 million segments,
  // far past any window (kCcMaxCwnd); so (t - K)^3 fits 64 bits.
  static constexpr int kTickShift = 13;
  static constexpr std::int64_t kMaxTicks = std::int64_t{1} << 21;

  CubicGrowth(std::uint32_t mss, std::uint32_t abc_limit_bytes, const Config& cfg = {}) noexcept;

  void on_ack(const AckSample& a, CcWindow& w) noexcept;
  std::uint32_t on_congestion(std::uint32_t flight, const CcWindow& w) noexcept;
  void on_recovery_exit() noexcept { carry_ = 0; }
  std::uint32_t on_rto(std::uint32_t flight, bool first, const CcWindow& w) noexcept;
  void on_idle(Instant now, Instant last_send, bool restarted, const CcWindow& w) noexcept;
  // RFC 9438 §4.9.2 (figures 7, 8): W_max, K, epoch_start and W_est from
  // before a reduction, restored when it proves spurious (with cwnd_prior
  // and the epoch's origin, which K and the Reno-friendly rate follow).
  void save_prior() noexcept;
  void undo_prior(bool restore) noexcept;

  // The state, for tests and telemetry. Windows in bytes.
  // Eq. 1 for the current epoch: W_cubic(t) = C * (t - K)^3 + W_max.
  std::uint64_t w_cubic(Duration t) const noexcept;
  // Eq. 2: K = cbrt((W_max - cwnd_epoch) / C); negative when the epoch
  // began above W_max (the curve is then convex from its start).
  Duration k() const noexcept { return Duration::ns((k_ * 1'000'000'000) >> kTickShift); }
  std::uint32_t w_max() const noexcept { return w_max_; }
  std::uint32_t cwnd_prior() const noexcept { return cwnd_prior_; }
  std::uint32_t cwnd_epoch() const noexcept { return cwnd_epoch_; }
  std::uint32_t w_est() const noexcept { return static_cast<std::uint32_t>(w_est_ >> kEstShift); }
  bool epoch_started() const noexcept { return epoch_valid_; }
  Instant epoch_start() const noexcept { return t_epoch_; }
  const HyStart& hystart() const noexcept { return hystart_; }

  // floor(cbrt(x)), bit by bit (Hacker's Delight, icbrt64).
  static constexpr std::uint64_t icbrt(std::uint64_t x) noexcept {
    std::uint64_t y = 0;
    for (int s = 63; s >= 0; s -= 3) {
      y *= 2;
      const std::uint64_t b = 3 * y * (y + 1) + 1;
      if ((x >> s) >= b) {
        x -= b << s;
        ++y;
      }
    }
    return y;
  }

 private:
  static constexpr int kEstShift = 10;  // W_est in 1/1024 bytes

  static std::int64_t ticks(Duration d) noexcept;
  std::uint64_t cube_bytes(std::uint64_t ticks) const noexcept;  // C * t^3, bytes
  std::int64_t k_ticks(std::uint32_t diff) const noexcept;       // cbrt(diff / C), ticks
  std::uint32_t reduce(std::uint32_t window) const noexcept;     // §4.6 ssthresh
  void start_epoch(Instant now, std::uint32_t cwnd) noexcept;
  void congestion_avoidance(const AckSample& a, CcWindow& w) noexcept;

  std::uint32_t mss_;  // SMSS, at most 65535 (TCP's MSS option is 16 bits)
  std::uint32_t abc_limit_bytes_;
  bool hystart_enabled_;
  bool fast_convergence_;
  HyStart hystart_;
  std::uint32_t w_max_ = 0;       // 0 until the first congestion event
  std::uint32_t cwnd_prior_ = 0;  // cwnd when ssthresh was last set (§4.1.2)
  // The current congestion avoidance stage ("epoch"), from its first ACK.
  bool epoch_valid_ = false;
  // The next epoch has no W_max to return to (after a timeout, §4.8, or a
  // HyStart++ exit, §4.10): K = 0 and W_max = cwnd_epoch.
  bool origin_is_epoch_ = false;
  Instant t_epoch_;
  std::uint32_t cwnd_epoch_ = 0;
  std::int64_t k_ = 0;       // K in ticks
  std::uint64_t w_est_ = 0;  // W_est << kEstShift
  std::uint64_t carry_ = 0;  // remainder of (target - cwnd) * acked / cwnd, below cwnd
  Instant last_ack_;
  // save_prior(): K is not kept, start_epoch derives it from W_max and
  // cwnd_epoch; W_est to the byte.
  struct Prior {
    Instant t_epoch;
    std::uint32_t w_max = 0;
    std::uint32_t cwnd_prior = 0;
    std::uint32_t cwnd_epoch = 0;
    std::uint32_t w_est = 0;
    bool epoch_valid = false;
    bool origin_is_epoch = false;
  } prior_;
};

using Cubic = RenoRecovery<CubicGrowth>;
extern template class RenoRecovery<CubicGrowth>;  // cubic.cc

static_assert(CongestionControl<Cubic>);
static_assert(CubicGrowth::icbrt(0) == 0 && CubicGrowth::icbrt(26) == 2 && CubicGrowth::icbrt(27) == 3);
static_assert(CubicGrowth::icbrt(999) == 9 && CubicGrowth::icbrt(1000) == 10);
static_assert(CubicGrowth::icbrt(std::uint64_t{1} << 63) == 1u << 21);  // kMaxTicks^3
static_assert(CubicGrowth::icbrt((std::uint64_t{1} << 63) - 1) == (1u << 21) - 1);
static_assert(CubicGrowth::icbrt(~std::uint64_t{0}) == 2642245);  // 2642245^3 < 2^64 <= 2642246^3

}  // namespace tern
