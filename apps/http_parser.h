#pragma once
// An HTTP/1.1 request-head parser (RFC 9112 §2-§3, §5, §6; RFC 9110 §5).
// Pure and incremental by re-parsing: call it on everything received so far;
// it says whether a whole head is there, how long it is, and what it asks
// for. No allocation; the views point into the caller's buffer.
//
// Accepted: request line `METHOD SP request-target SP HTTP/1.x` with an
// origin-form target; header fields `name: value` (token names, no space
// before the colon, no obs-fold); CRLF or bare LF line ends (§2.2); empty
// lines before the request line (§2.2). Rejected as kBad: anything else,
// including a missing Host in HTTP/1.1 (§3.2), conflicting or invalid
// Content-Length (§6.3), and Transfer-Encoding (a request body we cannot
// frame without chunked decoding; kBadFraming says so).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tern::http {

enum class ParseStatus : std::uint8_t {
  kIncomplete,  // no end of head yet: read more (or, at the cap, kTooLarge)
  kComplete,    // a whole head; see Request
  kBad,         // malformed: 400, then close (framing is lost)
  kBadFraming,  // Transfer-Encoding in a request: 501, then close
  kBadVersion,  // HTTP/2+ or garbage major: 505, then close
  kTooLarge,    // no end of head within max_head bytes: 431, then close
};

struct Request {
  std::string_view method;
  std::string_view target;  // as sent (origin-form, with any query)
  std::uint8_t version_minor = 1;
  bool keep_alive = true;            // from version and Connection (RFC 9112 §9.3)
  std::uint64_t content_length = 0;  // request body bytes after the head
  std::size_t head_len = 0;          // bytes of the head, including the final empty line
  std::size_t skipped = 0;           // leading empty lines (part of head_len)
  // Conditional and range fields (RFC 9110 §13.1, §14.2), trimmed; empty
  // when absent. A repeated Range or If-Range makes the request kBad (one
  // range at most: never a choice between two); a repeated If-None-Match
  // keeps the first (a list field: any later ones only add tags).
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view range;
  std::string_view if_range;
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  Request req;
};

ParseResult parse_request(std::string_view buf, std::size_t max_head) noexcept;

// The path of an origin-form target, percent-decoded into `out` (query
// dropped). False for a target that is not origin-form, a bad %XX, a NUL,
// a `..` or `.` segment, or a path longer than `out_cap`.
bool decode_path(std::string_view target, char* out, std::size_t out_cap, std::size_t* out_len) noexcept;

}  // namespace tern::http
