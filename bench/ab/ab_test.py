#!/usr/bin/env python3
"""Tests of the A/B harness itself (bench/ab/ab.py, ab_lib.py), no root and
no network needed: a failed or hung run becomes a reported failure and the
rest goes on, the tools' outputs are read right, and missing prerequisites
are named with their packages, bulk's zero-copy rows on both sides and
the kernel figures each ratio divides by.
  python3 bench/ab/ab_test.py        (meson test -C build ab_harness)"""
import argparse
import io
import os
import sys
import tempfile
import time
import unittest
from unittest import mock

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402
import ab_lib  # noqa: E402
from ab_lib import RunFailed  # noqa: E402

SOCKPERF = """sockperf: [Total Run] RunTime=2.000 sec; Warm up time=400 msec; SentMessages=8148; ReceivedMessages=8147
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=1.552 sec; SentMessages=6221; ReceivedMessages=6221
sockperf: ---> percentile 99.900 = 6393.675
sockperf: ---> percentile 99.000 = 4084.802
sockperf: ---> percentile 50.000 =   22.468
"""
WRK = """Running 3s test @ http://10.9.9.2:8080/f1k
  Latency Distribution
     50%  627.00us
     75%  700.00us
     90%  800.00us
     99%    5.55ms
  135000 requests in 3.00s, 160.00MB read
ERRORSRequests/sec:  45000.00
Transfer/sec:     53.33MB
"""


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # a process gone between exists() and open()
        return "x x Z"


class Run(unittest.TestCase):
    def test_non_zero_exit_is_a_failure_with_its_output(self):
        with self.assertRaisesRegex(RunFailed, r"exit 3: oops"):
            ab_lib.run("echo oops >&2; exit 3", 10)

    def test_a_hung_run_is_killed_with_everything_it_started(self):
        with tempfile.TemporaryDirectory() as d:
            pidfile = os.path.join(d, "pid")
            t0 = time.time()
            with self.assertRaisesRegex(RunFailed, r"timed out after 1 s"):
                ab_lib.run("sleep 60 & echo $! > %s; wait" % pidfile, 1)
            self.assertLess(time.time() - t0, 10)
            child = int(read(pidfile))
            for _ in range(50):  # the kill is asynchronous; it is reaped by init
                if not os.path.exists("/proc/%d" % child) or read("/proc/%d/stat" % child).split()[2] == "Z":
                    break
                time.sleep(0.1)
            else:
                self.fail("the background sleep outlived the deadline")


class Parsers(unittest.TestCase):
    def test_sockperf(self):
        r = ab_lib.parse_sockperf(SOCKPERF)
        self.assertAlmostEqual(r["transactions/s"], 6221 / 1.552)
        self.assertEqual(r["p50 us"], 22.468)
        self.assertEqual(r["p99.9 us"], 6393.675)
        with self.assertRaises(RunFailed):
            ab_lib.parse_sockperf("sockperf: ERROR: connect failed")

    def test_wrk(self):
        r = ab_lib.parse_wrk(WRK.replace("ERRORS", ""), 3)
        self.assertEqual(r["requests/s"], 45000.0)
        self.assertEqual(r["p50 us"], 627.0)
        self.assertEqual(r["p99 us"], 5550.0)
        with self.assertRaisesRegex(RunFailed, r"3 errors"):
            ab_lib.parse_wrk(WRK.replace("ERRORS", "  Socket errors: connect 0, read 0, write 0, timeout 3\n"), 3)
        with self.assertRaises(RunFailed):
            ab_lib.parse_wrk("unable to connect to 10.9.9.2:8080 Connection refused", 3)

    def test_iperf3(self):
        r = ab_lib.parse_iperf3('{"end": {"sum_received": {"bits_per_second": 9.4e9, "bytes": 3500000000},'
                                ' "sum_sent": {"retransmits": 2}}}', 3)
        self.assertEqual(r["Gbit/s"], 9.4)
        with self.assertRaisesRegex(RunFailed, "unable to connect"):
            ab_lib.parse_iperf3('{"start": {}, "error": "unable to connect to server"}', 3)
        with self.assertRaises(RunFailed):
            ab_lib.parse_iperf3("iperf3: error", 3)

    def test_tern_perf_errors_fail_the_run(self):
        with self.assertRaisesRegex(RunFailed, "2 errors"):
            ab_lib.from_tern_perf({"mode": "rr", "errors": 2, "duration_s": 1})
        with self.assertRaises(RunFailed):
            ab_lib.last_json("tern-perf: no line")


