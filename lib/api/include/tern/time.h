#pragma once
// Public: instants and durations on one monotonic nanosecond timeline. The engine and
// the IP layer never read a clock: callers pass `now` in, so the simulator and
// the unit tests can drive them on virtual time.
#include <compare>
#include <cstdint>

namespace tern {

class Duration {
 public:
  constexpr Duration() noexcept = default;
  static constexpr Duration ns(std::int64_t v) noexcept { return Duration{v}; }
  static constexpr Duration us(std::int64_t v) noexcept { return Duration{v * 1'000}; }
  static constexpr Duration ms(std::int64_t v) noexcept { return Duration{v * 1'000'000}; }
  static constexpr Duration s(std::int64_t v) noexcept { return Duration{v * 1'000'000'000}; }
  constexpr std::int64_t count_ns() const noexcept { return ns_; }
  constexpr std::int64_t count_ms() const noexcept { return ns_ / 1'000'000; }
  constexpr auto operator<=>(const Duration&) const noexcept = default;
  constexpr Duration operator+(Duration o) const noexcept { return Duration{ns_ + o.ns_}; }
  constexpr Duration operator-(Duration o) const noexcept { return Duration{ns_ - o.ns_}; }
  constexpr Duration operator*(std::int64_t k) const noexcept { return Duration{ns_ * k}; }
  constexpr Duration operator/(std::int64_t k) const noexcept { return Duration{ns_ / k}; }

 private:
  constexpr explicit Duration(std::int64_t v) noexcept : ns_(v) {}
  std::int64_t ns_ = 0;
};

class Instant {
 public:
  constexpr Instant() noexcept = default;
  static constexpr Instant from_ns(std::int64_t v) noexcept { return Instant{v}; }
  static constexpr Instant max() noexcept { return Instant{INT64_MAX}; }
  constexpr std::int64_t ns_since_epoch() const noexcept { return ns_; }
  constexpr auto operator<=>(const Instant&) const noexcept = default;
  constexpr Instant operator+(Duration d) const noexcept { return Instant{ns_ + d.count_ns()}; }
  constexpr Instant operator-(Duration d) const noexcept { return Instant{ns_ - d.count_ns()}; }
  constexpr Duration operator-(Instant o) const noexcept { return Duration::ns(ns_ - o.ns_); }

 private:
  constexpr explicit Instant(std::int64_t v) noexcept : ns_(v) {}
  std::int64_t ns_ = 0;
};

// Test helpers read well in packet traces: `at_ms(200)`.
constexpr Instant at_ms(std::int64_t ms) noexcept { return Instant::from_ns(ms * 1'000'000); }

}  // namespace tern
