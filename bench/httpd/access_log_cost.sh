#!/usr/bin/env bash
# The cost of tern-httpd's access log (--access-log): wrk against tern-httpd
# on a tap (2 workers), keep-alive GETs of /bytes/100, alternating runs
# without and with the log (to a file), so a loaded machine's drift hits
# both alike. Prints requests/s per run and the median of each.
#   bench/httpd/access_log_cost.sh [BUILD_DIR] [RUNS] [SECONDS]   (as root; default build 3 3)
#   TERN_LOG_TO=/dev/null ...: log there instead (the formatting alone, no file I/O)
# A figure, not a test (bench/README.md): nothing here passes or fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/interop/lib.sh"
interop_init httpd_log_cost tap "${1:-build}"
runs=${2:-3}
secs=${3:-3}
command -v wrk >/dev/null || { echo "wrk not found (Debian package wrk; dpdk-env/setup.sh)"; exit 1; }
interop_setup tap l 10.88
interop_write_config 512 16383 "[tcp]
max_connections = 1024"

# run LABEL ARGS...: one tern-httpd, one wrk run; prints requests/s.
run() {
  local label=$1
  shift
  interop_start_tern tern-httpd --port 80 "$@"
  interop_in_peer wrk -t1 -c20 -d"${secs}s" "http://$tern_ip/bytes/100" >"$work/wrk.log" 2>&1 ||
    fail "wrk: $(tail -3 "$work/wrk.log")"
  interop_stop_tern
  local rps
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.log")
  echo "$label $rps"
  echo "$label $rps" >>"$work/figures"
}
for i in $(seq "$runs"); do
  run off
  log=${TERN_LOG_TO:-$work/access.log}
  [ "$log" = /dev/null ] || rm -f "$log"
  run on --access-log "$log"
  [ "$log" = /dev/null ] || echo "  (access log: $(wc -l <"$log") lines)"
done
python3 - "$work/figures" <<'PY'
import statistics, sys
f = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    f.setdefault(k, []).append(float(v))
off, on = statistics.median(f["off"]), statistics.median(f["on"])
print("median requests/s: without the log %.0f, with it %.0f (%+.1f%%)" % (off, on, (on - off) / off * 100))
PY
