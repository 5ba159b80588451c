#!/usr/bin/env python3
"""A/B: the same workloads on Tern and on the Linux kernel, same machine,
same two cores, one table of medians, spreads and Tern/Linux ratios.

Set-up 1, stack to stack on cores 0 and 1:
  tern     tern-pair: a Tern client worker (core 0) and a Tern server worker
           (core 1) in one process over the in-process link.
  linux    tern-perf --kernel client (core 0) and server (core 1) in two
           namespaces over a veth pair; also both on core 0 ("same core").
Set-up 2, a Linux client drives a server, only the server stack changes:
  the same tern-perf --kernel client (namespace C, core 0) against either
  tern-perf --kernel --server (namespace S, core 1) or Tern's tern-perf
  server on net_af_packet on that veth (namespace S, lcore 1), and wrk
  (core 0) against nginx or tern-httpd (core 1) for keep-alive HTTP.

Each figure is the median of --runs runs with its spread (min..max).
Bulk also reports bytes per CPU-second: busy time of the cores in the
set-up from /proc/stat (Tern's polling cores count as fully busy, which
they are). Writes results.csv and ratios.png (gnuplot) to --out.
Run through bench/ab/ab.sh, which installs and builds what it needs.
"""
import argparse
import atexit
import csv
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TAG = "tnab%04x" % random.randrange(0x10000)
NS_C, NS_S = TAG + "c", TAG + "s"
IF_C, IF_S = TAG + "c0", TAG + "s0"
NET = "10.%d.%d" % (random.randrange(90, 99), random.randrange(10, 250))
IP_C, IP_S = NET + ".1", NET + ".2"
PROCS = []


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, text=True, capture_output=True, **kw)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    for ns in (NS_C, NS_S):
        sh("ip netns del %s" % ns, check=False)


