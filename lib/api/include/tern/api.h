#pragma once
// Tern's public API: per-worker, event-driven TCP with zero-copy buffers.
//
// Model. Every worker (one per lcore) runs its own copy of the application:
// an App whose on_start() listens and connects, and whose callbacks run on
// that worker's lcore, in its loop, without locks. A connection belongs to
// the worker that opened or accepted it; its handle must not cross workers.
//
// Callbacks (ConnectionHandler) run after the worker processed received
// frames and timers, never from inside a call the application makes, so it
// may call anything on the connection from any callback. A Connection stays
// valid until on_closed() returns or the application calls close() or
// abort(); after that the handle is gone and no further callback comes.
//
// Buffers. Receive: on_data() hands over an mbuf chain the application now
// owns (payload only, headers trimmed). Send: send(Buffer&) takes the longest
// prefix of whole mbufs that fits under the send buffer's high watermark and
// leaves the rest in the caller's Buffer, so ownership never splits inside a
// segment. The mbufs taken are transmitted as they are (indirect slices
// reference them) and freed once acknowledged. Copying send(span) and read()
// sit on top.
//
// Errors are values (Error, CloseReason); nothing on the data path throws.
// DPDK's headers (rte_mempool.h among them) come through tern/buffer.h,
// which keeps their -Wvolatile warnings out of the application's build.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/buffer.h"
#include "tern/connection_info.h"
#include "tern/ip_addr.h"
#include "tern/send_region.h"
#include "tern/time.h"

namespace tern {
struct Tcb;
class TcpStack;
class Listener;
class Worker;
}  // namespace tern

namespace tern::api {

using Buffer = tern::Buffer;
using SendRegion = tern::SendRegion;  // tern/send_region.h
using Duration = tern::Duration;      // tern/time.h
using Instant = tern::Instant;
using CaState = tern::CaState;
using ConnectionInfo = tern::ConnectionInfo;  // tern/connection_info.h
using IpAddr = tern::IpAddr;                  // tern/ip_addr.h: either family
using Endpoint = tern::Endpoint;

// Which families a listener takes: both by default, like Linux's [::]
// socket with IPV6_V6ONLY off; kV6Only is IPV6_V6ONLY on.
enum class ListenFamily : std::uint8_t { kBoth, kV4Only, kV6Only };

enum class Error : std::uint8_t {
  kOk,
  kWouldBlock,         // EAGAIN: the send buffer is at its high watermark; on_writable follows
  kClosed,             // EPIPE: the write side was shut down or the connection is over
  kInvalid,            // EINVAL: an argument out of range
  kNoPorts,            // EADDRNOTAVAIL: every ephemeral port is in use for this destination
  kNoMemory,           // ENOBUFS: no TCB, connection slot or mbuf left
  kInUse,              // EADDRINUSE: the port already has a listener
  kTooBig,             // EMSGSIZE: one mbuf costs more than the whole send buffer
  kUnknownCongestion,  // ENOENT: no congestion control by that name
  kNotConnected,       // EDESTADDRREQ: UdpSocket::send() without a default peer
  kUnreachable,        // ENETUNREACH: no route to the destination (UDP)
  kNoSource,           // EADDRNOTAVAIL: no usable source address yet (IPv6 duplicate address detection)
};
std::string_view to_string(Error e) noexcept;

// Why a connection ended (the argument of on_closed).
enum class CloseReason : std::uint8_t {
  kNormal,       // both sides closed in order
  kReset,        // ECONNRESET: the peer reset the connection
  kRefused,      // ECONNREFUSED: the peer answered our SYN with a reset
  kTimedOut,     // ETIMEDOUT: retransmissions or keepalive probes exhausted
  kUnreachable,  // EHOSTUNREACH: ICMP said the peer cannot be reached
  kAborted,      // the stack aborted it (for example, no connection slot at accept)
};
std::string_view to_string(CloseReason r) noexcept;

struct SendResult {
  std::uint32_t accepted = 0;  // bytes the stack took
  Error error = Error::kOk;    // kOk when everything was taken
};

struct KeepaliveParams {
  Duration idle = Duration::s(7200);    // TCP_KEEPIDLE
  Duration interval = Duration::s(75);  // TCP_KEEPINTVL
  std::uint32_t probes = 9;             // TCP_KEEPCNT
};

class Connection;
class WorkerContext;
class UdpSocket;   // tern/udp.h
class UdpHandler;  // tern/udp.h

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Active open completed (not called for accepted connections).
  virtual void on_connected(Connection& /*c*/) {}
  // In-order data, now the application's. Not called while reading is paused.
  virtual void on_data(Connection& c, Buffer data) = 0;
  // The send buffer fell to its low watermark after a send was refused.
  virtual void on_writable(Connection& /*c*/) {}
  // The peer sent FIN and all its data was delivered: it will send no more.
  virtual void on_peer_closed(Connection& /*c*/) {}
  // The connection is over. The handle is invalid once this returns.
  virtual void on_closed(Connection& /*c*/, CloseReason /*why*/) {}
};

