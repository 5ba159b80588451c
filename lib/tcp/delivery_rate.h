#pragma once
// Delivery-rate sampling (draft-cheng-iccrg-delivery-rate-estimation-02,
// "Delivery Rate Estimation"), the input BBR's bandwidth model needs
// (cc/bbr.h). I/O-free and clock-free: times are microseconds of the worker
// clock as 32-bit values that wrap (differences are taken modulo 2^32, so
// an interval must stay below 2^31 us, some 35 minutes).
//
// The connection keeps a DeliveryClock (draft-cheng §3.1 C.delivered,
// C.delivered_time, C.first_sent_time, C.app_limited); each transmission
// takes a TxSnapshot of it (§3.2, P.*). On an ACK the engine hands every
// transmission the ACK newly delivers (cumulatively or by SACK) to a
// RateSampler, which keeps the most recently sent one (§3.3
// UpdateRateSample), and then asks it for the RateSample (§3.3
// GenerateRateSample). Tern sends in batches that share one send time and
// one snapshot (docs/architecture.md: the transmit log records batches), so
// a snapshot per batch is exact.
#include <cstdint>

#include "base/instant.h"

namespace tern {

// Per connection, draft-cheng §3.1. Bytes and microseconds.
struct DeliveryClock {
  std::uint32_t delivered = 0;      // C.delivered: bytes cumulatively ACKed or SACKed
  std::uint32_t delivered_us = 0;   // C.delivered_time: when `delivered` last grew
  std::uint32_t first_sent_us = 0;  // C.first_sent_time: send time of the newest delivered transmission
  std::uint32_t app_limited = 0;    // C.app_limited: 0, or the `delivered` value that ends the bubble
};

// Per transmission (here: per batch of segments sent at one instant), §3.2.
struct TxSnapshot {
  std::uint32_t sent_us = 0;        // P.sent_time
  std::uint32_t delivered = 0;      // P.delivered
  std::uint32_t delivered_us = 0;   // P.delivered_time
  std::uint32_t first_sent_us = 0;  // P.first_sent_time
  bool app_limited = false;         // P.is_app_limited
  bool retransmitted = false;       // a retransmission: its delivery gives no RTT sample (Karn)
};

// §3.2 upon transmitting: the snapshot for data sent at `now_us`. When
// nothing is in flight the send and ACK clocks restart at `now_us`, so the
// idle time before this flight is in neither interval.
TxSnapshot delivery_on_send(DeliveryClock& c, std::uint32_t now_us, bool nothing_in_flight) noexcept;

// §3.4: the sender has nothing more to send (the application is the limit,
// not the network) while pipe < cwnd: the rate samples of everything in
// flight until `delivered + pipe` is delivered are app-limited. The caller
// checks the condition: no unsent data (less than one MSS), no
// retransmission pending, pipe < cwnd.
inline void delivery_mark_app_limited(DeliveryClock& c, std::uint32_t pipe) noexcept {
  const std::uint32_t end = c.delivered + pipe;
  c.app_limited = end != 0 ? end : 1;
}

// One rate sample, §3.3 (draft-cheng's rs.*), plus the RTT of the ACK.
struct RateSample {
  std::uint64_t delivery_rate = 0;    // bytes per second; 0 when !valid
  std::uint32_t interval_us = 0;      // rs.interval = max(send_elapsed, ack_elapsed)
  std::uint32_t delivered = 0;        // rs.delivered: bytes delivered over the interval
  std::uint32_t prior_delivered = 0;  // rs.prior_delivered: C.delivered when the newest delivered data left
  bool has_prior = false;             // this ACK delivered something: prior_delivered is set (round counting)
  bool valid = false;                 // delivery_rate is a usable sample
  bool is_app_limited = false;        // rs.is_app_limited
  Duration rtt{};  // rs.rtt: now - send time of the newest delivered transmission (not a retransmission);
                   // zero for none
};

// Collects, for one ACK, the newest transmission it delivers.
class RateSampler {
 public:
  // §3.3 UpdateRateSample for one delivered transmission of `bytes`
  // (the caller adds them to C.delivered and sets C.delivered_time first,
  // or lets finish() do it once with the ACK's total).
  void on_delivered(const TxSnapshot& p) noexcept;
  bool any() const noexcept { return has_; }

  // §3.3 GenerateRateSample, after every newly delivered transmission was
  // handed over: C.delivered has grown by `newly_delivered` bytes at
  // `now_us`. `min_rtt_us` (0: unknown) rejects intervals shorter than the
  // minimum RTT (ACK compression would inflate them). Resets the sampler.
  RateSample finish(DeliveryClock& c, std::uint32_t newly_delivered, std::uint32_t now_us,
                    std::uint32_t min_rtt_us) noexcept;

 private:
  TxSnapshot newest_{};
  bool has_ = false;
};

}  // namespace tern
