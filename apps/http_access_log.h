#pragma once
// tern-httpd's access log (--access-log): one per worker, buffered so that
// a request costs a memcpy, not a system call. The lines of every worker go
// to one file descriptor opened with O_APPEND (or stdout); a worker writes
// whole lines only, in one write() per flush: when the buffer would
// overflow, when its oldest line is kFlushAfter old (checked from on_poll),
// and at exit (flush() from the control thread once the workers stopped).
// Lines from different workers may interleave by flush, not within a line.
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tern/time.h"

namespace tern::http {

class AccessLog {
 public:
  static constexpr std::size_t kBuffer = 64 * 1024;
  static constexpr Duration kFlushAfter = Duration::ms(100);

  // fd < 0: logging off (the default), nothing allocated.
  explicit AccessLog(int fd) : fd_(fd), buf_(fd >= 0 ? std::make_unique<char[]>(kBuffer) : nullptr) {}
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const noexcept { return fd_ >= 0; }

  // Appends one line built by `format(out, cap)` (which returns its length,
  // 0 when it did not fit): into the free space, else after a flush into
  // the whole buffer; a line longer than that is dropped (counted).
  template <class Format>
  void add(Instant now, Format&& format) noexcept {
    if (fd_ < 0) return;
    std::size_t n = format(buf_.get() + used_, kBuffer - used_);
    if (n == 0 && used_ > 0) {
      flush();
      n = format(buf_.get(), kBuffer);
    }
    if (n == 0) {
      ++dropped_;
      return;
    }
    if (used_ == 0) first_ = now;
    used_ += n;
    ++lines_;
  }

  void poll(Instant now) noexcept {
    if (used_ > 0 && now - first_ >= kFlushAfter) flush();
  }

  void flush() noexcept {
    std::size_t off = 0;
    while (off < used_) {
      const ssize_t w = ::write(fd_, buf_.get() + off, used_ - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {  // a full disk, a closed pipe, a non-blocking stdout that is full: the lines are lost
        ++write_errors_;
        break;
      }
      off += static_cast<std::size_t>(w);
    }
    used_ = 0;
  }

  std::uint64_t lines() const noexcept { return lines_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  std::uint64_t write_errors() const noexcept { return write_errors_; }

 private:
  int fd_;
  std::unique_ptr<char[]> buf_;
  std::size_t used_ = 0;
  Instant first_;  // when the oldest unwritten line was added
  std::uint64_t lines_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t write_errors_ = 0;
};

}  // namespace tern::http