class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  // A new connection from `listener_port`: return the handler for it, or
  // nullptr to refuse it (it is reset). Data that arrived before accept is
  // delivered right after.
  virtual ConnectionHandler* on_accept(Connection& c) = 0;
  // Asked before a new connection is taken off the listener's queue. false
  // leaves it (and those behind it) queued in the stack, its handshake
  // complete, as behind a full listen backlog in Linux; the question is
  // asked again on every loop iteration until true. For a server whose
  // connection slots are all taken (nginx at worker_connections): the
  // client waits instead of being reset.
  virtual bool ready_to_accept() { return true; }
};

class Connection {
 public:
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Zero-copy send. Takes the longest prefix of whole mbufs of `data` that
  // fits; `data` keeps the rest (empty when all was taken). kWouldBlock:
  // some or none was taken, on_writable() follows at the low watermark.
  SendResult send(Buffer& data) noexcept;
  // Copying send: as many bytes as fit. It may take a few bytes into the
  // last queued mbuf's unused room even when send_space() is 0.
  SendResult send(std::span<const std::byte> bytes) noexcept;
  // Asks for on_writable() without a refused send (EPOLLOUT for one event):
  // it comes once the send buffer is down to its low watermark and
  // send_space() is not 0, in the next round of callbacks if that is so
  // already. For a writer that finds send_space() 0 and would rather not
  // offer data to find out. Ignored once the connection can no longer send.
  void want_writable() noexcept;

  // While paused, data stays in the receive queue (the advertised window
  // closes as it fills) and on_data is not called; recv() and read() pull it.
  void pause_reading() noexcept;
  void resume_reading() noexcept;  // pending data is delivered on the next round
  bool reading_paused() const noexcept { return paused_; }
  Buffer recv() noexcept;                               // everything queued, or empty
  std::size_t read(std::span<std::byte> out) noexcept;  // copying

  // shutdown(SHUT_WR): FIN after the queued data; reading goes on.
  Error shutdown() noexcept;
  // Graceful close (or a reset with linger 0, or with unread data, as Linux
  // does). The stack finishes the close; the handle is invalid after.
  void close() noexcept;
  // Reset now (RST). The handle is invalid after.
  void abort() noexcept;

