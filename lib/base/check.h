#pragma once
// TERN_CHECK guards states that must be impossible. A debug build aborts so the
// bug is found at its source; a release build counts and logs the violation and
// carries on, because one confused connection must not take down a worker
// carrying thousands of others.
#include <cstdint>

namespace tern {

// Process-wide count of violated invariants (release builds). Written rarely,
// only on a bug, so a relaxed counter is fine here.
std::uint64_t invariant_violations() noexcept;
[[gnu::cold]] void report_invariant_violation(const char* expr, const char* file, int line) noexcept;

}  // namespace tern

#define TERN_CHECK(cond)                                             \
  do {                                                               \
    if (__builtin_expect(!(cond), 0)) {                              \
      ::tern::report_invariant_violation(#cond, __FILE__, __LINE__); \
    }                                                                \
  } while (0)
