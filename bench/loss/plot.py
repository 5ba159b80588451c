#!/usr/bin/env python3
"""Charts for bench/loss (gnuplot, a bench package: dpdk-env/setup.sh --bench).

    plot.py bench ROWS.md OUT.png   loss_bench.sh's table rows (TERN_LOSS_OUT):
                                    Gbit/s per point, Linux beside Tern per
                                    congestion controller
    plot.py sim TABLE.md OUT.png    tcp_sim_goodput's table: goodput against
                                    loss per controller and RTT, with the
                                    Mathis bound, log-log

Rows that are not table rows (headers, separators, counters) are skipped, so
a whole captured output can be passed. Exits 1 if nothing could be plotted or
gnuplot failed.
"""
import collections
import os
import subprocess
import sys
import tempfile


def rows(path):
    """The table's data rows as lists of cells."""
    out = []
    for line in open(path):
        line = line.strip()
        if not line.startswith("|") or "---" in line:
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append(cells)
    return out


def number(s):
    try:
        return float(s.split()[0])
    except (ValueError, IndexError):
        return None


def gnuplot(script, png):
    for term in ("pngcairo", "png"):  # pngcairo may be missing from gnuplot-nox
        r = subprocess.run(["gnuplot"], input=script.replace("TERMINAL", term), text=True,
                           capture_output=True)
        if r.returncode == 0:
            print("chart: %s" % png)
            return 0
    print("gnuplot failed: %s" % r.stderr.strip(), file=sys.stderr)
    return 1


def bench(src, png):
    # | Tern cc | loss | reorder | Tern Gbit/s | Linux Gbit/s | ratio | ...
    tern = collections.OrderedDict()  # cc -> {point: gbps}
    linux = collections.defaultdict(list)  # point -> [gbps]
    points = []
    for c in rows(src):
        if len(c) < 6 or number(c[1]) is None or number(c[3]) is None:
            continue
        loss, reorder = number(c[1]), number(c[2]) or 0
        point = "%g%%" % (loss * 100) + (" +%g%% reorder" % (reorder * 100) if reorder else "")
        if point not in points:
            points.append(point)
        tern.setdefault(c[0], {})[point] = number(c[3])
        if number(c[4]) is not None:
            linux[point].append(number(c[4]))
    if not points:
        print("no bench rows in %s" % src, file=sys.stderr)
        return 1
    ccs = list(tern)
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as d:
        for p in points:
            lx = sum(linux[p]) / len(linux[p]) if linux[p] else 0
            d.write('"%s" %g %s\n' % (p, lx, " ".join("%g" % tern[cc].get(p, 0) for cc in ccs)))
    cols = " ".join("'%s' using %d title 'Tern, %s'," % (d.name, i + 3, cc) for i, cc in enumerate(ccs))
    script = """set terminal TERMINAL size 900,480 noenhanced
set output '%s'
set title 'One bulk connection over the impaired port: who sends (bench/loss)'
set ylabel 'Gbit/s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set xtics rotate by -20
set yrange [0:*]
plot '%s' using 2:xtic(1) title 'Linux (kernel CUBIC)', %s
""" % (png, d.name, cols.rstrip(","))
    rc = gnuplot(script, png)
    os.unlink(d.name)
    return rc


def sim(src, png):
    # | cc | RTT | loss | goodput | bound | ratio | ...
    series = collections.OrderedDict()  # (cc, rtt) -> [(loss, goodput, bound)]
    for c in rows(src):
        if len(c) < 6 or number(c[2]) is None or number(c[3]) is None:
            continue
        series.setdefault((c[0], c[1]), []).append((number(c[2]), number(c[3]), number(c[4])))
    if not series:
        print("no simulator rows in %s" % src, file=sys.stderr)
        return 1
    files, plots = [], []
    rtts = []
    for (cc, rtt), pts in series.items():
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as d:
            for loss, good, bound in sorted(pts):
                d.write("%g %g %g\n" % (loss, good, bound))
        files.append(d.name)
        plots.append("'%s' using 1:2 with linespoints title '%s, %s'" % (d.name, cc, rtt))
        if rtt not in rtts:
            rtts.append(rtt)
            plots.append("'%s' using 1:3 with lines dashtype 2 lc rgb 'gray' title 'Mathis bound, %s'"
                         % (d.name, rtt))
    script = """set terminal TERMINAL size 900,520 noenhanced
set output '%s'
set title 'Simulator: one bulk connection, random loss both ways (tcp_sim_goodput)'
set xlabel 'loss, %%'
set ylabel 'goodput, Mbit/s'
set logscale xy
set grid
set key outside right
plot %s
""" % (png, ", ".join(plots))
    rc = gnuplot(script, png)
    for f in files:
        os.unlink(f)
    return rc


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("bench", "sim"):
        print("usage: %s bench|sim TABLE.md OUT.png" % sys.argv[0], file=sys.stderr)
        return 2
    return (bench if sys.argv[1] == "bench" else sim)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    sys.exit(main())
