#pragma once
// Per-connection figures, in the spirit of Linux's struct tcp_info: what the
// engine knows about one connection at the instant it is asked. Plain values
// with no address in them (a Connection has its own accessors for those), so
// the same struct serves the application (Connection::info()) and telemetry
// (/tern/conns, docs/api.md).
#include <cstdint>
#include <string_view>

namespace tern {

// The sender's loss-recovery state, as Linux's tcp_ca_state names it.
enum class CaState : std::uint8_t {
  kOpen,      // nothing suspicious
  kDisorder,  // duplicate ACKs or SACK blocks seen, no recovery (yet)
  kCwr,       // window cut without loss (ECN, local congestion): Tern never enters it
  kRecovery,  // fast recovery (RFC 6675 with SACK, RFC 6582 without)
  kLoss,      // a retransmission timeout, until what was outstanding is acknowledged
};
std::string_view to_string(CaState s) noexcept;  // "open", "disorder", "cwr", "recovery", "loss"

struct ConnectionInfo {
  std::string_view state;       // "ESTABLISHED", ... (RFC 9293 names); static storage
  std::string_view congestion;  // "cubic", "newreno", ...; static storage
  CaState ca_state = CaState::kOpen;

  std::uint32_t mss = 0;      // payload bytes per segment we send (timestamps already taken off)
  std::uint32_t rcv_mss = 0;  // the MSS we announced, less timestamps
  std::uint32_t pmtu = 0;     // path MTU: the link's, or what Packet Too Big / Frag Needed lowered it to
  std::uint32_t cwnd = 0;     // congestion window, bytes
  std::uint32_t cwnd_segments = 0;
  std::uint32_t ssthresh = 0;  // bytes; "arbitrarily high" (RFC 5681 §3.1) until the first reduction
  std::uint32_t ssthresh_segments = 0;

  std::uint32_t srtt_us = 0;      // RFC 6298 SRTT; 0 before the first sample
  std::uint32_t rttvar_us = 0;    // RFC 6298 RTTVAR
  std::uint32_t rto_us = 0;       // the retransmission timeout now (backoff included)
  std::uint32_t min_rtt_us = 0;   // the smallest RTT sample over the connection's life; 0 before one
  std::uint64_t pacing_rate = 0;  // bytes per second; 0 when the controller does not pace

  std::uint64_t bytes_acked = 0;     // data bytes the peer acknowledged (RFC 4898 ThruOctetsAcked)
  std::uint64_t bytes_received = 0;  // data bytes received in order (RFC 4898 ThruOctetsReceived)
  std::uint64_t delivered = 0;       // data bytes acknowledged or SACKed (Linux counts segments)
  std::uint32_t segs_out = 0;        // segments sent, retransmissions and bare ACKs included
  std::uint32_t segs_in = 0;         // segments received on this connection
  std::uint32_t total_retrans = 0;   // data segments retransmitted over the connection's life
  std::uint32_t lost = 0;            // bytes outstanding now presumed lost (Linux counts segments)
  std::uint32_t reordering = 0;      // segments of reordering the loss detection tolerates

  std::uint32_t snd_queue = 0;  // bytes queued to send, not yet acknowledged
  std::uint32_t rcv_queue = 0;  // bytes received in order, not yet read
  std::uint32_t snd_wnd = 0;    // the peer's window, bytes (scaled)
  std::uint32_t rcv_wnd = 0;    // the window we last advertised, bytes
  // Buffers, in truesize as Linux counts them, with autotuning's growth.
  std::uint32_t snd_buf = 0;     // the send queue's limit now (SO_SNDBUF)
  std::uint32_t rcv_buf = 0;     // the receive queues' limit now (SO_RCVBUF)
  std::uint32_t rcv_space = 0;   // most data bytes the application took in one round trip (tcpi_rcv_space)
  std::uint32_t rcv_rtt_us = 0;  // the receiver's own RTT estimate; 0 before one (tcpi_rcv_rtt)
};

}  // namespace tern
