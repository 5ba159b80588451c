#include "stat_json.h"

#include <cstdio>
#include <cstdlib>

namespace tern::stat {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Json> document() {
    std::optional<Json> v = value(0);
    space();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::optional<std::string> str() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return std::nullopt;
      c = s_[pos_++];
      switch (c) {
        case '"':
        case '\\':
        case '/':
          out += c;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return std::nullopt;
          std::uint32_t cp = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9')
              cp |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f')
              cp |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              cp |= static_cast<std::uint32_t>(h - 'A' + 10);
            else
              return std::nullopt;
          }
          put_utf8(out, cp);  // (surrogate pairs come out as two code points: never in telemetry)
          break;
        }
        default:
          return std::nullopt;
      }
    }
    if (pos_ >= s_.size()) return std::nullopt;
    ++pos_;
    return out;
  }
  std::optional<Json> number() {
    const std::size_t begin = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    bool digits = false, whole = s_[begin] != '-';
    std::uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const auto d = static_cast<std::uint64_t>(s_[pos_] - '0');
      if (v > (UINT64_MAX - d) / 10) whole = false;
      v = v * 10 + d;
      digits = true;
      ++pos_;
    }
    if (!digits) return std::nullopt;
    while (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' ||
                                s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9'))) {
      whole = false;
      ++pos_;
    }
    Json j;
    j.kind = Json::Kind::kNumber;
    const std::string text(s_.substr(begin, pos_ - begin));
    char* end = nullptr;
    j.real = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    if (whole) j.integer = v;
    return j;
  }
  std::optional<Json> value(int depth) {
    space();
    if (pos_ >= s_.size() || depth > kMaxDepth) return std::nullopt;
    Json j;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      j.kind = Json::Kind::kObject;
      if (eat('}')) return j;
      do {
        space();
        std::optional<std::string> k = str();
        if (!k || !eat(':')) return std::nullopt;
        std::optional<Json> v = value(depth + 1);
        if (!v) return std::nullopt;
        j.object.emplace_back(std::move(*k), std::move(*v));
      } while (eat(','));
      if (!eat('}')) return std::nullopt;
    } else if (c == '[') {
      ++pos_;
      j.kind = Json::Kind::kArray;
      if (eat(']')) return j;
      do {
        std::optional<Json> v = value(depth + 1);
        if (!v) return std::nullopt;
        j.array.push_back(std::move(*v));
      } while (eat(','));
      if (!eat(']')) return std::nullopt;
    } else if (c == '"') {
      std::optional<std::string> v = str();
      if (!v) return std::nullopt;
      j.kind = Json::Kind::kString;
      j.string = std::move(*v);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      return number();
    } else if (word("true") || word("false")) {
      j.kind = Json::Kind::kBool;
      j.boolean = c == 't';
    } else if (!word("null")) {
      return std::nullopt;
    }
    return j;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

const Json* Json::find(std::string_view key) const noexcept {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

std::optional<Json> parse_json(std::string_view text) { return Parser(text).document(); }

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace tern::stat
