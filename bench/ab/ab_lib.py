"""Pieces of the A/B (bench/ab/ab.py) that do not depend on the set-ups:
running a command with a deadline, the prerequisite check, veth offloads
(set and verified), CPU accounting from /proc/stat, and the parsers of the
standard tools' output (sockperf, iperf3, wrk)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time


class RunFailed(Exception):
    """A run that failed: the reason is what goes into the table."""


def tail(text, n=3):
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:])[-300:]


def run(cmd, timeout):
    """Runs a shell command in its own process group. Returns its stdout;
    raises RunFailed (with the exit status or the deadline, and the end of
    its output) when it exits non-zero or outlives `timeout` seconds; the
    whole group is killed then, so nothing it started lingers."""
    return run_all([cmd], timeout)[0]


def run_all(cmds, timeout):
    """Runs shell commands at once (the N clients of an N-worker run), each
    in its own process group, their output in files (a pipe that nobody
    reads while another is waited for would block its writer). Returns
    their stdouts in order. The first that exits non-zero or outlives
    `timeout` seconds fails the run (RunFailed, naming which of several),
    and every group still running is killed, so nothing lingers."""
    files = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")) for _ in cmds]
    procs = [subprocess.Popen(c, shell=True, text=True, stdout=o, stderr=e, start_new_session=True)
             for c, (o, e) in zip(cmds, files)]
    deadline = time.time() + timeout

    def text(i):
        out, err = files[i]
        out.seek(0)
        err.seek(0)
        return out.read(), err.read()

    def who(i):
        return "client %d of %d: " % (i + 1, len(cmds)) if len(cmds) > 1 else ""
    try:
        for i, p in enumerate(procs):
            try:
                p.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                out, err = text(i)
                last = tail(err or out)
                raise RunFailed("%stimed out after %d s%s" % (who(i), timeout, ": " + last if last else ""))
            if p.returncode != 0:
                out, err = text(i)
                last = tail(err or out)
                raise RunFailed("%sexit %d%s" % (who(i), p.returncode, ": " + last if last else ""))
        return [text(i)[0] for i in range(len(cmds))]
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for o, e in files:
            o.close()
            e.close()


def sh(cmd, check=True):
    """Set-up commands (namespaces, addresses): short, must not fail."""
    r = subprocess.run(cmd, shell=True, text=True, capture_output=True, timeout=60)
    if check and r.returncode != 0:
        raise RunFailed("'%s' failed: %s" % (cmd, tail(r.stderr or r.stdout)))
    return r


# ---- prerequisites ----

# command -> (Debian package, what needs it, the --skip part that avoids it or "")
TOOLS = {
    "ip": ("iproute2", "namespaces and the veth pair", ""),
    "ss": ("iproute2", "waiting for servers to listen", ""),
    "ethtool": ("ethtool", "veth offloads: TX checksum off for Tern on net_af_packet, TSO on/off", ""),
    "taskset": ("util-linux", "pinning every process to its core", ""),
    "sockperf": ("sockperf", "the kernel's request/response (sockperf ping-pong)", "sockperf"),
    "iperf3": ("iperf3", "the kernel's bulk (iperf3, TSO on and off)", "iperf3"),
    "wrk": ("wrk", "keep-alive HTTP (wrk against nginx and tern-httpd)", "http"),
    "nginx": ("nginx", "keep-alive HTTP (the kernel's server)", "http"),
    "gnuplot": ("gnuplot-nox", "the chart ratios.png (optional: the table is written without it)", "chart"),
}


def missing_prerequisites(build, skip, hugepage_mb=512):
    """Returns (problems, warnings): lines naming what is missing and how to
    get it. Problems stop the A/B before it starts; warnings do not."""
    problems, warnings, pkgs = [], [], []
    if os.geteuid() != 0:
        problems.append("not root: the A/B creates network namespaces and runs DPDK (run it as root)")
    for cmd, (pkg, why, part) in TOOLS.items():
        if part in skip and part:
            continue
        if shutil.which(cmd):
            continue
        line = "%-9s not found (Debian package %s): %s%s" % (
            cmd, pkg, why, "; or leave it out with --skip %s" % part if part else "")
        (warnings if cmd == "gnuplot" else problems).append(line)
        if pkg not in pkgs:
            pkgs.append(pkg)
    for rel in ("apps/perf/tern-perf", "apps/tern-httpd", "bench/ab/tern-pair"):
        if not os.access(os.path.join(build, rel), os.X_OK):
            problems.append("%s/%s not built: ninja -C %s %s" % (build, rel, build, rel))
    free = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    free = int(line.split()[1])
    except OSError:
        pass
    if free * 2 < hugepage_mb and ("setup2" not in skip or "http" not in skip):
        problems.append("%d free 2 MiB hugepages; the Tern servers need %d MiB: dpdk-env/setup.sh reserves them "
                        "(TERN_HUGEPAGES=PAGES for more than its 1024)"
                        % (free, hugepage_mb))
    if pkgs:
        (problems if problems else warnings).append(
            "install with: dpdk-env/setup.sh --bench   (or: apt-get install %s)" % " ".join(pkgs))
    return problems, warnings


# ---- veth offloads ----

def offloads(ns, ifn):
    """The veth end's features as ethtool -k shows them: {name: "on"/"off"}."""
    out = sh("ip netns exec %s ethtool -k %s" % (ns, ifn)).stdout
    feats = {}
    for line in out.splitlines():
        m = re.match(r"\s*([a-z0-9-]+): (on|off)", line)
        if m:
            feats[m.group(1)] = m.group(2)
    return feats


