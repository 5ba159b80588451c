#pragma once
// Internal to lib/config: typed, checked reads from a parsed TOML document.
// Every failure becomes one ConfigError of the form
//   tern.toml:12:7: port[0].mtu = 20: must be an integer in 68..9000
// that is: where, the full key path, the value exactly as written in the file,
// and what is allowed.
#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern::config_internal {

// The keys Tern knows in one TOML table. The top level has name "".
struct TableSchema {
  std::string_view name;    // "eal", "port"
  std::string_view header;  // how a user writes it: "[eal]", "[[port]]", "the top level"
  std::span<const std::string_view> keys;
};

// The whole file: its text (to quote values as written) and its schema (to
// say where a misplaced key belongs).
class Document {
 public:
  Document(std::string_view text, std::string_view origin, std::span<const TableSchema> schema);

  // "tern.toml:12:7" or just "tern.toml" when the position is unknown.
  std::string location(const toml::source_position& p) const;
  // The node's source text on one line, shortened when long; rendered from
  // the parsed value when the parser kept no source region.
  std::string as_written(const toml::node& n) const;
  const TableSchema& schema(std::string_view name) const;
  std::span<const TableSchema> schemas() const noexcept { return schema_; }

  [[noreturn]] void fail(const toml::source_position& where, std::string_view message) const;
  // "<where>: <path> = <as written>: <allowed>"
  [[noreturn]] void fail_value(std::string_view path, const toml::node& n, std::string_view allowed) const;

 private:
  std::optional<std::size_t> offset(const toml::source_position& p) const noexcept;

  std::string_view text_;
  std::string_view origin_;
  std::span<const TableSchema> schema_;
  std::vector<std::size_t> line_starts_;
};

// One TOML table read against its schema. Construction rejects unknown keys
// (typo protection) with a "did you mean" suggestion. Getters return the
// default when a key is absent and throw when it is present but not allowed.
class Section {
 public:
  Section(const Document& doc, const toml::table& t, std::string_view schema_name, std::string path);

  const Document& doc() const noexcept { return doc_; }
  const toml::table& table() const noexcept { return t_; }
  std::string key_path(std::string_view key) const;
  const toml::node* find(std::string_view key) const;

  std::int64_t integer(std::string_view key, std::int64_t def, std::int64_t lo, std::int64_t hi) const;
  std::int64_t power_of_two(std::string_view key, std::int64_t def, std::int64_t lo, std::int64_t hi) const;
  bool boolean(std::string_view key, bool def) const;
  double probability(std::string_view key, double def) const;
  std::string_view choice(std::string_view key, std::string_view def,
                          std::initializer_list<std::string_view> allowed) const;
  // nullopt when absent; `allowed` is the message for a value of another type.
  std::optional<std::string> string(std::string_view key, std::string_view allowed) const;
  const toml::array* array(std::string_view key, std::string_view allowed) const;
  const toml::table* subtable(std::string_view key) const;     // [eal]; nullptr when absent
  const toml::array* table_array(std::string_view key) const;  // [[port]]; nullptr when absent

  [[noreturn]] void fail(std::string_view key, const toml::node& n, std::string_view allowed) const;
  [[noreturn]] void missing(std::string_view key, std::string_view allowed) const;

 private:
  void reject_unknown_keys() const;
  static toml::source_position position(const toml::key& k, const toml::node& v) noexcept;

  const Document& doc_;
  const toml::table& t_;
  const TableSchema& schema_;
  std::string path_;
};

// Optimal string alignment distance (Levenshtein plus adjacent transposition),
// ASCII case-insensitive: "mtuu"->"mtu" is 1, "tpc"->"tcp" is 1.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate nearest to `word` within distance 2, if any.
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates);

// "68..9000"
std::string range_text(std::int64_t lo, std::int64_t hi);

}  // namespace tern::config_internal
