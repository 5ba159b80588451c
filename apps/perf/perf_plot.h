#pragma once
// tern-perf --plot FILE.png: throughput (and the sender's RTT, where this
// side sends) over time from the client's interval lines, drawn by gnuplot
// (Debian: gnuplot-nox, a bench package of dpdk-env/setup.sh), as
// bench/loss/plot.py draws its charts.
#include <string>
#include <vector>

#include "perf_stats.h"

namespace tern::perf {

// Whether a `gnuplot` is on $PATH (checked when --plot is given, before the run).
bool gnuplot_available();

// Writes `png`: Gbit/s (bulk: the sending direction `tx` and, --reverse or
// --bidir, the receiving `rx`) or transactions/s (rr, crr) on the left
// axis, the RTT in µs (where known) on the right. False, with a message on
// stderr, when there is nothing to draw or gnuplot fails.
bool plot_intervals(const std::string& png, const std::vector<IntervalPoint>& tx,
                    const std::vector<IntervalPoint>& rx, bool bulk, const std::string& title);

}  // namespace tern::perf
