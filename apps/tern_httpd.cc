// tern-httpd: an HTTP/1.1 server (RFC 9110, RFC 9112) on every worker, on
// the public API (tern/api.h).
//
//   tern-httpd --config FILE [--port 80] [--root DIR] [--header-timeout S] [--idle-timeout S]
//              [--send-timeout S] [--worker-connections N] [--access-log PATH|-] [--ready-file PATH]
//
// GET and HEAD of
//   /bytes/N   N bytes of a fixed pattern (apps/http_pattern.h), produced as
//              the send window opens: copied from the pattern block, never
//              held in memory;
//   /PATH      the file DIR/PATH (with --root; a path ending in / serves
//              index.html, a directory named without the / gets a 301 to
//              it), read with pread into a per-worker scratch buffer as
//              send space allows; with Last-Modified and ETag (mtime and
//              size, as nginx), and 304 for a matching If-None-Match (or,
//              without one, an If-Modified-Since not older than the file).
// Every response carries Date; a single `Range: bytes=` gets 206 with
// Content-Range (both kinds of body), one past the end 416, several ranges
// the whole (RFC 9110 §14.2 allows it); If-Range is honoured.
// --access-log: one common-log-format line per response, buffered per
// worker (http_access_log.h); the byte count is the body the response
// announced.
// Keep-alive and pipelining: requests are answered in order, one at a time;
// the next is parsed only once the previous response is fully queued, and
// the connection is not read while a response waits for send space (so a
// client that never reads its responses stops being read, and its window
// closes). Every response carries Content-Length. 400 malformed, 404, 405
// other methods, 408 no complete request head within --header-timeout, 413
// request body over 1 MiB, 431 head over 8 KiB, 501 Transfer-Encoding, 505
// other major versions; after 400/408/413/431/501/505 and
// `Connection: close` the server shuts down its side and closes once the
// client has.
//
// Deadlines (http_timers.h; each 0 = never). Every connection waits on one:
//   - a request head (a new connection, or the first byte of the next
//     request arrived, or a pipelined partial head): --header-timeout
//     (default 10 s) from then, however the bytes trickle in; expiry sends
//     408 and closes;
//   - idle keep-alive (nothing of a next request received): --idle-timeout
//     (default 60 s) after the last response was queued; expiry closes
//     without a response;
//   - discarding a request body: --idle-timeout after the last bytes arrived;
//   - after our FIN (shut down, waiting for the client to close): --idle-timeout;
//   - a response blocked on send space: --send-timeout (default 60 s) with
//     no byte of it acknowledged: the client is not reading, so the
//     connection is reset (what is queued would never be read).
// Slots (--worker-connections, default 4096 per worker): when every one is
// taken, a new connection evicts the oldest incomplete request head a
// second old or more (reset), else the oldest discarded body (reset), else
// the connection idle longest in keep-alive or lingering close (closed
// gracefully), else the response whose client has acknowledged nothing of
// it for longest, 250 ms at least (reset: a client not reading), else the
// oldest head however young; when none can go, the new connection waits in
// the stack's accept queue (ready_to_accept) rather than being reset.
//
// Reading: on_data hands over an mbuf chain; its bytes are copied into the
// connection's 8 KiB head buffer. What does not fit stays held (and reading
// pauses) until the responses before it are queued; then the held bytes and
// whatever the receive queue kept meanwhile (read()) are parsed, and reading
// resumes once the connection waits for input again.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "http_access_log.h"
#include "http_headers.h"
#include "http_parser.h"
#include "http_pattern.h"
#include "http_timers.h"
#include "slot_pool.h"
#include "source_counts.h"
#include "tern/api.h"

