#pragma once
// Small rules both halves of segment arrival use (tcp_input.cc: the first
// to fifth steps of RFC 9293 §3.10.7.4; tcp_receive.cc: the seventh and
// eighth, and header prediction).
#include <algorithm>
#include <cstdint>

#include "tcp/tcb.h"

namespace tern {

// RFC 7323 §5.3 (PAWS): TSval older than TS.Recent, in 32-bit modular order.
inline bool ts_older(std::uint32_t tsval, std::uint32_t recent) noexcept {
  return static_cast<std::int32_t>(tsval - recent) < 0;
}

// RFC 2883 §4: [left, right) of the last segment was a duplicate; the ACK
// that answers it goes at once and reports it in its first SACK block
// (tcp_output.cc). Only the first duplicate run of a segment is reported.
inline void note_dsack(Tcb& c, Seq32 left, Seq32 right) noexcept {
  if (!c.sack_ok) return;
  c.dsack_left = left;
  c.dsack_len = static_cast<std::uint16_t>(std::min<std::uint32_t>(right - left, 0xffff));
  c.ack_now = true;
}

}  // namespace tern
