#pragma once
// tern-perf on Linux sockets: the same client and server, the same wire
// protocol (perf_protocol.h), on one thread with epoll, so the kernel's TCP
// can be measured, and can drive or serve Tern, with the same tool. Never
// starts DPDK.
//
// Latency is measured with CLOCK_MONOTONIC read when the request is written
// and when the read that completes the response returns.
#include "perf_options.h"

namespace tern::perf {

// Runs the client or the server as `o` says; returns the exit status (0;
// 1 for errors a client saw or a failure to start).
int run_kernel(const Options& o);

}  // namespace tern::perf
