#pragma once
// A hashed timer wheel, one per worker (DESIGN.md "Timers"). Arm and cancel
// are O(1); the wheel stores deadlines, not callbacks.
//
// Semantics, on a timeline cut into ticks of `tick` starting at `start`:
//  - A node armed for deadline d is filed in the slot of the first tick
//    boundary at or after d. advance(now) fires it once now reaches that
//    boundary: never before d, and less than one tick after d as long as
//    advance is called at least once per tick.
//  - A deadline at or before the last advance's `now` ("in the past") goes
//    to a due list that the very next advance fires, whatever its `now`.
//  - Re-arming an armed node for a later deadline only writes the deadline
//    field: the node stays in its earlier slot, and when that slot is walked
//    the wheel re-checks the deadline and re-files the node. That is the TCP
//    hot path: the retransmission timer is pushed forward on every ACK and
//    costs one store. Re-arming for an earlier deadline moves the node.
//  - Deadlines more than one revolution (tick * slots) ahead stay in their
//    slot and are re-checked once per revolution; there is no second level.
//    Size the wheel so that common timeouts (RTO, delayed ACK, TIME_WAIT)
//    fit in one revolution, e.g. 1 ms x 4096 slots = 4.1 s; longer ones
//    (keepalive) cost one check per revolution.
//  - advance walks at most `slots` slots per call: after a gap longer than
//    one revolution, one walk over every slot finds every due node.
//  - on_expire runs after its node is unlinked, so it may re-arm or cancel
//    that node or any other. A node armed from inside on_expire never fires
//    in the same advance call, so a callback re-arming "now" cannot loop.
//  - Order of callbacks: due list first, then slot by slot in tick order.
//    Nodes of one slot fire in no particular order, and after a gap longer
//    than a revolution tick order is lost too. Callers needing the exact
//    instant use the deadline they stored, not the order of calls.
//
// Ownership: the node is intrusive. Derive the owner from TimerNode
// (`struct Tcb : TimerNode`) and recover it in on_expire with
// `timer_owner<Tcb>(node)`, a checked static_cast with no layout tricks. An
// owner that needs the node as a member instead can use offsetof on its own
// standard-layout type. The owner must cancel its node before it dies; the
// node's destructor checks that (and unlinks it, so release builds keep the
// wheel's lists intact).
//
// No heap allocation after construction; no std::function. Single-threaded,
// like everything a worker owns. `now` passed to advance must not go back.
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/check.h"
#include "base/instant.h"

namespace tern {

namespace timer_detail {
// Doubly linked, circular around a sentinel: unlinking needs neither the
// list head nor a branch for "first in slot".
struct Link {
  Link* prev = nullptr;
  Link* next = nullptr;

  void make_empty_head() noexcept { prev = next = this; }
  bool empty_head() const noexcept { return next == this; }
  void push_back(Link* n) noexcept {
    n->prev = prev;
    n->next = this;
    prev->next = n;
    prev = n;
  }
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
  // Moves every node of this list to the (empty) list `to`.
  void splice_all_into(Link& to) noexcept {
    if (empty_head()) return;
    to.next = next;
    to.prev = prev;
    next->prev = &to;
    prev->next = &to;
    make_empty_head();
  }
};
}  // namespace timer_detail

class TimerWheel;

class TimerNode : private timer_detail::Link {
 public:
  TimerNode() noexcept = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;
  ~TimerNode() {
    TERN_CHECK(next == nullptr);  // the owner died with its timer armed
    if (next != nullptr) unlink();
  }

