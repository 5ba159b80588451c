#pragma once
// The Internet checksum (RFC 1071) over part of an mbuf chain, for the
// transports and the IP layer: one loop where TCP's and UDP's input checks,
// their software sums on output and IPv4's finishing of an offloaded sum
// before fragmenting each had their own.
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>

#include "wire/checksum.h"

namespace tern {

// The finished checksum of `len` bytes from byte `off` of the chain, added
// to `pseudo` (a pseudo-header sum, or 0). Over a message that includes its
// own checksum field the result is 0 when the message is intact. A chain
// shorter than off + len sums what it holds; check the length first.
inline std::uint16_t chain_checksum(const rte_mbuf* m, std::uint32_t pseudo, std::uint32_t off,
                                    std::uint32_t len) noexcept {
  // All in the first mbuf (a header alone, an ACK, most received
  // segments): one sum, what the loop below gives for one chunk.
  if (off + len <= m->data_len) {
    return checksum_finish(checksum_partial_at({rte_pktmbuf_mtod_offset(m, const std::byte*, off), len},
                                               checksum_fold(pseudo), false));
  }
  ChecksumAccumulator acc{pseudo};
  for (; m != nullptr && len > 0; m = m->next) {
    if (off >= m->data_len) {
      off -= m->data_len;
      continue;
    }
    const std::uint32_t n = std::min<std::uint32_t>(m->data_len - off, len);
    acc.add({rte_pktmbuf_mtod_offset(m, const std::byte*, off), n});
    len -= n;
    off = 0;
  }
  return acc.finish();
}

// A received L4 message's checksum holds: the NIC found it good, or the sum
// over the pseudo-header and the `len` bytes from `off` is 0. A NIC's "bad"
// verdict is checked again in software (a PMD may flag what it cannot parse).
inline bool l4_checksum_ok(const rte_mbuf* m, std::uint32_t pseudo, std::uint32_t off,
                           std::uint32_t len) noexcept {
  if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) return true;
  return m->pkt_len >= off + len && chain_checksum(m, pseudo, off, len) == 0;
}

}  // namespace tern
