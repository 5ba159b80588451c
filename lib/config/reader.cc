#include "config/reader.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "base/check.h"
#include "config/config.h"

namespace tern::config_internal {
namespace {

constexpr std::size_t kMaxQuoted = 60;  // bytes of a value quoted in a message

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// One line, whitespace runs that span lines folded to a space, long values cut.
std::string one_line(std::string_view s) {
  std::string out;
  bool in_break = false;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      in_break = true;
      continue;
    }
    if (in_break && (c == ' ' || c == '\t')) continue;
    if (in_break && !out.empty() && out.back() != ' ') out += ' ';
    in_break = false;
    out += c;
  }
  if (out.size() > kMaxQuoted) {
    std::size_t cut = kMaxQuoted - 3;
    while (cut > 0 && is_continuation(out[cut])) --cut;  // never split a UTF-8 sequence
    out.resize(cut);
    out += "...";
  }
  return out;
}

bool is_pow2(std::int64_t v) noexcept { return v > 0 && (v & (v - 1)) == 0; }

bool contains(std::span<const std::string_view> words, std::string_view w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

bool before(const toml::source_position& a, const toml::source_position& b) noexcept {
  if (a.line == 0) return false;  // unknown positions sort last
  if (b.line == 0) return true;
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

}  // namespace

Document::Document(std::string_view text, std::string_view origin, std::span<const TableSchema> schema)
    : text_(text), origin_(origin), schema_(schema) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::string Document::location(const toml::source_position& p) const {
  std::string out(origin_);
  if (p.line > 0) out += ':' + std::to_string(p.line) + ':' + std::to_string(p.column);
  return out;
}

// toml++ counts columns in code points, 1-based.
std::optional<std::size_t> Document::offset(const toml::source_position& p) const noexcept {
  if (p.line == 0 || p.column == 0 || p.line > line_starts_.size()) return std::nullopt;
  std::size_t i = line_starts_[p.line - 1];
  for (toml::source_index c = 1; c < p.column; ++c) {
    if (i >= text_.size()) return std::nullopt;
    ++i;
    while (i < text_.size() && is_continuation(text_[i])) ++i;
  }
  return i;
}

std::string Document::as_written(const toml::node& n) const {
  const auto b = offset(n.source().begin);
  const auto e = offset(n.source().end);
  if (b && e && *e > *b && *e <= text_.size()) return one_line(text_.substr(*b, *e - *b));
  std::ostringstream os;
  n.visit([&os](const auto& v) { os << v; });
  return one_line(os.str());
}

const TableSchema& Document::schema(std::string_view name) const {
  for (const auto& s : schema_) {
    if (s.name == name) return s;
  }
  TERN_CHECK(false && "table missing from the config schema");
  return schema_.front();
}

void Document::fail(const toml::source_position& where, std::string_view message) const {
  throw ConfigError(location(where) + ": " + std::string(message));
}

void Document::fail_value(std::string_view path, const toml::node& n, std::string_view allowed) const {
  fail(n.source().begin, std::string(path) + " = " + as_written(n) + ": " + std::string(allowed));
}

Section::Section(const Document& doc, const toml::table& t, std::string_view schema_name, std::string path)
    : doc_(doc), t_(t), schema_(doc.schema(schema_name)), path_(std::move(path)) {
  reject_unknown_keys();
}

std::string Section::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + '.' + std::string(key);
}

// Where a key shows up for a user: a table's header, else the key itself.
toml::source_position Section::position(const toml::key& k, const toml::node& v) noexcept {
  const bool header = (v.is_table() && !v.as_table()->is_inline()) ||
                      (v.is_array_of_tables() && !v.as_array()->front().as_table()->is_inline());
  return header ? v.source().begin : k.source().begin;
}

void Section::reject_unknown_keys() const {
  const toml::key* first = nullptr;
  const toml::node* first_node = nullptr;
  for (const auto& [k, v] : t_) {
    if (contains(schema_.keys, k.str())) continue;
    if (!first || before(position(k, v), position(*first, *first_node))) {
      first = &k;
      first_node = &v;
    }
  }
  if (!first) return;

  const std::string_view name = first->str();
  const bool top = schema_.name.empty();
  // How a user would write a name here: a plain key, or a table header.
  auto shown = [&](std::string_view key, const toml::node* n) {
    if (top && !n) {
      for (const auto& s : doc_.schemas()) {
        if (s.name == key) return std::string(s.header);
      }
    }
    if (n && n->is_table() && !n->as_table()->is_inline()) return '[' + key_path(key) + ']';
    if (n && n->is_array_of_tables() && !n->as_array()->front().as_table()->is_inline()) {
      return "[[" + key_path(key) + "]]";
    }
    return key_path(key);
  };
  const bool is_table = first_node->is_table() || first_node->is_array_of_tables();
  std::string msg = std::string("unknown ") + (is_table ? "table " : "key ") + shown(name, first_node);

  // A known key in the wrong table beats a near miss in this one: "ttl" at
  // the top level is [ip] ttl, not a typo of [tcp].
  const TableSchema* home = nullptr;
  for (const auto& s : doc_.schemas()) {
    if (&s != &schema_ && contains(s.keys, name)) {
      home = &s;
      break;
    }
  }
  if (home && home->name.empty()) {
    msg += "; " + std::string(name) + " belongs at the top level, before the first [table]";
  } else if (home) {
    msg += "; " + std::string(name) + " belongs in " + std::string(home->header);
  } else if (auto near = closest(name, schema_.keys)) {
    msg += "; did you mean " + shown(*near, nullptr) + '?';
  }
  msg += top ? " (known at the top level: " : " (known in " + std::string(schema_.header) + ": ";
  for (std::size_t i = 0; i < schema_.keys.size(); ++i) {
    // Appended piece by piece: `const char* + std::string` makes GCC 12 at
    // -O3 (the release build) warn falsely inside libstdc++ (-Wstringop-overflow).
    if (i != 0) msg += ", ";
    msg += top ? shown(schema_.keys[i], nullptr) : std::string(schema_.keys[i]);
  }
  msg += ')';
  doc_.fail(position(*first, *first_node), msg);
}

