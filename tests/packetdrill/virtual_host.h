#pragma once
// One TcpStack behind a socket-like API on a virtual clock: what the
// packetdrill front end (packetdrill_so.cc) exposes to packetdrill's
// shared-object mode. README.md in this directory explains the model; in
// short:
//  - Time is virtual: it moves only when packetdrill sleeps (usleep), reads
//    the clock (gettimeofday: +1 µs each, so its spin loops end) or waits
//    for a packet the stack has not sent yet (netdev_receive jumps to the
//    next timer). Timers run at the wheel's 1 ms ticks, as a worker's would.
//  - Packets are raw IPv4 both ways, checksums computed and checked.
//  - A call that must wait (blocking socket, poll with a timeout) sleeps on a
//    condition variable, so packetdrill sees its thread in state S. The
//    thread that changed the stack decides who is ready; until each woken
//    thread has read the clock again, no other thread moves time on, so the
//    return time packetdrill records is the virtual time of the wake-up.
//  - Sockets are numbered with real host descriptors (of /dev/null), so the
//    host close() packetdrill runs at teardown succeeds and touches nothing
//    else; the host's getsockopt on them fails (ENOTSOCK).
// Every public call takes the one mutex; the engine is single-threaded.
#include <rte_mempool.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "tcp/tcp_stack.h"

struct pollfd;
struct msghdr;
struct epoll_event;

namespace tern::pd {

// What --so_flags says (README.md "Flags").
struct Flags {
  std::uint32_t local_ip = 0xC0A80001;  // 192.168.0.1: pass packetdrill --local_ip=192.168.0.1
  bool local_ip_given = false;
  std::uint16_t mtu = 1500;
  TcpConfig tcp;
  // The most virtual time netdev_receive lets pass waiting for one packet
  // before it gives the script up (packetdrill itself would wait forever).
  Duration sniff_limit = Duration::s(10'000);
  bool verbose = false;
};
// Parses "key=value" items separated by spaces or commas; nullopt and
// *error when something is wrong. tcp.KEY=VALUE sets the [tcp] key of
// docs/config.md, validated as the config file's would be.
std::optional<Flags> parse_flags(const char* text, std::string* error);

class VirtualHost final : public SegmentSink, public TcpHandler {
 public:
  explicit VirtualHost(const Flags& f);
  ~VirtualHost() override;
  VirtualHost(const VirtualHost&) = delete;
  VirtualHost& operator=(const VirtualHost&) = delete;
  // Pools (the EAL must be up). False and *error on failure.
  bool start(std::string* error);

  // ---- packetdrill's calls: -1 and errno on failure, as the host's ----
  int socket(int domain, int type, int protocol);
  int bind(int fd, const sockaddr* addr, socklen_t len);
  int listen(int fd, int backlog);
  int accept(int fd, sockaddr* addr, socklen_t* len);
  int connect(int fd, const sockaddr* addr, socklen_t len);
  ssize_t recvmsg(int fd, msghdr* msg, int flags);        // read, readv, recv, recvfrom too
  ssize_t sendmsg(int fd, const msghdr* msg, int flags);  // write, writev, send, sendto too
  int fcntl(int fd, int cmd, long arg);
  int ioctl(int fd, unsigned long request, void* arg);
  int close(int fd);
  int shutdown(int fd, int how);
  int getsockopt(int fd, int level, int name, void* val, socklen_t* len);
  int setsockopt(int fd, int level, int name, const void* val, socklen_t len);
  int poll(pollfd* fds, unsigned long nfds, int timeout_ms);
  int epoll_create(int size);  // epoll.cc
  int epoll_ctl(int epfd, int op, int fd, epoll_event* event);
  int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms);
  int netdev_send(const void* buf, std::size_t count);
  int netdev_receive(void* buf, std::size_t* count, long long* time_usecs);
  int usleep(std::uint64_t usec);
  int gettimeofday(timeval* tv);

  // SegmentSink
  void send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant now) override;
  // Scripts are IPv4 only: nothing opens an IPv6 connection, so nothing comes here.
  void send_segment6(Mbuf, const IpAddr&, const IpAddr&, Instant) override {}
  // TcpHandler
  void on_event(Tcb& c, std::uint8_t events) override;
  void on_acceptable(Listener& l) override;

 private:
  using Lock = std::unique_lock<std::mutex>;