def make_namespaces():
    for ns in (NS_C, NS_S):
        sh("ip netns add %s && ip -n %s link set lo up" % (ns, ns))
    sh("ip link add %s netns %s type veth peer name %s netns %s" % (IF_C, NS_C, IF_S, NS_S))
    for ns, ifn in ((NS_C, IF_C), (NS_S, IF_S)):
        sh("ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % (ns, ifn))
        sh("ip -n %s link set %s up" % (ns, ifn))
        # docs/ports.md: af_packet over veth needs TX checksum offload off on the kernel side.
        sh("ip netns exec %s ethtool -K %s tx off" % (ns, ifn), check=False)
    sh("ip -n %s addr add %s/24 dev %s" % (NS_C, IP_C, IF_C))


def kernel_server_addr(on):
    """Gives (or takes away) the server namespace's kernel address."""
    verb = "add" if on else "del"
    sh("ip -n %s addr %s %s/24 dev %s" % (NS_S, verb, IP_S, IF_S), check=False)
    sh("ip -n %s neigh flush dev %s" % (NS_C, IF_C), check=False)


def cpu_busy():
    """Busy jiffies of cpu0 and cpu1 (everything but idle and iowait)."""
    busy = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                busy[int(m.group(1))] = sum(v) - v[3] - v[4]
    return busy


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in:\n" + text[-2000:])


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = a.build
        self.rows = []  # dicts: setup, workload, metric, stack, value per run
        self.notes = []
        self.work = tempfile.mkdtemp(prefix="tern-ab.")
        self.hz = os.sysconf("SC_CLK_TCK")

    def perf(self, *args):
        return "%s/apps/perf/tern-perf %s" % (self.build, " ".join(args))

    def record(self, setup, workload, stack, result, cores, cpu_before, cpu_after):
        busy_s = sum(cpu_after[c] - cpu_before[c] for c in cores) / self.hz
        if stack == "tern":  # polling: every core in the set-up is fully busy
            busy_s = max(busy_s, len(cores) * result["duration_s"])
        out = {}
        if result["mode"] == "rr":
            out = {"transactions/s": result["transactions_per_s"], "p50 us": result["p50_us"],
                   "p99 us": result["p99_us"], "p99.9 us": result["p999_us"]}
        elif result["mode"] == "crr":
            out = {"connections/s": result["connections_per_s"], "p50 us": result["p50_us"]}
        elif result["mode"] == "bulk":
            out = {"Gbit/s": result["gbps"], "MB per CPU-s": result["bytes"] / 1e6 / busy_s if busy_s else 0}
        elif result["mode"] == "http":
            out = {"requests/s": result["requests_per_s"], "p50 us": result["p50_us"], "p99 us": result["p99_us"]}
        if result.get("errors"):
            print("  !! %d errors" % result["errors"], file=sys.stderr)
        for metric, v in out.items():
            self.rows.append({"setup": setup, "workload": workload, "stack": stack, "metric": metric, "value": v})
        return out

    def repeat(self, setup, workload, stack, cores, run_once):
        for i in range(self.a.runs):
            before = cpu_busy()
            r = run_once()
            after = cpu_busy()
            out = self.record(setup, workload, stack, r, cores, before, after)
            print("  %-8s %-18s %-14s run %d: %s" % (setup, workload, stack, i + 1,
                  ", ".join("%s %.4g" % kv for kv in out.items())), flush=True)

    # ---- set-up 1 ----
    def tern_pair(self, mode, conns, size):
        cmd = "%s/bench/ab/tern-pair --lcores 0,1 --mode %s --connections %d --size %d --time %d --json" % (
            self.build, mode, conns, size, self.a.time)
        return last_json(sh(cmd, timeout=self.a.time + 60).stdout)

    def kernel_client(self, mode, conns, size, cpu, server=None):
        cmd = "ip netns exec %s %s" % (NS_C, self.perf(
            "--kernel", "--client", server or IP_S, "--mode", mode, "--connections", str(conns), "--size",
            str(size), "--time", str(self.a.time), "--interval", "0", "--cpu", str(cpu), "--json"))
        return last_json(sh(cmd, timeout=self.a.time + 60).stdout)

    def start(self, cmd, ready, what):
        log = open(os.path.join(self.work, what + ".log"), "w")
        p = subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT, preexec_fn=os.setsid)
        PROCS.append(p)
        deadline = time.time() + 30
        while not ready():
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError("%s did not start; see %s" % (what, log.name))
            time.sleep(0.1)
        return p

    def stop(self, p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def port_open(self, port):
        return lambda: sh("ip netns exec %s bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null" % (NS_C, IP_S, port),
                          check=False).returncode == 0

    def kernel_perf_server(self, cpu, ns=NS_S):
        ready = os.path.join(self.work, "kready")
        if os.path.exists(ready):
            os.unlink(ready)
        return self.start("ip netns exec %s %s" % (ns, self.perf("--kernel", "--server", "--cpu", str(cpu),
                          "--ready-file", ready)), lambda: os.path.exists(ready), "kernel-server")

    def tern_config(self, device=None):
        device = device or "net_af_packet0,iface=%s,qpairs=1" % IF_S
        path = os.path.join(self.work, "tern.toml")
        with open(path, "w") as f:
            f.write('log_level = "warning"\n[eal]\nfile_prefix = "%s"\nmemory_mb = 512\n'
                    '[runtime]\nlcores = [1]\nmbufs_per_worker = 32767\n'
                    '[[port]]\nname = "p0"\ndevice = "%s"\naddress = "%s/24"\n'
                    '[tcp]\nmax_connections = 16384\n[arp]\npending_packets = 4096\n' % (TAG, device, IP_S))
        return path

    def tern_server(self, binary, args, device=None):
        ready = os.path.join(self.work, "tready")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = "ip netns exec %s %s --config %s --ready-file %s %s" % (NS_S, binary, self.tern_config(device), ready,
                                                                      args)
        return self.start(cmd, lambda: os.path.exists(ready), os.path.basename(binary))

    def workloads(self):
        w = [("rr 64 B x1", "rr", 1, 64), ("rr 64 B x100", "rr", 100, 64), ("crr 64 B", "crr", 1, 64),
             ("bulk x1", "bulk", 1, 0)]
        return [x for x in w if not self.a.only or self.a.only in x[0]]

    def setup1(self):
        print("== set-up 1: stack to stack on cores 0 and 1", flush=True)
        for name, mode, conns, size in self.workloads():
            self.repeat("1", name, "tern", [0, 1], lambda: self.tern_pair(mode, conns, size or 64))
        kernel_server_addr(True)
        for label, server_cpu in (("linux", 1), ("linux same-core", 0)):
            srv = self.kernel_perf_server(server_cpu)
            try:
                for name, mode, conns, size in self.workloads():
                    self.repeat("1", name, label, [0, 1],
                                lambda: self.kernel_client(mode, conns, size or 64, 0))
            finally:
                self.stop(srv)

    def setup2(self):
        print("== set-up 2: Linux client (core 0) against a Linux or a Tern server (core 1)", flush=True)
        kernel_server_addr(True)
        srv = self.kernel_perf_server(1)
        try:
            for name, mode, conns, size in self.workloads():
                self.repeat("2", name, "linux", [0, 1], lambda: self.kernel_client(mode, conns, size or 64, 0))
        finally:
            self.stop(srv)
        kernel_server_addr(False)  # the veth end now belongs to Tern
        srv = self.tern_server("%s/apps/perf/tern-perf" % self.build, "--server")
        try:
            for name, mode, conns, size in self.workloads():
                self.repeat("2", name, "tern", [0, 1], lambda: self.kernel_client(mode, conns, size or 64, 0))
        finally:
            self.stop(srv)
        # net_af_xdp where it works: AF_XDP on the veth (generic XDP, copy mode here).
        try:
            srv = self.tern_server("%s/apps/perf/tern-perf" % self.build, "--server",
                                   "net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % IF_S)
        except RuntimeError as e:
            print("  net_af_xdp: Tern did not start on it, skipped (%s)" % e, flush=True)
            self.notes.append("net_af_xdp: the Tern server did not start on the veth; no af_xdp figures")
            return
        try:
            for name, mode, conns, size in self.workloads():
                self.repeat("2", name, "tern af_xdp", [0, 1], lambda: self.kernel_client(mode, conns, size or 64, 0))
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError) as e:
            print("  net_af_xdp: a run failed, af_xdp figures incomplete (%s)" % e, flush=True)
            self.notes.append("net_af_xdp: a run failed; af_xdp figures incomplete")
        finally:
            self.stop(srv)

    # ---- keep-alive HTTP: wrk against nginx or tern-httpd ----
    def wrk(self, port):
        cmd = "ip netns exec %s taskset -c 0 wrk -t1 -c50 -d%ds --latency http://%s:%d/f1k" % (
            NS_C, self.a.time, IP_S, port)
        out = sh(cmd, timeout=self.a.time + 60).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

        def pct(p):
            m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
            v = float(m.group(1))
            return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
        errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
        errors += sum(int(x) for x in re.findall(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                                                   out)[0]) if "Socket errors" in out else 0
        return {"mode": "http", "requests_per_s": rps, "p50_us": pct(50), "p99_us": pct(99), "errors": errors,
                "duration_s": self.a.time}

    def http(self):
        if not shutil.which("wrk") or not shutil.which("nginx"):
            print("== keep-alive HTTP skipped: wrk or nginx not installed", flush=True)
            return
        print("== set-up 2, keep-alive HTTP: wrk (core 0, 50 connections) against nginx or tern-httpd (core 1)",
              flush=True)
        root = os.path.join(self.work, "www")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "f1k"), "wb") as f:
            f.write(os.urandom(1000))
        conf = os.path.join(self.work, "nginx.conf")
        with open(conf, "w") as f:
            f.write("daemon off; master_process off; worker_processes 1; worker_cpu_affinity 10;\n"
                    "pid %s/nginx.pid; error_log stderr warn;\n"
                    "events { worker_connections 1024; }\n"
                    "http { access_log off; keepalive_requests 1000000; sendfile on;\n"
                    "  server { listen %s:8080; root %s; } }\n" % (self.work, IP_S, root))
        kernel_server_addr(True)
        srv = self.start("ip netns exec %s nginx -c %s -p %s" % (NS_S, conf, self.work), self.port_open(8080), "nginx")
        try:
            self.repeat("2", "http keep-alive", "linux", [0, 1], lambda: self.wrk(8080))
        finally:
            self.stop(srv)
        kernel_server_addr(False)
        srv = self.tern_server("%s/apps/tern-httpd" % self.build, "--port 8080 --root %s" % root)
        try:
            self.repeat("2", "http keep-alive", "tern", [0, 1], lambda: self.wrk(8080))
        finally:
            self.stop(srv)

    # ---- report ----
    def report(self):
        groups = {}
        for r in self.rows:
            groups.setdefault((r["setup"], r["workload"], r["metric"]), {}).setdefault(r["stack"], []).append(r["value"])
        lines = []
        header = "%-3s %-16s %-14s %22s %22s %22s %8s %22s" % ("set", "workload", "metric", "tern median [min..max]",
                                                                 "linux median [min..max]", "linux same-core",
                                                                 "tern/lin", "tern af_xdp (set-up 2)")
        lines.append(header)
        lines.append("-" * len(header))
        csv_rows = []

        def fmt(v):
            if not v:
                return "-"
            return "%.4g [%.4g..%.4g]" % (statistics.median(v), min(v), max(v))
        for (setup, workload, metric), by in sorted(groups.items()):
            t, l, s = by.get("tern", []), by.get("linux", []), by.get("linux same-core", [])
            x = by.get("tern af_xdp", [])
            ratio = statistics.median(t) / statistics.median(l) if t and l and statistics.median(l) else float("nan")
            lines.append("%-3s %-16s %-14s %22s %22s %22s %8.2f %22s" % (setup, workload, metric, fmt(t), fmt(l),
                                                                          fmt(s), ratio, fmt(x)))
            csv_rows.append([setup, workload, metric,
                             statistics.median(t) if t else "", min(t) if t else "", max(t) if t else "",
                             statistics.median(l) if l else "", min(l) if l else "", max(l) if l else "",
                             statistics.median(s) if s else "", ratio, statistics.median(x) if x else ""])
        os.makedirs(self.a.out, exist_ok=True)
        with open(os.path.join(self.a.out, "results.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["setup", "workload", "metric", "tern_median", "tern_min", "tern_max", "linux_median",
                        "linux_min", "linux_max", "linux_same_core_median", "tern_over_linux",
                        "tern_af_xdp_median"])
            w.writerows(csv_rows)
        with open(os.path.join(self.a.out, "table.txt"), "w") as f:
            f.write(self.env() + "\n" + "\n".join(lines) + "\n" + "".join("note: %s\n" % n for n in self.notes))
        print()
        print(self.env())
        print("\n".join(lines))
        for n in self.notes:
            print("note: %s" % n)
        self.chart(csv_rows)

    def chart(self, csv_rows):
        """Tern/Linux ratio per workload and headline metric (higher is better for Tern)."""
        keep = [r for r in csv_rows if r[2] in ("transactions/s", "connections/s", "Gbit/s", "requests/s",
                                                "MB per CPU-s") and r[10] == r[10]]
        if not keep or not shutil.which("gnuplot"):
            print("(no chart: gnuplot missing or no ratios)")
            return
        dat = os.path.join(self.a.out, "ratios.dat")
        with open(dat, "w") as f:
            for r in keep:
                f.write('"%s: %s %s" %.4f\n' % (r[0], r[1], r[2], r[10]))
        png = os.path.join(self.a.out, "ratios.png")
        script = ("set terminal pngcairo size 1100,600 noenhanced; set output '%s';"
                  "set title 'Tern / Linux (median of %d runs; > 1: Tern better)';"
                  "set style fill solid 0.7; set boxwidth 0.7; set yrange [0:*]; set grid y;"
                  "set xtics rotate by -35 font ',9'; set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2;"
                  "plot '%s' using 0:2:xtic(1) with boxes notitle" % (png, self.a.runs, dat))
        r = sh("gnuplot -e \"%s\"" % script, check=False)
        if r.returncode != 0:  # pngcairo may be missing in gnuplot-nox: fall back to png
            r = sh("gnuplot -e \"%s\"" % script.replace("pngcairo", "png"), check=False)
        print("chart: %s%s" % (png, "" if r.returncode == 0 else " (gnuplot failed: %s)" % r.stderr.strip()))

    def env(self):
        model = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        dpdk = sh("pkg-config --modversion libdpdk", check=False).stdout.strip()
        return ("environment: %s; %d cores; kernel %s; DPDK %s; Tern PMD net_af_packet (set-up 2), "
                "in-process link (set-up 1); cores 0 (client) and 1 (server); %d runs x %d s" % (
                    model, os.cpu_count(), platform.release(), dpdk, self.a.runs, self.a.time))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--time", type=int, default=3, help="seconds per run")
    ap.add_argument("--out", default="bench/ab/results")
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: setup1,setup2,http")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    make_namespaces()
    b = Bench(a)
    start = time.time()
    skip = a.skip.split(",")
    try:
        if "setup1" not in skip:
            b.setup1()
        if "setup2" not in skip:
            b.setup2()
        if "http" not in skip:
            b.http()
    finally:
        b.report()
        print("A/B took %.0f s; results in %s" % (time.time() - start, a.out))


if __name__ == "__main__":
    main()
