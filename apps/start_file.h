#pragma once
// `--start-file PATH` (tern-perf, tern-echo): a client starts only once PATH
// exists, for scripts that configure the peer once Tern is up (tap mode) or
// wait for Tern's IPv6 duplicate address detection (RFC 4862 §5.4: until it
// ends no address is a source, and UDP's connect() and send fail). Looked
// for from the application's poll, at most every 10 ms of the worker's
// clock: a syscall per check, none per packet.
#include <unistd.h>

#include <string>
#include <utility>

#include "tern/api.h"

namespace tern {

class StartFile {
 public:
  explicit StartFile(std::string path) : path_(std::move(path)) {}

  // True once PATH has been seen, and from then on; always without a PATH.
  bool ready(api::Instant now) noexcept {
    if (seen_ || path_.empty()) return true;
    if (now < next_check_) return false;
    next_check_ = now + api::Duration::ms(10);
    seen_ = access(path_.c_str(), F_OK) == 0;
    return seen_;
  }

 private:
  std::string path_;
  api::Instant next_check_{};
  bool seen_ = false;
};

}  // namespace tern
