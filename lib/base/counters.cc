#include "base/counters.h"

namespace tern {
namespace {
constexpr std::string_view kCounterNames[] = {
#define TERN_X(name) #name,
    TERN_EVENT_COUNTERS(TERN_X)
#undef TERN_X
};
constexpr std::string_view kDropNames[] = {
#define TERN_X(name) #name,
    TERN_DROP_REASONS(TERN_X)
#undef TERN_X
};
static_assert(std::size(kCounterNames) == kCounterCount);
static_assert(std::size(kDropNames) == kDropCount);
}  // namespace

std::string_view counter_name(Counter c) noexcept { return kCounterNames[static_cast<std::size_t>(c)]; }
std::string_view drop_name(Drop d) noexcept { return kDropNames[static_cast<std::size_t>(d)]; }

std::uint64_t Counters::total_drops() const noexcept {
  std::uint64_t t = 0;
  for (auto v : drops) t += v;
  return t;
}

Counters& Counters::operator+=(const Counters& o) noexcept {
  for (std::size_t i = 0; i < kCounterCount; ++i) events[i] += o.events[i];
  for (std::size_t i = 0; i < kDropCount; ++i) drops[i] += o.drops[i];
  return *this;
}

}  // namespace tern