namespace tern {
namespace {

using api::Buffer;
using api::CloseReason;
using api::Connection;

using http::Wait;

constexpr std::size_t kRxBuf = 8192;                 // request head cap (431 beyond)
constexpr std::uint32_t kMaxConns = 4096;            // default per worker (8 KiB head buffer each): 32 MiB
constexpr std::uint64_t kMaxRequestBody = 1u << 20;  // 413 beyond; smaller bodies are discarded
constexpr std::uint64_t kMaxBytes = 1ull << 40;      // largest /bytes/N
constexpr std::size_t kFileChunk = 64 * 1024;        // pread scratch per worker
constexpr std::size_t kHeadCap = 1024;               // response head (and error body)
constexpr std::size_t kMaxLocation = 512;            // a longer directory name gets 404, not 301
constexpr std::uint32_t kBacklog = 4096;

struct HttpStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;          // every slot taken, none evictable: reset
  std::uint64_t evicted = 0;          // an incomplete request (head or discarded body) reset for a new one
  std::uint64_t evicted_idle = 0;     // an idle keep-alive or lingering connection closed for a new one
  std::uint64_t evicted_stalled = 0;  // a response its client stopped reading reset for a new one
  std::uint64_t deferred = 0;         // iterations a new connection waited for a slot in the accept queue
  std::uint64_t closed_clean = 0;
  std::uint64_t closed_error = 0;  // reset, timed out or aborted
  std::uint64_t requests = 0;
  std::uint64_t s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0;
  std::uint64_t body_bytes = 0;       // response bodies queued
  std::uint64_t send_blocked = 0;     // waited for send space
  std::uint64_t file_errors = 0;      // a file shrank or failed mid-response: aborted
  std::uint64_t header_timeouts = 0;  // no complete request head in time: 408 and close
  std::uint64_t send_timeouts = 0;    // a response the client stopped reading: reset
  std::uint64_t idle_closed = 0;      // idle keep-alive, body or lingering close timed out: closed
  std::uint32_t active = 0;
  std::uint32_t max_active = 0;
};

enum class Body : std::uint8_t { kNone, kPattern, kFile };

// The deadline it waits on (http::TimedConn) and the request/response state.
struct HttpConn : http::TimedConn {
  Connection* c = nullptr;
  Buffer held;  // received, not yet copied into rx: held[held_off...]
  std::uint32_t held_off = 0;
  std::uint32_t rx_len = 0;
  std::uint64_t skip = 0;    // request body bytes still to discard
  std::uint32_t served = 0;  // responses started on this connection
  std::uint64_t sent = 0;    // bytes send() took on this connection
  // The response being sent: head[head_off, head_len), then the body.
  std::uint16_t head_len = 0;
  std::uint16_t head_off = 0;
  Body body = Body::kNone;
  std::uint64_t body_off = 0;
  std::uint64_t body_left = 0;
  int fd = -1;
  bool responding = false;
  bool close_after = false;  // shut down our side once this response is queued
  bool shut = false;
  bool peer_fin = false;
  std::array<char, kHeadCap> head;
  std::array<char, kRxBuf> rx;
};

const char* reason(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Internal Server Error";
  }
}

// A file's validators (RFC 9110 §8.8).
struct Validators {
  std::int64_t mtime = 0;
  char last_modified[http::kHttpDateLen];
  char etag[http::kEtagCap];
  std::size_t etag_len = 0;
  std::string_view etag_view() const noexcept { return {etag, etag_len}; }
};

class HttpApp final : public api::App, public api::AcceptHandler, public api::ConnectionHandler {
 public:
  HttpApp(std::uint16_t port, int root_fd, const http::HttpTimeouts& timeouts, std::uint32_t max_conns,
          int log_fd)
      : port_(port),
        root_fd_(root_fd),
        timers_(timeouts),
        pool_(max_conns),
        sources_(std::min<std::uint32_t>(max_conns, kMaxConns)),
        log_(log_fd) {}
  ~HttpApp() override {
    pool_.for_each_allocated([](HttpConn& e) {
      if (e.fd >= 0) ::close(e.fd);
    });
  }

  void on_start(api::WorkerContext& w) override {
    w_ = &w;
    scratch_ = std::make_unique<std::byte[]>(kFileChunk);
    if (api::Error e = w.listen(port_, kBacklog, *this); e != api::Error::kOk)
      std::fprintf(stderr, "tern-httpd: worker %u cannot listen on port %u: %s\n", w.id(), port_,
                   std::string(api::to_string(e)).c_str());
  }

  void on_poll(api::WorkerContext& w) override {
    // Responses refused with send space left (mbufs ran out): no on_writable
    // will come for them, so try again on every iteration until they move.
    for (std::uint32_t n = timers_.retrying(); n > 0; --n) {
      http::TimedConn* t = timers_.retry_front();
      if (t == nullptr) break;
      HttpConn& e = static_cast<HttpConn&>(*t);
      timers_.stop(e);
      process(e);
    }
    // Each list is in deadline order: only their fronts can be due.
    const Instant now = w.now();
    while (http::TimedConn* t = timers_.pop_expired(now)) expire(static_cast<HttpConn&>(*t), now);
    log_.poll(now);
  }

  // Every slot taken and none to free (http_timers.h, victim()): the new
  // connection waits in the stack's accept queue, asked again on the next
  // iteration, rather than being reset; once a response stalls long enough
  // or any connection ends, it gets its slot.
  bool ready_to_accept() override {
    if (pool_.in_use() < pool_.limit() || evict()) return true;
    ++stats_.deferred;
    return false;
  }

  api::ConnectionHandler* on_accept(Connection& c) override {
    ++stats_.accepted;
    HttpConn* e = take();
    if (e == nullptr && evict()) e = take();
    if (e == nullptr) {
      ++stats_.refused;
      return nullptr;  // reset
    }
    e->c = &c;
    c.user = e;
    e->source = c.remote_ip();
    sources_.add(e->source);
    c.set_nodelay(true);  // responses are corked while built (process)
    if (++stats_.active > stats_.max_active) stats_.max_active = stats_.active;
    timers_.wait_head(*e, w_->now());  // the first request head is due within --header-timeout
    return this;
  }

  void on_data(Connection& c, Buffer data) override {
    HttpConn& e = conn(c);
    // Reading pauses whenever bytes are held, so nothing is held here.
    e.held = std::move(data);
    e.held_off = 0;
    process(e);
  }

