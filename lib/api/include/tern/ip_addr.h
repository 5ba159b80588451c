#pragma once
// Public: an IP address of either family, and an address with a port
// (issue 15, dual stack). Plain values: trivially copyable, comparable,
// hashable by their bytes; nothing here allocates but to_string().
//
// An IPv4 address is held as its IPv4-mapped IPv6 form, ::ffff:a.b.c.d
// (RFC 4291 §2.5.5.2), so every address is one 16-byte key and a connection
// tuple has one layout for both families. The mapped range is therefore the
// IPv4 family here: an IPv6 packet carrying a mapped address is not valid on
// the wire (RFC 4291 §2.5.5.2, Linux drops it) and the IP layer drops it.
//
// The default value, "::", is the unspecified address of both families: as
// a bind address it means "any address of either family", like Linux's
// dual-stack [::] socket. any_v4() (0.0.0.0) means any IPv4 address only.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tern {

enum class IpFamily : std::uint8_t { kV4 = 4, kV6 = 6 };

class IpAddr {
 public:
  // Longest text form: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
  static constexpr std::size_t kMaxText = 45;

  constexpr IpAddr() noexcept = default;
  // `host_order`: 192.0.2.1 is 0xC0000201.
  static constexpr IpAddr v4(std::uint32_t host_order) noexcept {
    IpAddr a;
    a.b_[10] = 0xFF;
    a.b_[11] = 0xFF;
    a.b_[12] = static_cast<std::uint8_t>(host_order >> 24);
    a.b_[13] = static_cast<std::uint8_t>(host_order >> 16);
    a.b_[14] = static_cast<std::uint8_t>(host_order >> 8);
    a.b_[15] = static_cast<std::uint8_t>(host_order);
    return a;
  }
  static constexpr IpAddr any_v4() noexcept { return v4(0); }
  // 16 bytes in network order. A mapped address (::ffff:0:0/96) is IPv4.
  static constexpr IpAddr v6(const std::array<std::uint8_t, 16>& network_order) noexcept {
    IpAddr a;
    a.b_ = network_order;
    return a;
  }
  static constexpr IpAddr v6_from_bytes(const std::uint8_t* network_order) noexcept {
    IpAddr a;
    for (std::size_t i = 0; i < 16; ++i) a.b_[i] = network_order[i];
    return a;
  }

  constexpr bool is_v4() const noexcept {
    constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    // At run time one 12-byte compare (two loads): this sits on per-packet
    // paths (tuples, checksums); the byte loop is for constant evaluation.
    if (!std::is_constant_evaluated()) return std::memcmp(b_.data(), kMapped.data(), kMapped.size()) == 0;
    for (std::size_t i = 0; i < kMapped.size(); ++i)
      if (b_[i] != kMapped[i]) return false;
    return true;
  }
  constexpr bool is_v6() const noexcept { return !is_v4(); }
  constexpr IpFamily family() const noexcept { return is_v4() ? IpFamily::kV4 : IpFamily::kV6; }
  // The IPv4 address in host order; 0 for an IPv6 address.
  constexpr std::uint32_t v4_host() const noexcept {
    if (!is_v4()) return 0;
    return std::uint32_t{b_[12]} << 24 | std::uint32_t{b_[13]} << 16 | std::uint32_t{b_[14]} << 8 | b_[15];
  }
  // Network order; for IPv4, the mapped form.
  constexpr const std::array<std::uint8_t, 16>& bytes() const noexcept { return b_; }

  // "::" or "0.0.0.0".
  constexpr bool is_unspecified() const noexcept { return *this == IpAddr{} || *this == any_v4(); }
  // ::1 or 127.0.0.0/8.
  constexpr bool is_loopback() const noexcept {
    if (is_v4()) return b_[12] == 127;
    return *this == v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  }
  // ff00::/8 or 224.0.0.0/4.
  constexpr bool is_multicast() const noexcept { return is_v4() ? (b_[12] & 0xF0) == 0xE0 : b_[0] == 0xFF; }
  // fe80::/10 or 169.254.0.0/16.
  constexpr bool is_link_local() const noexcept {
    if (is_v4()) return b_[12] == 169 && b_[13] == 254;
    return b_[0] == 0xFE && (b_[1] & 0xC0) == 0x80;
  }

  constexpr auto operator<=>(const IpAddr&) const noexcept = default;
  // The same equality as the defaulted one, but at run time two 8-byte
  // compares: the default compares the arrays through a call to libc's
  // memcmp, three of them in every connect() (is_unspecified, the
  // connection-to-itself test).
  constexpr bool operator==(const IpAddr& o) const noexcept {
    if (std::is_constant_evaluated()) return b_ == o.b_;
    std::uint64_t a[2];
    std::uint64_t c[2];
    std::memcpy(a, b_.data(), sizeof a);
    std::memcpy(c, o.b_.data(), sizeof c);
    return ((a[0] ^ c[0]) | (a[1] ^ c[1])) == 0;
  }

  // Dotted quad for IPv4 ("192.0.2.1", decimal, no leading zeros), RFC 4291
  // §2.2 text for IPv6 (with an optional dotted-quad tail; no zone, no
  // brackets). A mapped IPv6 text ("::ffff:192.0.2.1") gives the IPv4 address.
  static std::optional<IpAddr> parse(std::string_view text) noexcept;
  // Dotted quad for IPv4, RFC 5952 for IPv6. Writes at most kMaxText
  // characters, no terminator; returns how many.
  std::size_t format(std::span<char, kMaxText> out) const noexcept;
  std::string to_string() const;

 private:
  std::array<std::uint8_t, 16> b_{};
};

// An address and a port, as in a connection's ends or a datagram's source.
struct Endpoint {
  IpAddr addr;
  std::uint16_t port = 0;

  constexpr auto operator<=>(const Endpoint&) const noexcept = default;

  // "192.0.2.1:80" or "[2001:db8::1]:80" (RFC 3986 §3.2.2 brackets); the
  // port is decimal, 0-65535.
  static std::optional<Endpoint> parse(std::string_view text) noexcept;
  // The same forms; at most kMaxText characters.
  static constexpr std::size_t kMaxText = IpAddr::kMaxText + 2 + 1 + 5;
  std::size_t format(std::span<char, kMaxText> out) const noexcept;
  std::string to_string() const;
};

// For hash maps keyed by address (absl::Hash and std::hash see the bytes).
template <class H>
H AbslHashValue(H h, const IpAddr& a) {
  return H::combine_contiguous(std::move(h), a.bytes().data(), a.bytes().size());
}

}  // namespace tern

template <>
struct std::hash<tern::IpAddr> {
  std::size_t operator()(const tern::IpAddr& a) const noexcept {
    // FNV-1a over the 16 bytes: good enough for a std container's buckets.
    std::uint64_t h = 14695981039346656037ULL;
    for (const std::uint8_t byte : a.bytes()) h = (h ^ byte) * 1099511628211ULL;
    return static_cast<std::size_t>(h);
  }
};
