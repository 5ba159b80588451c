#pragma once
// The Internet checksum (RFC 1071): the 16-bit one's-complement of the
// one's-complement sum of the data taken as big-endian 16-bit words, used by
// IPv4, ICMP, UDP and TCP.
//
// Conventions, shared by every function here:
//  - A "sum" is a 32-bit one's-complement partial sum of big-endian words
//    (the value you would get by adding load_be16() of each word). Sums from
//    checksum_partial() are folded to <= 0xFFFF, so up to 65536 of them (and
//    pseudo_header_sum()) can be added with plain `+` before checksum_finish().
//  - A finished checksum is a host integer to be stored with store_be16() and
//    compared with what load_be16() reads from the wire.
//
// Data split over several buffers (a multi-segment mbuf) is summed chunk by
// chunk. RFC 1071 §2(B): a chunk that begins at an odd byte offset of the
// whole message contributes its sum byte-swapped. checksum_partial_at() takes
// that offset parity; ChecksumAccumulator tracks it for you:
//
//   ChecksumAccumulator acc{pseudo_header_sum(src, dst, kIpProtoTcp, len)};
//   for (rte_mbuf* s = m; s != nullptr; s = s->next) acc.add(bytes_of(s));
//   store_be16(tcp + 16, acc.finish());
#include <cstddef>
#include <cstdint>
#include <span>

namespace tern {

// Adds `data` (as if it starts at an even offset of the message) to `sum`.
// Odd lengths are padded with a zero byte (RFC 1071 §1). Result <= 0xFFFF.
std::uint32_t checksum_partial(std::span<const std::byte> data, std::uint32_t sum = 0) noexcept;

// Same, for a chunk that begins at byte offset `odd_offset ? odd : even` of
// the message being checksummed. Result <= 0xFFFF.
std::uint32_t checksum_partial_at(std::span<const std::byte> data, std::uint32_t sum,
                                  bool odd_offset) noexcept;

// Folds a sum to 16 bits with end-around carry, without complementing. This
// is what NIC checksum offload expects in the L4 checksum field: the folded
// pseudo-header sum.
constexpr std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Folds and complements: the value for the checksum field. Verifying a
// message whose checksum field is included in the sum gives 0 when it is good.
constexpr std::uint16_t checksum_finish(std::uint32_t sum) noexcept {
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

// checksum_finish(checksum_partial(data)).
std::uint16_t internet_checksum(std::span<const std::byte> data) noexcept;

// Sum of the TCP/UDP pseudo header (RFC 9293 §3.1, RFC 768): source and
// destination address (host order), zero, protocol, and the L4 length
// (header + data). Result <= 0x5FFFA.
constexpr std::uint32_t pseudo_header_sum(std::uint32_t src, std::uint32_t dst, std::uint8_t proto,
                                          std::uint16_t l4_len) noexcept {
  return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + l4_len;
}

// Incremental update when one 16-bit word of the message changes from
// old_word to new_word: RFC 1624 eqn 3, HC' = ~(~HC + ~m + m'). Eqn 3 is used
// rather than RFC 1141's HC - ~m - m' because that one can give 0xFFFF where a
// recomputation gives 0x0000 (RFC 1624 §3). Eqn 3 equals a full recomputation
// for every message that is not all zeros; for an all-zero message it gives
// 0x0000 where recomputation gives 0xFFFF (see write_icmp_echo_reply()).
constexpr std::uint16_t checksum_adjust(std::uint16_t old_checksum, std::uint16_t old_word,
                                        std::uint16_t new_word) noexcept {
  const std::uint32_t sum = static_cast<std::uint16_t>(~old_checksum) +
                            static_cast<std::uint32_t>(static_cast<std::uint16_t>(~old_word)) + new_word;
  return checksum_finish(sum);
}

// Same for an aligned 32-bit field (an address, a sequence number).
constexpr std::uint16_t checksum_adjust32(std::uint16_t old_checksum, std::uint32_t old_value,
                                          std::uint32_t new_value) noexcept {
  const std::uint32_t sum = static_cast<std::uint16_t>(~old_checksum) +
                            static_cast<std::uint32_t>(static_cast<std::uint16_t>(~(old_value >> 16))) +
                            static_cast<std::uint32_t>(static_cast<std::uint16_t>(~old_value)) +
                            (new_value >> 16) + (new_value & 0xFFFF);
  return checksum_finish(sum);
}

// Sums a message given in consecutive chunks of any length, tracking the
// offset parity between them.
class ChecksumAccumulator {
 public:
  constexpr ChecksumAccumulator() noexcept = default;
  constexpr explicit ChecksumAccumulator(std::uint32_t initial_sum) noexcept
      : sum_(checksum_fold(initial_sum)) {}

  void add(std::span<const std::byte> chunk) noexcept {
    sum_ = checksum_partial_at(chunk, sum_, odd_);
    odd_ ^= (chunk.size() & 1) != 0;
    length_ += chunk.size();
  }
  constexpr std::uint32_t sum() const noexcept { return sum_; }
  constexpr std::uint16_t finish() const noexcept { return checksum_finish(sum_); }
  constexpr std::size_t length() const noexcept { return length_; }

 private:
  std::uint32_t sum_ = 0;
  bool odd_ = false;
  std::size_t length_ = 0;
};

}  // namespace tern