  void on_writable(Connection& c) override { process(conn(c)); }

  void on_peer_closed(Connection& c) override {
    HttpConn& e = conn(c);
    e.peer_fin = true;
    process(e);
  }

  void on_closed(Connection& c, CloseReason why) override {
    HttpConn& e = conn(c);
    if (why == CloseReason::kNormal)
      ++stats_.closed_clean;
    else
      ++stats_.closed_error;
    release(e);
  }

  const HttpStats& stats() const noexcept { return stats_; }
  // After the workers stopped (the control thread): what is still buffered.
  void flush_log() noexcept {
    if (log_.enabled()) log_.flush();
  }
  const http::AccessLog& access_log() const noexcept { return log_; }
  const api::WorkerContext* context() const noexcept { return w_; }

 private:
  static HttpConn& conn(Connection& c) noexcept { return *static_cast<HttpConn*>(c.user); }

  // ---- connection states: up to --worker-connections, allocated on demand ----

  HttpConn* take() noexcept {
    HttpConn* e = pool_.take();
    if (e == nullptr) return nullptr;
    e->c = nullptr;
    e->wait = Wait::kNone;
    e->held_off = 0;
    e->rx_len = 0;
    e->skip = 0;
    e->served = 0;
    e->sent = 0;
    e->head_len = e->head_off = 0;
    e->body = Body::kNone;
    e->body_off = e->body_left = 0;
    e->fd = -1;
    e->responding = e->close_after = e->shut = e->peer_fin = false;
    return e;
  }

  // Our state goes back to the pool; the Connection is closed, aborted or
  // gone (on_closed) by the caller.
  void release(HttpConn& e) noexcept {
    timers_.stop(e);
    if (e.fd >= 0) ::close(e.fd);
    e.fd = -1;
    e.held.reset();
    e.c->user = nullptr;
    e.c = nullptr;
    --stats_.active;
    sources_.remove(e.source);
    pool_.give_back(&e);
  }

  // Every slot is taken: frees one for a new connection (http_timers.h,
  // victim()). False when every connection is sending a response that
  // moves.
  bool evict() {
    http::TimedConn* t = timers_.victim(w_->now(), &sources_);
    if (t == nullptr) return false;
    HttpConn& e = static_cast<HttpConn&>(*t);
    if (e.wait == Wait::kHead || e.wait == Wait::kBody) {
      // An incomplete request: nothing owed to this client but a reset.
      ++stats_.evicted;
      abort_conn(e);
    } else if (e.wait == Wait::kSend) {
      // A client that stopped reading: what is queued would never be read.
      ++stats_.evicted_stalled;
      abort_conn(e);
    } else {
      // Its responses are all queued: a graceful close delivers them.
      ++stats_.evicted_idle;
      finish(e);
    }
    return true;
  }

  // ---- deadlines ----

  // The connection waits for input: which deadline applies.
  void waiting(HttpConn& e) noexcept {
    const Instant now = w_->now();
    if (e.rx_len > 0 || e.served == 0)
      timers_.wait_head(e, now);  // a head began, or none came yet on a new connection
    else if (e.skip > 0)
      timers_.wait_body(e, now);  // from the last bytes received
    else
      timers_.wait_keepalive(e, now);
  }

  // A deadline passed (the connection is off its list already).
  void expire(HttpConn& e, Instant now) {
    switch (e.wait) {
      case Wait::kHead:
        // No complete request head in time: 408, then close as after a 400
        // (the client learns why, RFC 9110 §15.5.9; the lingering close
        // that follows is evictable, so it holds no slot a new client needs).
        timers_.stop(e);
        ++stats_.header_timeouts;
        discard_input(e);
        e.skip = 0;
        error_response(e, 408, /*head_only=*/false, /*close=*/true, nullptr);
        return process(e);
      case Wait::kSend:
        if (!timers_.send_stalled(e, now, e.c->send_queued())) return;  // it read some: re-armed
        // Nothing of the response acknowledged for --send-timeout: what is
        // queued would never be read, so a graceful close would only hold
        // the TCB; reset.
        ++stats_.send_timeouts;
        return abort_conn(e);
      default:
        // Idle keep-alive, a request body that stopped coming, or a client
        // that did not close after our FIN: close without a response.
        ++stats_.idle_closed;
        return finish(e);
    }
  }

  // ---- the request/response cycle ----

  // Takes input, parses and responds until the connection must wait: for
  // send space, for input, or for the client's close. May release `e`.
  // Responses go out corked, so a head and a short body (or several
  // pipelined responses) leave in full segments; uncorking when done sends
  // the rest at once (TCP_NODELAY is on: no wait for an ACK).
  void process(HttpConn& e) {
    Connection& c = *e.c;
    corked_ = false;
    respond(e);
    if (corked_ && e.c == &c) c.set_cork(false);  // `e` still ours: it was not released
    corked_ = false;
  }