 private:
  friend class TimerWheel;
  Instant deadline_;
  // Absolute tick of the slot holding the node; <= the wheel's current tick
  // means "on the due list".
  std::uint64_t tick_ = 0;
};

// The owner of a node, for owners that derive from TimerNode.
template <class Owner>
requires std::derived_from<Owner, TimerNode> Owner& timer_owner(TimerNode& node) noexcept {
  return static_cast<Owner&>(node);
}

class TimerWheel {
 public:
  // `slots` must be a power of two (slot = tick & mask) and `tick` positive;
  // release builds round up / clamp rather than misbehave.
  TimerWheel(Duration tick, std::size_t slots, Instant start)
      : tick_ns_(static_cast<std::uint64_t>(tick.count_ns() > 0 ? tick.count_ns() : 1)),
        mask_(std::bit_ceil(slots < 1 ? std::size_t{1} : slots) - 1),
        start_(start),
        last_now_(start),
        slots_(std::make_unique<timer_detail::Link[]>(mask_ + 1)) {
    TERN_CHECK(tick.count_ns() > 0);
    TERN_CHECK(std::has_single_bit(slots));
    for (std::size_t i = 0; i <= mask_; ++i) slots_[i].make_empty_head();
    due_.make_empty_head();
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  // Leaves every node still armed unarmed, so owners outliving the wheel
  // do not point into freed slots.
  ~TimerWheel() {
    clear(due_);
    for (std::size_t i = 0; i <= mask_; ++i) clear(slots_[i]);
  }

  static bool armed(const TimerNode& n) noexcept { return n.next != nullptr; }
  static Instant deadline(const TimerNode& n) noexcept { return n.deadline_; }
  std::size_t size() const noexcept { return armed_count_; }
  Duration tick() const noexcept { return Duration::ns(static_cast<std::int64_t>(tick_ns_)); }
  std::size_t slots() const noexcept { return mask_ + 1; }

  // Arms `n` for `deadline`, or re-arms it if already armed. O(1).
  void arm(TimerNode& n, Instant deadline) noexcept {
    if (armed(n)) {
      // Pushed later (the common case): the slot it sits in comes first and
      // will re-file it. No division, one store. A deadline already past
      // takes the slow path so that it lands on the due list.
      if (deadline >= n.deadline_ && deadline > last_now_) {
        n.deadline_ = deadline;
        return;
      }
      const std::uint64_t t = tick_for(deadline);
      n.deadline_ = deadline;
      if (t >= n.tick_) return;  // earlier, but its current slot still comes first
      n.unlink();
      file(n, t);
      return;
    }
    n.deadline_ = deadline;
    file(n, tick_for(deadline));
    ++armed_count_;
  }

  // Disarms `n`; harmless if it is not armed. O(1).
  void cancel(TimerNode& n) noexcept {
    if (!armed(n)) return;
    n.unlink();
    --armed_count_;
  }

  // Whether advance(now) would find anything to do: a node on the due list,
  // or `now` past the current tick's end (a slot to walk). A busy-polling
  // caller checks this on every iteration and advances only when it says so.
  bool work_at(Instant now) const noexcept {
    return !due_.empty_head() || static_cast<std::uint64_t>(now.ns_since_epoch() - start_.ns_since_epoch()) >=
                                     (cur_ + 1) * tick_ns_;
  }

  // Fires every node whose deadline is due by `now` and whose slot the clock
  // has reached (see the header comment); returns how many fired. Walks at
  // most slots() slots plus the due list.
  template <class Fn>
  std::size_t advance(Instant now, Fn&& on_expire) {
    if (now < last_now_) return 0;
    last_now_ = now;
    const std::uint64_t target = floor_tick(now);
    // Everything armed from here on (by callbacks) lands on the due list or
    // in a slot for a tick after `target`; neither is walked again below.
    const std::uint64_t from = cur_;
    cur_ = target;

    std::size_t fired = 0;
    if (!due_.empty_head()) fired += expire_list(due_, now, on_expire);
    if (target == from) return fired;
    // After a gap of more than a revolution, one pass over every slot sees
    // every node once: bounded work however long the worker was away.
    const std::uint64_t first = target - from > mask_ ? target - mask_ : from + 1;
    for (std::uint64_t t = first; t <= target; ++t) {
      timer_detail::Link& slot = slots_[t & mask_];
      if (!slot.empty_head()) fired += expire_list(slot, now, on_expire);
    }
    return fired;
  }

  // A lower bound on when advance() may next have work: the last `now` if
  // something is due, else the boundary of the first non-empty slot (whose
  // nodes may turn out to be later), else Instant::max(). O(slots) worst case;
  // meant for an idle worker deciding how long it may sleep.
  Instant next_expiry_hint() const noexcept {
    if (armed_count_ == 0) return Instant::max();
    if (!due_.empty_head()) return last_now_;
    for (std::uint64_t t = cur_ + 1; t <= cur_ + mask_ + 1; ++t) {
      if (!slots_[t & mask_].empty_head()) {
        return start_ + Duration::ns(static_cast<std::int64_t>(t * tick_ns_));
      }
    }
    return Instant::max();
  }

 private:
  using Link = timer_detail::Link;

  static TimerNode& node_of(Link* l) noexcept { return *static_cast<TimerNode*>(l); }

  // Ticks since start_, rounded down; unsigned arithmetic so that even
  // Instant::max() - start_ cannot overflow.
  std::uint64_t floor_tick(Instant t) const noexcept {
    return (static_cast<std::uint64_t>(t.ns_since_epoch()) -
            static_cast<std::uint64_t>(start_.ns_since_epoch())) /
           tick_ns_;
  }

  // The absolute tick a deadline is filed under: cur_ (the due list) if it is
  // not after the last `now`; otherwise the first tick boundary at or after
  // it, which is > cur_ because cur_'s boundary is <= last_now_.
  std::uint64_t tick_for(Instant deadline) const noexcept {
    if (deadline <= last_now_) return cur_;
    const std::uint64_t d = static_cast<std::uint64_t>(deadline.ns_since_epoch()) -
                            static_cast<std::uint64_t>(start_.ns_since_epoch());
    return d / tick_ns_ + (d % tick_ns_ != 0 ? 1 : 0);
  }

  void file(TimerNode& n, std::uint64_t t) noexcept {
    n.tick_ = t;
    (t <= cur_ ? due_ : slots_[t & mask_]).push_back(&n);
  }

  // Detaches the list first, so that callbacks may arm and cancel anything,
  // this list's other nodes included, without invalidating the walk.
  template <class Fn>
  std::size_t expire_list(Link& list, Instant now, Fn& on_expire) {
    Link batch;
    batch.make_empty_head();
    list.splice_all_into(batch);
    std::size_t fired = 0;
    while (!batch.empty_head()) {
      TimerNode& n = node_of(batch.next);
      n.unlink();
      if (n.deadline_ <= now) {
        --armed_count_;
        ++fired;
        on_expire(n);
      } else {
        // Pushed later by a lazy re-arm, or more than a revolution ahead.
        file(n, tick_for(n.deadline_));
      }
    }
    return fired;
  }

  static void clear(Link& list) noexcept {
    while (!list.empty_head()) list.next->unlink();
  }

  std::uint64_t tick_ns_;
  std::size_t mask_;
  Instant start_;
  Instant last_now_;
  std::uint64_t cur_ = 0;  // ticks since start_ walked so far
  std::size_t armed_count_ = 0;
  Link due_;
  std::unique_ptr<Link[]> slots_;
};

}  // namespace tern
