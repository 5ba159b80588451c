#include "tcp/delivery_rate.h"

#include <algorithm>

namespace tern {

namespace {

// a after b, modulo 2^32.
constexpr bool after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}

}  // namespace

TxSnapshot delivery_on_send(DeliveryClock& c, std::uint32_t now_us, bool nothing_in_flight) noexcept {
  // draft-cheng §3.2: "If there are no packets in flight yet, then we can
  // start the delivery rate interval at the current time".
  if (nothing_in_flight) c.first_sent_us = c.delivered_us = now_us;
  return TxSnapshot{now_us, c.delivered, c.delivered_us, c.first_sent_us, c.app_limited != 0};
}

void RateSampler::on_delivered(const TxSnapshot& p) noexcept {
  // §3.3 UpdateRateSample: "Update info using the newest packet": the one
  // sent last; among transmissions of one instant, the one that saw more
  // delivered (they share a snapshot when they share a batch).
  if (!has_ || after(p.sent_us, newest_.sent_us) ||
      (p.sent_us == newest_.sent_us && after(p.delivered, newest_.delivered))) {
    newest_ = p;
    has_ = true;
  }
}

RateSample RateSampler::finish(DeliveryClock& c, std::uint32_t newly_delivered, std::uint32_t now_us,
                               std::uint32_t min_rtt_us) noexcept {
  RateSample rs;
  if (newly_delivered > 0) {
    c.delivered += newly_delivered;
    c.delivered_us = now_us;
  }
  // §3.3: "Clear app-limited field if bubble is ACKed and gone."
  if (c.app_limited != 0 && after(c.delivered, c.app_limited)) c.app_limited = 0;
  if (!has_) return rs;  // nothing newly delivered had a snapshot
  has_ = false;
  rs.has_prior = true;
  rs.prior_delivered = newest_.delivered;
  rs.is_app_limited = newest_.app_limited;
  // §3.3 rs.rtt: the newest delivered transmission's RTT, in microseconds
  // (finer than the timestamps' millisecond clock); none for a retransmission.
  if (!newest_.retransmitted) rs.rtt = Duration::us(static_cast<std::int64_t>(now_us - newest_.sent_us));
  // The send-side interval and the ACK-side interval: the longer one is
  // the conservative choice (§3.3: the slower of the two rates, so neither
  // ACK compression nor a sending burst inflates the sample).
  const std::uint32_t send_elapsed = newest_.sent_us - newest_.first_sent_us;
  const std::uint32_t ack_elapsed = c.delivered_us - newest_.delivered_us;
  c.first_sent_us = newest_.sent_us;
  rs.interval_us = std::max(send_elapsed, ack_elapsed);
  rs.delivered = c.delivered - newest_.delivered;
  // §3.3: an interval shorter than the minimum RTT is not a reliable sample.
  if (rs.interval_us == 0 || rs.interval_us < min_rtt_us || static_cast<std::int32_t>(rs.interval_us) < 0)
    return rs;
  rs.delivery_rate = std::uint64_t{rs.delivered} * 1'000'000u / rs.interval_us;
  rs.valid = true;
  return rs;
}

}  // namespace tern
