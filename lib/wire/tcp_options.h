#pragma once
// TCP options (RFC 9293 §3.1-3.2): MSS (RFC 9293 §3.7.1), window scale and
// timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kTcpMaxOptionsLen = 40;
inline constexpr std::size_t kTcpMaxSackBlocks = 4;  // 2 + 4 * 8 = 34 of the 40 option bytes

inline constexpr std::uint8_t kTcpOptEnd = 0;
inline constexpr std::uint8_t kTcpOptNop = 1;
inline constexpr std::uint8_t kTcpOptMss = 2;
inline constexpr std::uint8_t kTcpOptWindowScale = 3;
inline constexpr std::uint8_t kTcpOptSackPermitted = 4;
inline constexpr std::uint8_t kTcpOptSack = 5;
inline constexpr std::uint8_t kTcpOptTimestamps = 8;

struct SackBlock {
  std::uint32_t left, right;  // RFC 2018 §3: left edge, right edge (one past the last byte)
  constexpr bool operator==(const SackBlock&) const noexcept = default;
};

struct TcpOptions {
  std::optional<std::uint16_t> mss;
  // As received. RFC 7323 §2.3 says to use 14 when a shift above 14 arrives;
  // that clamping (and its logging) is the engine's decision, not the parser's.
  std::optional<std::uint8_t> window_scale;
  bool sack_permitted = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps;  // TSval, TSecr
  std::array<SackBlock, kTcpMaxSackBlocks> sack{};
  std::uint8_t sack_count = 0;

  std::span<const SackBlock> sack_blocks() const noexcept { return {sack.data(), sack_count}; }
};

// Parses the option bytes of a TCP header (TcpHeader::options()).
//  - End of Option List ends the list; the rest is padding.
//  - No-Operation is one byte.
//  - Any other kind needs a length octet, length >= 2, and must end inside
//    the options; else kBadOption (RFC 9293 §3.1 requires the length to be
//    trusted only when it is sane, and a misparse could loop or overrun).
//  - MSS (4), window scale (3), SACK-permitted (2), timestamps (10) with any
//    other length, or SACK with a length other than 2 + 8n, n in 1..4:
//    kBadOption.
//  - Unknown kinds with a sane length are skipped (RFC 9293 §3.2: "MUST be
//    prepared to handle an illegal option length" and ignore unknown ones).
//  - A repeated option overwrites the earlier one.
Parsed<TcpOptions> parse_tcp_options(std::span<const std::byte> b) noexcept;

// The same parse into `out`, which must be default-constructed: false
// where parse_tcp_options gives kBadOption (`out` then holds part of the
// list and is to be discarded). The general walk, out of line; it reads
// the SYN layout of Linux and Tern (MSS, SACK-permitted, timestamps, NOP,
// window scale: 20 bytes) in one step before walking any other list.
bool parse_tcp_options_walk(std::span<const std::byte> b, TcpOptions& out) noexcept;

// parse_tcp_options_walk, with the layout nearly every segment of a
// timestamps connection carries (RFC 7323 Appendix A: NOP, NOP, TS;
// Linux's and Tern's own) read inline: the receive path runs it for every
// segment, and neither calls out nor copies a TcpOptions for it. Always:
// link-time optimisation (the release build) had made it a call.
[[gnu::always_inline]] inline bool parse_tcp_options_into(std::span<const std::byte> b,
                                                          TcpOptions& out) noexcept {
  if (b.size() == 12 && load_be32(b.data()) == 0x0101080Au) {
    out.timestamps = std::pair{load_be32(b.data() + 4), load_be32(b.data() + 8)};
    return true;
  }
  return parse_tcp_options_walk(b, out);
}

// Bytes write_tcp_options() would write for `o` into a buffer of `budget`
// bytes (capped at 40).
std::size_t tcp_options_len(const TcpOptions& o, std::size_t budget = kTcpMaxOptionsLen) noexcept;

// Writes `o` in Linux's layout (net/ipv4/tcp_output.c, tcp_options_write),
// which middleboxes are known to pass and which keeps every field aligned:
//   MSS                      02 04 mss
//   SACK-permitted + TS      04 02 08 0a TSval TSecr   (or 01 01 08 0a ... without SACK-permitted)
//   SACK-permitted alone     01 01 04 02
//   window scale             01 03 03 ws
//   SACK blocks              01 01 05 len blocks...
// Every piece is a multiple of 4, so no trailing padding is ever needed.
// Pieces are written in that order while they fit in min(out.size(), 40);
// SACK blocks beyond the space left are dropped (RFC 2018 §3 allows sending
// fewer). Returns the bytes written.
std::size_t write_tcp_options(std::span<std::byte> out, const TcpOptions& o) noexcept;

}  // namespace tern
