#pragma once
// What TcpStack's input works on: a received segment's header fields, parsed
// once by TcpStack::receive() (tcp_input.cc), with its frame.
#include <cstdint>

#include "base/mbuf.h"
#include "tcp/seq.h"
#include "tcp/time_wait.h"  // FourTuple
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern {

// A parsed incoming segment. The payload stays in `frame` (from
// payload_off, `len` bytes) until it is delivered, so trimming only moves
// the two numbers.
struct Segment {
  FourTuple tuple;               // local = the destination
  std::uint64_t tuple_hash = 0;  // TcpStack::tuple_hash(tuple), set by input()
  Seq32 seq;
  Seq32 ack;
  TcpFlags flags;
  std::uint16_t wnd_raw = 0;
  std::uint32_t len = 0;  // payload bytes
  std::uint32_t payload_off = 0;
  // Wire segments this one stands for: more than one when GRO merged them
  // (RTE_MBUF_F_RX_LRO); InSegs and tcpi_segs_in count these.
  std::uint16_t wire_segs = 1;
  bool ts_recent_due = false;  // check_sequence: TSval becomes TS.Recent if check_ack accepts the ACK
  TcpOptions opts;
  Mbuf frame;

  Segment() noexcept = default;
  // receive()'s: the header's fields set once each. Default-constructed
  // and then assigned, the segment was first zeroed whole (136 bytes, a
  // `rep stos` on every segment received).
  Segment(const FourTuple& t, Seq32 seq_, Seq32 ack_, TcpFlags flags_, std::uint16_t wnd, std::uint32_t len_,
          std::uint32_t off, std::uint16_t segs) noexcept
      : tuple(t),
        seq(seq_),
        ack(ack_),
        flags(flags_),
        wnd_raw(wnd),
        len(len_),
        payload_off(off),
        wire_segs(segs) {}
  // RFC 9293 §3.3.2 SEG.LEN: payload plus SYN and FIN.
  std::uint32_t seg_len() const noexcept { return len + (flags.syn() ? 1u : 0u) + (flags.fin() ? 1u : 0u); }
};

}  // namespace tern
