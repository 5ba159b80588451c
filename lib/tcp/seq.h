#pragma once
// TCP sequence numbers. RFC 9293 §3.4: "all arithmetic dealing with sequence
// numbers must be performed modulo 2**32", and comparisons are modular too
// (serial number arithmetic, RFC 1982 §3.2). Seq32 has no operator< on
// purpose: plain integer ordering is wrong as soon as a connection's sequence
// space wraps, which a 10 Gb/s flow does every ~3.4 seconds. Use seq_lt & co.
//
// The comparison is meaningful only for numbers less than 2^31 apart. TCP
// never gets near that: the largest window is 2^30 (RFC 7323 §2.3), and
// RFC 9293 §3.4 bounds old segments by the MSL. At exactly 2^31 apart RFC 1982
// leaves the order undefined; here seq_lt(a, b) and seq_lt(b, a) are then both
// true, so callers must not rely on it.
#include <cstdint>

namespace tern {

class Seq32 {
 public:
  constexpr Seq32() noexcept = default;
  constexpr explicit Seq32(std::uint32_t v) noexcept : v_(v) {}

  constexpr std::uint32_t value() const noexcept { return v_; }

  // Unsigned overflow wraps modulo 2^32, exactly what RFC 9293 §3.4 asks for.
  constexpr Seq32 operator+(std::uint32_t n) const noexcept { return Seq32{v_ + n}; }
  constexpr Seq32 operator-(std::uint32_t n) const noexcept { return Seq32{v_ - n}; }
  constexpr Seq32& operator+=(std::uint32_t n) noexcept {
    v_ += n;
    return *this;
  }
  constexpr Seq32& operator-=(std::uint32_t n) noexcept {
    v_ -= n;
    return *this;
  }

  // Signed distance from `o` to *this: positive when *this is after `o`.
  // C++20 defines the uint32 -> int32 conversion as modular, so this is the
  // RFC 1982 difference without undefined behaviour.
  constexpr std::int32_t operator-(Seq32 o) const noexcept { return static_cast<std::int32_t>(v_ - o.v_); }

  constexpr bool operator==(const Seq32&) const noexcept = default;

 private:
  std::uint32_t v_ = 0;
};

// RFC 9293 §3.4 "=<" and "<" on sequence numbers, modulo 2^32.
constexpr bool seq_lt(Seq32 a, Seq32 b) noexcept { return (a - b) < 0; }
constexpr bool seq_leq(Seq32 a, Seq32 b) noexcept { return (a - b) <= 0; }
constexpr bool seq_gt(Seq32 a, Seq32 b) noexcept { return (a - b) > 0; }
constexpr bool seq_geq(Seq32 a, Seq32 b) noexcept { return (a - b) >= 0; }

// left =< s < left + len (mod 2^32), the shape of every window test in
// RFC 9293 §3.4 and §3.10.7.4 (e.g. RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND).
// An empty window contains nothing; one unsigned subtraction handles the wrap.
constexpr bool seq_in_window(Seq32 s, Seq32 left, std::uint32_t len) noexcept {
  return s.value() - left.value() < len;
}

constexpr Seq32 seq_max(Seq32 a, Seq32 b) noexcept { return seq_gt(a, b) ? a : b; }
constexpr Seq32 seq_min(Seq32 a, Seq32 b) noexcept { return seq_lt(a, b) ? a : b; }

}  // namespace tern
