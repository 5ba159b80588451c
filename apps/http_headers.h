#pragma once
// tern-httpd's response-side header pieces, pure and allocation-free so that
// tests/unit/apps/http_headers_test.cc checks them without the EAL:
//   - HTTP dates (RFC 9110 §5.6.7) and the common log format's time, from
//     Unix seconds by arithmetic (no gmtime_r: glibc's takes a lock);
//   - entity tags (§8.8.3) and If-None-Match's list (§13.1.2);
//   - a single byte Range (§14.1.2, §14.2);
//   - the MIME type of a file name;
//   - one access-log line in the common log format.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tern/ip_addr.h"

namespace tern::http {

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate): always this many characters.
inline constexpr std::size_t kHttpDateLen = 29;
// Writes kHttpDateLen characters (no NUL). unix_s before 1970 or after 9999 is clamped.
void format_http_date(std::int64_t unix_s, char* out) noexcept;
// IMF-fixdate only (what every current client sends); nullopt for anything
// else, which If-Modified-Since then ignores (RFC 9110 §13.1.3).
std::optional<std::int64_t> parse_http_date(std::string_view s) noexcept;

// "10/Oct/2000:13:55:36 +0000" (the common log format's %t, in UTC).
inline constexpr std::size_t kClfDateLen = 26;
void format_clf_date(std::int64_t unix_s, char* out) noexcept;

// A strong entity-tag from a file's modification time and size, as nginx
// builds its own: "\"<mtime hex>-<size hex>\"". Returns its length (at most
// kEtagCap - 1; out holds kEtagCap).
inline constexpr std::size_t kEtagCap = 48;
std::size_t format_etag(std::int64_t mtime_s, std::uint64_t size, char* out) noexcept;

// If-None-Match (RFC 9110 §13.1.2): true when `field` is "*" or lists an
// entity-tag that matches `etag` by the weak comparison (W/ ignored on
// either side). A malformed list matches nothing.
bool none_match_hits(std::string_view field, std::string_view etag) noexcept;
// If-Range with an entity-tag: the strong comparison (a weak tag never matches).
bool strong_match(std::string_view tag, std::string_view etag) noexcept;

enum class RangeStatus : std::uint8_t {
  kIgnore,         // no usable Range (malformed, another unit, several ranges): send 200 and the whole
  kSatisfiable,    // send 206 with bytes [first, last]
  kUnsatisfiable,  // send 416 with "Content-Range: bytes */size"
};
struct RangeResult {
  RangeStatus status = RangeStatus::kIgnore;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive, < size
};
// One "bytes=" range of a representation of `size` bytes: "a-b" (b clamped
// to size - 1), "a-" and "-n" (the last n bytes). Several ranges are
// ignored (allowed by §14.2: the whole representation is sent instead).
RangeResult parse_range(std::string_view field, std::uint64_t size) noexcept;

// The Content-Type for a file name, by its extension (case-insensitive).
const char* content_type(std::string_view path) noexcept;

// One common-log-format line, "\n" included:
//   10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] "GET /a.html HTTP/1.1" 200 2326
// `request` is the request line (empty: "-", for a request that did not
// parse); '"', '\\' and control characters in it are written as \xHH, as
// nginx does. bytes 0 is "-". Returns the length written, 0 when it does
// not fit in `cap` (the line is then dropped whole, never cut).
std::size_t format_access_line(char* out, std::size_t cap, const IpAddr& addr, const char* clf_date,
                               std::string_view method, std::string_view target, int version_minor,
                               int status, std::uint64_t bytes) noexcept;

}  // namespace tern::http