const toml::node* Section::find(std::string_view key) const {
  TERN_CHECK(contains(schema_.keys, key));  // every key read must be in the schema
  return t_.get(key);
}

void Section::fail(std::string_view key, const toml::node& n, std::string_view allowed) const {
  doc_.fail_value(key_path(key), n, allowed);
}

void Section::missing(std::string_view key, std::string_view allowed) const {
  doc_.fail(t_.source().begin, "missing required key " + key_path(key) + ": " + std::string(allowed));
}

std::int64_t Section::integer(std::string_view key, std::int64_t def, std::int64_t lo,
                              std::int64_t hi) const {
  const toml::node* n = find(key);
  if (!n) return def;
  if (const auto* v = n->as_integer(); v && v->get() >= lo && v->get() <= hi) return v->get();
  fail(key, *n, "must be an integer in " + range_text(lo, hi));
}

std::int64_t Section::power_of_two(std::string_view key, std::int64_t def, std::int64_t lo,
                                   std::int64_t hi) const {
  const toml::node* n = find(key);
  if (!n) return def;
  if (const auto* v = n->as_integer(); v && v->get() >= lo && v->get() <= hi && is_pow2(v->get())) {
    return v->get();
  }
  fail(key, *n, "must be a power of two in " + range_text(lo, hi));
}

bool Section::boolean(std::string_view key, bool def) const {
  const toml::node* n = find(key);
  if (!n) return def;
  if (const auto* v = n->as_boolean()) return v->get();
  fail(key, *n, "must be true or false");
}

double Section::probability(std::string_view key, double def) const {
  const toml::node* n = find(key);
  if (!n) return def;
  double p = -1;
  if (const auto* f = n->as_floating_point()) p = f->get();
  if (const auto* i = n->as_integer()) p = static_cast<double>(i->get());
  if (p >= 0 && p <= 1) return p;  // also rejects nan
  fail(key, *n, "must be a number in 0..1");
}

std::string_view Section::choice(std::string_view key, std::string_view def,
                                 std::initializer_list<std::string_view> allowed) const {
  const toml::node* n = find(key);
  if (!n) return def;
  if (const auto* s = n->as_string()) {
    for (std::string_view a : allowed) {
      if (a == s->get()) return a;
    }
  }
  std::string what = "must be one of ";
  for (std::string_view a : allowed) {
    if (a != *allowed.begin()) what += ", ";
    what += '"' + std::string(a) + '"';
  }
  fail(key, *n, what);
}

std::optional<std::string> Section::string(std::string_view key, std::string_view allowed) const {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (const auto* s = n->as_string()) return s->get();
  fail(key, *n, allowed);
}

const toml::array* Section::array(std::string_view key, std::string_view allowed) const {
  const toml::node* n = find(key);
  if (!n) return nullptr;
  if (const auto* a = n->as_array()) return a;
  fail(key, *n, allowed);
}

const toml::table* Section::subtable(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return nullptr;
  if (const auto* t = n->as_table()) return t;
  fail(key, *n, "must be a table: write " + std::string(doc_.schema(key).header));
}

const toml::array* Section::table_array(std::string_view key) const {
  const toml::node* n = find(key);
  if (!n) return nullptr;
  const std::string header(doc_.schema(key).header);
  if (n->is_table()) {
    doc_.fail(n->source().begin, key_path(key) + ": must be an array of tables: write " + header + ", not [" +
                                     key_path(key) + ']');
  }
  const auto* a = n->as_array();
  if (!a) fail(key, *n, "must be an array of tables: write " + header);
  for (std::size_t i = 0; i < a->size(); ++i) {
    if (!(*a)[i].is_table()) {
      doc_.fail_value(key_path(key) + '[' + std::to_string(i) + ']', (*a)[i],
                      "must be a table: write " + header);
    }
  }
  return a;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  std::size_t best_d = 3;
  for (auto c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d && d < c.size()) {  // "x" is 2 edits from "ip", yet no hint
      best = c;
      best_d = d;
    }
  }
  return best;
}

std::string range_text(std::int64_t lo, std::int64_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

}  // namespace tern::config_internal
