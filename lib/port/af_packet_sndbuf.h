#pragma once
// net_af_packet's transmit ring and its socket's send buffer (docs/ports.md,
// "net_af_packet: a send buffer for the whole TX ring").
//
// DPDK 22.11's PMD writes a burst into the socket's mmap TX ring, then kicks
// the kernel once (sendto, MSG_DONTWAIT). The kernel sends the ring's
// frames until the socket's send buffer is full: each frame sent stays
// charged to it until the receiver frees it, which over a veth means until
// the receiving socket's reader has read it. The frames left wait, marked
// for sending, for the next kick, and the PMD counts them as sent. The next
// kick comes with the next burst only; a TCP sender whose whole window sits
// in the ring sends no next burst, so it waited for its retransmission
// timeout with the data unsent (bench/loss/README.md, session 25). With a
// send buffer that covers the ring, a kick sends every frame it finds; the
// ring, not the buffer, bounds what is in flight.
#include <cstdint>
#include <string>

namespace tern {

// The bytes of a net_af_packet device string's TX ring: framecnt x framesz,
// the PMD's defaults (512, 2048) where the string gives none.
std::uint64_t af_packet_ring_bytes(const std::string& device);

struct AfPacketSendBuffers {
  int sockets = 0;  // this process's packet sockets bound to the interface (the PMD's, one per queue pair)
  int raised = 0;   // of them, those whose buffer now covers the ring
  int bytes = 0;    // the smallest send buffer among them afterwards (SO_SNDBUF), 0 with none
  int error = 0;    // errno of the first SO_SNDBUFFORCE refused (EPERM without CAP_NET_ADMIN), else 0
};

// Gives each of this process's AF_PACKET sockets bound to interface
// `if_index` a send buffer of at least `ring_bytes` (SO_SNDBUFFORCE; the
// kernel doubles the value for its overhead, as for SO_SNDBUF). Found by
// scanning /proc/self/fd: the PMD keeps its sockets to itself. Start-up
// only; a socket already that large is left alone.
AfPacketSendBuffers raise_af_packet_send_buffers(int if_index, std::uint64_t ring_bytes);

}  // namespace tern
