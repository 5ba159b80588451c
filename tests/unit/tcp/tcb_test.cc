// tcb.h's owns_nothing: the check build_tcb_proto makes once that the
// stack's prototype, copied bytewise into every new TCB, holds no pointer
// to something owned and is on no list. Each case sets one such field on a
// fresh TcbState and expects the check to see it.
#include "tcp/tcb.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <new>
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
  static const std::uint32_t generation = 0;
  const std::vector<std::pair<const char*, std::function<void(TcbState&)>>> cases = {
      {"txlog", [](TcbState& s) { s.txlog = fake<TxLog>(); }},
      {"ooo", [](TcbState& s) { s.ooo = fake<ReassemblyQueue>(); }},
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

// The SACK scoreboard is no part of the prototype (Tcb::sb): each TCB
// builds its own, empty and holding its ranges inline, whatever the slot
// held before (here: every byte 0xff).
TEST(TcbScoreboard, ANewTcbBuildsAnEmptyScoreboard) {
  alignas(Tcb) static std::array<std::byte, sizeof(Tcb)> slot;
  slot.fill(std::byte{0xff});
  const TcbState proto = fresh();
  Tcb* c = ::new (static_cast<void*>(slot.data())) Tcb(proto);
  EXPECT_TRUE(c->sb.empty());
  EXPECT_TRUE(c->sb.idle());
  EXPECT_FALSE(c->sb.attached());
  EXPECT_EQ(c->sb.capacity(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(c->sb.sacked_bytes(), 0u);
  EXPECT_TRUE(c->sb.ranges().empty());
  EXPECT_FALSE(c->sb.high_rxt().has_value());
  EXPECT_FALSE(c->sb.rescue_rxt().has_value());
  // And it works from there: a block above SND.UNA is held.
  const SackBlock b[] = {{2000, 3000}};
  EXPECT_EQ(c->sb.update(Seq32{1000}, Seq32{5000}, b).newly_sacked, 1000u);
  EXPECT_EQ(c->sb.ranges().size(), 1u);
  c->~Tcb();
}

}  // namespace
}  // namespace tern
