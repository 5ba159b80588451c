#include "perf_options.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace tern::perf {

std::uint64_t parse_bytes(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  std::uint64_t mult = 1;
  if (end != nullptr && end != v.c_str() && *end != '\0' && end[1] == '\0') {
    switch (*end) {
      case 'K':
      case 'k':
        mult = 1ull << 10;
        break;
      case 'M':
      case 'm':
        mult = 1ull << 20;
        break;
      case 'G':
      case 'g':
        mult = 1ull << 30;
        break;
      case 'T':
      case 't':
        mult = 1ull << 40;
        break;
      default:
        mult = 0;
    }
    ++end;
  }
  if (v.empty() || v[0] < '0' || v[0] > '9' || errno != 0 || end == nullptr || *end != '\0' || mult == 0 ||
      n == 0 || n > (1ull << 50) / mult)
    throw std::invalid_argument(flag + " = \"" + v +
                                "\": expected a byte count, 1 to 2^50, optionally with K, M, G or T");
  return n * mult;
}

}  // namespace tern::perf
