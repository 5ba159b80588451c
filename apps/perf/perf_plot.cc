#include "perf_plot.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace tern::perf {
namespace {

// Runs `gnuplot SCRIPT`; its own messages go to our stderr. True on exit 0.
bool run_gnuplot(const std::string& script_path) {
  char prog[] = "gnuplot";
  std::string arg = script_path;
  char* argv[] = {prog, arg.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ) != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void data_block(std::ostringstream& s, const char* name, const std::vector<IntervalPoint>& pts, bool bulk) {
  s << '$' << name << " << EOD\n";
  for (const IntervalPoint& p : pts) {
    s << p.end << ' ' << (bulk ? p.gbps : p.transactions_per_s) << ' ';
    if (p.rtt_us >= 0)
      s << p.rtt_us;
    else
      s << "NaN";
    s << '\n';
  }
  s << "EOD\n";
}

}  // namespace

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/gnuplot";
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

bool plot_intervals(const std::string& png, const std::vector<IntervalPoint>& tx,
                    const std::vector<IntervalPoint>& rx, bool bulk, const std::string& title) {
  if (tx.empty() && rx.empty()) {
    std::fprintf(stderr, "tern-perf: --plot %s: no interval to draw (the run ended before the first)\n",
                 png.c_str());
    return false;
  }
  bool rtt = false;
  for (const IntervalPoint& p : tx) rtt = rtt || p.rtt_us >= 0;
  char tmpl[] = "/tmp/tern-perf-plot.XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) {
    std::fprintf(stderr, "tern-perf: --plot: cannot write a gnuplot script in /tmp: %s\n",
                 std::strerror(errno));
    return false;
  }
  bool ok = false;
  for (const char* terminal : {"pngcairo", "png"}) {  // pngcairo may be missing from gnuplot-nox
    std::ostringstream s;
    s << "set terminal " << terminal << " size 1000,500\n"
      << "set output '" << png << "'\n"
      << "set title \"" << title << "\" noenhanced\n"
      << "set xlabel 'time (s)'\nset ylabel '" << (bulk ? "Gbit/s" : "transactions/s") << "'\n"
      << "set xrange [0:*]\nset yrange [0:*]\nset grid\nset key below\n";
    if (rtt) s << "set y2label 'RTT (us)'\nset y2range [0:*]\nset y2tics\nset ytics nomirror\n";
    data_block(s, "tx", tx, bulk);
    data_block(s, "rx", rx, bulk);
    s << "plot ";
    const char* sep = "";
    if (!tx.empty()) {
      s << "$tx using 1:2 with linespoints lw 2 title '"
        << (bulk ? (rx.empty() ? "throughput" : "sent") : "rate") << "'";
      sep = ", ";
    }
    if (!rx.empty()) {
      s << sep << "$rx using 1:2 with linespoints lw 2 title 'received'";
      sep = ", ";
    }
    if (rtt) s << sep << "$tx using 1:3 axes x1y2 with lines dashtype 2 title 'RTT (sender, right axis)'";
    s << '\n';
    const std::string text = s.str();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
      break;
    struct stat st {};
    if (run_gnuplot(tmpl) && stat(png.c_str(), &st) == 0 && st.st_size > 0) {
      ok = true;
      break;
    }
  }
  close(fd);
  unlink(tmpl);
  if (!ok) std::fprintf(stderr, "tern-perf: --plot %s: gnuplot failed (its messages above)\n", png.c_str());
  return ok;
}

}  // namespace tern::perf
