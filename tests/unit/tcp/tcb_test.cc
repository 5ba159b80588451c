// tcb.h's owns_nothing: the check build_tcb_proto makes once that the
// stack's prototype, copied bytewise into every new TCB, holds no pointer
// to something owned and is on no list. Each case sets one such field on a
// fresh TcbState and expects the check to see it.
#include "tcp/tcb.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace tern {
namespace {

TcbState fresh() {
  return TcbState{RtoEstimator{RtoConfig{}}, CongestionAlgorithm::kNewReno, NewRenoConfig{}};
}

// Stand-ins for the objects the pointers would name: never dereferenced.
template <class T>
T* fake() {
  alignas(64) static std::array<std::byte, 64> storage{};
  return reinterpret_cast<T*>(storage.data());
}

TEST(TcbOwnsNothing, AFreshStateOwnsNothing) { EXPECT_TRUE(owns_nothing(fresh())); }

TEST(TcbOwnsNothing, EachOwningPointerAndListLinkIsSeen) {
  static std::array<SackRange, SackScoreboard::kLentRanges> room{};
  static const std::uint32_t generation = 0;
  const std::vector<std::pair<const char*, std::function<void(TcbState&)>>> cases = {
      {"txlog", [](TcbState& s) { s.txlog = fake<TxLog>(); }},
      {"ooo", [](TcbState& s) { s.ooo = fake<ReassemblyQueue>(); }},
      {"sb attached", [](TcbState& s) { s.sb.attach(room); }},
      {"prefix.len", [](TcbState& s) { s.prefix.len = 34; }},
      {"prefix.generation_of", [](TcbState& s) { s.prefix.generation_of = &generation; }},
      {"ready_next", [](TcbState& s) { s.ready_next = fake<Tcb>(); }},
      {"in_ready_list", [](TcbState& s) { s.in_ready_list = true; }},
      {"pace_link", [](TcbState& s) { s.pace_link = fake<Tcb>(); }},
      {"in_pace_list", [](TcbState& s) { s.in_pace_list = true; }},
      {"ack_link", [](TcbState& s) { s.ack_link = fake<Tcb>(); }},
      {"in_ack_list", [](TcbState& s) { s.in_ack_list = true; }},
      {"accept_next", [](TcbState& s) { s.accept_next = fake<Tcb>(); }},
      {"in_accept_queue", [](TcbState& s) { s.in_accept_queue = true; }},
      {"listener", [](TcbState& s) { s.listener = fake<Listener>(); }},
      {"user", [](TcbState& s) { s.user = fake<void>(); }},
  };
  for (const auto& [name, set] : cases) {
    TcbState s = fresh();
    set(s);
    EXPECT_FALSE(owns_nothing(s)) << name;
  }
}

}  // namespace
}  // namespace tern
