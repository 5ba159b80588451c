#pragma once
// tern-perf --kernel --udp (perf_udp.h on Linux sockets): the client or the
// server as `o` says; returns the exit status (the client: 1 without a
// report, or when the server received nothing).
#include "perf_options.h"

namespace tern::perf {

int run_kernel_udp(const Options& o);

}  // namespace tern::perf