  // Options set before there is a connection, applied when it comes and
  // inherited by the connections a listener accepts (as Linux's are).
  struct Options {
    bool nodelay = false;
    bool cork = false;
    bool keepalive = false;
    bool linger_abort = false;  // SO_LINGER {1, 0}: close() resets
    bool defer_accept = false;
    std::optional<std::uint32_t> snd_buf, rcv_buf;
    std::optional<Duration> ka_idle, ka_interval;
    std::optional<std::uint32_t> ka_probes;
    std::optional<CongestionAlgorithm> congestion;
    std::optional<Duration> user_timeout;       // TCP_USER_TIMEOUT
    std::optional<std::uint32_t> window_clamp;  // TCP_WINDOW_CLAMP (0: none, before connect only)
  };
  struct Socket {
    int fd = -1;
    bool nonblocking = false;
    Options opts;
    std::uint32_t bound_addr = 0;
    std::uint16_t bound_port = 0;
    Listener* listener = nullptr;
    Tcb* tcb = nullptr;
    bool connect_pending = false;  // a non-blocking connect() not yet reported complete
    bool shut_rd = false;
    bool shut_wr = false;
    std::uint64_t wakeups = 0;  // engine events posted to it (edges for EPOLLET)
    int so_error = 0;           // pending error (SO_ERROR), reported once
    bool reset_eof = false;     // the error was reported: reads now see end of file
  };
  struct Waiter {
    std::thread::id thread;
    Instant deadline = Instant::max();
    const std::function<bool()>* ready = nullptr;
    bool woken = false;
  };
  // An epoll instance: the sockets it watches with what was asked. An
  // edge-triggered watch reports, as Linux's, when the socket has been woken
  // (an engine event) since its last report, or a bit is newly set.
  struct Watch {
    std::uint32_t events = 0;
    std::uint64_t data = 0;
    std::uint32_t reported = 0;
    std::uint64_t wakeups_seen = 0;
    bool disarmed = false;  // EPOLLONESHOT, after its report
  };
  struct Epoll {
    std::map<int, Watch> watches;
  };
  struct OutPacket {
    std::vector<std::byte> bytes;
    Instant at;
  };

  TcpStack& stack();
  Socket* find(int fd);
  Instant now() const { return now_; }

  // Time: runs the engine's timers at each 1 ms tick (and paced sends at
  // their instants) up to `t`, skipping ticks with nothing due.
  void advance_to(Lock& lk, Instant t);
  // The next instant at which the engine has something to do (a timer's
  // tick, a paced send) or a waiter's deadline passes; Instant::max() if
  // none. `sends_only`: ignore what cannot send a packet (TIME_WAIT expiry,
  // waiters).
  Instant next_step(bool sends_only = false);
  // After anything that may have changed the engine: wakes the waiters
  // whose condition now holds (or whose deadline passed).
  void wake_ready();
  // Waits until every woken thread other than this one has read the clock.
  void await_woken(Lock& lk);
  void clock_read_by_this_thread();
  // Blocks until ready(ctx) or `deadline`; false on the deadline. The main
  // thread (packetdrill's interpreter) cannot be woken by anyone else, so it
  // moves time on itself while it waits.
  bool wait(Lock& lk, const std::function<bool()>& ready, Instant deadline = Instant::max());
  bool is_main_thread() const { return std::this_thread::get_id() == main_thread_; }
  [[noreturn]] void give_up(const std::string& why);

  // Socket helpers (sockets.cc).
  void apply_options(Socket& s);
  bool readable(const Socket& s);
  bool writable(const Socket& s);
  int take_error(Socket& s);
  short poll_events(Socket& s);
  void note_closed(Socket& s);
  Socket* add_socket();
  int epoll_scan(Epoll& ep, epoll_event* events, int maxevents);

  Flags flags_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread::id main_thread_;
  Instant now_;
  Instant last_tick_;
  Counters counters_;
  rte_mempool* pool_ = nullptr;
  rte_mempool* clone_pool_ = nullptr;
  std::unique_ptr<TcpStack> stack_;
  std::uint32_t local_ip_;
  std::map<int, Socket> sockets_;
  std::map<int, Epoll> epolls_;
  std::deque<OutPacket> out_;
  std::vector<Waiter*> waiters_;
  std::vector<std::thread::id> woken_;  // threads woken that have not read the clock since
  std::uint64_t bad_inbound_ = 0;
};

}  // namespace tern::pd