  void respond(HttpConn& e) {
    Connection& c = *e.c;
    while (true) {
      if (e.responding) {
        if (!corked_) {
          c.set_cork(true);
          corked_ = true;
        }
        const std::uint64_t sent_before = e.sent;
        const int r = pump(e);
        if (r < 0) return abort_conn(e);
        if (r == 0) {
          ++stats_.send_blocked;
          // Stop taking input until this response is queued. Refused with
          // space left means mbufs ran out: no on_writable will come, so
          // on_poll tries again. Otherwise the client has --send-timeout to
          // make room; taking some bytes now restarts it.
          c.pause_reading();
          if (c.send_space() > 0)
            timers_.wait_retry(e);
          else
            timers_.wait_send(e, w_->now(), c.send_queued(), e.sent != sent_before);
          return;
        }
        end_response(e);
        continue;
      }
      if (e.shut) {  // our FIN is queued: drop what the client still sends, close once it has finished
        discard_input(e);
        if (e.peer_fin) return finish(e);
        c.resume_reading();  // to see (and drop) the rest and the FIN
        return;
      }
      const std::size_t got = fill(e);
      if (e.skip > 0) {
        const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.skip, e.rx_len));
        consume(e, n);
        e.skip -= n;
        if (e.skip > 0) {
          if (got > 0) continue;
          if (e.peer_fin) return finish(e);
          return wait_for_input(e);
        }
      }
      const http::ParseResult p = http::parse_request({e.rx.data(), e.rx_len}, kRxBuf);
      if (p.status == http::ParseStatus::kIncomplete) {
        if (got > 0) continue;
        // Nothing more to read. A client that has finished with a partial
        // request (or none) gets a graceful close.
        if (e.peer_fin) return finish(e);
        return wait_for_input(e);
      }
      ++stats_.requests;
      timers_.stop(e);
      if (p.status != http::ParseStatus::kComplete) {
        e.rx_len = 0;
        const int status = p.status == http::ParseStatus::kTooLarge     ? 431
                           : p.status == http::ParseStatus::kBadFraming ? 501
                           : p.status == http::ParseStatus::kBadVersion ? 505
                                                                        : 400;
        error_response(e, status, /*head_only=*/false, /*close=*/true, nullptr);
        continue;
      }
      start_response(e, p.req);  // before consume(): the request's views point into e.rx
      consume(e, static_cast<std::uint32_t>(p.req.head_len));
    }
  }

  // Copies input into rx: first the bytes held from on_data, then (while
  // reading is paused, the receive queue kept the rest) the queue's.
  std::size_t fill(HttpConn& e) {
    std::size_t got = 0;
    while (e.held && e.rx_len < kRxBuf) {
      rte_mbuf* m = e.held.get();
      const std::uint32_t avail = m->data_len - e.held_off;
      const std::uint32_t n = std::min<std::uint32_t>(avail, static_cast<std::uint32_t>(kRxBuf - e.rx_len));
      std::memcpy(e.rx.data() + e.rx_len, rte_pktmbuf_mtod_offset(m, const char*, e.held_off), n);
      e.rx_len += n;
      got += n;
      e.held_off += n;
      if (e.held_off == m->data_len) {  // this segment is done: free it, keep the rest of the chain
        rte_mbuf* rest = m->next;
        if (rest != nullptr) {
          rest->nb_segs = static_cast<std::uint16_t>(m->nb_segs - 1);
          rest->pkt_len = m->pkt_len - m->data_len;
          m->next = nullptr;
          m->nb_segs = 1;
          m->pkt_len = m->data_len;
        }
        e.held.reset(rest);
        e.held_off = 0;
      }
    }
    if (!e.held && e.c->reading_paused() && e.rx_len < kRxBuf) {
      const std::size_t n =
          e.c->read({reinterpret_cast<std::byte*>(e.rx.data() + e.rx_len), kRxBuf - e.rx_len});
      e.rx_len += static_cast<std::uint32_t>(n);
      got += n;
    }
    return got;
  }

  // All input taken and nothing to send: read again and start the deadline.
  void wait_for_input(HttpConn& e) {
    e.c->resume_reading();
    waiting(e);
  }

  void consume(HttpConn& e, std::uint32_t n) noexcept {
    std::memmove(e.rx.data(), e.rx.data() + n, e.rx_len - n);
    e.rx_len -= n;
  }

  void discard_input(HttpConn& e) {
    e.held.reset();
    e.held_off = 0;
    while (e.c->read({scratch_.get(), kFileChunk}) > 0) {
    }
    e.rx_len = 0;
  }

  void start_response(HttpConn& e, const http::Request& q) {
    refresh_dates();
    const bool head_only = q.method == "HEAD";
    bool close = !q.keep_alive;
    if (q.content_length > kMaxRequestBody) return error_response(e, 413, head_only, true, &q);
    e.skip = q.content_length;
    if (q.method != "GET" && !head_only) return error_response(e, 405, false, close, &q);
    char path[1024];
    std::size_t path_len = 0;
    if (!http::decode_path(q.target, path, sizeof(path) - 16, &path_len))
      return error_response(e, 400, head_only, close, &q);
    const std::string_view p{path, path_len};
    constexpr std::string_view kBytes = "/bytes/";
    if (p.substr(0, kBytes.size()) == kBytes) {
      std::uint64_t n = 0;
      const std::string_view digits = p.substr(kBytes.size());
      if (digits.empty() || digits.size() > 13) return error_response(e, 404, head_only, close, &q);
      for (char c : digits) {
        if (c < '0' || c > '9') return error_response(e, 404, head_only, close, &q);
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (n > kMaxBytes) return error_response(e, 404, head_only, close, &q);
      return send_entity(e, q, n, "application/octet-stream", nullptr, Body::kPattern, -1);
    }
    if (root_fd_ < 0) return error_response(e, 404, head_only, close, &q);
    const bool slash = p.back() == '/';
    if (slash) {
      std::memcpy(path + path_len, "index.html", 10);
      path_len += 10;
    }
    path[path_len] = '\0';
    const char* rel = path;
    while (*rel == '/') ++rel;  // relative to the root, whatever "//x" says
    const int fd =
        ::openat(root_fd_, *rel == '\0' ? "." : rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return error_response(e, errno == EACCES ? 403 : 404, head_only, close, &q);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      // A directory named without its slash: relative links inside it
      // would resolve against its parent, so send the client to "dir/".
      if (S_ISDIR(st.st_mode) && !slash) return redirect_to_directory(e, q, head_only, close);
      return error_response(e, 404, head_only, close, &q);
    }
    Validators v;
    v.mtime = st.st_mtime;
    http::format_http_date(v.mtime, v.last_modified);
    v.etag_len = http::format_etag(v.mtime, static_cast<std::uint64_t>(st.st_size), v.etag);
    // RFC 9110 §13.2.2: If-None-Match decides when present, else
    // If-Modified-Since (an unparsable date is ignored).
    bool not_modified = false;
    if (!q.if_none_match.empty()) {
      not_modified = http::none_match_hits(q.if_none_match, v.etag_view());
    } else if (!q.if_modified_since.empty()) {
      const auto since = http::parse_http_date(q.if_modified_since);
      not_modified = since && v.mtime <= *since;
    }
    if (not_modified) {
      ::close(fd);
      char extra[128];
      const int x = std::snprintf(extra, sizeof extra, "Last-Modified: %.*s\r\nETag: %.*s\r\n",
                                  static_cast<int>(http::kHttpDateLen), v.last_modified,
                                  static_cast<int>(v.etag_len), v.etag);
      begin(e, 304, 0, nullptr, close, q, {extra, static_cast<std::size_t>(x)});
      return;
    }
    send_entity(e, q, static_cast<std::uint64_t>(st.st_size), http::content_type({path, path_len}), &v,
                Body::kFile, fd);
  }

  // A 200 (or, for a single satisfiable Range, 206) response with `size`
  // bytes of `body` (the file `fd`, which this takes, or the pattern).
  void send_entity(HttpConn& e, const http::Request& q, std::uint64_t size, const char* type,
                   const Validators* v, Body body, int fd) {
    const bool head_only = q.method == "HEAD";
    const bool close = !q.keep_alive;
    char extra[256];
    std::size_t x = 0;
    const auto add = [&](int n) { x += static_cast<std::size_t>(std::max(n, 0)); };
    add(std::snprintf(extra, sizeof extra, "Accept-Ranges: bytes\r\n"));
    if (v != nullptr)
      add(std::snprintf(extra + x, sizeof extra - x, "Last-Modified: %.*s\r\nETag: %.*s\r\n",
                        static_cast<int>(http::kHttpDateLen), v->last_modified, static_cast<int>(v->etag_len),
                        v->etag));
    int status = 200;
    std::uint64_t first = 0, length = size;
    // RFC 9110 §14.2: Range only for GET, and only while If-Range (if any) still holds.
    if (!q.range.empty() && q.method == "GET" && if_range_holds(q, v)) {
      const http::RangeResult r = http::parse_range(q.range, size);
      if (r.status == http::RangeStatus::kUnsatisfiable) {
        if (fd >= 0) ::close(fd);
        char cr[64];
        const int n = std::snprintf(cr, sizeof cr, "Content-Range: bytes */%" PRIu64 "\r\n", size);
        return error_response(e, 416, head_only, close, &q, {cr, static_cast<std::size_t>(n)});
      }
      if (r.status == http::RangeStatus::kSatisfiable) {
        status = 206;
        first = r.first;
        length = r.last - r.first + 1;
        add(std::snprintf(extra + x, sizeof extra - x,
                          "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", r.first, r.last,
                          size));
      }
    }
    begin(e, status, length, type, close, q, {extra, std::min(x, sizeof extra - 1)});
    if (head_only || length == 0) {
      if (fd >= 0) ::close(fd);
      return;
    }
    e.body = body;
    e.fd = fd;
    e.body_off = first;
    e.body_left = length;
  }

  // If-Range (RFC 9110 §13.1.5): an entity-tag must match strongly, a date
  // must equal Last-Modified; without validators it never holds.
  static bool if_range_holds(const http::Request& q, const Validators* v) noexcept {
    if (q.if_range.empty()) return true;
    if (v == nullptr) return false;
    if (q.if_range.front() == '"' || q.if_range.substr(0, 2) == "W/")
      return http::strong_match(q.if_range, v->etag_view());
    const auto d = http::parse_http_date(q.if_range);
    return d && *d == v->mtime;
  }

  // 301 to the target with a slash after its path (the query kept): an
  // absolute path, resolved against the same origin (RFC 9110 §10.2.2).
  void redirect_to_directory(HttpConn& e, const http::Request& q, bool head_only, bool close) {
    const std::size_t qm = q.target.find('?');
    const std::string_view path = q.target.substr(0, qm);
    const std::string_view query = qm == std::string_view::npos ? std::string_view{} : q.target.substr(qm);
    if (path.size() + query.size() > kMaxLocation) return error_response(e, 404, head_only, close, &q);
    char loc[kMaxLocation + 32];
    const int n = std::snprintf(loc, sizeof loc, "Location: %.*s/%.*s\r\n", static_cast<int>(path.size()),
                                path.data(), static_cast<int>(query.size()), query.data());
    error_response(e, 301, head_only, close, &q, {loc, static_cast<std::size_t>(n)});
  }

  // The status line and header fields of a response; the body follows.
  // `extra`: whole header lines. A 304 has no Content-Length (§15.4.5).
  void begin(HttpConn& e, int status, std::uint64_t length, const char* type, bool close,
             const http::Request& q, std::string_view extra) {
    const char* conn = close                  ? "Connection: close\r\n"
                       : q.version_minor == 0 ? "Connection: keep-alive\r\n"
                                              : "";
    char clen[48] = "";
    if (status != 304) std::snprintf(clen, sizeof clen, "Content-Length: %" PRIu64 "\r\n", length);
    char ctype[80] = "";
    if (type != nullptr) std::snprintf(ctype, sizeof ctype, "Content-Type: %s\r\n", type);
    const int n = std::snprintf(e.head.data(), e.head.size(),
                                "HTTP/1.1 %d %s\r\nServer: tern-httpd\r\nDate: %.*s\r\n%s%s%.*s%s\r\n",
                                status, reason(status), static_cast<int>(http::kHttpDateLen), http_date_,
                                ctype, clen, static_cast<int>(extra.size()), extra.data(), conn);
    e.head_len =
        static_cast<std::uint16_t>(std::min<std::size_t>(static_cast<std::size_t>(n), e.head.size() - 1));
    e.head_off = 0;
    e.body = Body::kNone;
    e.body_off = 0;
    e.body_left = 0;
    e.responding = true;
    e.close_after = close;
    ++e.served;
    count_status(status);
    log_access(e, &q, status, q.method == "HEAD" || status == 304 ? 0 : length);
  }

  // A response with a short text body ("404 Not Found\n"); `q` is null for
  // a request that did not parse (or never came: 408).
  void error_response(HttpConn& e, int status, bool head_only, bool close, const http::Request* q,
                      std::string_view extra = {}) {
    refresh_dates();
    char body[64];
    const int blen = std::snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
    const std::string_view allow = status == 405 ? "Allow: GET, HEAD\r\n" : "";
    const int n =
        std::snprintf(e.head.data(), e.head.size(),
                      "HTTP/1.1 %d %s\r\nServer: tern-httpd\r\nDate: %.*s\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %d\r\n%.*s%.*s%s\r\n%s",
                      status, reason(status), static_cast<int>(http::kHttpDateLen), http_date_, blen,
                      static_cast<int>(allow.size()), allow.data(), static_cast<int>(extra.size()),
                      extra.data(), close ? "Connection: close\r\n" : "", head_only ? "" : body);
    e.head_len =
        static_cast<std::uint16_t>(std::min<std::size_t>(static_cast<std::size_t>(n), e.head.size() - 1));
    e.head_off = 0;
    e.body = Body::kNone;
    e.body_left = 0;
    e.responding = true;
    e.close_after = close;
    ++e.served;
    count_status(status);
    log_access(e, q, status, head_only ? 0 : static_cast<std::uint64_t>(blen));
  }

  // ---- Date and the access log ----

  // The Date value and the log's time, formatted again when the second
  // changes; the wall clock is read at most every 20 ms of loop time
  // (clock_gettime through the vDSO: no system call).
  void refresh_dates() noexcept {
    const Instant now = w_->now();
    if (date_s_ >= 0 && now < date_next_) return;
    date_next_ = now + Duration::ms(20);
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec == date_s_) return;
    date_s_ = ts.tv_sec;
    http::format_http_date(date_s_, http_date_);
    http::format_clf_date(date_s_, clf_date_);
  }

  void log_access(const HttpConn& e, const http::Request* q, int status, std::uint64_t bytes) noexcept {
    if (!log_.enabled()) return;
    log_.add(w_->now(), [&](char* out, std::size_t cap) {
      return q == nullptr ? http::format_access_line(out, cap, e.source, clf_date_, {}, {}, 1, status, bytes)
                          : http::format_access_line(out, cap, e.source, clf_date_, q->method, q->target,
                                                     q->version_minor, status, bytes);
    });
  }

  void count_status(int status) noexcept {
    if (status < 300)
      ++stats_.s2xx;
    else if (status < 400)
      ++stats_.s3xx;
    else if (status < 500)
      ++stats_.s4xx;
    else
      ++stats_.s5xx;
  }

  // 1: the response is fully queued; 0: out of send space (on_writable
  // follows); -1: the file failed, or the connection can no longer send.
  int pump(HttpConn& e) {
    Connection& c = *e.c;
    while (e.head_off < e.head_len) {
      const std::size_t want = e.head_len - e.head_off;
      const api::SendResult r = c.send(std::as_bytes(std::span{e.head.data() + e.head_off, want}));
      e.head_off = static_cast<std::uint16_t>(e.head_off + r.accepted);
      e.sent += r.accepted;
      if (r.error == api::Error::kClosed) return -1;
      if (r.accepted < want) return 0;
    }
    if (e.body == Body::kPattern) {
      const auto& block = http::pattern_block();
      while (e.body_left > 0) {
        const std::size_t off = e.body_off % http::kPatternPeriod;
        const std::size_t want = std::min<std::uint64_t>(http::kPatternPeriod - off, e.body_left);
        const api::SendResult r = c.send(std::span{block.data() + off, want});
        e.body_off += r.accepted;
        e.body_left -= r.accepted;
        e.sent += r.accepted;
        stats_.body_bytes += r.accepted;
        if (r.error == api::Error::kClosed) return -1;
        if (r.accepted < want) return 0;
      }
    } else if (e.body == Body::kFile) {
      while (e.body_left > 0) {
        // With no room for a whole mbuf, ask for on_writable rather than
        // read the file to offer bytes that would be refused.
        const std::size_t space = c.send_space();
        if (space == 0) {
          c.want_writable();
          return 0;
        }
        const std::size_t want = std::min<std::uint64_t>({space, kFileChunk, e.body_left});
        const ssize_t got = ::pread(e.fd, scratch_.get(), want, static_cast<off_t>(e.body_off));
        if (got <= 0) {
          ++stats_.file_errors;
          return -1;
        }
        const api::SendResult r =
            c.send(std::span<const std::byte>{scratch_.get(), static_cast<std::size_t>(got)});
        e.body_off += r.accepted;
        e.body_left -= r.accepted;
        e.sent += r.accepted;
        stats_.body_bytes += r.accepted;
        if (r.error == api::Error::kClosed) return -1;
        if (r.accepted < static_cast<std::size_t>(got)) return 0;
      }
    }
    return 1;
  }

  void end_response(HttpConn& e) {
    if (e.fd >= 0) ::close(e.fd);
    e.fd = -1;
    e.responding = false;
    e.body = Body::kNone;
    timers_.stop(e);  // off the send or retry list
    if (e.close_after && !e.shut) {
      e.shut = true;
      (void)e.c->shutdown();
      timers_.wait_linger(e, w_->now());  // the client has --idle-timeout to close its side
    }
  }

  // Reset: a response that cannot be completed (a file failed, or the
  // connection can no longer send: the Content-Length promised cannot be
  // kept), one the client stopped reading, or an evicted connection.
  void abort_conn(HttpConn& e) {
    ++stats_.closed_error;
    Connection& c = *e.c;
    release(e);
    c.abort();
  }

  // The client finished: close our side too.
  void finish(HttpConn& e) {
    ++stats_.closed_clean;
    // Anything unread would turn close() into a reset.
    discard_input(e);
    Connection& c = *e.c;
    if (corked_) c.set_cork(false);
    corked_ = false;
    release(e);
    c.close();
  }

  std::uint16_t port_;
  int root_fd_;
  api::WorkerContext* w_ = nullptr;
  http::HttpTimers timers_;
  apps::SlotPool<HttpConn> pool_;
  apps::SourceCounts sources_;  // slots held per client address
  std::unique_ptr<std::byte[]> scratch_;
  bool corked_ = false;  // process() corked the connection it works on
  HttpStats stats_;
  http::AccessLog log_;
  std::int64_t date_s_ = -1;  // the second http_date_ and clf_date_ show
  Instant date_next_;
  char http_date_[http::kHttpDateLen] = {};
  char clf_date_[http::kClfDateLen] = {};
};

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  std::uint16_t port = 80;
  int root_fd = -1;
  std::string root_path;
  http::HttpTimeouts timeouts;
  std::uint32_t max_conns = kMaxConns;
  int log_fd = -1;
  std::vector<HttpApp*> apps;
  api::AppSpec spec;
  spec.name = "tern-httpd";
  spec.summary = "HTTP/1.1 server (GET/HEAD of /bytes/N and files under --root) on every worker";
  spec.options.push_back({"--port", "N", "TCP port to listen on (default 80)", [&port](const std::string& v) {
                            port = static_cast<std::uint16_t>(api::parse_int_option("--port", v, 1, 65535));
                          }});
  spec.options.push_back({"--root", "DIR", "serve the files under DIR (default: only /bytes/N)",
                          [&root_fd, &root_path](const std::string& v) {
                            const int fd = ::open(v.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                            if (fd < 0)
                              throw std::invalid_argument("--root " + v + ": not a readable directory (" +
                                                          std::strerror(errno) + ")");
                            if (root_fd >= 0) ::close(root_fd);
                            root_fd = fd;
                            root_path = v;
                          }});
  spec.options.push_back({"--header-timeout", "S",
                          "408 and close when a request head is not complete S seconds after it began "
                          "(default 10, 0 = never)",
                          [&timeouts](const std::string& v) {
                            timeouts.header =
                                Duration::s(api::parse_int_option("--header-timeout", v, 0, 86400));
                          }});
  spec.options.push_back({"--idle-timeout", "S",
                          "close a keep-alive connection idle for S seconds, or a body or lingering close "
                          "stalled that long (default 60, 0 = never)",
                          [&timeouts](const std::string& v) {
                            timeouts.idle = Duration::s(api::parse_int_option("--idle-timeout", v, 0, 86400));
                          }});
  spec.options.push_back({"--send-timeout", "S",
                          "reset a connection whose client acknowledged nothing of a blocked response for S "
                          "seconds (default 60, 0 = never)",
                          [&timeouts](const std::string& v) {
                            timeouts.send = Duration::s(api::parse_int_option("--send-timeout", v, 0, 86400));
                          }});
  spec.options.push_back({"--worker-connections", "N",
                          "connections each worker serves at once, about 9 KiB each (default 4096); keep it "
                          "at most [tcp] max_connections",
                          [&max_conns](const std::string& v) {
                            max_conns = static_cast<std::uint32_t>(
                                api::parse_int_option("--worker-connections", v, 1, 1 << 20));
                          }});
  spec.options.push_back(
      {"--access-log", "PATH",
       "a common-log-format line per response, appended to PATH (- for stdout); "
       "default: none",
       [&log_fd](const std::string& v) {
         const int fd = v == "-" ? ::dup(STDOUT_FILENO)
                                 : ::open(v.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
         if (fd < 0)
           throw std::invalid_argument("--access-log " + v + ": cannot open for appending (" +
                                       std::strerror(errno) + ")");
         if (log_fd >= 0) ::close(log_fd);
         log_fd = fd;
       }});
  spec.make_app = [&](std::size_t, std::size_t) -> std::unique_ptr<api::App> {
    auto app = std::make_unique<HttpApp>(port, root_fd, timeouts, max_conns, log_fd);
    apps.push_back(app.get());
    return app;
  };
  spec.report = [&apps](std::FILE* out) {
    for (HttpApp* a : apps) a->flush_log();
    for (const HttpApp* a : apps) {
      const HttpStats& s = a->stats();
      const api::WorkerContext* w = a->context();
      std::fprintf(out,
                   "httpd worker %u: accepted %" PRIu64 " closed_clean %" PRIu64 " closed_error %" PRIu64
                   " refused %" PRIu64 " requests %" PRIu64 " status_2xx %" PRIu64 " status_3xx %" PRIu64
                   " status_4xx %" PRIu64 " status_5xx %" PRIu64 " body_bytes %" PRIu64
                   " send_blocked %" PRIu64 " file_errors %" PRIu64
                   " active %u max_active %u tcbs_in_use %u connections %zu"
                   " header_timeouts %" PRIu64 " send_timeouts %" PRIu64 " idle_closed %" PRIu64
                   " evicted %" PRIu64 " evicted_idle %" PRIu64 " evicted_stalled %" PRIu64
                   " deferred %" PRIu64 " log_lines %" PRIu64 " log_dropped %" PRIu64
                   " log_write_errors %" PRIu64 "\n",
                   w ? w->id() : 0u, s.accepted, s.closed_clean, s.closed_error, s.refused, s.requests,
                   s.s2xx, s.s3xx, s.s4xx, s.s5xx, s.body_bytes, s.send_blocked, s.file_errors, s.active,
                   s.max_active, w ? w->tcbs_in_use() : 0, w ? w->table_size() : 0, s.header_timeouts,
                   s.send_timeouts, s.idle_closed, s.evicted, s.evicted_idle, s.evicted_stalled, s.deferred,
                   a->access_log().lines(), a->access_log().dropped(), a->access_log().write_errors());
    }
  };
  spec.describe = [&] {
    return "tern-httpd: HTTP/1.1 on port " + std::to_string(port) + ", serving /bytes/N" +
           (root_path.empty() ? std::string(" only (no --root)") : " and the files under " + root_path) +
           ", " + std::to_string(max_conns) + " connections per worker";
  };
  const int rc = api::run(argc, argv, spec);
  if (root_fd >= 0) ::close(root_fd);
  if (log_fd >= 0) ::close(log_fd);
  return rc;
}
