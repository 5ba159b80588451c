#pragma once
// A list of elements waiting on one fixed timeout, for the applications'
// per-connection deadlines (tern-httpd's header, idle and send timeouts,
// tern-proxy's idle timeout).
//
// Every deadline on a list is "armed at + timeout", so the order elements
// were armed in is also their deadline order: only the front can be due.
// Checking costs O(1) per loop iteration and arming (or re-arming on
// activity) O(1) — no heap, no scan, no allocation, however many
// connections wait. The list is intrusive: the element embeds (or derives
// from) a TimeoutLink, and is on at most one list at a time, so moving it
// from one wait to another is an unlink and a link.
//
// A zero timeout keeps the order (the application can still ask which
// element has waited longest, to choose one to evict) but never expires.
//
// Pure: time is passed in (WorkerContext::now() in the apps, virtual time
// in tests/unit/apps/timeout_list_test.cc).
#include <cstdint>

#include "tern/time.h"

namespace tern::apps {

class TimeoutList;

struct TimeoutLink {
  TimeoutList* list = nullptr;  // the list it is on, or null
  TimeoutLink* prev = nullptr;
  TimeoutLink* next = nullptr;
  Instant since;  // when it was armed
  bool linked() const noexcept { return list != nullptr; }
};

class TimeoutList {
 public:
  explicit TimeoutList(Duration timeout = Duration{}) noexcept : timeout_(timeout) {}
  TimeoutList(const TimeoutList&) = delete;
  TimeoutList& operator=(const TimeoutList&) = delete;

  Duration timeout() const noexcept { return timeout_; }
  bool expires() const noexcept { return timeout_ > Duration{}; }

  // `e` waits from `now`: at the back, off whatever list it was on (this
  // one included). `now` never goes back (the worker loop's clock), which
  // keeps the list in deadline order.
  void arm(TimeoutLink& e, Instant now) noexcept {
    unlink(e);
    e.list = this;
    e.since = now;
    e.prev = tail_;
    e.next = nullptr;
    if (tail_ != nullptr)
      tail_->next = &e;
    else
      head_ = &e;
    tail_ = &e;
    ++size_;
  }

  // Off the list it is on, if any.
  static void unlink(TimeoutLink& e) noexcept {
    if (e.list != nullptr) e.list->remove(e);
  }

  Instant deadline(const TimeoutLink& e) const noexcept { return e.since + timeout_; }

  // The element that has waited longest, or null.
  TimeoutLink* front() const noexcept { return head_; }

  // The front, taken off the list, once its deadline has come; else null.
  TimeoutLink* pop_due(Instant now) noexcept {
    if (head_ == nullptr || !expires() || deadline(*head_) > now) return nullptr;
    TimeoutLink* e = head_;
    remove(*e);
    return e;
  }

  std::uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  void remove(TimeoutLink& e) noexcept {
    if (e.prev != nullptr)
      e.prev->next = e.next;
    else
      head_ = e.next;
    if (e.next != nullptr)
      e.next->prev = e.prev;
    else
      tail_ = e.prev;
    e.prev = e.next = nullptr;
    e.list = nullptr;
    --size_;
  }

  Duration timeout_;
  TimeoutLink* head_ = nullptr;
  TimeoutLink* tail_ = nullptr;
  std::uint32_t size_ = 0;
};

}  // namespace tern::apps