  // ---- options ----
  void set_nodelay(bool on) noexcept;  // TCP_NODELAY
  void set_cork(bool on) noexcept;     // TCP_CORK: only full segments until uncorked
  void set_keepalive(bool on) noexcept;
  Error set_keepalive(const KeepaliveParams& p) noexcept;  // and turns it on
  // SO_LINGER: on with timeout 0 makes close() a reset. Other timeouts are
  // kInvalid (close never blocks here; the stack finishes it).
  Error set_linger(bool on, Duration timeout = Duration{}) noexcept;
  // SO_SNDBUF (the high watermark) and the low watermark on_writable waits
  // for, in buffer bytes as Linux counts them: each queued mbuf costs its
  // whole data room plus its metadata (truesize), however little it carries.
  // The connection's buffer is then fixed (no autotuning).
  Error set_send_buffer(std::uint32_t high, std::uint32_t low) noexcept;
  // SO_RCVBUF, at most [tcp] rcv_buf_max (the window scale was sized for it at
  // the handshake); the connection's buffer is then fixed (no autotuning).
  Error set_receive_buffer(std::uint32_t bytes) noexcept;
  // TCP_USER_TIMEOUT (RFC 5482): sent data unacknowledged for longer than
  // `timeout`, or the peer's window shut that long, aborts the connection
  // (on_closed(kTimedOut), a RST to the peer); with keepalive on, a silent
  // peer is given up once it has been silent that long, whatever the probe
  // count. Zero: off ([tcp] retries, persist_probes, keepalive_probes).
  // kInvalid: negative, or over 2^31 - 1 ms (Linux's int of milliseconds).
  Error set_user_timeout(Duration timeout) noexcept;
  // TCP_WINDOW_CLAMP: the window advertised offers at most `bytes` (raised
  // to 2304, Linux's SOCK_MIN_RCVBUF / 2), and receive autotuning stops
  // there. The window scale was fixed with the SYN. kInvalid: 0 or over
  // 2^30 (RFC 7323's largest window).
  Error set_window_clamp(std::uint32_t bytes) noexcept;
  // TCP_CONGESTION: "cubic", "newreno" (alias "reno") or "bbr".
  Error set_congestion(std::string_view name) noexcept;
  // The controller's name ("cubic", "newreno", "bbr"); "" once closed.
  std::string_view congestion() const noexcept;
  void set_handler(ConnectionHandler& h) noexcept { handler_ = &h; }

  // ---- observation ----
  // Either family (an IPv4 address as IpAddr::v4, ::ffff:a.b.c.d).
  IpAddr local_ip() const noexcept;
  IpAddr remote_ip() const noexcept;
  Endpoint local_endpoint() const noexcept { return {local_ip(), local_port()}; }
  Endpoint remote_endpoint() const noexcept { return {remote_ip(), remote_port()}; }
  // IPv4 only, host order: 0 for an IPv6 connection (use local_ip() / remote_ip()).
  std::uint32_t local_addr() const noexcept;
  std::uint16_t local_port() const noexcept;
  std::uint32_t remote_addr() const noexcept;  // IPv4 only, as local_addr()
  std::uint16_t remote_port() const noexcept;
  bool established() const noexcept;
  std::uint32_t send_queued() const noexcept;  // bytes not yet acknowledged
  // Buffer bytes (truesize) send() would take now: 0 unless a whole mbuf fits.
  std::uint32_t send_space() const noexcept;
  std::string_view state() const noexcept;  // "ESTABLISHED", ... (RFC 9293 names)
  // cwnd, RTT, retransmissions, ... now, as Linux's TCP_INFO (tern/connection_info.h).
  // Computed when asked: cheap, but not free. After close: zeros, state "CLOSED".
  ConnectionInfo info() const noexcept;
  WorkerContext& worker() const noexcept { return *worker_; }

  void* user = nullptr;  // the application's

 private:
  friend class WorkerContext;
  Connection() = default;

  WorkerContext* worker_ = nullptr;
  Tcb* tcb_ = nullptr;
  ConnectionHandler* handler_ = nullptr;
  Connection* next_ = nullptr;  // free list or ready list
  std::uint8_t events_ = 0;
  bool in_ready_ = false;
  bool paused_ = false;
  bool peer_fin_ = false;  // FIN seen, on_peer_closed not yet called
  bool peer_fin_told_ = false;
  bool linger_abort_ = false;
  bool connecting_ = false;
  bool gone_ = false;  // closed or aborted by the application during a callback
};

