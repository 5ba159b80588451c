#pragma once
// TCP header (RFC 9293 §3.1). Options are parsed separately
// (wire/tcp_options.h) because only some segments need them.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;  // RFC 3168 §6.1
inline constexpr std::uint8_t kTcpCwr = 0x80;

inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxHeaderLen = 60;

struct TcpFlags {
  std::uint8_t bits = 0;

  constexpr bool fin() const noexcept { return (bits & kTcpFin) != 0; }
  constexpr bool syn() const noexcept { return (bits & kTcpSyn) != 0; }
  constexpr bool rst() const noexcept { return (bits & kTcpRst) != 0; }
  constexpr bool psh() const noexcept { return (bits & kTcpPsh) != 0; }
  constexpr bool ack() const noexcept { return (bits & kTcpAck) != 0; }
  constexpr bool urg() const noexcept { return (bits & kTcpUrg) != 0; }
  constexpr bool ece() const noexcept { return (bits & kTcpEce) != 0; }
  constexpr bool cwr() const noexcept { return (bits & kTcpCwr) != 0; }
  constexpr bool has(std::uint8_t mask) const noexcept { return (bits & mask) == mask; }
  constexpr bool operator==(const TcpFlags&) const noexcept = default;

  // tcpdump's notation, so test failures read like traces: "S", "S.", "P.",
  // "F.", "R", "." for a bare ACK, "none" for no flags; then E/W for ECE/CWR.
  std::string to_string() const;
};

class TcpHeader {
 public:
  // `b` is the whole segment (the IPv4 payload up to total length).
  // kTruncated below 20 bytes; kBadHeaderLength unless 5 <= data offset and
  // the header fits in `b`. Options are not parsed (parse_tcp_options()) and
  // the checksum is not verified (checksum_ok()). Inline: every segment
  // received asks, and its caller then reads the fields straight from `b`
  // rather than through a Parsed returned in memory.
  static Parsed<TcpHeader> parse(std::span<const std::byte> b) noexcept {
    if (b.size() < kTcpMinHeaderLen) return ParseError::kTruncated;
    // RFC 9293 §3.1: Data Offset is the header length in 32-bit words.
    const std::size_t header_len = static_cast<std::size_t>(load_u8(b.data() + 12) >> 4) * 4;
    if (header_len < kTcpMinHeaderLen || header_len > b.size()) return ParseError::kBadHeaderLength;
    return TcpHeader{b, static_cast<std::uint8_t>(header_len)};
  }

  std::uint16_t src_port() const noexcept { return load_be16(seg_.data()); }
  std::uint16_t dst_port() const noexcept { return load_be16(seg_.data() + 2); }
  std::uint32_t seq() const noexcept { return load_be32(seg_.data() + 4); }
  std::uint32_t ack() const noexcept { return load_be32(seg_.data() + 8); }
  TcpFlags flags() const noexcept { return TcpFlags{load_u8(seg_.data() + 13)}; }
  std::uint16_t window() const noexcept { return load_be16(seg_.data() + 14); }  // unscaled
  std::uint16_t checksum() const noexcept { return load_be16(seg_.data() + 16); }
  std::uint16_t urgent_pointer() const noexcept { return load_be16(seg_.data() + 18); }
  std::size_t header_len() const noexcept { return header_len_; }
  std::span<const std::byte> header() const noexcept { return seg_.first(header_len_); }
  std::span<const std::byte> options() const noexcept {
    return seg_.subspan(kTcpMinHeaderLen, header_len_ - kTcpMinHeaderLen);
  }
  std::span<const std::byte> payload() const noexcept { return seg_.subspan(header_len_); }
  std::span<const std::byte> segment() const noexcept { return seg_; }

  // Verifies the checksum over pseudo header + the whole segment (RFC 9293
  // §3.1). Addresses in host order.
  bool checksum_ok(std::uint32_t src, std::uint32_t dst) const noexcept;

 private:
  TcpHeader(std::span<const std::byte> seg, std::uint8_t header_len) noexcept
      : seg_(seg), header_len_(header_len) {}
  std::span<const std::byte> seg_;
  std::uint8_t header_len_;
};

struct TcpFields {
  std::uint16_t sport, dport;
  std::uint32_t seq, ack;
  std::uint8_t flags;
  std::uint16_t window;
  std::uint16_t urgent = 0;
};

// Writes the 20-byte header followed by `options` and returns the header
// length (20 + options.size()). The checksum is left 0: fill it with
// fill_tcp_checksum() or let the NIC do it. Returns 0 and writes nothing when
// options.size() is not a multiple of 4 or above 40, or `out` is too small.
std::size_t write_tcp(std::span<std::byte> out, const TcpFields& f,
                      std::span<const std::byte> options = {}) noexcept;

// The 20 fixed bytes of a header `header_len` long (the data offset says
// it), checksum 0: what write_tcp() and write_tcp_ts() both write first.
inline void write_tcp_fixed(std::byte* out, const TcpFields& f, std::size_t header_len) noexcept {
  store_be16(out, f.sport);
  store_be16(out + 2, f.dport);
  store_be32(out + 4, f.seq);
  store_be32(out + 8, f.ack);
  store_u8(out + 12, static_cast<std::uint8_t>((header_len / 4) << 4));
  store_u8(out + 13, f.flags);
  store_be16(out + 14, f.window);
  store_be16(out + 16, 0);
  store_be16(out + 18, f.urgent);
}

// The timestamps option alone, as write_tcp_options() lays it out without
// SACK-permitted: 01 01 08 0a TSval TSecr (RFC 7323 Appendix A).
inline constexpr std::size_t kTcpTimestampsOptionLen = 12;

// write_tcp() for the header nearly every segment of a connection carries:
// no options (`ts` false), or the timestamps option alone, written in place
// (`out` holds 20 or 32 bytes) without laying out a TcpOptions first. The
// same bytes as write_tcp() with write_tcp_options() of those options.
// Inline: every segment sent runs it. Returns the header length.
inline std::size_t write_tcp_ts(std::byte* out, const TcpFields& f, bool ts, std::uint32_t ts_val,
                                std::uint32_t ts_ecr) noexcept {
  const std::size_t len = kTcpMinHeaderLen + (ts ? kTcpTimestampsOptionLen : 0);
  write_tcp_fixed(out, f, len);
  if (ts) {
    store_be32(out + 20, 0x0101080Au);  // NOP, NOP, kind 8, length 10
    store_be32(out + 24, ts_val);
    store_be32(out + 28, ts_ecr);
  }
  return len;
}

// Computes and stores the checksum of a contiguous segment (header +
// payload, all of `segment`). Addresses in host order. Segments spread over
// several mbufs use ChecksumAccumulator instead.
void fill_tcp_checksum(std::span<std::byte> segment, std::uint32_t src, std::uint32_t dst) noexcept;

}  // namespace tern