class Prerequisites(unittest.TestCase):
    def test_missing_tools_are_named_with_their_packages(self):
        with tempfile.TemporaryDirectory() as build, mock.patch("shutil.which", return_value=None):
            problems, warnings = ab_lib.missing_prerequisites(build, set())
        text = "\n".join(problems)
        for tool, pkg in (("sockperf", "sockperf"), ("iperf3", "iperf3"), ("nginx", "nginx"), ("ethtool", "ethtool")):
            self.assertRegex(text, r"%s .*Debian package %s" % (tool, pkg))
        self.assertIn("dpdk-env/setup.sh --bench", text)
        self.assertIn("--skip sockperf", text)
        self.assertIn("bench/ab/tern-pair not built", text)
        self.assertTrue(any("gnuplot" in w for w in warnings))  # only the chart needs it

    def test_skipped_parts_need_nothing(self):
        with tempfile.TemporaryDirectory() as build, mock.patch("shutil.which", return_value=None):
            problems, _ = ab_lib.missing_prerequisites(build, {"sockperf", "iperf3", "http"})
        self.assertFalse(any(t in "\n".join(problems) for t in ("sockperf", "iperf3", "nginx", "wrk ")))


class RunAll(unittest.TestCase):
    def test_outputs_in_order_and_a_failure_names_its_client(self):
        self.assertEqual(ab_lib.run_all(["sleep 0.2; echo a", "echo b"], 10), ["a\n", "b\n"])
        with self.assertRaisesRegex(RunFailed, r"client 2 of 2: exit 3: two"):
            ab_lib.run_all(["echo one", "echo two >&2; exit 3"], 10)

    def test_a_hung_client_fails_the_run_and_every_group_is_killed(self):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.time()
            with self.assertRaisesRegex(RunFailed, r"client 1 of 2: timed out after 1 s"):
                ab_lib.run_all(["sleep 60 & echo $! > %s/a; wait" % d, "sleep 60 & echo $! > %s/b; wait" % d], 1)
            self.assertLess(time.time() - t0, 10)
            for name in ("a", "b"):
                pid = int(read(os.path.join(d, name)).split()[0])
                for _ in range(50):  # the kill is asynchronous: a zombie or gone
                    stat = read("/proc/%d/stat" % pid)
                    if stat.split()[2] == "Z":
                        break
                    time.sleep(0.1)
                self.assertEqual(stat.split()[2], "Z", "client %s's sleep still runs" % name)

    def test_combine_adds_rates_and_keeps_the_worst_percentile(self):
        c = ab_lib.combine([{"duration_s": 3, "transactions/s": 100.0, "p50 us": 10.0, "p99 us": float("nan")},
                            {"duration_s": 3.1, "transactions/s": 50.0, "p50 us": 12.0, "p99 us": 40.0}])
        self.assertEqual(c, {"duration_s": 3.1, "transactions/s": 150.0, "p50 us": 12.0, "p99 us": 40.0})
        one = {"duration_s": 1, "Gbit/s": 2.0}
        self.assertIs(ab_lib.combine([one]), one)