// One worker as the application sees it. Valid on its own lcore only.
class WorkerContext {
 public:
  ~WorkerContext();
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  std::uint16_t id() const noexcept;
  std::uint16_t count() const noexcept;  // workers in the process
  std::uint32_t local_addr() const noexcept;
  // The loop's clock for this iteration.
  Instant now() const noexcept { return now_; }
  // This worker's mbuf pool, to build zero-copy send buffers.
  rte_mempool* pool() const noexcept { return pool_; }
  Buffer alloc() noexcept { return Buffer::alloc(pool_); }
  // [off, off + len) of `r` as a Buffer for send(Buffer&), without copying:
  // external-buffer mbufs whose metadata comes from this worker's pool of
  // slice mbufs (no data room), each carrying at most `max_segment` bytes
  // (a send buffer set below 64 KiB takes smaller pieces). Empty on failure
  // (SendRegion::wrap); the memory must stay unchanged until
  // r.references() is 0 (docs/api.md).
  Buffer wrap(const SendRegion& r, std::size_t off, std::size_t len,
              std::uint32_t max_segment = SendRegion::kMaxSegment) noexcept;

  // Listens on `port` on this worker (call it on every worker: flows are
  // spread across workers), for both families unless `family` says
  // otherwise (one listener per port). kInUse, kInvalid (port 0, backlog 0).
  Error listen(std::uint16_t port, std::uint32_t backlog, AcceptHandler& h,
               ListenFamily family = ListenFamily::kBoth) noexcept;
  void unlisten(std::uint16_t port) noexcept;
  // Active open. The local port is chosen so that replies reach this worker.
  // nullptr on failure, with `*err` set.
  // `addr` IPv4, host order.
  Connection* connect(std::uint32_t addr, std::uint16_t port, ConnectionHandler& h,
                      Error* err = nullptr) noexcept;
  // Either family. IPv6 needs an IPv6 address on the port (kInvalid without one).
  Connection* connect(const IpAddr& addr, std::uint16_t port, ConnectionHandler& h,
                      Error* err = nullptr) noexcept;

  // Why a connection to `addr` may have had no answer, at the link layer:
  // kUnanswered when this worker sent ARP requests for the next hop (`addr`
  // on the link, else the gateway) and got no reply; kNoRoute when `addr` is
  // off the link and there is no gateway. For messages, not for the data path.
  enum class NextHop : std::uint8_t { kOk, kUnanswered, kNoRoute };
  NextHop next_hop(std::uint32_t addr) const noexcept;

  // Connections the application holds; TCBs the engine holds (including
  // ones closing after the application let go); entries in the connection table.
  std::uint32_t connections() const noexcept { return active_; }
  std::uint32_t tcbs_in_use() const noexcept;
  std::size_t table_size() const noexcept;

  // A UDP socket on this worker (tern/udp.h): bound to `local` ("::" or
  // 0.0.0.0 for any address; port 0 picks one at connect or first send).
  // nullptr on failure, with `*err` set: kInUse, kInvalid, kNoMemory.
  UdpSocket* udp_open(const Endpoint& local, UdpHandler& h, Error* err = nullptr) noexcept;

 private:
  friend class Connection;
  friend class UdpSocket;
  friend class WorkerAppAdapter;
  WorkerContext(Worker& w, rte_mempool* pool);

  Connection* take_slot(Tcb& c, ConnectionHandler* h) noexcept;
  void release_slot(Connection& c) noexcept;
  void mark(Connection& c) noexcept;
  void on_engine_event(Tcb& c, std::uint8_t events) noexcept;
  void on_acceptable(Listener& l) noexcept;
  void run_callbacks(Instant now) noexcept;
  void service(Connection& c) noexcept;
  void accept_all(Listener& l) noexcept;

