#include "base/check.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace tern {
namespace {
std::atomic<std::uint64_t> g_violations{0};
}

std::uint64_t invariant_violations() noexcept { return g_violations.load(std::memory_order_relaxed); }

void report_invariant_violation(const char* expr, const char* file, int line) noexcept {
  g_violations.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "TERN: invariant violated: %s at %s:%d\n", expr, file, line);
#ifndef NDEBUG
  std::abort();
#endif
}

}  // namespace tern
