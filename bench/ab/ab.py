#!/usr/bin/env python3
"""A/B: the same workloads on Tern and on the Linux kernel, same machine,
same two cores, one run. The kernel is measured with the standard tools as
well as with tern-perf --kernel, each pinned exactly as the Tern side, and
every ratio divides Tern's figure per core by the kernel's best figure per
core (its best placement and tool), naming which one.

Set-up 1, stack to stack, cores 0 and 1:
  tern    tern-pair: a Tern client worker (core 0) and a Tern server worker
          (core 1) in one process over the in-process link.
  kernel  over a veth pair between two namespaces, cross-core (client core 0,
          server core 1) and same-core (both on core 0):
          tern-perf --kernel (every workload), sockperf ping-pong (request/
          response, 1 connection), iperf3 (bulk, TSO on and TSO/GSO off,
          and -Z, its zero-copy sendfile, with TSO on).
  bulk is measured copying and zero-copy on both sides: tern-pair copying
  and --zerocopy (SendRegion), iperf3 copying and -Z. A copying Tern
  figure divides by the kernel's best copying figure; a zero-copy one by
  the kernel's best figure, copying or zero-copy.
Set-up 2, a kernel client drives a server; only the server changes:
  tern-perf --kernel client (namespace C, core 0) against tern-perf --kernel
  --server (namespace S, core 1) or Tern's tern-perf server on net_af_packet
  (and net_af_xdp) on that veth (lcore 1); keep-alive HTTP: wrk (core 0)
  against nginx tuned for small static files (core 1, and core 0 for the
  same-core placement) or tern-httpd (lcore 1).

--workers N (default 1) runs every side on N cores: the clients on cores
0..N-1, the servers on N..2N-1 (the same-core placements on 0..N-1), each
workload's connections per worker (rr x1 is N connections); tern-pair and
the Tern servers take N lcores (net_af_packet N queue pairs over a fanout,
net_af_xdp is left out: over a veth it takes one queue), the kernel side runs N pinned
copies of each tool (tern-perf --kernel servers sharing the port with
--reuseport, sockperf and iperf3 pairs on ports of their own, nginx with N
workers, wrk -tN), and N clients' figures are added (latency percentiles:
the highest of the N). It needs 2N cores; --oversubscribe runs it on
fewer as a functional check (core c on CPU c mod the CPU count; the
figures then mean nothing).

Per core: a figure divided by the cores it used: Tern's busy-polling cores
count as fully used; every other pinned core counts as busy as /proc/stat
shows it during the run. Each figure is the median of --runs runs with its
spread; a run that fails (non-zero exit, deadline, errors) is listed as
failed with its reason and the A/B goes on. Writes table.txt, results.csv,
ratios.csv and ratios.png (gnuplot) to --out. Run through bench/ab/ab.sh,
which installs and builds what it needs.
"""
import argparse
import atexit
import csv
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_lib import (RunFailed, combine, cpu_busy, from_tern_perf, last_json, missing_prerequisites,  # noqa: E402
                    parse_iperf3, parse_sockperf, parse_wrk, run, run_all, set_offloads, sh)

# TERN_NS_TAG (as dpdk-env/netns.sh) makes the names predictable; random otherwise.
TAG = "tnab" + (os.environ.get("TERN_NS_TAG") or "%04x" % random.randrange(0x10000))[:6]
NS_C, NS_S = TAG + "c", TAG + "s"
IF_C, IF_S = TAG + "c0", TAG + "s0"
NET = "10.%d.%d" % (random.randrange(90, 99), random.randrange(10, 250))
IP_C, IP_S = NET + ".1", NET + ".2"
PROCS = []
HEADLINE = {"rr": "transactions/s", "crr": "connections/s", "bulk": "Gbit/s", "http": "requests/s"}
SOCKPERF_PORT, IPERF_PORT, HTTP_PORT = 11111, 5299, 8080
# nginx as its documentation recommends for small static files: sendfile,
# tcp_nopush (full packets with sendfile), tcp_nodelay (no Nagle on
# keep-alive), open_file_cache (no open/stat per request); one worker per
# server core, each pinned (worker_cpu_affinity: one mask per worker).
NGINX_CONF = """daemon off; master_process %(master)s; worker_processes %(workers)d; worker_cpu_affinity %(mask)s;
pid %(work)s/nginx.pid; error_log stderr warn;
events { worker_connections 1024; multi_accept on; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 65;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; open_file_cache_min_uses 1;
  open_file_cache_errors on;
  server { listen %(ip)s:%(port)d; root %(root)s; } }
"""


