#pragma once
// Just enough JSON for tern-stat: reading DPDK telemetry replies (objects,
// arrays, strings, numbers, true/false/null) and writing its own --json
// output. Objects keep their keys in the order received, which for /tern/stats
// and /tern/drops is the order of lib/base/counters.h.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::stat {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  // A number: `integer` when it is a whole number in 0..2^64-1 (counters keep
  // every digit), `real` always.
  std::optional<std::uint64_t> integer;
  double real = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  // The value under `key` of an object; nullptr when absent or not an object.
  const Json* find(std::string_view key) const noexcept;
  bool is_object() const noexcept { return kind == Kind::kObject; }
};

// The whole of `text` as one JSON value; nullopt if it is not exactly that.
std::optional<Json> parse_json(std::string_view text);

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

}  // namespace tern::stat
