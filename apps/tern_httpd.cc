// tern-httpd: an HTTP/1.1 server (RFC 9110, RFC 9112) on every worker.
//
//   tern-httpd --config FILE [--port 80] [--root DIR] [--ready-file PATH]
//
// GET and HEAD of
//   /bytes/N   N bytes of a fixed pattern (apps/http_pattern.h), produced as
//              the send window opens: copied from the pattern block, never
//              held in memory;
//   /PATH      the file DIR/PATH (with --root; a path ending in / serves
//              index.html), read with pread into a per-worker scratch
//              buffer as send space allows.
// Keep-alive and pipelining: requests are answered in order, one at a time;
// the next is parsed only once the previous response is fully queued, and
// the connection is not read while a request head waits (so a client that
// never reads its responses stops being read, and its window closes).
// Every response carries Content-Length. 400 malformed, 404, 405 other
// methods, 413 request body over 1 MiB, 431 head over 8 KiB, 501
// Transfer-Encoding, 505 other major versions; after 400/413/431/501/505
// and `Connection: close` the server shuts down its side and closes once
// the client has.
//
// Per-connection state comes from a fixed pool attached through Tcb::user;
// engine events only mark a connection, and the work happens in on_poll
// (as tern-echo does).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app_main.h"
#include "http_parser.h"
#include "http_pattern.h"
#include "runtime/log.h"

