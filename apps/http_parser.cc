#include "http_parser.h"

#include <array>

namespace tern::http {
namespace {

// RFC 9110 §5.6.2 tchar.
constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view{"!#$%&'*+-.^_`|~"}) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = make_tchar();

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!kTchar[static_cast<unsigned char>(c)]) return false;
  return true;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Does a comma-separated list (Connection) hold `opt`?
bool list_has(std::string_view list, std::string_view opt) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), opt)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Field values: visible characters, SP, HTAB, obs-text; no CTLs (§5.5).
bool valid_value(std::string_view v) noexcept {
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// A line without its CRLF / LF; `next` is where the following line starts.
struct Line {
  std::string_view text;
  std::size_t next;
};

// The line starting at `pos`, or npos in `next` when it has no end yet.
Line line_at(std::string_view buf, std::size_t pos) noexcept {
  const std::size_t lf = buf.find('\n', pos);
  if (lf == std::string_view::npos) return {{}, std::string_view::npos};
  std::size_t end = lf;
  if (end > pos && buf[end - 1] == '\r') --end;
  return {buf.substr(pos, end - pos), lf + 1};
}

bool parse_u64(std::string_view s, std::uint64_t* out) noexcept {
  if (s.empty() || s.size() > 18) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

int hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

ParseResult bad(ParseStatus s) noexcept {
  ParseResult r;
  r.status = s;
  return r;
}

}  // namespace

ParseResult parse_request(std::string_view buf, std::size_t max_head) noexcept {
  ParseResult r;
  Request& q = r.req;
  // The head must end within max_head bytes; look no further.
  const bool capped = buf.size() >= max_head;
  if (capped) buf = buf.substr(0, max_head);

  // RFC 9112 §2.2: ignore at least one empty line before the request line.
  std::size_t pos = 0;
  Line l = line_at(buf, pos);
  while (l.next != std::string_view::npos && l.text.empty()) {
    pos = l.next;
    l = line_at(buf, pos);
  }
  q.skipped = pos;
  if (l.next == std::string_view::npos)
    return bad(capped ? ParseStatus::kTooLarge : ParseStatus::kIncomplete);

  // request-line = method SP request-target SP HTTP-version (§3), single spaces.
  const std::string_view line = l.text;
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return bad(ParseStatus::kBad);
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad(ParseStatus::kBad);
  q.method = line.substr(0, sp1);
  q.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(q.method) || q.target.empty()) return bad(ParseStatus::kBad);
  for (char ch : q.target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return bad(ParseStatus::kBad);
  }
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3), case-sensitive.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return bad(ParseStatus::kBad);
  if (version[5] != '1') return bad(ParseStatus::kBadVersion);
  q.version_minor = static_cast<std::uint8_t>(version[7] - '0');
  if (q.target.front() != '/') return bad(ParseStatus::kBad);  // origin-form only (§3.2.1)

  bool host = false, have_length = false, conn_close = false, conn_keep_alive = false;
  pos = l.next;
  while (true) {
    l = line_at(buf, pos);
    if (l.next == std::string_view::npos)
      return bad(capped ? ParseStatus::kTooLarge : ParseStatus::kIncomplete);
    pos = l.next;
    if (l.text.empty()) break;  // end of the head
    const std::string_view f = l.text;
    if (f.front() == ' ' || f.front() == '\t') return bad(ParseStatus::kBad);  // obs-fold (§5.2)
    const std::size_t colon = f.find(':');
    if (colon == std::string_view::npos) return bad(ParseStatus::kBad);
    const std::string_view name = f.substr(0, colon);
    const std::string_view value = trim_ows(f.substr(colon + 1));
    if (!is_token(name) || !valid_value(value))
      return bad(ParseStatus::kBad);  // incl. space before ':' (§5.1)
    if (iequals(name, "host")) {
      if (host) return bad(ParseStatus::kBad);  // RFC 9112 §3.2: more than one Host
      host = true;
    } else if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!parse_u64(value, &n) || (have_length && n != q.content_length)) return bad(ParseStatus::kBad);
      have_length = true;
      q.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      return bad(ParseStatus::kBadFraming);
    } else if (iequals(name, "if-none-match")) {
      if (q.if_none_match.empty()) q.if_none_match = value;
    } else if (iequals(name, "if-modified-since")) {
      q.if_modified_since = value;
    } else if (iequals(name, "range")) {
      if (!q.range.empty()) return bad(ParseStatus::kBad);
      q.range = value;
    } else if (iequals(name, "if-range")) {
      if (!q.if_range.empty()) return bad(ParseStatus::kBad);
      q.if_range = value;
    } else if (iequals(name, "connection")) {
      conn_close = conn_close || list_has(value, "close");
      conn_keep_alive = conn_keep_alive || list_has(value, "keep-alive");
    }
  }
  if (q.version_minor >= 1 && !host) return bad(ParseStatus::kBad);
  // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  q.keep_alive = !conn_close && (q.version_minor >= 1 || conn_keep_alive);
  q.head_len = pos;
  r.status = ParseStatus::kComplete;
  return r;
}

bool decode_path(std::string_view target, char* out, std::size_t out_cap, std::size_t* out_len) noexcept {
  if (target.empty() || target.front() != '/') return false;
  const std::size_t q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::size_t n = 0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return false;
      const int hi = hex(target[i + 1]), lo = hex(target[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || n >= out_cap) return false;
    out[n++] = c;
  }
  // No "." or ".." segment, however it was spelled.
  const std::string_view p{out, n};
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view seg = p.substr(start, end - start);
    if (seg == "." || seg == "..") return false;
    start = end + 1;
  }
  *out_len = n;
  return true;
}

}  // namespace tern::http