def human(x):
    """1234567 -> 1.23M, 45678 -> 45.7k, 3.456 -> 3.46."""
    if x != x:
        return "nan"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return "%.3g%s" % (x / div, suffix)
    return "%.3g" % x


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT)
                p.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    for ns in (NS_C, NS_S):
        sh("ip netns del %s" % ns, check=False)


def server_memory_mb(workers):
    """A Tern server's [eal] memory_mb: 32767 mbufs per worker and the rest."""
    return max(512, 160 * workers)


def cpus(c):
    """[1] -> "1", [0, 1] -> "0+1", [0, 1, 2, 3] -> "0-3": the labels the
    one-worker A/B always had, and ranges for more."""
    return "+".join(map(str, c)) if len(c) <= 2 else "%d-%d" % (c[0], c[-1])


def on(word, c):
    """on("lcore", [1]) -> "lcore 1", on("lcore", [2, 3]) -> "lcores 2+3"."""
    return "%s%s %s" % (word, "s" if len(c) > 1 else "", cpus(c))


def make_namespaces():
    for ns in (NS_C, NS_S):
        sh("ip netns add %s && ip -n %s link set lo up" % (ns, ns))
    sh("ip link add %s netns %s type veth peer name %s netns %s" % (IF_C, NS_C, IF_S, NS_S))
    for ns, ifn in ((NS_C, IF_C), (NS_S, IF_S)):
        sh("ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % (ns, ifn))
        sh("ip -n %s link set %s up" % (ns, ifn))
    sh("ip -n %s addr add %s/24 dev %s" % (NS_C, IP_C, IF_C))


def kernel_server_addr(on):
    """Gives (or takes away) the server namespace's kernel address; up, since
    net_af_packet takes the interface down when Tern's port closes."""
    if on:
        sh("ip -n %s link set %s up" % (NS_S, IF_S), check=False)
    sh("ip -n %s addr %s %s/24 dev %s" % (NS_S, "add" if on else "del", IP_S, IF_S), check=False)
    sh("ip -n %s neigh flush dev %s" % (NS_C, IF_C), check=False)


class Variant:
    """One way of running one workload: its runs' metrics and failures."""

    def __init__(self, setup, workload, kind, side, how, zerocopy=False):
        self.setup, self.workload, self.kind, self.side, self.how = setup, workload, kind, side, how
        self.zerocopy = zerocopy  # sends from the application's memory (tern-pair --zerocopy, iperf3 -Z)
        self.runs = []      # dicts of metrics, with "cores"
        self.failures = []  # reasons

    def values(self, metric):
        return [r[metric] for r in self.runs if metric in r and r[metric] == r[metric]]

    def median(self, metric):
        v = self.values(metric)
        return statistics.median(v) if v else None

    def headline(self):
        return HEADLINE[self.kind]

    def per_core(self):
        return self.median("per core")


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = a.build
        self.skip = set(a.skip.split(",")) - {""}
        self.variants = []
        self.notes = []
        self.work = tempfile.mkdtemp(prefix="tern-ab.")
        self.hz = os.sysconf("SC_CLK_TCK")
        self.timeout = a.time + 30
        self.n = a.workers
        self.ccpu = list(range(self.n))               # the clients' cores (and the same-core placements')
        self.scpu = list(range(self.n, 2 * self.n))   # the servers' cores
        self.ncpu = os.cpu_count()

    def phys(self, c):
        """The CPU that core c runs on: c, or c mod the CPU count with
        --oversubscribe (a functional check of N workers on a small machine)."""
        return c % self.ncpu if self.a.oversubscribe else c

    # ---- measuring ----
    def variant(self, setup, workload, kind, side, how, zerocopy=False):
        for v in self.variants:
            if (v.setup, v.workload, v.side, v.how) == (setup, workload, side, how):
                return v
        v = Variant(setup, workload, kind, side, how, zerocopy)
        self.variants.append(v)
        return v

    def measure(self, setup, workload, kind, side, how, poll, cores, once, zerocopy=False):
        """--runs runs of once() (which returns metrics or raises RunFailed).
        poll: the cores Tern busy-polls (charged as fully used); cores: the
        other cores pinned in this set-up (charged as busy as /proc/stat
        shows them over the run); zerocopy: once() sends from the
        application's memory (which kernel figures its ratio divides by)."""
        v = self.variant(setup, workload, kind, side, how, zerocopy)
        for i in range(self.a.runs):
            before, t0 = cpu_busy(), time.time()
            try:
                r = once()
            except Exception as e:  # RunFailed, or a parser's surprise: a failed run either way
                v.failures.append(str(e) if isinstance(e, RunFailed) else "%s: %s" % (type(e).__name__, e))
                print("  %-2s %-13s %-44s run %d: FAILED: %s" % (setup, workload, how, i + 1, e), flush=True)
                if len(v.failures) >= 2 and not v.runs:
                    v.failures.append("the remaining runs skipped after two failures")
                    break
                continue
            wall = max(time.time() - t0, 1e-3)
            after = cpu_busy()
            used = float(len(poll))
            for c in cores:
                if c not in poll:
                    used += min(1.0, (after.get(c, 0) - before.get(c, 0)) / self.hz / wall)
            r["cores"] = used
            r["per core"] = r[HEADLINE[kind]] / used if used > 0 else float("nan")
            v.runs.append(r)
            print("  %-2s %-13s %-44s run %d: %s %.4g, %.2f cores, %.4g per core" % (
                setup, workload, how, i + 1, HEADLINE[kind], r[HEADLINE[kind]], used, r["per core"]), flush=True)

    def fail_all(self, setup, items, side, how, reason, zerocopy=False):
        """Every workload of a block whose server (or set-up) failed."""
        print("  %-2s %-44s FAILED: %s" % (setup, how, reason), flush=True)
        for workload, kind in items:
            self.variant(setup, workload, kind, side, how, zerocopy).failures.append(reason)

    # ---- processes ----
    def start(self, cmd, ready, what):
        log = open(os.path.join(self.work, what + ".log"), "w")
        p = subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        PROCS.append(p)
        deadline = time.time() + 30
        while not ready():
            if p.poll() is not None or time.time() > deadline:
                self.stop(p)
                with open(log.name) as f:
                    last = [x for x in f.read().strip().splitlines() if x.strip()][-2:]
                raise RunFailed("%s did not start (%s): %s" % (
                    what, "exit %d" % p.returncode if p.returncode is not None else "not ready in 30 s",
                    " | ".join(last)[-300:]))
            time.sleep(0.1)
        return p

    def stop(self, p):
        if isinstance(p, list):  # the N servers of an N-worker kernel side
            for q in p:
                self.stop(q)
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT)
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            except ProcessLookupError:
                pass

    def listening(self, port):
        return lambda: sh("ip netns exec %s ss -Hltn 'sport = :%d'" % (NS_S, port), check=False).stdout.strip() != ""

    def start_each(self, cmd, port, cpu_list, what):
        """One server per core, the i-th (cmd(i, cpu)) listening on port + i;
        stops those already started if one fails."""
        procs = []
        try:
            for i, cpu in enumerate(cpu_list):
                procs.append(self.start(cmd(i, self.phys(cpu)), self.listening(port + i),
                                        what + ("-%d" % i if len(cpu_list) > 1 else "")))
        except RunFailed:
            self.stop(procs)
            raise
        return procs

    def file_ready(self, name):
        path = os.path.join(self.work, name)
        if os.path.exists(path):
            os.unlink(path)
        return path, lambda: os.path.exists(path)

    def perf(self, *args):
        return "%s/apps/perf/tern-perf %s" % (self.build, " ".join(args))

    def kernel_perf_server(self, cpu_list):
        """One tern-perf --kernel server per core, sharing port 5201."""
        procs = []
        try:
            for i, cpu in enumerate(cpu_list):
                path, ready = self.file_ready("kready%d" % i)
                procs.append(self.start("ip netns exec %s %s" % (NS_S, self.perf(
                    "--kernel", "--server", "--reuseport", "--cpu", str(self.phys(cpu)), "--ready-file", path)), ready,
                    "kernel-server" + ("-%d" % i if len(cpu_list) > 1 else "")))
        except RunFailed:
            self.stop(procs)
            raise
        return procs

    def tern_config(self, device):
        path = os.path.join(self.work, "tern.toml")
        with open(path, "w") as f:
            f.write('log_level = "warning"\n[eal]\nfile_prefix = "%s"\nmemory_mb = %d\n'
                    '[runtime]\nlcores = [%s]\nmbufs_per_worker = 32767\n'
                    '[[port]]\nname = "p0"\ndevice = "%s"\naddress = "%s/24"\n'
                    '[tcp]\nmax_connections = 16384\n[arp]\npending_packets = 4096\n' % (
                        TAG, server_memory_mb(self.n), ", ".join(str(self.phys(c)) for c in self.scpu), device, IP_S))
        return path

    def tern_server(self, binary, args, device):
        path, ready = self.file_ready("tready")
        cmd = "ip netns exec %s %s --config %s --ready-file %s %s" % (NS_S, binary, self.tern_config(device), path,
                                                                      args)
        return self.start(cmd, ready, os.path.basename(binary))

    def block(self, setup, side, how, items, server, zerocopy=False):
        """Starts server() (a callable; None for no server), measures each
        item (workload, kind, poll, cores, once), stops the server. A server
        that does not start fails every item, with its reason."""
        try:
            srv = server() if server else None
        except RunFailed as e:
            self.fail_all(setup, [(w, k) for w, k, *_ in items], side, how, str(e), zerocopy)
            return
        try:
            for workload, kind, poll, cores, once in items:
                self.measure(setup, workload, kind, side, how, poll, cores, once, zerocopy)
        finally:
            if srv:
                self.stop(srv)

    # ---- the runs themselves ----
    def tern_pair(self, mode, conns, size, zerocopy=False):
        """zerocopy (bulk): the clients send from a registered region
        (tern-pair --zerocopy, api::SendRegion) instead of copying."""
        cmd = "%s/bench/ab/tern-pair --workers %d --lcores %s --mode %s --connections %d --size %d --time %d " \
              "%s--json" % (self.build, self.n, ",".join("%d@%d" % (c, self.phys(c)) if self.a.oversubscribe else str(c)
                                                         for c in self.ccpu + self.scpu), mode, conns * self.n, size,
                            self.a.time, "--zerocopy " if zerocopy else "")
        return from_tern_perf(last_json(run(cmd, self.timeout)))

    def clients(self, cmd):
        """cmd(i, cpu): the i-th of N clients, one per client core, at once."""
        return run_all([cmd(i, self.phys(cpu)) for i, cpu in enumerate(self.ccpu)], self.timeout)

    def kernel_client(self, mode, conns, size):
        return combine([from_tern_perf(last_json(o)) for o in self.clients(
            lambda i, cpu: "ip netns exec %s %s" % (NS_C, self.perf(
                "--kernel", "--client", IP_S, "--mode", mode, "--connections", str(conns), "--size", str(size),
                "--time", str(self.a.time), "--interval", "0", "--cpu", str(cpu), "--json")))])

    def sockperf(self):
        return combine([parse_sockperf(o) for o in self.clients(
            lambda i, cpu: "ip netns exec %s taskset -c %d sockperf ping-pong --tcp -i %s -p %d -m 64 -t %d "
            "--full-rtt" % (NS_C, cpu, IP_S, SOCKPERF_PORT + i, self.a.time))])

    def iperf3(self, tso, zerocopy=False):
        # TSO (and GSO, so that the kernel sends 1500-byte frames as Tern
        # does) on or off on both veth ends; read back before every run.
        # zerocopy: -Z, iperf3's zero-copy send (sendfile(2) from a file of
        # its buffer, no copy from user space), the kernel's answer to
        # tern-pair --zerocopy.
        for ns, ifn in ((NS_C, IF_C), (NS_S, IF_S)):
            set_offloads(ns, ifn, tso=tso, gso=tso)
        return combine([parse_iperf3(o, self.a.time) for o in self.clients(
            lambda i, cpu: "ip netns exec %s taskset -c %d iperf3 -c %s -p %d -t %d %s-J" % (
                NS_C, cpu, IP_S, IPERF_PORT + i, self.a.time, "-Z " if zerocopy else ""))])

    def wrk(self):
        cmd = "ip netns exec %s taskset -c %s wrk -t%d -c%d -d%ds --latency http://%s:%d/f1k" % (
            NS_C, ",".join(str(self.phys(c)) for c in self.ccpu), self.n, 50 * self.n, self.a.time, IP_S, HTTP_PORT)
        return parse_wrk(run(cmd, self.timeout), self.a.time)

    def workloads(self):
        w = [("rr 64 B x1", "rr", 1, 64), ("rr 64 B x100", "rr", 100, 64), ("crr 64 B", "crr", 1, 64),
             ("bulk x1", "bulk", 1, 0)]
        exact = [x for x in w if x[0] == self.a.only]  # "rr 64 B x1" is not also "rr 64 B x100"
        return exact or [x for x in w if not self.a.only or self.a.only in x[0]]

    def offloads_on(self):
        """The veth as created: TX checksum, TSO and GSO on at both ends (the
        kernel's best). Verified; a failure here stops the A/B."""
        for ns, ifn in ((NS_C, IF_C), (NS_S, IF_S)):
            set_offloads(ns, ifn, tx=True, tso=True, gso=True)

    def placements(self):
        """The kernel's placements: (label, the servers' cores); the clients
        are on self.ccpu. With one worker: "x-core 0/1" and "same core 0"."""
        return (("x-core %s/%s" % (cpus(self.ccpu), cpus(self.scpu)), self.scpu),
                (on("same core", self.ccpu), self.ccpu))

    def setup1(self):
        print("== set-up 1: stack to stack on %s and %s" % (on("core", self.ccpu), on("core", self.scpu)),
              flush=True)
        both = self.ccpu + self.scpu
        for name, mode, conns, size in self.workloads():
            self.measure("1", name, mode, "tern", "tern-pair, cores " + cpus(both), both, both,
                         lambda: self.tern_pair(mode, conns, size or 64))
            if mode == "bulk":  # and sending from the application's memory, as iperf3 -Z below
                self.measure("1", name, mode, "tern", "tern-pair --zerocopy, cores " + cpus(both), both, both,
                             lambda: self.tern_pair(mode, conns, size or 64, zerocopy=True), zerocopy=True)
        kernel_server_addr(True)
        self.offloads_on()
        for place, scpu in self.placements():
            cores = sorted(set(self.ccpu) | set(scpu))
            items = [(name, mode, [], cores, lambda m=mode, c=conns, s=size: self.kernel_client(m, c, s or 64))
                     for name, mode, conns, size in self.workloads()]
            self.block("1", "kernel", "tern-perf --kernel, " + place, items,
                       lambda sc=scpu: self.kernel_perf_server(sc))
            rr1 = [w for w in self.workloads() if w[0] == "rr 64 B x1"]
            if rr1 and "sockperf" not in self.skip:
                self.block("1", "kernel", "sockperf ping-pong, " + place,
                           [("rr 64 B x1", "rr", [], cores, self.sockperf)],
                           lambda sc=scpu: self.start_each(
                               lambda i, cpu: "ip netns exec %s taskset -c %d sockperf server --tcp -i %s -p %d" % (
                                   NS_S, cpu, IP_S, SOCKPERF_PORT + i), SOCKPERF_PORT, sc, "sockperf"))
            if any(w[1] == "bulk" for w in self.workloads()) and "iperf3" not in self.skip:
                # -Z (zero-copy) with TSO on only: the kernel's best.
                for tso, zc in ((True, False), (True, True), (False, False)):
                    self.block("1", "kernel", "iperf3 %sTSO %s, %s" % ("-Z " if zc else "", "on" if tso else "off",
                                                                       place),
                               [("bulk x1", "bulk", [], cores, lambda t=tso, z=zc: self.iperf3(t, z))],
                               lambda sc=scpu: self.start_each(
                                   lambda i, cpu: "ip netns exec %s taskset -c %d iperf3 -s -B %s -p %d" % (
                                       NS_S, cpu, IP_S, IPERF_PORT + i), IPERF_PORT, sc, "iperf3"), zerocopy=zc)
                self.offloads_on()

    def tern_on_veth(self, setup, how, items, binary, args, device):
        """A Tern server on the veth's server end; the kernel client's TX
        checksum offload off (docs/ports.md), verified, else every item fails
        with the reason."""
        try:
            set_offloads(NS_C, IF_C, tx=False)
        except RunFailed as e:
            self.fail_all(setup, [(w, k) for w, k, *_ in items], "tern", how, str(e))
            return
        kernel_server_addr(False)  # the veth end now belongs to Tern
        try:
            self.block(setup, "tern", how, items, lambda: self.tern_server(binary, args, device))
        finally:
            kernel_server_addr(True)
            self.offloads_on()

    def setup2(self):
        print("== set-up 2: kernel client (%s) against a kernel or a Tern server (%s)" % (
            on("core", self.ccpu), on("core", self.scpu)), flush=True)
        kernel_server_addr(True)
        self.offloads_on()
        both = self.ccpu + self.scpu
        items = [(name, mode, [], both, lambda m=mode, c=conns, s=size: self.kernel_client(m, c, s or 64))
                 for name, mode, conns, size in self.workloads()]
        self.block("2", "kernel", "tern-perf --kernel server, " + on("core", self.scpu), items,
                   lambda: self.kernel_perf_server(self.scpu))
        tern_items = [(n, k, self.scpu, both, f) for n, k, _, _, f in items]
        if any(w[1] == "bulk" for w in self.workloads()):
            # tern-perf's --zerocopy is a sending client's; here the server receives.
            self.notes.append("set-up 2's bulk has no zero-copy row: the same kernel client sends to every server, "
                              "which only receives")
        perf = "%s/apps/perf/tern-perf" % self.build
        self.tern_on_veth("2", "tern-perf on net_af_packet, " + on("lcore", self.scpu), tern_items, perf,
                          "--server", "net_af_packet0,iface=%s,qpairs=%d" % (IF_S, self.n))
        if "af_xdp" not in self.skip and self.n > 1:
            # DPDK 22.11's net_af_xdp counts combined channels; a veth has
            # separate RX/TX ones, so Tern takes one queue there (docs/ports.md).
            self.notes.append("net_af_xdp left out: over a veth it runs one queue, so one worker only")
        elif "af_xdp" not in self.skip:
            # AF_XDP on the veth (generic XDP, copy mode here).
            self.tern_on_veth("2", "tern-perf on net_af_xdp, " + on("lcore", self.scpu), tern_items, perf,
                              "--server", "net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % IF_S)

    def http(self):
        print("== set-up 2, keep-alive HTTP: wrk (%s, %d connections) against nginx or tern-httpd" % (
            on("core", self.ccpu), 50 * self.n), flush=True)
        root = os.path.join(self.work, "www")
        os.makedirs(root, exist_ok=True)
        # With N > 1, nginx's master runs the workers as an unprivileged user:
        # they must reach the file through the work directory (mkdtemp: 0700).
        os.chmod(self.work, 0o711)
        with open(os.path.join(root, "f1k"), "wb") as f:
            f.write(os.urandom(1000))
        kernel_server_addr(True)
        self.offloads_on()
        for place, scpu in self.placements():
            conf = os.path.join(self.work, "nginx-%d.conf" % scpu[0])
            with open(conf, "w") as f:
                # One worker per core without a master (the one-worker A/B's
                # nginx); N workers need nginx's master to start them.
                f.write(NGINX_CONF % {"master": "on" if self.n > 1 else "off", "workers": self.n,
                                      "mask": " ".join(bin(1 << self.phys(c))[2:] for c in scpu), "work": self.work,
                                      "ip": IP_S, "port": HTTP_PORT, "root": root})
            cmd = "ip netns exec %s nginx -c %s -p %s" % (NS_S, conf, self.work)
            self.block("2", "kernel", "nginx (tuned, %d worker%s), %s" % (self.n, "s" if self.n > 1 else "", place),
                       [("http 1000 B", "http", [], sorted(set(self.ccpu) | set(scpu)), self.wrk)],
                       lambda c=cmd: self.start(c, self.listening(HTTP_PORT), "nginx"))
        self.tern_on_veth("2", "tern-httpd on net_af_packet, " + on("lcore", self.scpu),
                          [("http 1000 B", "http", self.scpu, self.ccpu + self.scpu, self.wrk)],
                          "%s/apps/tern-httpd" % self.build, "--port %d --root %s" % (HTTP_PORT, root),
                          "net_af_packet0,iface=%s,qpairs=%d" % (IF_S, self.n))

    # ---- report ----
    def ratios(self):
        """For each Tern variant: Tern per core over the kernel's best per
        core in the same set-up and workload, and totals over the kernel's
        best total; each names the kernel figure it divides by. A copying
        Tern figure divides by the kernel's copying figures (like for like);
        a zero-copy one by all of them, copying or zero-copy (the kernel's
        best, whichever way it sends)."""
        out = []
        for t in self.variants:
            if t.side != "tern" or t.per_core() is None:
                continue
            ks = [k for k in self.variants if k.side == "kernel" and (k.setup, k.workload) == (t.setup, t.workload)
                  and k.per_core() is not None and (t.zerocopy or not k.zerocopy)]
            if not ks:
                continue
            best_pc = max(ks, key=lambda k: k.per_core())
            best_tot = max(ks, key=lambda k: k.median(k.headline()))
            out.append({"setup": t.setup, "workload": t.workload, "tern": t.how, "metric": t.headline(),
                        "kernel_figures": "copying or zero-copy" if t.zerocopy else "copying",
                        "tern_per_core": t.per_core(), "kernel_best_per_core": best_pc.per_core(),
                        "kernel_per_core_from": best_pc.how, "ratio_per_core": t.per_core() / best_pc.per_core(),
                        "tern_total": t.median(t.headline()), "kernel_best_total": best_tot.median(best_tot.headline()),
                        "kernel_total_from": best_tot.how,
                        "ratio_total": t.median(t.headline()) / best_tot.median(best_tot.headline())})
        return out

    def report(self):
        lines = []
        head = "%-3s %-13s %-6s %-40s %-14s %24s %5s %5s %9s %8s %8s" % (
            "set", "workload", "side", "how", "metric", "median [min..max]", "runs", "cores", "per core",
            "p50 us", "p99 us")
        lines += [head, "-" * len(head)]
        csv_rows = []

        def g(x):
            return human(x) if x is not None else "-"
        order = {"1": 0, "2": 1}
        for v in sorted(self.variants, key=lambda v: (order.get(v.setup, 9), v.workload, v.side != "tern")):
            m = v.headline()
            vals = v.values(m)
            failed = [f for f in v.failures if not f.startswith("the remaining")]
            # Each distinct reason once, with how many runs gave it.
            reasons = []
            for f in v.failures:
                if f not in reasons:
                    reasons.append(f)
            reasons = ["%s%s" % (f, " (%d runs)" % v.failures.count(f) if v.failures.count(f) > 1 else "")
                       for f in reasons]
            n = "%d/%d" % (len(vals), len(vals) + len(failed))
            if vals:
                spread = "%s [%s..%s]" % (human(statistics.median(vals)), human(min(vals)), human(max(vals)))
                lines.append("%-3s %-13s %-6s %-40s %-14s %24s %5s %5.2f %9s %8s %8s" % (
                    v.setup, v.workload, v.side, v.how, m, spread, n, v.median("cores"), g(v.per_core()),
                    g(v.median("p50 us")), g(v.median("p99 us"))))
            else:
                lines.append("%-3s %-13s %-6s %-40s %-14s FAILED: %s" % (v.setup, v.workload, v.side, v.how, m,
                                                                        reasons[0] if reasons else "no runs"))
            for f in (reasons if vals else reasons[1:]):
                lines.append("%66s failed: %s" % ("", f))
            csv_rows.append([v.setup, v.workload, v.side, v.how, m, v.median(m) if vals else "",
                             min(vals) if vals else "", max(vals) if vals else "", len(vals), len(failed),
                             v.median("cores") or "", v.per_core() or "", v.median("p50 us") or "",
                             v.median("p99 us") or "", v.median("p99.9 us") or "", " / ".join(reasons),
                             "zero-copy" if v.zerocopy else "copy"])
        rat = self.ratios()
        lines += ["", "Tern / kernel, per core (the kernel's best per-core figure in the same set-up and workload "
                  "is the divisor), and of totals (its best total); a copying Tern figure divides by the kernel's "
                  "copying figures, a zero-copy one (tern-pair --zerocopy) by all, copying or zero-copy "
                  "(iperf3 -Z): 'of' says which:", ""]
        rh = "%-3s %-13s %-36s %9s %9s  %-8s %-40s %6s %7s  %s" % ("set", "workload", "tern", "tern/core",
                                                                    "kern/core", "of", "kernel's best per core",
                                                                    "x/core", "x total", "kernel's best total")
        lines += [rh, "-" * len(rh)]
        for r in rat:
            lines.append("%-3s %-13s %-36s %9s %9s  %-8s %-40s %6.2f %7.2f  %s" % (
                r["setup"], r["workload"], r["tern"], human(r["tern_per_core"]), human(r["kernel_best_per_core"]),
                "all" if r["kernel_figures"] != "copying" else "copying", r["kernel_per_core_from"],
                r["ratio_per_core"], r["ratio_total"], r["kernel_total_from"]))
        os.makedirs(self.a.out, exist_ok=True)
        with open(os.path.join(self.a.out, "results.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["setup", "workload", "side", "how", "metric", "median", "min", "max", "runs_ok",
                        "runs_failed", "cores", "per_core", "p50_us", "p99_us", "p999_us", "failures", "send"])
            w.writerows(csv_rows)
        with open(os.path.join(self.a.out, "ratios.csv"), "w", newline="") as f:
            keys = ["setup", "workload", "tern", "metric", "kernel_figures", "tern_per_core", "kernel_best_per_core",
                    "kernel_per_core_from", "ratio_per_core", "tern_total", "kernel_best_total", "kernel_total_from",
                    "ratio_total"]
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rat)
        text = "\n".join([self.env()] + lines + ["note: %s" % n for n in self.notes])
        with open(os.path.join(self.a.out, "table.txt"), "w") as f:
            f.write(text + "\n")
        print()
        print(text)
        self.chart(rat)

    def chart(self, rat):
        if not rat or "chart" in self.skip:
            return
        if not shutil.which("gnuplot"):
            print("(no chart: gnuplot is missing; Debian package gnuplot-nox)")
            return
        dat = os.path.join(self.a.out, "ratios.dat")
        with open(dat, "w") as f:
            for r in rat:
                f.write('"%s: %s, %s" %.4f\n' % (r["setup"], r["workload"], r["tern"].split(",")[0],
                                                 r["ratio_per_core"]))
        png = os.path.join(self.a.out, "ratios.png")
        script = ("set terminal pngcairo size 1100,600 noenhanced; set output '%s';"
                  "set title 'Tern / kernel per core (median of %d runs; the kernel at its best; > 1: Tern better)';"
                  "set style fill solid 0.7; set boxwidth 0.7; set yrange [0:*]; set grid y; set rmargin 14;"
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
        tools = []
        for cmd, arg in (("sockperf", "--version"), ("iperf3", "--version"), ("nginx", "-v"), ("wrk", "-v")):
            if shutil.which(cmd):
                r = sh("%s %s 2>&1 | head -1" % (cmd, arg), check=False)
                tools.append(r.stdout.strip()[:40])
        load = open("/proc/loadavg").read().split()[:3]
        return ("environment: %s; %d cores; kernel %s; DPDK %s; load average %s at the end; %d runs x %d s; "
                "%d worker(s) per side%s\n"
                "tools: %s\nveth: kernel runs with TX checksum, TSO and GSO on (as created) except where the row "
                "says TSO off; Tern on net_af_packet with the client end's TX checksum off (docs/ports.md)" % (
                    model, os.cpu_count(), platform.release(), dpdk, " ".join(load), self.a.runs, self.a.time,
                    self.n, "; OVERSUBSCRIBED (--oversubscribe): a functional check, the figures mean nothing"
                    if self.a.oversubscribe else "", "; ".join(tools)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--time", type=int, default=3, help="seconds per run")
    ap.add_argument("--out", default="bench/ab/results")
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    ap.add_argument("--workers", type=int, default=1,
                    help="N workers (cores) per side: clients on cores 0..N-1, servers on N..2N-1 (needs 2N cores)")
    ap.add_argument("--oversubscribe", action="store_true",
                    help="run --workers N on fewer than 2N cores, core c on CPU c mod the CPU count: a functional "
                         "check of the harness; its figures mean nothing")
    ap.add_argument("--skip", default="",
                    help="comma list of parts to leave out: setup1, setup2, http, af_xdp, sockperf, iperf3, chart")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    unknown = set(a.skip.split(",")) - {"", "setup1", "setup2", "http", "af_xdp", "sockperf", "iperf3", "chart"}
    if unknown:
        ap.error("--skip: unknown part(s) %s" % ", ".join(sorted(unknown)))
    if not 1 <= a.workers <= 8:
        ap.error("--workers: 1 to 8 (tern-pair's limit), not %d" % a.workers)
    if 2 * a.workers > os.cpu_count() and not a.oversubscribe:
        ap.error("--workers %d needs %d cores (clients on 0..%d, servers on %d..%d); this machine has %d" % (
            a.workers, 2 * a.workers, a.workers - 1, a.workers, 2 * a.workers - 1, os.cpu_count()))
    skip = set(a.skip.split(","))
    if a.only and a.only not in "http 1000 B":
        skip.add("http")
    if "setup1" in skip:
        skip |= {"sockperf", "iperf3"}
    problems, warnings = missing_prerequisites(a.build, skip, server_memory_mb(a.workers))
    for w in warnings:
        print("ab.py: warning: %s" % w, file=sys.stderr)
    if problems:
        print("ab.py: cannot run the A/B:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(2)
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    a.skip = ",".join(sorted(skip - {""}))
    b = Bench(a)
    start = time.time()
    try:
        make_namespaces()
        b.offloads_on()
        for part, fn in (("setup1", b.setup1), ("setup2", b.setup2), ("http", b.http)):
            if part in skip:
                continue
            try:
                fn()
            except Exception as e:  # a set-up step (not a run) failed: the other parts still run
                traceback.print_exc()
                print("  %s stopped: %s" % (part, e), flush=True)
                b.notes.append("%s stopped early: %s" % (part, e))
    except RunFailed as e:
        b.notes.append("the A/B stopped: %s" % e)
        print("ab.py: %s" % e, file=sys.stderr)
    finally:
        b.report()
        print("A/B took %.0f s; results in %s" % (time.time() - start, a.out))


if __name__ == "__main__":
    main()