namespace tern {
namespace {

constexpr std::size_t kRxBuf = 8192;                 // request head cap (431 beyond)
constexpr std::uint32_t kMaxRxBuffers = 4096;        // per worker: 32 MiB
constexpr std::uint64_t kMaxRequestBody = 1u << 20;  // 413 beyond; smaller bodies are discarded
constexpr std::uint64_t kMaxBytes = 1ull << 40;      // largest /bytes/N
constexpr std::size_t kFileChunk = 64 * 1024;        // pread scratch per worker
constexpr std::size_t kHeadCap = 512;                // response head (and error body)

struct HttpStats {
  std::uint64_t accepted = 0;
  std::uint64_t no_slot = 0;  // no connection state or request buffer left: aborted
  std::uint64_t closed_clean = 0;
  std::uint64_t closed_error = 0;  // reset, timed out or aborted
  std::uint64_t requests = 0;
  std::uint64_t s2xx = 0, s4xx = 0, s5xx = 0;
  std::uint64_t body_bytes = 0;    // response bodies queued
  std::uint64_t send_blocked = 0;  // waited for send space
  std::uint64_t file_errors = 0;   // a file shrank or failed mid-response: aborted
  std::uint32_t active = 0;
  std::uint32_t max_active = 0;
};

enum class Body : std::uint8_t { kNone, kPattern, kFile };

struct HttpConn {
  Tcb* tcb = nullptr;
  char* rx = nullptr;  // kRxBuf bytes from the worker's buffer pool
  std::uint32_t rx_len = 0;
  std::uint64_t skip = 0;  // request body bytes still to discard
  // The response being sent: head_[head_off, head_len), then the body.
  std::array<char, kHeadCap> head{};
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
  bool in_ready = false;
  std::uint8_t events = 0;
  HttpConn* next = nullptr;  // free list or ready list
};

const char* reason(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
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

const char* content_type(std::string_view path) noexcept {
  const auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  if (ends(".html") || ends(".htm")) return "text/html; charset=utf-8";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  if (ends(".css")) return "text/css";
  if (ends(".js")) return "text/javascript";
  if (ends(".json")) return "application/json";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

class HttpApp final : public WorkerApp, public TcpHandler {
 public:
  HttpApp(std::uint16_t port, int root_fd) : port_(port), root_fd_(root_fd) {}
  ~HttpApp() override {
    for (std::uint32_t i = 0; conns_ && i < nconns_; ++i)
      if (conns_[i].fd >= 0) ::close(conns_[i].fd);
  }

  void on_start(Worker& w, Instant /*now*/) override {
    tcp_ = w.tcp();
    worker_ = w.id();
    if (tcp_ == nullptr) {
      TERN_LOG(ERR, "tern-httpd: worker %u has no TCP stack\n", worker_);
      return;
    }
    nconns_ = tcp_->config().max_connections;
    conns_ = std::make_unique<HttpConn[]>(nconns_);
    for (std::uint32_t i = nconns_; i-- > 0;) release_to_pool(&conns_[i]);
    const std::uint32_t nbuf = std::min(nconns_, kMaxRxBuffers);
    rx_store_ = std::make_unique<char[]>(std::size_t{nbuf} * kRxBuf);
    rx_free_.reserve(nbuf);
    for (std::uint32_t i = nbuf; i-- > 0;) rx_free_.push_back(&rx_store_[std::size_t{i} * kRxBuf]);
    scratch_ = std::make_unique<std::byte[]>(kFileChunk);
    tcp_->set_handler(this);
    listener_ = tcp_->listen(port_, tcp_->config().max_backlog);
    if (listener_ == nullptr)
      TERN_LOG(ERR, "tern-httpd: worker %u cannot listen on port %u\n", worker_, port_);
  }

  void on_poll(Worker& /*w*/, Instant now) override {
    if (tcp_ == nullptr) return;
    if (acceptable_) {
      acceptable_ = false;
      accept_all(now);
    }
    HttpConn* list = std::exchange(ready_head_, nullptr);
    ready_tail_ = nullptr;
    while (list != nullptr) {
      HttpConn* e = list;
      list = e->next;
      e->next = nullptr;
      e->in_ready = false;
      service(*e, now);
    }
  }

  void on_event(Tcb& c, std::uint8_t ev) override {
    auto* e = static_cast<HttpConn*>(c.user);
    if (e == nullptr) {  // dispatched from inside accept(), before our state was attached
      unclaimed_tcb_ = &c;
      unclaimed_events_ |= ev;
      return;
    }
    e->events |= ev;
    mark(*e);
  }

  void on_acceptable(Listener& /*l*/) override { acceptable_ = true; }

  const HttpStats& stats() const noexcept { return stats_; }
  std::uint16_t worker() const noexcept { return worker_; }
  const TcpStack* tcp() const noexcept { return tcp_; }

 private:
  void accept_all(Instant now) {
    if (listener_ == nullptr) return;
    while (true) {
      unclaimed_tcb_ = nullptr;
      unclaimed_events_ = 0;
      Tcb* c = tcp_->accept(*listener_);
      if (c == nullptr) return;
      ++stats_.accepted;
      HttpConn* e = free_;
      if (e == nullptr || rx_free_.empty()) {
        ++stats_.no_slot;
        tcp_->abort(*c, now);
        continue;
      }
      free_ = e->next;
      *e = HttpConn{};
      e->rx = rx_free_.back();
      rx_free_.pop_back();
      e->tcb = c;
      c->user = e;
      if (++stats_.active > stats_.max_active) stats_.max_active = stats_.active;
      e->events = static_cast<std::uint8_t>(kTcpEvReadable | (unclaimed_tcb_ == c ? unclaimed_events_ : 0));
      mark(*e);
    }
  }

  void mark(HttpConn& e) noexcept {
    if (e.in_ready) return;
    e.in_ready = true;
    e.next = nullptr;
    if (ready_tail_ == nullptr)
      ready_head_ = &e;
    else
      ready_tail_->next = &e;
    ready_tail_ = &e;
  }

  void service(HttpConn& e, Instant now) {
    const std::uint8_t ev = std::exchange(e.events, 0);
    if (ev & kTcpEvClosed) return finish(e, now);
    if (ev & kTcpEvPeerFin) e.peer_fin = true;
    while (true) {
      if (e.responding) {
        const int r = pump(e, now);
        if (r < 0) return fail(e, now);
        if (r == 0) {
          ++stats_.send_blocked;
          // Refused with space left means mbufs ran out: no kTcpEvWritable
          // will come, so look again on the next poll.
          if (e.tcb->send_space() > 0) mark(e);
          return;
        }
        end_response(e, now);
        continue;
      }
      if (e.shut) {  // our FIN is queued: drop what the client still sends, close once it has finished
        discard_input(e, now);
        if (e.peer_fin) finish(e, now);
        return;
      }
      std::size_t got = 0;
      if (e.rx_len < kRxBuf) {
        got = tcp_->read(*e.tcb, {reinterpret_cast<std::byte*>(e.rx + e.rx_len), kRxBuf - e.rx_len}, now);
        e.rx_len += static_cast<std::uint32_t>(got);
      }
      if (e.skip > 0) {
        const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.skip, e.rx_len));
        consume(e, n);
        e.skip -= n;
        if (e.skip > 0) {
          if (got > 0) continue;
          if (e.peer_fin) return finish(e, now);
          return;
        }
      }
      const http::ParseResult p = http::parse_request({e.rx, e.rx_len}, kRxBuf);
      if (p.status == http::ParseStatus::kIncomplete) {
        if (got > 0) continue;
        // Nothing more to read. A client that has finished with a partial
        // request (or none) gets a graceful close.
        if (e.peer_fin) return finish(e, now);
        return;
      }
      ++stats_.requests;
      if (p.status != http::ParseStatus::kComplete) {
        e.rx_len = 0;
        const int status = p.status == http::ParseStatus::kTooLarge     ? 431
                           : p.status == http::ParseStatus::kBadFraming ? 501
                           : p.status == http::ParseStatus::kBadVersion ? 505
                                                                        : 400;
        error_response(e, status, /*head_only=*/false, /*close=*/true);
        continue;
      }
      start_response(e, p.req);  // before consume(): the request's views point into e.rx
      consume(e, static_cast<std::uint32_t>(p.req.head_len));
    }
  }

  void consume(HttpConn& e, std::uint32_t n) noexcept {
    std::memmove(e.rx, e.rx + n, e.rx_len - n);
    e.rx_len -= n;
  }

  void discard_input(HttpConn& e, Instant now) {
    while (tcp_->read(*e.tcb, {reinterpret_cast<std::byte*>(e.rx), kRxBuf}, now) > 0) {
    }
    e.rx_len = 0;
  }

  void start_response(HttpConn& e, const http::Request& q) {
    const bool head_only = q.method == "HEAD";
    bool close = !q.keep_alive;
    if (q.content_length > kMaxRequestBody) return error_response(e, 413, head_only, true);
    e.skip = q.content_length;
    if (q.method != "GET" && !head_only) return error_response(e, 405, false, close);
    char path[1024];
    std::size_t path_len = 0;
    if (!http::decode_path(q.target, path, sizeof(path) - 16, &path_len))
      return error_response(e, 400, head_only, close);
    const std::string_view p{path, path_len};
    constexpr std::string_view kBytes = "/bytes/";
    if (p.substr(0, kBytes.size()) == kBytes) {
      std::uint64_t n = 0;
      const std::string_view digits = p.substr(kBytes.size());
      if (digits.empty() || digits.size() > 13) return error_response(e, 404, head_only, close);
      for (char c : digits) {
        if (c < '0' || c > '9') return error_response(e, 404, head_only, close);
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (n > kMaxBytes) return error_response(e, 404, head_only, close);
      begin(e, 200, n, "application/octet-stream", close, q);
      if (!head_only) e.body = Body::kPattern;
      e.body_left = head_only ? 0 : n;
      return;
    }
    if (root_fd_ < 0) return error_response(e, 404, head_only, close);
    if (p.back() == '/') {
      std::memcpy(path + path_len, "index.html", 10);
      path_len += 10;
    }
    path[path_len] = '\0';
    const char* rel = path;
    while (*rel == '/') ++rel;  // relative to the root, whatever "//x" says
    const int fd = ::openat(root_fd_, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return error_response(e, errno == EACCES ? 403 : 404, head_only, close);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return error_response(e, 404, head_only, close);
    }
    begin(e, 200, static_cast<std::uint64_t>(st.st_size), content_type({path, path_len}), close, q);
    if (head_only || st.st_size == 0) {
      ::close(fd);
      return;
    }
    e.fd = fd;
    e.body = Body::kFile;
    e.body_left = static_cast<std::uint64_t>(st.st_size);
  }

  // The status line and header fields of a response; the body follows.
  void begin(HttpConn& e, int status, std::uint64_t length, const char* type, bool close,
             const http::Request& q) {
    const char* conn = close                  ? "Connection: close\r\n"
                       : q.version_minor == 0 ? "Connection: keep-alive\r\n"
                                              : "";
    const int n = std::snprintf(e.head.data(), e.head.size(),
                                "HTTP/1.1 %d %s\r\nServer: tern-httpd\r\nContent-Type: %s\r\n"
                                "Content-Length: %" PRIu64 "\r\n%s\r\n",
                                status, reason(status), type, length, conn);
    e.head_len = static_cast<std::uint16_t>(n);
    e.head_off = 0;
    e.body = Body::kNone;
    e.body_off = 0;
    e.body_left = 0;
    e.responding = true;
    e.close_after = close;
    count_status(status);
  }

  void error_response(HttpConn& e, int status, bool head_only, bool close) {
    char body[64];
    const int blen = std::snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
    const char* extra = status == 405 ? "Allow: GET, HEAD\r\n" : "";
    const int n = std::snprintf(e.head.data(), e.head.size(),
                                "HTTP/1.1 %d %s\r\nServer: tern-httpd\r\nContent-Type: text/plain\r\n"
                                "Content-Length: %d\r\n%s%s\r\n%s",
                                status, reason(status), blen, extra, close ? "Connection: close\r\n" : "",
                                head_only ? "" : body);
    e.head_len = static_cast<std::uint16_t>(n);
    e.head_off = 0;
    e.body = Body::kNone;
    e.body_left = 0;
    e.responding = true;
    e.close_after = close;
    count_status(status);
  }

  void count_status(int status) noexcept {
    if (status < 300)
      ++stats_.s2xx;
    else if (status < 500)
      ++stats_.s4xx;
    else
      ++stats_.s5xx;
  }

  // 1: the response is fully queued; 0: out of send space (kTcpEvWritable
  // follows); -1: the file failed.
  int pump(HttpConn& e, Instant now) {
    Tcb& c = *e.tcb;
    while (e.head_off < e.head_len) {
      const std::size_t want = e.head_len - e.head_off;
      const std::size_t n =
          tcp_->send_copy(c, std::as_bytes(std::span{e.head.data() + e.head_off, want}), now);
      e.head_off = static_cast<std::uint16_t>(e.head_off + n);
      if (n < want) return 0;
    }
    if (e.body == Body::kPattern) {
      const auto& block = http::pattern_block();
      while (e.body_left > 0) {
        const std::size_t off = e.body_off % http::kPatternPeriod;
        const std::size_t want = std::min<std::uint64_t>(http::kPatternPeriod - off, e.body_left);
        const std::size_t n = tcp_->send_copy(c, std::span{block.data() + off, want}, now);
        e.body_off += n;
        e.body_left -= n;
        stats_.body_bytes += n;
        if (n < want) return 0;
      }
    } else if (e.body == Body::kFile) {
      while (e.body_left > 0) {
        const std::size_t space = c.send_space();
        if (space == 0) {
          // Asks the engine for kTcpEvWritable (it queues nothing).
          (void)tcp_->send_copy(c, std::span{scratch_.get(), 1}, now);
          return 0;
        }
        const std::size_t want = std::min<std::uint64_t>({space, kFileChunk, e.body_left});
        const ssize_t r = ::pread(e.fd, scratch_.get(), want, static_cast<off_t>(e.body_off));
        if (r <= 0) return -1;
        const std::size_t n = tcp_->send_copy(c, std::span{scratch_.get(), static_cast<std::size_t>(r)}, now);
        e.body_off += n;
        e.body_left -= n;
        stats_.body_bytes += n;
        if (n < static_cast<std::size_t>(r)) return 0;
      }
    }
    return 1;
  }

  void end_response(HttpConn& e, Instant now) {
    if (e.fd >= 0) ::close(e.fd);
    e.fd = -1;
    e.responding = false;
    e.body = Body::kNone;
    if (e.close_after && !e.shut) {
      e.shut = true;
      tcp_->shutdown_write(*e.tcb, now);
    }
  }

  // A file failed mid-response: the Content-Length promised cannot be kept.
  void fail(HttpConn& e, Instant now) {
    ++stats_.file_errors;
    ++stats_.closed_error;
    Tcb& c = *e.tcb;
    c.user = nullptr;
    release_to_pool(&e);
    --stats_.active;
    tcp_->abort(c, now);
  }

  void finish(HttpConn& e, Instant now) {
    Tcb& c = *e.tcb;
    if (c.error == TcpError::kNone)
      ++stats_.closed_clean;
    else
      ++stats_.closed_error;
    // Anything unread would turn close() into a reset.
    if (c.error == TcpError::kNone) discard_input(e, now);
    c.user = nullptr;
    release_to_pool(&e);
    --stats_.active;
    tcp_->close(c, now);
  }

  void release_to_pool(HttpConn* e) noexcept {
    if (e->fd >= 0) ::close(e->fd);
    e->fd = -1;
    if (e->rx != nullptr) rx_free_.push_back(e->rx);
    e->rx = nullptr;
    e->tcb = nullptr;
    e->next = free_;
    free_ = e;
  }

  std::uint16_t port_;
  int root_fd_;
  std::uint16_t worker_ = 0;
  TcpStack* tcp_ = nullptr;
  Listener* listener_ = nullptr;
  std::uint32_t nconns_ = 0;
  std::unique_ptr<HttpConn[]> conns_;
  HttpConn* free_ = nullptr;
  std::unique_ptr<char[]> rx_store_;
  std::vector<char*> rx_free_;
  std::unique_ptr<std::byte[]> scratch_;
  HttpConn* ready_head_ = nullptr;
  HttpConn* ready_tail_ = nullptr;
  bool acceptable_ = false;
  Tcb* unclaimed_tcb_ = nullptr;
  std::uint8_t unclaimed_events_ = 0;
  HttpStats stats_;
};

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  std::uint16_t port = 80;
  int root_fd = -1;
  std::vector<tern::HttpApp*> apps;
  tern::AppSpec spec;
  spec.name = "tern-httpd";
  spec.summary = "HTTP/1.1 server (GET/HEAD of /bytes/N and files under --root) on every worker";
  spec.options.push_back({"--port", "N", "TCP port to listen on (default 80)", [&port](const std::string& v) {
                            port = static_cast<std::uint16_t>(tern::parse_int_option("--port", v, 1, 65535));
                          }});
  spec.options.push_back({"--root", "DIR", "serve the files under DIR (default: only /bytes/N)",
                          [&root_fd](const std::string& v) {
                            const int fd = ::open(v.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                            if (fd < 0)
                              throw std::invalid_argument("--root " + v + ": not a readable directory (" +
                                                          std::strerror(errno) + ")");
                            if (root_fd >= 0) ::close(root_fd);
                            root_fd = fd;
                          }});
  spec.make_app = [&](tern::Runtime&, std::size_t) {
    auto app = std::make_unique<tern::HttpApp>(port, root_fd);
    apps.push_back(app.get());
    return app;
  };
  spec.report = [&apps](std::FILE* out) {
    for (const tern::HttpApp* a : apps) {
      const tern::HttpStats& s = a->stats();
      std::fprintf(out,
                   "httpd worker %u: accepted %" PRIu64 " closed_clean %" PRIu64 " closed_error %" PRIu64
                   " no_slot %" PRIu64 " requests %" PRIu64 " status_2xx %" PRIu64 " status_4xx %" PRIu64
                   " status_5xx %" PRIu64 " body_bytes %" PRIu64 " send_blocked %" PRIu64
                   " file_errors %" PRIu64 " active %u max_active %u tcbs_in_use %u connections %zu\n",
                   a->worker(), s.accepted, s.closed_clean, s.closed_error, s.no_slot, s.requests, s.s2xx,
                   s.s4xx, s.s5xx, s.body_bytes, s.send_blocked, s.file_errors, s.active, s.max_active,
                   a->tcp() ? a->tcp()->tcbs_in_use() : 0, a->tcp() ? a->tcp()->connections() : 0);
    }
  };
  const int rc = tern::app_main(argc, argv, spec);
  if (root_fd >= 0) ::close(root_fd);
  return rc;
}