  Worker& worker_;
  TcpStack* tcp_;
  rte_mempool* pool_;
  Instant now_;
  std::unique_ptr<Connection[]> slots_;
  Connection* free_ = nullptr;
  Connection* ready_head_ = nullptr;
  Connection* ready_tail_ = nullptr;
  std::vector<Listener*> acceptable_;
  std::vector<Listener*> accepting_;  // run_callbacks' copy: swapped, so neither vector reallocates
  std::vector<Listener*> deferred_;   // connections queued, the handler not ready: asked again next iteration
  std::vector<Listener*> listeners_;
  Tcb* unclaimed_tcb_ = nullptr;  // events posted from inside accept()
  std::uint8_t unclaimed_events_ = 0;
  std::uint32_t active_ = 0;
  class EngineHandler;
  std::unique_ptr<EngineHandler> engine_handler_;
  // UDP sockets (lib/api/udp.cc), made at the first udp_open.
  class UdpState;
  struct UdpStateDeleter {
    void operator()(UdpState* s) const noexcept;
  };
  std::unique_ptr<UdpState, UdpStateDeleter> udp_;
  void run_udp_callbacks() noexcept;
};

// The application code of one worker.
class App {
 public:
  virtual ~App() = default;
  virtual void on_start(WorkerContext& w) = 0;
  // Every loop iteration, after callbacks (timeouts, pacing, statistics).
  virtual void on_poll(WorkerContext& /*w*/) {}
};

// ---- process start-up (tern/app.h style, kept here so one header suffices) ----

// An application option that takes a value ("--port 7"). `set` throws
// std::invalid_argument with a message when the value is not acceptable.
struct AppOption {
  std::string flag;
  std::string metavar;
  std::string help;
  std::function<void(const std::string& value)> set;
  bool required = false;  // a usage error (exit 2) when absent, before anything starts
};
// An option without a value ("--client").
struct AppFlag {
  std::string flag;
  std::string help;
  std::function<void()> set;
};

struct AppSpec {
  std::string name;  // "tern-echo": messages, EAL program name
  std::string summary;
  std::vector<AppOption> options;
  std::vector<AppFlag> flags;
  // Called once the stack is up, before the workers run: the App for worker
  // i of n (nullptr for none).
  std::function<std::unique_ptr<App>(std::size_t worker, std::size_t workers)> make_app;
  // Optional: after every worker left its loop, a chance to check the
  // command line's consequences (for example "all transfers done").
  std::function<void(std::FILE* out)> report;
  // Optional: polled by the control thread; true stops the process (a client
  // that finished its work). Read state the workers publish atomically.
  std::function<bool()> done;
  // Exit status when report/done decide it (for example, a client that saw
  // errors). Called after report, while the Apps still exist.
  std::function<int()> exit_status;
  // Optional: what the application serves or connects to, one or more
  // lines printed after Tern's start-up summary ("serving HTTP on port 80,
  // files under /srv/www").
  std::function<std::string()> describe;
};

// What parse_command_line found besides the application's own options.
struct CommandLine {
  std::string program;      // argv[0]
  std::string config_path;  // --config FILE (-c)
  std::string ready_file;   // --ready-file PATH
  bool print_eal_args = false;
};

// Parses the command line: the options every application shares (--config,
// --ready-file, --print-eal-args, --help, --version) and the spec's, each as
// "--opt value" or "--opt=value". Returns -1 to go on, or the exit status to
// return now: 0 after --help or --version (printed on stdout), 2 after a
// usage error (one line on stderr; a mistyped flag gets "did you mean").
int parse_command_line(int argc, char** argv, const AppSpec& spec, CommandLine& out);
// Starts Tern for a parsed command line (see run below).
int run(const CommandLine& command_line, const AppSpec& spec);
// Tern's version ("0.1.0").
std::string_view version() noexcept;

// Parses the command line (parse_command_line), starts Tern, runs one App per
// worker until SIGINT/SIGTERM or spec.done, prints the counters (also on
// SIGUSR1) and returns the exit status: 0, 1 (runtime failure), 2 (usage or config).
int run(int argc, char** argv, const AppSpec& spec);

// Parses a decimal integer in [lo, hi]; throws std::invalid_argument.
long parse_int_option(const std::string& flag, const std::string& value, long lo, long hi);
// Dotted-quad IPv4 to host order.
std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept;
std::string format_ipv4(std::uint32_t host_order);

}  // namespace tern::api
