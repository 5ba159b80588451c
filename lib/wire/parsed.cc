#include "wire/parsed.h"

namespace tern {

std::string_view parse_error_name(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kBadHeaderLength:
      return "bad_header_length";
    case ParseError::kBadTotalLength:
      return "bad_total_length";
    case ParseError::kBadChecksum:
      return "bad_checksum";
    case ParseError::kBadOption:
      return "bad_option";
    case ParseError::kBadLength:
      return "bad_length";
    case ParseError::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace tern