def set_offloads(ns, ifn, **want):
    """ethtool -K NS/IF name on|off ..., then reads them back: raises RunFailed
    naming every feature that did not take the state asked for (ethtool
    refuses some changes silently: fixed features, or one that depends on
    another, as TSO on TX checksumming)."""
    args = " ".join("%s %s" % (k.replace("_", "-"), "on" if v else "off") for k, v in want.items())
    r = sh("ip netns exec %s ethtool -K %s %s" % (ns, ifn, args), check=False)
    # ethtool -k's names for the -K short names.
    long_name = {"tx": "tx-checksumming", "rx": "rx-checksumming", "tso": "tcp-segmentation-offload",
                 "gso": "generic-segmentation-offload", "gro": "generic-receive-offload"}
    got = offloads(ns, ifn)
    wrong = []
    for k, v in want.items():
        name = long_name.get(k, k.replace("_", "-"))
        if got.get(name) != ("on" if v else "off"):
            wrong.append("%s is %s" % (name, got.get(name, "unknown")))
    if wrong:
        raise RunFailed("ethtool -K %s %s did not take effect (%s)%s" % (
            ifn, args, ", ".join(wrong), ": " + tail(r.stderr) if r.stderr.strip() else ""))
    return got


# ---- CPU accounting ----

def cpu_busy():
    """Busy jiffies per CPU (everything but idle and iowait)."""
    busy = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                busy[int(m.group(1))] = sum(v) - v[3] - v[4]
    return busy


# ---- the tools' outputs ----

def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RunFailed("no JSON line in the output: " + tail(text))


def parse_sockperf(out):
    """sockperf ping-pong --full-rtt: transactions/s over its valid duration
    and round-trip percentiles (us)."""
    m = re.search(r"\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)", out)
    if not m or float(m.group(1)) <= 0:
        raise RunFailed("sockperf printed no valid-duration line: " + tail(out))

    def pct(p):
        q = re.search(r"percentile %s = \s*([\d.]+)" % re.escape(p), out)
        return float(q.group(1)) if q else float("nan")
    dur = float(m.group(1))
    return {"duration_s": dur, "transactions/s": int(m.group(3)) / dur, "p50 us": pct("50.000"),
            "p99 us": pct("99.000"), "p99.9 us": pct("99.900")}


def parse_iperf3(out, duration):
    try:
        j = json.loads(out)
    except ValueError:
        raise RunFailed("iperf3 printed no JSON: " + tail(out))
    if "error" in j:
        raise RunFailed("iperf3: " + j["error"])
    end = j["end"]
    return {"duration_s": duration, "Gbit/s": end["sum_received"]["bits_per_second"] / 1e9,
            "bytes": end["sum_received"]["bytes"], "retransmits": end["sum_sent"].get("retransmits", 0)}


def parse_wrk(out, duration):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RunFailed("wrk printed no Requests/sec: " + tail(out))

    def pct(p):
        q = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, out)
        return float(q.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[q.group(2)] if q else float("nan")
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if s:
        errors += sum(int(x) for x in s.groups())
    if errors:
        raise RunFailed("wrk: %d errors (%s)" % (errors, tail(out, 2)))
    return {"duration_s": duration, "requests/s": float(m.group(1)), "p50 us": pct(50), "p99 us": pct(99)}


# Figures that add up over parallel clients; the rest are latencies (" us"),
# durations or counts of one kind.
ADDITIVE = ("transactions/s", "connections/s", "Gbit/s", "requests/s", "bytes", "retransmits")


def combine(parts):
    """The figures of N parallel clients (one per worker) as one run: rates
    and byte counts summed, the duration the longest, and each latency
    percentile the highest of the clients' (a conservative reading: the
    percentile of the merged samples is at most that)."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for k in sorted(set().union(*parts)):
        vals = [p[k] for p in parts if k in p]
        if k in ADDITIVE:
            out[k] = sum(vals)
        else:  # " us" percentiles, duration_s; a percentile a tool did not print is nan
            known = [v for v in vals if v == v]
            out[k] = max(known) if known else float("nan")
    return out


def from_tern_perf(r):
    """tern-perf's JSON line (tern-perf --json, tern-pair --json) as the
    table's metrics; a run that counted errors is a failed run."""
    if r.get("errors"):
        raise RunFailed("%d errors reported by tern-perf" % r["errors"])
    out = {"duration_s": r["duration_s"]}
    if r["mode"] == "rr":
        out.update({"transactions/s": r["transactions_per_s"], "p50 us": r["p50_us"], "p99 us": r["p99_us"],
                    "p99.9 us": r["p999_us"]})
    elif r["mode"] == "crr":
        out.update({"connections/s": r["connections_per_s"], "p50 us": r["p50_us"]})
    elif r["mode"] == "bulk":
        out.update({"Gbit/s": r["gbps"], "bytes": r["bytes"]})
    return out
