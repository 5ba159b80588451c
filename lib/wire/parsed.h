#pragma once
// The result of parsing a header: either a view that is safe to read or the
// reason the bytes were rejected. Errors are values on the data path
// (STYLE.md), so parsers never throw; each ParseError maps onto one drop
// reason in base/counters.h.
#include <cassert>
#include <cstdint>
#include <string_view>
#include <variant>

namespace tern {

enum class ParseError : std::uint8_t {
  kTruncated,        // shorter than the fixed header (or a declared length)
  kBadVersion,       // IPv4 version field is not 4
  kBadHeaderLength,  // IHL / data offset too small or past the buffer
  kBadTotalLength,   // IPv4 total length below the header or past the buffer
  kBadChecksum,      // reserved for callers that verify checksums
  kBadOption,        // malformed IPv4 or TCP option list
  kBadLength,        // a length field (UDP) inconsistent with the buffer
  kUnsupported,      // well-formed but not something Tern speaks (e.g. non-IPv4 ARP)
};

std::string_view parse_error_name(ParseError e) noexcept;

// Holds either a T or a ParseError. value() and operator-> require ok(): they
// assert in debug builds, like dereferencing an empty std::optional.
template <class T>
class Parsed {
 public:
  constexpr Parsed(const T& v) noexcept : v_(std::in_place_index<0>, v) {}    // NOLINT: implicit by design
  constexpr Parsed(ParseError e) noexcept : v_(std::in_place_index<1>, e) {}  // NOLINT: implicit by design

  constexpr bool ok() const noexcept { return v_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return ok(); }

  constexpr ParseError error() const noexcept {
    assert(!ok());
    const ParseError* e = std::get_if<1>(&v_);
    return e != nullptr ? *e : ParseError::kUnsupported;
  }
  constexpr const T& value() const noexcept {
    assert(ok());
    return *std::get_if<0>(&v_);
  }
  constexpr const T* operator->() const noexcept { return &value(); }
  constexpr const T& operator*() const noexcept { return value(); }

 private:
  std::variant<T, ParseError> v_;
};

}  // namespace tern
