#pragma once
// tern-httpd's per-connection deadlines and its choice of a connection to
// evict, apart from any I/O so that they can be tested on virtual time
// (tests/unit/apps/http_timers_test.cc).
//
// A connection waits for at most one thing at a time, each with its own
// timeout (nginx's names in brackets):
//   kHead      a complete request head, --header-timeout from the start of
//              the wait: accept for the first request, the first byte of a
//              later one [client_header_timeout]. Bytes arriving do not
//              move it: a head trickled a byte at a time (slowloris) must
//              still be complete in time.
//   kBody      the rest of a request body being discarded, --idle-timeout
//              from the last bytes [client_body_timeout].
//   kKeepAlive the next request, --idle-timeout after the last response was
//              queued [keepalive_timeout].
//   kLinger    the client's close after our FIN, --idle-timeout
//              [lingering_timeout].
//   kSend      send space for a response, --send-timeout from the last
//              progress [send_timeout]: see send_stalled().
//   kRetry     send() refused with space left (mbufs ran out): no
//              on_writable will come, so the server retries on every loop
//              iteration; our shortage, not the client's, so untimed.
// Each kind with one timeout sits on its own TimeoutList, so every list is
// in deadline order and pop_expired() looks at four fronts.
//
// Eviction (victim()): when every connection slot is taken, a new
// connection is served in place of, first, the oldest incomplete request
// head if it has waited kYoungHead or more (the shape of a slowloris attack:
// a client that sends its head slowly is the one to lose its slot, not a
// new client, whose head is normally one round trip away); then the oldest
// request body being discarded (the same attack sent as a slow body); then
// the connection idle longest in keep-alive or lingering close (its
// responses are all queued: a graceful close loses nothing, and clients
// retry idempotent requests on a closed keep-alive connection, RFC 9112
// §9.3.1); then the response blocked longest on a client that acknowledged
// nothing of it for at least kStallBeforeEviction (a client that does not
// read: the shape of the zero-window attack, thousands of which would
// otherwise hold every slot until --send-timeout). A response making
// progress moves to the back of its list at every step, so it is never the
// one chosen while a stalled one exists; then the oldest head however young
// (under a flood of new connections the newest must not all evict each
// other before their heads arrive, while non-readers keep their slots),
// taking among the kCrowdScan oldest heads the first from a crowded source
// (source_counts.h) if there is one: a client whose request is a moment
// late because its host is busy keeps its slot while a host holding
// thousands of slots loses one;
// when every connection is sending and none has stalled that long, the new
// connection is refused.
#include <cstdint>

#include "source_counts.h"
#include "tern/time.h"
#include "timeout_list.h"

namespace tern::http {

enum class Wait : std::uint8_t { kNone, kHead, kBody, kKeepAlive, kLinger, kSend, kRetry };

// The part of a connection's state the timers keep; tern-httpd's
// connection derives from it.
struct TimedConn : apps::TimeoutLink {
  Wait wait = Wait::kNone;
  std::uint32_t send_mark = 0;  // unacknowledged bytes when the send deadline was armed
  IpAddr source;                // the client's address (SourceCounts' key)
};

struct HttpTimeouts {
  Duration header = Duration::s(10);  // 0: never
  Duration idle = Duration::s(60);    // 0: never
  Duration send = Duration::s(60);    // 0: never
};

class HttpTimers {
 public:
  explicit HttpTimers(const HttpTimeouts& t) noexcept;

  // Waiting for a request head. A connection already waiting for one keeps
  // its deadline.
  void wait_head(TimedConn& c, Instant now) noexcept;
  // Discarding a request body: re-armed by every call (every arrival).
  void wait_body(TimedConn& c, Instant now) noexcept;
  // Waiting for the next request, or for the client's close after our FIN:
  // a connection already waiting for the same keeps its deadline.
  void wait_keepalive(TimedConn& c, Instant now) noexcept;
  void wait_linger(TimedConn& c, Instant now) noexcept;
  // A response is blocked on send space with `queued` bytes not yet
  // acknowledged. `progressed`: the client made room since the last call
  // (some of the response was taken this time), so the deadline restarts;
  // otherwise a connection already waiting keeps its deadline.
  void wait_send(TimedConn& c, Instant now, std::uint32_t queued, bool progressed) noexcept;
  // Refused with space left: retried each iteration (retry()), not timed.
  void wait_retry(TimedConn& c) noexcept;
  // Waits for nothing (parsing, or responding without being blocked).
  void stop(TimedConn& c) noexcept;

  // The next connection whose deadline passed, off its list with `wait`
  // still saying which deadline it was; null when none is due.
  TimedConn* pop_expired(Instant now) noexcept;
  // For a kSend expiry with `queued` bytes unacknowledged now. True: the
  // client acknowledged nothing since the deadline was armed — a stalled
  // reader, to be aborted. False: the queue shrank (a slow reader whose
  // progress did not reach the low watermark, so no on_writable told us):
  // the deadline is re-armed from now. A reader that stops is therefore
  // aborted between one and two --send-timeout after its last progress.
  bool send_stalled(TimedConn& c, Instant now, std::uint32_t queued) noexcept;

  // The connection to evict at `now` when every slot is taken (see the
  // top), still on its list; null when every connection is sending a
  // response that made progress within kStallBeforeEviction. `sources`
  // (optional) counts the slots each client address holds.
  static constexpr Duration kStallBeforeEviction = Duration::ms(250);
  static constexpr Duration kYoungHead = Duration::s(1);
  static constexpr std::uint32_t kCrowdScan = 64;
  TimedConn* victim(Instant now, const apps::SourceCounts* sources = nullptr) const noexcept;

  // The oldest connection on the retry list (on_poll drains it), or null.
  TimedConn* retry_front() const noexcept;
  std::uint32_t retrying() const noexcept { return retry_.size(); }

 private:
  apps::TimeoutList* list_for(Wait w) noexcept;
  void wait(TimedConn& c, Wait w, Instant now) noexcept;

  apps::TimeoutList head_;  // --header-timeout
  apps::TimeoutList body_;  // --idle-timeout
  apps::TimeoutList idle_;  // keep-alive and lingering close: --idle-timeout
  apps::TimeoutList send_;  // --send-timeout
  apps::TimeoutList retry_;
};

}  // namespace tern::http
