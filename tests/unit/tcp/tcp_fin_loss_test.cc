// A lost FIN of ours, repaired (lib/tcp/tcp_timers.cc, tcp_tx_log.cc): a
// bare FIN sent with nothing else in flight takes no transmit-log record
// (tx_log_on_send), so RACK (RFC 8985 §6) never sees it; the probe (§7)
// and the RTO (RFC 6298 §5) must still resend it when and as they did
// while it had one, and duplicate ACKs must not (RACK's did not). Each
// script records, after every step, the segments sent (time, sequence
// offset from ISS, length, flags) and the sender's timers, counters and
// RTT state; the expected traces are what the stack gave while every FIN
// took a record (session 33, main at 1751871), so a change in what is
// sent, when, or how the RTO and SRTT move fails them.
//
// Connections are opened actively with MSS 1460, SACK and, where asked,
// timestamps; the SYN-ACK comes `rtt` after the SYN.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sack_script.h"

namespace tern::tcptest {
namespace {

struct Case {
  CongestionAlgorithm cc;
  bool ts;
};

class FinLoss : public SackScript {
 protected:
  Tcb* open(const Case& k, Duration rtt) {
    cfg().congestion = k.cc;
    Tcb* c = active_syn(at_ms(0));
    if (c == nullptr) return nullptr;
    Seg synack = seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460).sack_perm();
    if (k.ts) synack.ts(peer_ts_, our_tsval(*c));
    recv(synack, at_ms(0) + rtt);
    take_all_sent();
    mss_ = c->mss;
    stack().set_nodelay(*c, true, now());
    return c;
  }
  // The peer's ACK at `ack`, echoing our latest TSval where timestamps are on.
  Seg ack_of(const Tcb& c, Seq32 ack) { return c.ts_ok ? ack_with(ack, {}, our_tsval(c)) : ack_with(ack); }
  void note(const Tcb* c, const char* step) {
    std::ostringstream o;
    o << step;
    for (const Sent& x : take_all_sent()) {
      o << " | " << x.at.ns_since_epoch() / 1000 << "us " << (x.seq - iss()) << "+" << x.len() << " "
        << flags_str(x.flags);
    }
    const std::optional<TcpState> st = state();
    o << " | " << (st ? to_string(*st) : "gone");
    if (c != nullptr) {
      const auto at = [](Instant t) {
        return t == Instant::max() ? std::int64_t{-1} : std::int64_t(t.ns_since_epoch() / 1000);
      };
      o << " rtx=" << at(c->rtx_deadline) << " tlp=" << at(c->tlp_deadline)
        << " srtt=" << c->rto.srtt().count_ns() / 1000 << " rto=" << c->rto.rto().count_ns() / 1000
        << " lost=" << c->lost_segs << " hold=" << c->recovery_hold << " tlpout=" << c->tlp_outstanding
        << " dupacks=" << c->sack_dupacks << " recovery=" << c->sack_recovery;
    }
    o << " timeouts=" << count(Counter::kTCPTimeouts) << " probes=" << count(Counter::kTCPLossProbes)
      << " retrans=" << count(Counter::kRetransSegs) << " fastrtx=" << count(Counter::kTCPFastRetrans)
      << " lostrtx=" << count(Counter::kTCPLostRetransmit);
    trace_.push_back(o.str());
  }
  // Runs the timers until the next segment leaves, at most until `limit`.
  void wait_for_send(const Tcb* c, Instant limit, const char* step) {
    run_until_sent(limit);
    note(c, step);
  }
  std::vector<std::string> trace_;
};

// The traces every script gave while every FIN took a transmit-log record
// (main at 1751871), by test and case. The bare FIN's now do not; these
// are unchanged.
const std::map<std::string, std::vector<std::string>, std::less<>>& golden() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> g{
      {"LoneFinLostTwiceIsResentByTheRto/CubicTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto 1 | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "rto 2 | "
           "700000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1500000 tlp=-1 srtt=20000 rto=800000 lost=2 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=200000 lost=2 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinLostTwiceIsResentByTheRto/CubicNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto 1 | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "rto 2 | "
           "700000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1500000 tlp=-1 srtt=20000 rto=800000 lost=2 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=800000 lost=2 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinLostTwiceIsResentByTheRto/BbrTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto 1 | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "rto 2 | "
           "700000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1500000 tlp=-1 srtt=20000 rto=800000 lost=2 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=200000 lost=2 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinLostTwiceIsResentByTheRto/BbrNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto 1 | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "rto 2 | "
           "700000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1500000 tlp=-1 srtt=20000 rto=800000 lost=2 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=800000 lost=2 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=2 probes=0 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinIsProbedThenResentByTheRto/CubicTimestamps",
       {
           "close | "
           "400000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1300000 tlp=1200000 srtt=300000 rto=900000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "probe | "
           "1200000us 1+0 F. | "
           "FIN_WAIT_1 rtx=2100000 tlp=-1 srtt=300000 rto=900000 lost=0 hold=0 tlpout=1 dupacks=0 recovery=0 "
           "timeouts=0 probes=1 retrans=1 fastrtx=0 lostrtx=0",
           "rto | "
           "2100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=3900000 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=1 tlpout=1 dupacks=0 "
           "recovery=0 timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=300000 rto=750000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinIsProbedThenResentByTheRto/CubicNoTimestamps",
       {
           "close | "
           "400000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1300000 tlp=1200000 srtt=300000 rto=900000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "probe | "
           "1200000us 1+0 F. | "
           "FIN_WAIT_1 rtx=2100000 tlp=-1 srtt=300000 rto=900000 lost=0 hold=0 tlpout=1 dupacks=0 recovery=0 "
           "timeouts=0 probes=1 retrans=1 fastrtx=0 lostrtx=0",
           "rto | "
           "2100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=3900000 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=1 tlpout=1 dupacks=0 "
           "recovery=0 timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinIsProbedThenResentByTheRto/BbrTimestamps",
       {
           "close | "
           "400000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1300000 tlp=1200000 srtt=300000 rto=900000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "probe | "
           "1200000us 1+0 F. | "
           "FIN_WAIT_1 rtx=2100000 tlp=-1 srtt=300000 rto=900000 lost=0 hold=0 tlpout=1 dupacks=0 recovery=0 "
           "timeouts=0 probes=1 retrans=1 fastrtx=0 lostrtx=0",
           "rto | "
           "2100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=3900000 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=1 tlpout=1 dupacks=0 "
           "recovery=0 timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=300000 rto=750000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"LoneFinIsProbedThenResentByTheRto/BbrNoTimestamps",
       {
           "close | "
           "400000us 1+0 F. | "
           "FIN_WAIT_1 rtx=1300000 tlp=1200000 srtt=300000 rto=900000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "probe | "
           "1200000us 1+0 F. | "
           "FIN_WAIT_1 rtx=2100000 tlp=-1 srtt=300000 rto=900000 lost=0 hold=0 tlpout=1 dupacks=0 recovery=0 "
           "timeouts=0 probes=1 retrans=1 fastrtx=0 lostrtx=0",
           "rto | "
           "2100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=3900000 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=1 tlpout=1 dupacks=0 "
           "recovery=0 timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=300000 rto=1800000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=1 retrans=2 fastrtx=0 lostrtx=0",
       }},
      {"AckOfALoneFinTimesItsRoundTrip/CubicTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=21625 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
       }},
      {"AckOfALoneFinTimesItsRoundTrip/CubicNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=21625 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
       }},
      {"AckOfALoneFinTimesItsRoundTrip/BbrTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=21625 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
       }},
      {"AckOfALoneFinTimesItsRoundTrip/BbrNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=21625 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
       }},
      {"FinAfterDataInFlightKeepsItsRecord/CubicTimestamps",
       {
           "close | "
           "100000us 1+1448 . | "
           "100000us 1449+1448 P. | "
           "101000us 2897+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=141000 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "data acked | "
           "FIN_WAIT_1 rtx=320000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "resent | "
           "320000us 2897+0 F. | "
           "FIN_WAIT_1 rtx=720000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=27500 rto=200000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"FinAfterDataInFlightKeepsItsRecord/CubicNoTimestamps",
       {
           "close | "
           "100000us 1+1460 . | "
           "100000us 1461+1460 P. | "
           "101000us 2921+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=141000 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "data acked | "
           "FIN_WAIT_1 rtx=320000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "resent | "
           "320000us 2921+0 F. | "
           "FIN_WAIT_1 rtx=720000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=400000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"FinAfterDataInFlightKeepsItsRecord/BbrTimestamps",
       {
           "close | "
           "100000us 1+1448 . | "
           "100000us 1449+1448 P. | "
           "101000us 2897+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=141000 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "data acked | "
           "FIN_WAIT_1 rtx=320000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "resent | "
           "320000us 2897+0 F. | "
           "FIN_WAIT_1 rtx=720000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=27500 rto=200000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"FinAfterDataInFlightKeepsItsRecord/BbrNoTimestamps",
       {
           "close | "
           "100000us 1+1460 . | "
           "100000us 1461+1460 P. | "
           "101000us 2921+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=141000 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 "
           "recovery=0 timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "data acked | "
           "FIN_WAIT_1 rtx=320000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "resent | "
           "320000us 2921+0 F. | "
           "FIN_WAIT_1 rtx=720000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=400000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"DuplicateAcksDoNotResendALoneFin/CubicTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 1 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=1 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 2 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=2 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "dup 3 | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=200000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"DuplicateAcksDoNotResendALoneFin/CubicNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 1 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=1 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 2 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=2 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "dup 3 | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=400000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"DuplicateAcksDoNotResendALoneFin/BbrTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 1 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=1 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 2 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=2 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "dup 3 | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=200000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
      {"DuplicateAcksDoNotResendALoneFin/BbrNoTimestamps",
       {
           "close | "
           "100000us 1+0 F. | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 1 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=1 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "dup 2 | "
           "FIN_WAIT_1 rtx=300000 tlp=-1 srtt=20000 rto=200000 lost=0 hold=0 tlpout=0 dupacks=2 recovery=0 "
           "timeouts=0 probes=0 retrans=0 fastrtx=0 lostrtx=0",
           "rto | "
           "300000us 1+0 F. | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "dup 3 | "
           "FIN_WAIT_1 rtx=700000 tlp=-1 srtt=20000 rto=400000 lost=1 hold=1 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
           "fin acked | "
           "FIN_WAIT_2 rtx=-1 tlp=-1 srtt=20000 rto=400000 lost=1 hold=0 tlpout=0 dupacks=0 recovery=0 "
           "timeouts=1 probes=0 retrans=1 fastrtx=0 lostrtx=0",
       }},
  };
  return g;
}

// This test's trace against its golden one.
void expect_golden(const std::vector<std::string>& got) {
  const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const auto it = golden().find(name);
  ASSERT_NE(it, golden().end()) << name;
  const std::vector<std::string>& want = it->second;
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "step " << i;
}

class FinLossCases : public FinLoss, public ::testing::WithParamInterface<Case> {};

// A FIN alone on a 20 ms path: its probe would come after the RTO (PTO = 2
// * SRTT + the worst delayed ACK, RFC 8985 §7.2), so the RTO resends it at
// 300 ms and again, backed off, at 700 ms; the ACK of the second takes the
// connection to FIN-WAIT-2 and stops the timer.
TEST_P(FinLossCases, LoneFinLostTwiceIsResentByTheRto) {
  Tcb* c = open(GetParam(), Duration::ms(20));
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(100));
  EXPECT_EQ(c->txlog, nullptr);  // no record for a bare FIN
  note(c, "close");
  wait_for_send(c, at_ms(2000), "rto 1");
  wait_for_send(c, at_ms(2000), "rto 2");
  recv(ack_of(*c, iss() + 2), at_ms(720));
  note(c, "fin acked");
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 0u);
  expect_golden(trace_);
}

// A FIN alone on a 300 ms path (RTO 900 ms): the probe comes first, at 2 *
// 300 + 200 ms, and resends the FIN (§7.3: the last segment again); the
// probe is lost too, and the RTO, restarted from it, resends the FIN once
// more; its ACK ends both.
TEST_P(FinLossCases, LoneFinIsProbedThenResentByTheRto) {
  Tcb* c = open(GetParam(), Duration::ms(300));
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(400));
  EXPECT_EQ(c->txlog, nullptr);
  note(c, "close");
  wait_for_send(c, at_ms(5000), "probe");
  wait_for_send(c, at_ms(5000), "rto");
  recv(ack_of(*c, iss() + 2), at_ms(2400));
  note(c, "fin acked");
  expect_golden(trace_);
}

// The FIN arrives, its ACK does not come back at once: the ACK's RTT
// sample is the FIN's own round trip to the microsecond (RFC 6298 §2.3:
// SRTT = 7/8 * 20 ms + 1/8 * 33 ms), as the log's record gave it, and the
// ACK takes the short path (fast_ack).
TEST_P(FinLossCases, AckOfALoneFinTimesItsRoundTrip) {
  Tcb* c = open(GetParam(), Duration::ms(20));
  ASSERT_NE(c, nullptr);
  const std::uint64_t fast_before = count(Counter::kTCPFastAcks);
  stack().close(*c, at_ms(100));
  note(c, "close");
  recv(ack_of(*c, iss() + 2), at_ms(133));
  note(c, "fin acked");
  EXPECT_EQ(c->rto.srtt(), Duration::us(21'625));
  EXPECT_EQ(count(Counter::kTCPFastAcks) - fast_before,
            GetParam().cc == CongestionAlgorithm::kBbr ? 0u : 1u);  // BBR: always the full path
  expect_golden(trace_);
}

// A bare FIN sent while data is in flight joins the lent log, as before:
// two segments leave at 100 ms, the FIN at 101 ms; the peer ACKs the data
// at 120 ms, the FIN is lost. The log still holds the FIN's record (RACK
// sees it); with one sequence number out the probe would come after the
// RTO, which resends the FIN at 320 ms. Its ACK returns the log.
TEST_P(FinLossCases, FinAfterDataInFlightKeepsItsRecord) {
  Tcb* c = open(GetParam(), Duration::ms(20));
  ASSERT_NE(c, nullptr);
  send(*c, 2, at_ms(100));
  stack().close(*c, at_ms(101));
  note(c, "close");
  recv(ack_of(*c, S(3)), at_ms(120));
  ASSERT_NE(c->txlog, nullptr);
  EXPECT_EQ(c->txlog->size(), 1u);  // the FIN's
  note(c, "data acked");
  wait_for_send(c, at_ms(5000), "resent");
  recv(ack_of(*c, S(3) + 1), at_ms(400));
  EXPECT_EQ(c->txlog, nullptr);
  note(c, "fin acked");
  expect_golden(trace_);
}

// Duplicate ACKs while the FIN is out alone (DupThresh 1, so that one
// would do): RACK never found the FIN lost by them, and they do not
// resend it now either, before the RTO (110, 120 ms) or after it, while
// its go-back-N is under way (310 ms); the RTO alone resends it.
TEST_P(FinLossCases, DuplicateAcksDoNotResendALoneFin) {
  cfg().dupthresh = 1;
  Tcb* c = open(GetParam(), Duration::ms(20));
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(100));
  note(c, "close");
  recv(ack_of(*c, iss() + 1), at_ms(110));
  note(c, "dup 1");
  recv(ack_of(*c, iss() + 1), at_ms(120));
  note(c, "dup 2");
  wait_for_send(c, at_ms(2000), "rto");
  recv(ack_of(*c, iss() + 1), at_ms(310));
  note(c, "dup 3");
  recv(ack_of(*c, iss() + 2), at_ms(320));
  note(c, "fin acked");
  expect_golden(trace_);
}

INSTANTIATE_TEST_SUITE_P(Cases, FinLossCases,
                         ::testing::Values(Case{CongestionAlgorithm::kCubic, true},
                                           Case{CongestionAlgorithm::kCubic, false},
                                           Case{CongestionAlgorithm::kBbr, true},
                                           Case{CongestionAlgorithm::kBbr, false}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.cc == CongestionAlgorithm::kBbr ? "Bbr" : "Cubic") +
                                  (i.param.ts ? "Timestamps" : "NoTimestamps");
                         });

}  // namespace
}  // namespace tern::tcptest
