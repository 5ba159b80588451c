"""The checks of one tests/interop/attack_test.sh case (`attack.py verdict
CASE DIR`): what the attacker, the legitimate client and the sampler wrote
into DIR, judged, one line a check, and the case's figures after them.
Split from attack.py, which runs the attack itself."""
import functools
import json
import os
import re

out = functools.partial(print, flush=True)


def read_summary(path):
    stopped, summary, lines = None, None, []
    for line in open(path):
        if line.startswith("stopped "):
            stopped = float(line.split()[1])
        elif line.startswith("summary "):
            summary = json.loads(line[8:])
        else:
            lines.append(line.rstrip())
    return stopped, summary, lines


def verdict(case, d):
    cfg = json.load(open(os.path.join(d, "case.json")))
    samples = [json.loads(l) for l in open(os.path.join(d, "mon.jsonl")) if l.strip()]
    good = [s for s in samples if "error" not in s]
    stopped, summary, extra = read_summary(os.path.join(d, "attacker.out"))
    leg = json.load(open(os.path.join(d, "legit.json")))
    clean = json.loads(open(os.path.join(d, "cleanup.json")).read() or "{}")
    ping = open(os.path.join(d, "ping.txt")).read()
    m = re.search(r"(\d+) packets transmitted, (\d+) received", ping)
    ping_tx, ping_rx = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    first, last = (good[0], good[-1]) if good else ({}, {})

    def delta(table, key):
        return (last.get(table, {}).get(key, 0) - first.get(table, {}).get(key, 0)) if good else 0

    in_use_max = max((s["in_use"] for s in good), default=-1)
    size = cfg["pool_size"]
    rx_nombuf = last.get("eth", {}).get("rx_nombuf", 0) if good else -1
    rate = leg["ok"] / leg["total"] if leg["total"] else 0.0
    checks = [
        ("Tern answered telemetry throughout (%d of %d samples)" % (len(good), len(samples)),
         len(samples) > 0 and len(good) == len(samples)),
        ("pool never empty: most in use %d of %d (baseline %d)" % (in_use_max, size, cfg["pool_base"]),
         0 <= in_use_max < size),
        ("ethdev rx_nombuf 0 (was %d)" % rx_nombuf, rx_nombuf == 0),
        ("no reply lost for want of an mbuf (drop MbufExhausted +%d)" % delta("drops", "MbufExhausted"),
         delta("drops", "MbufExhausted") == 0),
        ("legitimate %s: %d of %d ok (%.1f%%, >= 99%%)" % (leg["kind"], leg["ok"], leg["total"], rate * 100),
         leg["total"] >= 20 and rate >= 0.99),
        ("ping answered: %d of %d" % (ping_rx, ping_tx), ping_tx > 0 and ping_rx == ping_tx),
        ("after the attack, CurrEstab %s and pool in use %s (baseline %d + %d) within %d s: %s s" % (
            clean.get("estab"), clean.get("in_use"), cfg["pool_base"], cfg["slack"], cfg["limit"],
            clean.get("seconds")), bool(clean.get("ok"))),
        ("Tern exited cleanly", cfg.get("tern_rc") == 0),
    ]
    # The attack reached Tern and was the attack meant (else the case proves nothing).
    if case == "1":
        checks.append(("the attack ran: %d connections, %d bytes dripped, TCPRcvCollapsed +%d" % (
            summary["connected"], summary["bytes_sent"], delta("stats", "TCPRcvCollapsed")),
            summary["connected"] >= 8 and summary["bytes_sent"] > 1000))
    elif case == "2":
        checks.append(("the attack ran: %d segments, Tern queued out-of-order data (TCPOFOQueue +%d)" % (
            summary["segments_sent"], delta("stats", "TCPOFOQueue")), delta("stats", "TCPOFOQueue") > 0))
    elif case in ("3", "4"):
        want = 200 if case == "3" else 4096
        checks.append(("the attack ran: %d connections (>= %d)" % (summary["connected"], want),
                       summary["connected"] >= want))
    elif case == "6":
        checks.append(("the attack ran: %d fragments sent, Tern saw %d (IpReasmReqds)" % (
            summary["fragments_sent"], delta("stats", "IpReasmReqds")), delta("stats", "IpReasmReqds") > 0))
    if case == "5":
        oow, syn = delta("drops", "TcpOutOfWindow"), delta("drops", "TcpSynChallenged")
        checks.append(("the blind segments reached Tern as meant: TcpOutOfWindow +%d, TcpSynChallenged +%d" % (
            oow, syn), oow >= 0.9 * summary["oow_sent"] and syn >= 0.9 * summary["syn_sent"]))
        acks = [float(l.split()[0]) for l in open(os.path.join(d, "acks.txt")) if l.strip()]
        drops = cfg.get("tcpdump_dropped", 0)
        lim = cfg["ratelimit_s"]
        for name, span, sent in (("out-of-window data", summary["oow_span"], summary["oow_sent"]),
                                 ("SYNs", summary["syn_span"], summary["syn_sent"])):
            n = sum(1 for t in acks if span[0] <= t <= span[1] + 0.3)
            bound = int((span[1] - span[0]) / lim) + 2
            checks.append(("%d %s at the live 4-tuple elicited %d ACKs (bound %d: %.1f s / %.1f s + 2)" % (
                sent, name, n, bound, span[1] - span[0], lim), n <= bound and sent > 0))
        checks.append(("the capture lost nothing (%d dropped)" % drops, drops == 0))
        checks.append(("the live connection still echoes after the attack", bool(summary.get("live_after"))))
    ok = True
    for what, good_ in checks:
        out("  %-92s %s" % (what, "ok" if good_ else "FAILED"))
        ok = ok and good_
    st = lambda k: delta("stats", k)
    dr = lambda k: delta("drops", k)
    out("  legitimate: %s; latency p50 %s ms p99 %s ms max %s ms" % (
        leg["failures"] or "no failures", leg["p50_ms"], leg["p99_ms"], leg["max_ms"]))
    out("  attacker: %s" % json.dumps(summary))
    for l in extra:
        out("  attacker: %s" % l)
    out("  Tern during the case: PassiveOpens +%d EstabResets +%d TCPPersistGiveUp +%d TCPAbortOnMemory +%d "
        "TCPMemoryPressures +%d TCPRcvCollapsed +%d OfoPruned +%d TCPChallengeACK +%d TCPChallengeACKSkipped +%d "
        "TCPACKSkippedInvalid +%d IpReasmReqds +%d IpReasmFails +%d" % tuple(st(k) for k in (
            "PassiveOpens", "EstabResets", "TCPPersistGiveUp", "TCPAbortOnMemory", "TCPMemoryPressures",
            "TCPRcvCollapsed", "OfoPruned", "TCPChallengeACK", "TCPChallengeACKSkipped", "TCPACKSkippedInvalid",
            "IpReasmReqds", "IpReasmFails")))
    out("  drops during the case: %s" % ", ".join("%s +%d" % (k, dr(k)) for k in sorted(last.get("drops", {}))
                                                  if dr(k) > 0))
    out("  port: rx_nombuf %d imissed +%d ipackets +%d; frames the kernel dropped on their way to Tern: %s" % (
        rx_nombuf, delta("eth", "imissed"), delta("eth", "ipackets"), cfg.get("link_dropped", "?")))
    return 0 if ok else 1
