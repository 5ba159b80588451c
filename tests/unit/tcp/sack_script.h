#pragma once
// The small vocabulary of the scripted SACK tests (tcp_sack_test.cc,
// tcp_rack_test.cc, tcp_undo_test.cc, tx_log_test.cc, tcp_info_test.cc): the
// stream counted in full segments, what the peer ACKs and SACKs (RFC 2018
// §3), what the stack is expected to send. A fixture derives from SackScript
// and keeps its own set-up (options, config, how it opens connections):
//
//   queue(*c, 10, at_ms(10));                         // S1..S10 sent
//   recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));  // S2..S4 SACKed
//   expect_segment(1);                                // S1 again
//
// Segments are mss_ octets: 1460 unless the fixture sets it (1448 with
// timestamps, RFC 7323 §3's 12 octets off the 1460).
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <source_location>
#include <utility>
#include <vector>

#include "tcp_harness.h"

namespace tern::tcptest {

class SackScript : public TcpHarness {
 protected:
  // The first sequence number of the i-th full segment of the stream:
  // S(1) = ISS + 1.
  Seq32 S(std::uint32_t i) const { return iss() + 1 + (i - 1) * mss_; }

  // Queues `segments` full segments at `t`; what cwnd admits goes at once.
  void send(Tcb& c, std::uint32_t segments, Instant t) {
    const Bytes data = pattern(std::size_t{segments} * mss_);
    EXPECT_EQ(stack().send_copy(c, data, t), data.size());
  }
  // The same, and returns what went at once as sent (nothing left to check).
  std::vector<Sent> queue(Tcb& c, std::uint32_t segments, Instant t) {
    send(c, segments, t);
    return take_all_sent();
  }

  // An ACK from the peer at `ack` carrying `blocks`, window 65535 unless
  // set; with `tsecr` it carries timestamps too (the peer's TSval rising
  // with each ACK, as PAWS wants: RFC 7323 §5).
  Seg ack_with(Seq32 ack, std::initializer_list<std::pair<Seq32, Seq32>> blocks = {},
               std::optional<std::uint32_t> tsecr = std::nullopt) {
    Seg s = seg().seq(irs() + 1).ack(ack);
    for (const auto& [left, right] : blocks)
      s.opts_.sack[s.opts_.sack_count++] = SackBlock{left.value(), right.value()};
    if (tsecr) s.ts(++peer_ts_, *tsecr);
    return s;
  }

  // Expects the full segment starting at S(i) next (flags are not compared:
  // PSH goes on the last one queued).
  Sent expect_segment(std::uint32_t i, std::source_location loc = std::source_location::current()) {
    return expect_sent(seg().seq(S(i)).data(mss_), loc);
  }

  std::uint32_t mss_ = 1460;     // SMSS; a fixture with timestamps sets it from Tcb::mss
  std::uint32_t peer_ts_ = 500;  // the peer's last TSval (its SYN's, where it sends one)
};

}  // namespace tern::tcptest
