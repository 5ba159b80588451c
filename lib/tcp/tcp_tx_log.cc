// The engine's side of the transmit log (tx_log.h): recording every
// transmission, walking the records each ACK delivers, and the delivery
// state of draft-cheng-iccrg-delivery-rate-estimation §3 that the records
// snapshot. RACK (RFC 8985 §6.2 step 2) and delivery-rate sampling are the
// visitors of the walk.
#include <array>

#include "tcp/tcp_stack.h"

namespace tern {

bool TcpStack::borrow_tx_log(Tcb& c) noexcept {
  if (c.txlog != nullptr) return true;
  if (txlog_free_.empty()) return false;
  c.txlog = txlog_free_.back();  // clear: logs start so, and return_tx_log clears them
  txlog_free_.pop_back();
  c.sb.attach(c.txlog->sack_room());
  return true;
}

// return_tx_log (tcp_stack.h) for a scoreboard holding SACKed ranges: they
// move back inline, the lowest kMaxRanges of them (RFC 2018 §3: what an
// overflow would keep).
void TcpStack::return_tx_log_sacked(Tcb& c) noexcept {
  const std::size_t dropped = c.sb.detach();  // none unless SACKed data is still out
  if (dropped > 0) counters_.inc(Counter::kTCPSACKOverflow, dropped);
  c.txlog->clear();
  txlog_free_.push_back(c.txlog);
  c.txlog = nullptr;
  c.rack_deadline = Instant::max();  // nothing left to time
}

// Called with SND.MAX not yet moved past what this transmission adds.
void TcpStack::tx_log_on_send(Tcb& c, Seq32 seq, std::uint32_t seq_len, Instant now) noexcept {
  const std::uint32_t now_us = clock_us(now);
  if (c.snd_una == c.snd_max) {
    // draft-cheng §3.2 (on sending, with no packets in flight): the
    // sampling interval starts now. A log is borrowed only at this point,
    // so a lent log has seen every octet in flight.
    c.first_sent_us = now_us;
    c.delivered_us = now_us;
    if (c.txlog == nullptr && c.sndq.bytes() == 0) {
      // A bare FIN (nothing queued, nothing in flight: the one sequence
      // number is the FIN's) goes without a log, as the SYN does. Nothing
      // is sent after it but itself again, so RACK (RFC 8985) has no later
      // transmission to find it lost by: its loss is the probe's or the
      // RTO's to repair (on_probe_timeout, go_back_on_rto), as with a
      // log; BBR's last sample of the flow is all it would have given.
      // Its ACK is timed from here, as the log's record would time it
      // (take_rtt_sample_unlogged), in nanoseconds where the record gave
      // whole microseconds. Some 250 instructions per FIN.
      c.rtt_timing = true;
      c.rtt_seq = seq;
      c.rtt_start = now;
      return;
    }
    if (c.txlog == nullptr && !borrow_tx_log(c)) counters_.inc(Counter::kTCPTxLogUnavailable);
  }
  if (c.txlog == nullptr) {
    // The bare FIN sent again (send_segment_inline stopped its timing:
    // Karn): the time its record would have moved to, for logged_rtt's and
    // echoes_last_acked's verdicts on its ACK.
    if (lone_fin_timed(c)) c.rtt_start = now;
    return;
  }
  TxRecord r;
  r.start = seq;
  r.end = seq + seq_len;
  r.sent_us = now_us;
  r.order = c.tx_order++;
  r.delivered = c.delivered;
  r.delivered_us = c.delivered_us;
  r.first_sent_us = c.first_sent_us;
  r.flags = c.app_limited != 0 ? kTxAppLimited : 0;
  // seq_len is at least 1 (data or the FIN: send_segment_inline) and
  // r.flags never holds kTxLost: new data takes record_new.
  if (seq_geq(seq, c.snd_max)) [[likely]] {
    c.txlog->record_new(r);
  } else {
    c.txlog->record(r, c.snd_una, c.snd_max, c.sb.ranges());
  }
}

std::uint32_t TcpStack::tx_log_on_ack(Tcb& c, std::uint32_t newly, std::span<const SackBlock> blocks,
                                      std::optional<std::uint32_t> tsecr, Instant now) noexcept {
  const std::uint32_t now_us = clock_us(now);
  if (newly > 0) {
    c.delivered += newly;  // draft-cheng §3.3: C.delivered, C.delivered_time
    c.delivered_us = now_us;
  }
  if (c.txlog == nullptr) return 0;
  std::array<SackRange, kTcpMaxSackBlocks> b{};
  std::size_t nb = 0;
  for (const SackBlock& k : blocks) {
    if (nb < b.size()) b[nb++] = SackRange{Seq32{k.left}, Seq32{k.right}};
  }
  // draft-cheng §3.3 UpdateRateSample: C.first_sent_time becomes the send
  // time of the most recently sent record delivered now.
  std::uint32_t latest_sent_us = 0;
  bool any = false;
  const bool sample = c.cc.wants_rate_samples();  // BBR: rate_on_ack (tcp_pacing.cc) takes the sample
  std::uint32_t from_pipe = 0;  // BBR's prior_inflight: delivered octets that were in flight
  const Seq32 fack = c.rack_fack;
  const Seq32* fack_before = c.rack_valid ? &fack : nullptr;
  c.txlog->on_ack(c.snd_una, c.sb.ranges(), {b.data(), nb}, [&](const TxRecord& r, std::uint32_t n) {
    if (!any || us_after(r.sent_us, latest_sent_us)) latest_sent_us = r.sent_us;
    any = true;
    if (c.sack_ok) rack_on_delivered(c, r, now_us, fack_before, tsecr, now);  // RFC 8985 §6.2 steps 2, 3
    if (sample) {
      rate_sampler_.on_delivered(TxSnapshot{r.sent_us, r.delivered, r.delivered_us, r.first_sent_us,
                                            (r.flags & kTxAppLimited) != 0, (r.flags & kTxRetransmit) != 0});
      if ((r.flags & kTxLost) == 0) from_pipe += n;  // RACK-lost octets were out of the pipe already
    }
  });
  if (any) c.first_sent_us = latest_sent_us;
  if (c.snd_una == c.snd_max) return_tx_log(c);
  return from_pipe;
}

}  // namespace tern
