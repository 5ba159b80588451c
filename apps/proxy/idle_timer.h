#pragma once
// tern-proxy's idle timeout (--idle-timeout): a relayed pair that moved no
// bytes in either direction for the timeout is closed. Apart from any I/O
// so that it can be tested on virtual time (tests/unit/apps/idle_timer_test.cc).
//
// Activity is what the proxy sees: bytes received from either side, bytes
// handed to send() on either side. One more kind it cannot see as it
// happens: a slow reader acknowledging bytes already queued, too few to
// bring the send buffer down to its low watermark (no on_writable). So each
// side's unacknowledged bytes are noted when the timer is armed, and at
// the deadline a queue that shrank counts as activity: the timer restarts
// instead of closing a download that is slow but moving.
//
// Every deadline is "last activity + timeout": the sessions sit on one
// TimeoutList in deadline order, and activity moves a session to its back.
#include <array>
#include <cstdint>

#include "tern/time.h"
#include "timeout_list.h"

namespace tern::proxy {

struct IdleLink : apps::TimeoutLink {
  std::array<std::uint32_t, 2> queued{};  // each side's unacknowledged bytes when armed
};

class IdleTimer {
 public:
  // A zero timeout turns it off: nothing is ever armed.
  explicit IdleTimer(Duration timeout) noexcept : list_(timeout) {}

  bool enabled() const noexcept { return list_.expires(); }

  // Bytes moved now; `queued`: each side's unacknowledged bytes now.
  void touch(IdleLink& l, Instant now, std::array<std::uint32_t, 2> queued) noexcept {
    if (!enabled()) return;
    l.queued = queued;
    list_.arm(l, now);
  }

  void stop(IdleLink& l) noexcept { apps::TimeoutList::unlink(l); }

  // The next session whose deadline passed, off the list; null when none.
  // The caller then asks still_idle().
  IdleLink* pop_due(Instant now) noexcept { return static_cast<IdleLink*>(list_.pop_due(now)); }

  // True: nothing moved for the whole timeout, close the pair. False: a
  // side's queue shrank since the timer was armed (its reader is slow, not
  // gone), so the timer is re-armed from now.
  bool still_idle(IdleLink& l, Instant now, std::array<std::uint32_t, 2> queued) noexcept {
    if (queued[0] < l.queued[0] || queued[1] < l.queued[1]) {
      touch(l, now, queued);
      return false;
    }
    return true;
  }

  std::uint32_t size() const noexcept { return list_.size(); }

 private:
  apps::TimeoutList list_;
};

}  // namespace tern::proxy
