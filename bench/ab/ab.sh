#!/usr/bin/env bash
# One command for the A/B against the Linux kernel (bench/README.md):
# installs what it needs (nginx, wrk, gnuplot), builds Tern if needed, then
# runs bench/ab/ab.py (options pass through: --runs, --time, --out, --only, --skip).
#   sudo bench/ab/ab.sh                 (about 10 minutes with the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
./dpdk-env/setup.sh >/dev/null
need=()
for p in nginx-light wrk gnuplot-nox; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "ab: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  # The package starts a system nginx; the A/B runs its own, pinned, in a namespace.
  pkill -x nginx 2>/dev/null || true
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build apps/perf/tern-perf apps/tern-httpd bench/ab/tern-pair >/dev/null
exec python3 bench/ab/ab.py --build build "$@"
