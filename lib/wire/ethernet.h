#pragma once
// Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894). No 802.1Q
// tags: a tagged frame parses with ether_type() 0x8100 and its caller drops it.
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kEthernetHeaderLen = 14;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;

struct MacAddr {
  std::array<std::uint8_t, 6> b{};

  // IEEE 802: the I/G bit is the least significant bit of the first octet.
  constexpr bool is_multicast() const noexcept { return (b[0] & 0x01) != 0; }
  constexpr bool is_broadcast() const noexcept {
    return b[0] == 0xFF && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF && b[4] == 0xFF && b[5] == 0xFF;
  }
  constexpr bool is_zero() const noexcept { return (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0; }
  constexpr bool operator==(const MacAddr&) const noexcept = default;

  static constexpr MacAddr broadcast() noexcept { return MacAddr{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}; }
  static constexpr MacAddr zero() noexcept { return MacAddr{}; }
  static constexpr MacAddr load(const std::byte* p) noexcept {
    MacAddr m;
    for (std::size_t i = 0; i < 6; ++i) m.b[i] = std::to_integer<std::uint8_t>(p[i]);
    return m;
  }
  // One 6-byte copy (a 4- and a 2-byte move), not six byte stores: every
  // frame sent writes two of these.
  void store(std::byte* p) const noexcept { std::memcpy(p, b.data(), b.size()); }

  // "02:00:00:00:00:01", lower case.
  std::string to_string() const;
  // Accepts "aa:bb:cc:dd:ee:ff" (or '-' separators), either case.
  static std::optional<MacAddr> from_string(std::string_view s) noexcept;
};

class EthernetHeader {
 public:
  // kTruncated when shorter than 14 bytes. Does not look at the EtherType.
  static Parsed<EthernetHeader> parse(std::span<const std::byte> frame) noexcept;

  MacAddr dst() const noexcept { return MacAddr::load(frame_.data()); }
  MacAddr src() const noexcept { return MacAddr::load(frame_.data() + 6); }
  std::uint16_t ether_type() const noexcept { return load_be16(frame_.data() + 12); }
  std::span<const std::byte> header() const noexcept { return frame_.first(kEthernetHeaderLen); }
  // Everything after the header, including any padding to the 60-byte minimum.
  std::span<const std::byte> payload() const noexcept { return frame_.subspan(kEthernetHeaderLen); }

 private:
  explicit EthernetHeader(std::span<const std::byte> frame) noexcept : frame_(frame) {}
  std::span<const std::byte> frame_;
};

// Writes the 14-byte header. Precondition: out.size() >= kEthernetHeaderLen.
// Inline: every frame sent runs it.
inline void write_ethernet(std::span<std::byte> out, const MacAddr& dst, const MacAddr& src,
                           std::uint16_t ether_type) noexcept {
  assert(out.size() >= kEthernetHeaderLen);
  dst.store(out.data());
  src.store(out.data() + 6);
  store_be16(out.data() + 12, ether_type);
}

}  // namespace tern
