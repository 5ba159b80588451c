#include "http_headers.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace tern::http {
namespace {

constexpr std::array<const char*, 7> kDays = {"Thu", "Fri", "Sat", "Sun",
                                              "Mon", "Tue", "Wed"};  // 1970-01-01: Thu
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::int64_t kMaxUnix = 253402300799;  // 9999-12-31 23:59:59

struct Civil {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian,
// days since 1970-01-01).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

Civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

struct Split {
  Civil date;
  unsigned hour, minute, second, weekday;  // weekday: index into kDays
};

Split split(std::int64_t t) noexcept {
  t = std::clamp<std::int64_t>(t, 0, kMaxUnix);
  const std::int64_t days = t / 86400;
  const auto secs = static_cast<unsigned>(t % 86400);
  return {civil_from_days(days), secs / 3600, secs / 60 % 60, secs % 60, static_cast<unsigned>(days % 7)};
}

void put2(char* p, unsigned v) noexcept {
  p[0] = static_cast<char>('0' + v / 10 % 10);
  p[1] = static_cast<char>('0' + v % 10);
}
void put4(char* p, std::int64_t v) noexcept {
  put2(p, static_cast<unsigned>(v / 100));
  put2(p + 2, static_cast<unsigned>(v % 100));
}
void put_time(char* p, const Split& s) noexcept {  // "HH:MM:SS"
  put2(p, s.hour);
  p[2] = ':';
  put2(p + 3, s.minute);
  p[5] = ':';
  put2(p + 6, s.second);
}

bool digits(std::string_view s, unsigned* out) noexcept {
  unsigned v = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iends_with(std::string_view s, std::string_view suffix) noexcept {
  if (s.size() < suffix.size()) return false;
  s = s.substr(s.size() - suffix.size());
  for (std::size_t i = 0; i < s.size(); ++i)
    if (lower(s[i]) != suffix[i]) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An entity-tag's opaque part (with its quotes), W/ dropped; empty when malformed.
std::string_view opaque(std::string_view tag, bool* weak) noexcept {
  *weak = tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/';
  if (*weak) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
  if (tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) return {};
  return tag;
}

bool parse_u64(std::string_view s, std::uint64_t* out) noexcept {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

void format_http_date(std::int64_t unix_s, char* out) noexcept {
  const Split s = split(unix_s);
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::memcpy(out, kDays[s.weekday], 3);
  std::memcpy(out + 3, ", ", 2);
  put2(out + 5, s.date.day);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[s.date.month - 1], 3);
  out[11] = ' ';
  put4(out + 12, s.date.year);
  out[16] = ' ';
  put_time(out + 17, s);
  std::memcpy(out + 25, " GMT", 4);
}

std::optional<std::int64_t> parse_http_date(std::string_view s) noexcept {
  if (s.size() != kHttpDateLen || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  const auto day_name =
      std::find_if(kDays.begin(), kDays.end(), [&](const char* d) { return s.substr(0, 3) == d; });
  const auto month =
      std::find_if(kMonths.begin(), kMonths.end(), [&](const char* m) { return s.substr(8, 3) == m; });
  unsigned day = 0, year = 0, h = 0, m = 0, sec = 0;
  if (day_name == kDays.end() || month == kMonths.end() || !digits(s.substr(5, 2), &day) ||
      !digits(s.substr(12, 4), &year) || !digits(s.substr(17, 2), &h) || !digits(s.substr(20, 2), &m) ||
      !digits(s.substr(23, 2), &sec))
    return std::nullopt;
  const auto mon = static_cast<unsigned>(month - kMonths.begin()) + 1;
  if (year < 1970 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  const std::int64_t days = days_from_civil(year, mon, day);
  const Civil back = civil_from_days(days);
  if (back.month != mon || back.day != day) return std::nullopt;  // 31 Feb and the like
  return days * 86400 + h * 3600 + m * 60 + std::min(sec, 59u);
}

void format_clf_date(std::int64_t unix_s, char* out) noexcept {
  const Split s = split(unix_s);
  // "10/Oct/2000:13:55:36 +0000"
  put2(out, s.date.day);
  out[2] = '/';
  std::memcpy(out + 3, kMonths[s.date.month - 1], 3);
  out[6] = '/';
  put4(out + 7, s.date.year);
  out[11] = ':';
  put_time(out + 12, s);
  std::memcpy(out + 20, " +0000", 6);
}

std::size_t format_etag(std::int64_t mtime_s, std::uint64_t size, char* out) noexcept {
  const int n = std::snprintf(out, kEtagCap, "\"%" PRIx64 "-%" PRIx64 "\"",
                              static_cast<std::uint64_t>(std::max<std::int64_t>(mtime_s, 0)), size);
  return n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), kEtagCap - 1) : 0;
}

bool none_match_hits(std::string_view field, std::string_view etag) noexcept {
  field = trim_ows(field);
  if (field == "*") return true;
  bool weak = false;
  const std::string_view ours = opaque(etag, &weak);
  if (ours.empty()) return false;
  while (!field.empty()) {
    const std::size_t comma = field.find(',');
    const std::string_view item = trim_ows(field.substr(0, comma));
    bool w = false;
    if (!item.empty() && opaque(item, &w) == ours) return true;
    if (comma == std::string_view::npos) break;
    field.remove_prefix(comma + 1);
  }
  return false;
}

bool strong_match(std::string_view tag, std::string_view etag) noexcept {
  bool weak_tag = false, weak_ours = false;
  const std::string_view a = opaque(trim_ows(tag), &weak_tag), b = opaque(etag, &weak_ours);
  return !a.empty() && !weak_tag && !weak_ours && a == b;
}

RangeResult parse_range(std::string_view field, std::uint64_t size) noexcept {
  RangeResult r;
  field = trim_ows(field);
  // The unit is case-insensitive (§14.1); "bytes" is the only one we know.
  if (field.size() < 6 || !iends_with(field.substr(0, 6), "bytes=")) return r;
  field.remove_prefix(6);
  if (field.find(',') != std::string_view::npos) return r;  // several ranges: the whole instead
  field = trim_ows(field);
  const std::size_t dash = field.find('-');
  if (dash == std::string_view::npos) return r;
  const std::string_view a = field.substr(0, dash), b = field.substr(dash + 1);
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix-range: the last n bytes
    if (!parse_u64(b, &last)) return r;
    if (last == 0 || size == 0) {
      r.status = RangeStatus::kUnsatisfiable;
      return r;
    }
    r.status = RangeStatus::kSatisfiable;
    r.first = size - std::min(last, size);
    r.last = size - 1;
    return r;
  }
  if (!parse_u64(a, &first)) return r;
  if (b.empty()) {
    last = UINT64_MAX;
  } else if (!parse_u64(b, &last) || last < first) {
    return r;  // invalid: ignored (§14.1.1)
  }
  if (first >= size) {
    r.status = RangeStatus::kUnsatisfiable;
    return r;
  }
  r.status = RangeStatus::kSatisfiable;
  r.first = first;
  r.last = std::min(last, size - 1);
  return r;
}

const char* content_type(std::string_view path) noexcept {
  struct Type {
    std::string_view ext;
    const char* type;
  };
  // What a static site serves, the IANA registrations nginx's mime.types uses.
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".css", "text/css"},
      {".js", "text/javascript"},
      {".mjs", "text/javascript"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".xml", "application/xml"},
      {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},
      {".zip", "application/zip"},
      {".gz", "application/gzip"},
      {".tar", "application/x-tar"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
      {".wav", "audio/wav"},
      {".mp4", "video/mp4"},
      {".webm", "video/webm"},
  };
  for (const Type& t : kTypes)
    if (iends_with(path, t.ext)) return t.type;
  return "application/octet-stream";
}

std::size_t format_access_line(char* out, std::size_t cap, const IpAddr& addr, const char* clf_date,
                               std::string_view method, std::string_view target, int version_minor,
                               int status, std::uint64_t bytes) noexcept {
  std::size_t n = 0;
  bool ok = true;
  const auto put = [&](std::string_view s) {
    if (!ok || n + s.size() > cap) {
      ok = false;
      return;
    }
    std::memcpy(out + n, s.data(), s.size());
    n += s.size();
  };
  // The request line, escaped: a quote or a control byte cannot break the line's fields.
  const auto put_escaped = [&](std::string_view s) {
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02X", c);
        put({hex, 4});
      } else {
        put({&ch, 1});
      }
    }
  };
  // Decimal numbers by hand: this runs once per response when logging is on.
  const auto put_uint = [&](std::uint64_t v) {
    char d[20];
    std::size_t k = sizeof d;
    do {
      d[--k] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    put({d + k, sizeof d - k});
  };
  std::array<char, IpAddr::kMaxText> text;  // dotted quad or RFC 5952, as nginx's $remote_addr
  put({text.data(), addr.format(text)});
  put(" - - [");
  put({clf_date, kClfDateLen});
  put("] \"");
  if (method.empty()) {
    put("-");
  } else {
    put_escaped(method);
    put(" ");
    put_escaped(target);
    put(" HTTP/1.");
    put_uint(static_cast<std::uint64_t>(std::clamp(version_minor, 0, 9)));
  }
  put("\" ");
  put_uint(static_cast<std::uint64_t>(std::clamp(status, 0, 999)));
  put(" ");
  if (bytes == 0)
    put("-");
  else
    put_uint(bytes);
  put("\n");
  return ok ? n : 0;
}

}  // namespace tern::http
