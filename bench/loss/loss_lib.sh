# shellcheck shell=bash
# Shared parts of the loss benchmarks (loss_bench.sh, bridge_bench.sh):
# reading tern-perf's --json line, Tern's exit counters and the kernel's
# nstat counters.

# json_field LOG FIELD: from tern-perf's --json line (the last line).
json_field() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]).get(sys.argv[2], 0))' "$1" "$2"
}
# interval_means LOG: the sender's mean cwnd and smoothed RTT over its
# --interval lines (JSON, "cwnd_kb", "rtt_us").
interval_means() {
  python3 - "$1" <<'PY'
import json, sys
cw, rtt = [], []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("type") == "summary" or not isinstance(j.get("rtt_us"), (int, float)):
        continue
    cw.append(j["cwnd_kb"])
    rtt.append(j["rtt_us"])
print("cwnd %.1f KB, srtt %.0f us (%d intervals)" % (sum(cw) / len(cw), sum(rtt) / len(rtt), len(cw)) if cw else "no intervals")
PY
}
# counter LOG NAME: a counter Tern printed at exit ("Name value").
counter() { awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"; }
# nstat_abs NS: namespace NS's absolute kernel counters, "name value".
nstat_abs() { ip netns exec "$1" nstat -asz | awk 'NF >= 2 && $1 !~ /^#/ { print $1, $2 }'; }
nstat_delta() {  # BEFORE AFTER NAME
  python3 - "$1" "$2" "$3" <<'PY'
import sys
def load(p):
    return {l.split()[0]: int(l.split()[1]) for l in open(p) if len(l.split()) >= 2}
a, b = load(sys.argv[1]), load(sys.argv[2])
print(b.get(sys.argv[3], 0) - a.get(sys.argv[3], 0))
PY
}
