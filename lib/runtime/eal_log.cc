#include "runtime/eal_log.h"

#include <rte_log.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/log.h"

namespace tern {
namespace {

// Lines DPDK 22.11 logs at warning or error for conditions Tern expects and
// handles itself, and whose effect its start-up summary states.
constexpr std::string_view kRestated[] = {
    "All rt-signals are in use",        // net_tap: Tern took them to disable the Rx trigger (docs/ports.md)
    "No Rx trigger signal available",   // ditto
    "Specified qdisc kind is unknown",  // net_tap: no multiq qdisc in this kernel ...
    "Could not add multiq qdisc",       // ...
    "failed to create multiq qdisc",    // ...
    "Disabling rte flow support",       // ... so no rte_flow/RSS: summary "steering software"
    "No legacy callbacks, legacy socket not created",  // telemetry: Tern registers the new /tern commands
};

int rte_level_of(std::string_view level) {
  if (level == "error") return RTE_LOG_ERR;
  if (level == "warning") return RTE_LOG_WARNING;
  if (level == "notice") return RTE_LOG_NOTICE;
  if (level == "debug") return RTE_LOG_DEBUG;
  return RTE_LOG_INFO;
}

struct Filter {
  int tern_level = RTE_LOG_INFO;
  std::string level;
  bool explicit_levels = false;
};
Filter g_filter;  // set once at start-up, before the EAL starts threads; read by the log writer

ssize_t write_line(void*, const char* buf, size_t size) {
  const std::string_view text(buf, size);
  const int type = rte_log_cur_msg_logtype();
  const int lvl = rte_log_cur_msg_loglevel();
  bool show = false;
  if (type == log_type())
    show = lvl <= g_filter.tern_level;
  else
    show = g_filter.explicit_levels || dpdk_line_shown(text, lvl, g_filter.level);
  if (show) {
    std::fwrite(buf, 1, size, stdout);
    std::fflush(stdout);
  }
  return static_cast<ssize_t>(size);
}

}  // namespace

bool dpdk_line_shown(std::string_view text, int rte_level, std::string_view level) {
  const int want = rte_level_of(level);
  if (want >= static_cast<int>(RTE_LOG_DEBUG)) return true;
  for (std::string_view r : kRestated)
    if (text.find(r) != std::string_view::npos) return false;
  return rte_level <= std::min(want, static_cast<int>(RTE_LOG_WARNING));
}

void install_log_filter(std::string_view level, bool explicit_levels) {
  g_filter.tern_level = rte_level_of(level);
  g_filter.level = std::string(level);
  g_filter.explicit_levels = explicit_levels;
  static FILE* stream = [] {
    cookie_io_functions_t io{};
    io.write = write_line;
    FILE* f = fopencookie(nullptr, "w", io);
    // One message, one write: rte_vlog flushes after each.
    if (f != nullptr) setvbuf(f, nullptr, _IOFBF, 1 << 14);
    return f;
  }();
  if (stream != nullptr) rte_openlog_stream(stream);
  rte_log_set_level(log_type(), static_cast<std::uint32_t>(g_filter.tern_level));
}

}  // namespace tern
