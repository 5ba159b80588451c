#include "http_timers.h"

#include <initializer_list>

namespace tern::http {

namespace {

TimedConn* as_conn(apps::TimeoutLink* l) noexcept { return static_cast<TimedConn*>(l); }

}  // namespace

HttpTimers::HttpTimers(const HttpTimeouts& t) noexcept
    : head_(t.header), body_(t.idle), idle_(t.idle), send_(t.send), retry_(Duration{}) {}

apps::TimeoutList* HttpTimers::list_for(Wait w) noexcept {
  switch (w) {
    case Wait::kHead:
      return &head_;
    case Wait::kBody:
      return &body_;
    case Wait::kKeepAlive:
    case Wait::kLinger:
      return &idle_;
    case Wait::kSend:
      return &send_;
    case Wait::kRetry:
      return &retry_;
    case Wait::kNone:
      break;
  }
  return nullptr;
}

void HttpTimers::wait(TimedConn& c, Wait w, Instant now) noexcept {
  c.wait = w;
  list_for(w)->arm(c, now);
}

void HttpTimers::wait_head(TimedConn& c, Instant now) noexcept {
  // The deadline runs from the start of the head, not from its last byte:
  // re-arming here is the slowloris hole.
  if (c.wait != Wait::kHead) wait(c, Wait::kHead, now);
}

void HttpTimers::wait_body(TimedConn& c, Instant now) noexcept { wait(c, Wait::kBody, now); }

void HttpTimers::wait_keepalive(TimedConn& c, Instant now) noexcept {
  if (c.wait != Wait::kKeepAlive) wait(c, Wait::kKeepAlive, now);
}

void HttpTimers::wait_linger(TimedConn& c, Instant now) noexcept {
  if (c.wait != Wait::kLinger) wait(c, Wait::kLinger, now);
}

void HttpTimers::wait_send(TimedConn& c, Instant now, std::uint32_t queued, bool progressed) noexcept {
  if (c.wait == Wait::kSend && !progressed) return;
  c.send_mark = queued;
  wait(c, Wait::kSend, now);
}

void HttpTimers::wait_retry(TimedConn& c) noexcept {
  if (c.wait != Wait::kRetry) wait(c, Wait::kRetry, Instant{});
}

void HttpTimers::stop(TimedConn& c) noexcept {
  apps::TimeoutList::unlink(c);
  c.wait = Wait::kNone;
}

TimedConn* HttpTimers::pop_expired(Instant now) noexcept {
  for (apps::TimeoutList* l : {&head_, &body_, &idle_, &send_})
    if (apps::TimeoutLink* e = l->pop_due(now)) return as_conn(e);
  return nullptr;
}

bool HttpTimers::send_stalled(TimedConn& c, Instant now, std::uint32_t queued) noexcept {
  if (queued == 0 || queued < c.send_mark) {
    c.send_mark = queued;
    wait(c, Wait::kSend, now);
    return false;
  }
  return true;
}

TimedConn* HttpTimers::victim(Instant now, const apps::SourceCounts* sources) const noexcept {
  apps::TimeoutLink* head = head_.front();
  if (head != nullptr && now - head->since >= kYoungHead) return as_conn(head);
  for (const apps::TimeoutList* l : {&body_, &idle_})
    if (apps::TimeoutLink* e = l->front()) return as_conn(e);
  // The send list is in order of last progress: its front stalled longest.
  apps::TimeoutLink* s = send_.front();
  if (s != nullptr && now - s->since >= kStallBeforeEviction) return as_conn(s);
  // Only young heads left to choose from: a bounded look for one from a
  // crowded source before the oldest.
  if (sources != nullptr) {
    std::uint32_t n = 0;
    for (apps::TimeoutLink* e = head; e != nullptr && n < kCrowdScan; e = e->next, ++n)
      if (sources->crowded(as_conn(e)->source)) return as_conn(e);
  }
  return as_conn(head);
}

TimedConn* HttpTimers::retry_front() const noexcept { return as_conn(retry_.front()); }

}  // namespace tern::http
