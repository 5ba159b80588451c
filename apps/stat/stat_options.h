#pragma once
// tern-stat's command line: `tern-stat [-f PREFIX] [conns|rates] [options]`.
// Options as the other tools take them: --opt value and --opt=value, short
// forms, "did you mean" for a mistyped one.
#include <cstdint>
#include <string>

#include "stat_views.h"

namespace tern::stat {

struct StatOptions {
  std::string view = "conns";   // "conns" or "rates"
  std::string prefix = "tern";  // [eal] file_prefix of the process to read
  std::string socket;           // a telemetry socket path instead of the prefix's
  bool json = false;
  ConnFilter filter;        // conns
  double interval_s = 1;    // rates
  std::uint64_t count = 0;  // rates: samples to print; 0 = until interrupted
  bool zeros = false;       // rates: counters that did not change too
  bool help = false;
  bool version = false;
};

// Fills `o` from argv[1..argc); "" or what is wrong, in one line.
std::string parse_stat_options(int argc, const char* const* argv, StatOptions& o);

// --help's text.
std::string stat_usage();

}  // namespace tern::stat
