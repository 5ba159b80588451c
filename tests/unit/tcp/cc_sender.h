#pragma once
// A sender model for the CUBIC tests (cubic_test.cc, cubic_recovery_test.cc):
// SND.UNA and SND.MAX as the engine would track them, on virtual time, and
// the ACK patterns they share.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "tcp/cc/cubic.h"

namespace tern::cc_test {

inline constexpr std::uint32_t kMss = 1460;
inline constexpr Seq32 kIss{0xfffff000u};  // close to the wrap, on purpose
// One tick of CUBIC's clock (2^-13 s): t and K are each within one.
inline constexpr double kTick = 1.0 / 8192;

template <class Cc>
struct Sender {
  Cc cc;
  Seq32 una = kIss + 1;
  Seq32 max = kIss + 1;
  Instant now = at_ms(0);
  Duration srtt{};

  void send(std::uint32_t bytes) { max += bytes; }
  CcAction ack(std::uint32_t bytes) {
    una += bytes;
    return cc.on_ack(
        AckSample{.ack = una, .acked = bytes, .snd_max = max, .now = now, .rtt = srtt, .srtt = srtt});
  }
  CcAction dup() { return cc.on_dup_ack(AckSample{.ack = una, .acked = 0, .snd_max = max, .now = now}); }
  void enter_recovery(std::uint32_t flight) {
    send(flight);
    dup();
    dup();
    ASSERT_EQ(dup(), CcAction::kRetransmit);
  }
  // A loss with `flight` outstanding, then a full ACK that leaves `left`
  // outstanding: cwnd = min(ssthresh, left + SMSS) (RFC 6582 option 1).
  void loss_and_recover(std::uint32_t flight, std::uint32_t left) {
    enter_recovery(flight);
    send(left);
    ack(flight);
    ASSERT_FALSE(cc.in_recovery());
  }
  // One round trip of `rtt`: the whole cwnd sent and acknowledged in
  // `ack_size` pieces, spread evenly over the round trip.
  void round(Duration rtt, std::uint32_t ack_size = kMss) {
    const std::uint32_t w = cc.cwnd();
    const std::uint32_t n = (w + ack_size - 1) / ack_size;
    send(w);
    for (std::uint32_t done = 0; done < w; done += ack_size) {
      now = now + rtt / n;
      ack(std::min(ack_size, w - done));
    }
  }
};

using Flow = Sender<Cubic>;

// HyStart++ off, so slow start is plain RFC 5681 / RFC 3465
// (hystart_test.cc covers HyStart++).
inline Cubic make_cubic(CubicConfig g = {.hystart = false}) { return Cubic{NewRenoConfig{.mss = kMss}, g}; }

// Congestion avoidance after a loss at 100 MSS: W_max = 100 MSS,
// ssthresh = cwnd = 70 MSS; the epoch starts with the next ACK.
inline Flow after_loss_at_100() {
  Flow f{make_cubic()};
  f.loss_and_recover(100 * kMss, 80 * kMss);
  return f;
}

}  // namespace tern::cc_test