class Workers(unittest.TestCase):
    """--workers N: clients on cores 0..N-1, servers on N..2N-1, connections
    per worker, N pinned copies of each kernel tool."""

    def bench(self, n):
        return ab.Bench(argparse.Namespace(build="/b", runs=1, time=2, out="/nonexistent", only="", skip="chart",
                                           workers=n, oversubscribe=False))

    def test_tern_pair_takes_n_lcores_and_n_times_the_connections(self):
        with mock.patch.object(ab, "run", return_value='{"mode": "rr", "duration_s": 2, "transactions_per_s": 9, '
                               '"p50_us": 1, "p99_us": 2, "p999_us": 3}') as r:
            self.bench(2).tern_pair("rr", 100, 64)
        self.assertIn("--workers 2 --lcores 0,1,2,3 --mode rr --connections 200 ", r.call_args[0][0])

    def test_kernel_clients_one_per_core_and_their_sum(self):
        out = '{"mode": "rr", "duration_s": 2, "transactions_per_s": %d, "p50_us": 1, "p99_us": %d, "p999_us": 3}'
        with mock.patch.object(ab, "run_all", return_value=[out % (100, 5), out % (60, 9)]) as r:
            got = self.bench(2).kernel_client("rr", 1, 64)
        cmds = r.call_args[0][0]
        self.assertEqual(len(cmds), 2)
        self.assertTrue(cmds[0].endswith("--cpu 0 --json") and cmds[1].endswith("--cpu 1 --json"), cmds)
        self.assertEqual((got["transactions/s"], got["p99 us"]), (160, 9))
        with mock.patch.object(ab, "run_all", return_value=[SOCKPERF, SOCKPERF]) as r:
            self.bench(2).sockperf()
        self.assertEqual(["-p 11111 " in c for c in r.call_args[0][0]], [True, False])
        self.assertIn("taskset -c 1 sockperf ping-pong --tcp -i %s -p 11112 " % ab.IP_S, r.call_args[0][0][1])

    def test_oversubscribed_cores_wrap_around_the_cpus(self):
        b = self.bench(2)
        b.a.oversubscribe, b.ncpu = True, 2
        with mock.patch.object(ab, "run", return_value='{"mode": "crr", "duration_s": 2, "connections_per_s": 9, '
                               '"p50_us": 1}') as r:
            b.tern_pair("crr", 1, 64)
        self.assertIn("--lcores 0@0,1@1,2@0,3@1 ", r.call_args[0][0])

    def test_placements_and_labels(self):
        self.assertEqual(self.bench(1).placements(), (("x-core 0/1", [1]), ("same core 0", [0])))
        self.assertEqual(self.bench(2).placements(), (("x-core 0+1/2+3", [2, 3]), ("same cores 0+1", [0, 1])))
        self.assertEqual(ab.on("lcore", [4, 5, 6, 7]), "lcores 4-7")

    def test_more_workers_than_cores_is_a_usage_error(self):
        with mock.patch.object(sys, "argv", ["ab.py", "--workers", "2"]), \
                mock.patch.object(os, "cpu_count", return_value=2), \
                mock.patch.object(sys, "stderr", new_callable=io.StringIO) as err:
            with self.assertRaises(SystemExit) as e:
                ab.main()
        self.assertEqual(e.exception.code, 2)
        self.assertIn("--workers 2 needs 4 cores", err.getvalue())


class Measure(unittest.TestCase):
    def bench(self, out):
        return ab.Bench(argparse.Namespace(build="/nonexistent", runs=3, time=1, out=out, only="", skip="chart",
                                           workers=1, oversubscribe=False))

    def test_failures_are_reported_and_the_rest_goes_on(self):
        ticks = iter(range(0, 10**9, 10**6))  # /proc/stat: every core busy throughout
        with tempfile.TemporaryDirectory() as out, mock.patch.object(ab, "cpu_busy",
                                                                     lambda: dict.fromkeys((0, 1), next(ticks))):
            b = self.bench(out)
            calls = iter(range(10))

            def flaky():
                if next(calls) == 1:
                    raise RunFailed("exit 1: connection did not finish in time")
                return {"duration_s": 1, "transactions/s": 1000.0}
            b.measure("1", "rr 64 B x1", "rr", "tern", "tern flaky", [0], [0], flaky)
            b.measure("1", "rr 64 B x1", "rr", "kernel", "kernel broken", [], [0], lambda: {}["x"])
            b.measure("1", "rr 64 B x1", "rr", "kernel", "kernel ok", [], [0],
                      lambda: {"duration_s": 1, "transactions/s": 500.0})
            b.fail_all("2", [("crr 64 B", "crr")], "tern", "server that never started", "tern-perf did not start")
            b.report()
            table = read(os.path.join(out, "table.txt"))
        flaky_v, broken, ok = b.variants[:3]
        self.assertEqual(len(flaky_v.runs), 2)
        self.assertEqual(flaky_v.failures, ["exit 1: connection did not finish in time"])
        self.assertEqual(len(broken.runs), 0)
        self.assertIn("KeyError", broken.failures[0])
        self.assertEqual(len(broken.failures), 3)  # two runs, then the rest skipped
        self.assertEqual(len(ok.runs), 3)
        self.assertIn("2/3", table)
        self.assertIn("failed: exit 1: connection did not finish in time", table)
        self.assertIn("FAILED: KeyError", table)
        self.assertIn("FAILED: tern-perf did not start", table)
        self.assertIn("kernel ok", table.split("Tern / kernel")[1])  # the divisor is named

    def test_ratio_divides_by_the_kernels_best_per_core(self):
        with tempfile.TemporaryDirectory() as out:
            b = self.bench(out)
            v = b.variant("1", "rr 64 B x1", "rr", "tern", "tern")
            v.runs = [{"transactions/s": 400.0, "cores": 2.0, "per core": 200.0}]
            for how, total, cores in (("x-core", 300.0, 2.0), ("same-core", 200.0, 1.0)):
                k = b.variant("1", "rr 64 B x1", "rr", "kernel", how)
                k.runs = [{"transactions/s": total, "cores": cores, "per core": total / cores}]
            r = b.ratios()[0]
        self.assertEqual(r["kernel_per_core_from"], "same-core")
        self.assertEqual(r["ratio_per_core"], 1.0)
        self.assertEqual(r["kernel_total_from"], "x-core")
        self.assertAlmostEqual(r["ratio_total"], 400 / 300)


IPERF3 = '{"end": {"sum_received": {"bits_per_second": %g, "bytes": 1000}, "sum_sent": {"retransmits": 0}}}'
TERN_BULK = '{"mode": "bulk", "duration_s": 1, "gbps": %g, "bytes": 1000}'


class ZeroCopy(unittest.TestCase):
    """Bulk copying and zero-copy on both sides: tern-pair --zerocopy next
    to its copying run, iperf3 -Z (TSO on) next to its copying runs with
    the same pinning, and the ratio of each to the right kernel figures."""

    def bench(self, out="/nonexistent"):
        return ab.Bench(argparse.Namespace(build="/b", runs=1, time=1, out=out, only="bulk", skip="chart",
                                           workers=1, oversubscribe=False))

    def test_tern_pair_zerocopy_flag_and_its_parsing(self):
        with mock.patch.object(ab, "run", return_value="tern-pair: summary\n" + TERN_BULK % 41.5) as r:
            got = self.bench().tern_pair("bulk", 1, 64, zerocopy=True)
            plain = self.bench().tern_pair("bulk", 1, 64)
        self.assertIn(" --mode bulk --connections 1 --size 64 --time 1 --zerocopy --json", r.call_args_list[0][0][0])
        self.assertNotIn("--zerocopy", r.call_args_list[1][0][0])
        self.assertEqual((got["Gbit/s"], plain["Gbit/s"]), (41.5, 41.5))

    def test_iperf3_zerocopy_is_minus_z_with_the_copying_runs_pinning(self):
        b = self.bench()
        with mock.patch.object(ab, "set_offloads") as off, \
                mock.patch.object(ab, "run_all", return_value=[IPERF3 % 12.5e9]) as r:
            got = b.iperf3(True, zerocopy=True)
            b.iperf3(True)
        zc, copying = r.call_args_list[0][0][0][0], r.call_args_list[1][0][0][0]
        self.assertEqual(got["Gbit/s"], 12.5)
        self.assertIn(" -Z -J", zc)
        self.assertNotIn("-Z", copying)
        self.assertEqual(zc.replace("-Z ", ""), copying)  # the same namespace, core, port and length
        self.assertIn("taskset -c 0 iperf3 -c %s -p %d -t 1 " % (ab.IP_S, ab.IPERF_PORT), zc)
        self.assertEqual(off.call_args_list[0][1], {"tso": True, "gso": True})  # TSO on: the kernel's best

    def test_setup1_bulk_has_both_sides_zerocopy_rows(self):
        b = self.bench()

        def clients(cmds, timeout):
            if "iperf3" in cmds[0]:
                return [IPERF3 % (20e9 if " -Z " in c else 10e9) for c in cmds]
            return [TERN_BULK % 9 for _ in cmds]  # tern-perf --kernel
        with mock.patch.object(ab, "kernel_server_addr"), mock.patch.object(ab, "set_offloads"), \
                mock.patch.object(ab.Bench, "kernel_perf_server", return_value=[]), \
                mock.patch.object(ab.Bench, "start_each", return_value=[]), \
                mock.patch.object(ab, "cpu_busy", return_value={}), \
                mock.patch.object(ab, "run", side_effect=lambda c, t: TERN_BULK % (40 if "--zerocopy" in c else 20)), \
                mock.patch.object(ab, "run_all", side_effect=clients) as r, \
                mock.patch("sys.stdout", new_callable=io.StringIO):
            b.setup1()
        rows = {(v.side, v.how): (v.zerocopy, v.median("Gbit/s")) for v in b.variants}
        self.assertEqual(rows[("tern", "tern-pair, cores 0+1")], (False, 20))
        self.assertEqual(rows[("tern", "tern-pair --zerocopy, cores 0+1")], (True, 40))
        for place in ("x-core 0/1", "same core 0"):
            self.assertEqual(rows[("kernel", "iperf3 TSO on, " + place)], (False, 10))
            self.assertEqual(rows[("kernel", "iperf3 -Z TSO on, " + place)], (True, 20))
            self.assertEqual(rows[("kernel", "iperf3 TSO off, " + place)], (False, 10))
            self.assertEqual(rows[("kernel", "tern-perf --kernel, " + place)], (False, 9))
        self.assertNotIn(("kernel", "iperf3 -Z TSO off, x-core 0/1"), rows)
        self.assertEqual(sum(" -Z " in c[0][0][0] for c in r.call_args_list), 2)  # one per placement

    def ratios(self, kernel):
        """The bulk ratios with tern-pair at 20 Gbit/s copying and 40 zero-copy
        (2 cores each) against kernel rows (how, Gbit/s, cores, zerocopy)."""
        b = self.bench()
        for how, gbps, cores, zc in [("tern-pair", 20.0, 2.0, False), ("tern-pair --zerocopy", 40.0, 2.0, True)]:
            b.variant("1", "bulk x1", "bulk", "tern", how, zc).runs = [
                {"Gbit/s": gbps, "cores": cores, "per core": gbps / cores}]
        for how, gbps, cores, zc in kernel:
            b.variant("1", "bulk x1", "bulk", "kernel", how, zc).runs = [
                {"Gbit/s": gbps, "cores": cores, "per core": gbps / cores}]
        return {r["tern"]: r for r in b.ratios()}

    def test_zerocopy_divides_by_the_kernels_best_either_way_copying_by_its_best_copying(self):
        r = self.ratios([("iperf3 TSO on", 10.0, 1.0, False), ("iperf3 -Z TSO on", 16.0, 1.0, True),
                         ("tern-perf --kernel", 12.0, 1.5, False)])
        copying, zc = r["tern-pair"], r["tern-pair --zerocopy"]
        self.assertEqual((copying["kernel_per_core_from"], copying["kernel_figures"]), ("iperf3 TSO on", "copying"))
        self.assertEqual(copying["ratio_per_core"], 1.0)
        self.assertEqual(copying["kernel_total_from"], "tern-perf --kernel")
        self.assertAlmostEqual(copying["ratio_total"], 20 / 12)
        self.assertEqual((zc["kernel_per_core_from"], zc["kernel_figures"]),
                         ("iperf3 -Z TSO on", "copying or zero-copy"))
        self.assertEqual(zc["ratio_per_core"], 20 / 16)
        self.assertEqual(zc["kernel_total_from"], "iperf3 -Z TSO on")
        # Where the kernel's copying send is its best, zero-copy divides by that.
        r = self.ratios([("iperf3 TSO on", 10.0, 1.0, False), ("iperf3 -Z TSO on", 8.0, 1.0, True)])
        self.assertEqual(r["tern-pair --zerocopy"]["kernel_per_core_from"], "iperf3 TSO on")
        self.assertEqual(r["tern-pair --zerocopy"]["ratio_per_core"], 2.0)
        # Only a zero-copy kernel figure: the copying Tern figure has no ratio.
        self.assertEqual(list(self.ratios([("iperf3 -Z TSO on", 8.0, 1.0, True)])), ["tern-pair --zerocopy"])

    def test_the_table_names_which_kernel_figures_each_ratio_divides_by(self):
        with tempfile.TemporaryDirectory() as out:
            b = self.bench(out)
            for side, how, zc, gbps in (("tern", "tern-pair, cores 0+1", False, 20.0),
                                        ("tern", "tern-pair --zerocopy, cores 0+1", True, 40.0),
                                        ("kernel", "iperf3 TSO on, x-core 0/1", False, 10.0),
                                        ("kernel", "iperf3 -Z TSO on, x-core 0/1", True, 16.0)):
                b.variant("1", "bulk x1", "bulk", side, how, zc).runs = [
                    {"Gbit/s": gbps, "cores": 1.0, "per core": gbps}]
            with mock.patch("sys.stdout", new_callable=io.StringIO), mock.patch.object(b, "env", return_value=""):
                b.report()
            ratios = read(os.path.join(out, "table.txt")).split("Tern / kernel")[1].splitlines()
            results = read(os.path.join(out, "results.csv"))
            ratios_csv = read(os.path.join(out, "ratios.csv"))
        copying = [x for x in ratios if x.startswith("1   bulk x1       tern-pair, cores")][0]
        zc = [x for x in ratios if x.startswith("1   bulk x1       tern-pair --zerocopy")][0]
        self.assertRegex(copying, r" copying +iperf3 TSO on, x-core 0/1 +2\.00 ")
        self.assertRegex(zc, r" all +iperf3 -Z TSO on, x-core 0/1 +2\.50 ")
        self.assertIn('"iperf3 -Z TSO on, x-core 0/1",Gbit/s,16.0', results)
        self.assertTrue(results.splitlines()[-1].endswith(",zero-copy"))
        self.assertIn(",copying or zero-copy,", ratios_csv)


if __name__ == "__main__":
    unittest.main(verbosity=1)
