#!/usr/bin/env python3
"""Kernel-side client for tests/interop/echo_test.sh: drives tern-echo through
Linux's TCP and checks every byte that comes back.

  echo_client.py HOST PORT [--seed N] [--messages N] [--concurrent N] [--aborts N]

HOST is an IPv4 or an IPv6 address (echo6_test.sh runs it over IPv6).

Phases, each failing the run (exit 1, "FAIL: ...") on the first wrong byte,
short count, stall or error:
  stream      seeded messages of mixed sizes (1 B .. 64 KiB) over a few
              connections, written and read concurrently, every byte compared
  concurrent  N connections open at once; a message on each, its echo checked,
              then all closed
  halfclose   shutdown(SHUT_WR) after the data, then the echo read to EOF
  abort       SO_LINGER 0 close mid-stream (a RST while Tern holds unsent
              echo), then a fresh connection must still echo
The last line is a JSON summary the shell script checks Tern's counters against.
"""
import argparse
import bisect
import errno
import json
import random
import resource
import selectors
import socket
import struct
import sys
import time

MAX_MSG = 64 * 1024
STALL_S = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def msg_size(rng):
    # Log-uniform over 1 .. 64 KiB so small and large messages both occur
    # often; the ends are forced into the stream separately.
    return min(MAX_MSG, max(1, int(2 ** rng.uniform(0, 16))))


class Conn:
    """One connection writing `data` and checking its echo byte by byte."""

    def __init__(self, name, data, boundaries=None, half_close=False, window=1 << 20):
        self.name = name
        self.data = memoryview(data)
        self.boundaries = boundaries or []  # message start offsets, for error reports
        self.half_close = half_close
        self.window = window
        self.sent = 0
        self.recvd = 0
        self.eof = False
        self.shut = False
        self.sock = None

    def where(self, off):
        if not self.boundaries:
            return "offset %d" % off
        i = bisect.bisect_right(self.boundaries, off) - 1
        return "message %d, offset %d" % (i, off - self.boundaries[i])

    def done(self):
        if self.half_close:
            return self.eof
        return self.recvd == len(self.data)

    def want(self):
        ev = selectors.EVENT_READ
        if self.sent < len(self.data) and self.sent - self.recvd < self.window:
            ev |= selectors.EVENT_WRITE
        return ev

    def on_write(self):
        end = min(len(self.data), self.recvd + self.window)
        try:
            n = self.sock.send(self.data[self.sent:end])
        except BlockingIOError:
            return
        self.sent += n

    def maybe_shut(self):
        if self.half_close and not self.shut and self.sent == len(self.data):
            self.sock.shutdown(socket.SHUT_WR)
            self.shut = True

    def on_read(self):
        try:
            chunk = self.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except ConnectionError as e:
            fail("%s: %s after %d of %d bytes echoed" % (self.name, e, self.recvd, len(self.data)))
        if not chunk:
            if self.recvd != len(self.data) or not self.half_close:
                fail("%s: EOF after %d of %d bytes echoed (sent %d)" % (self.name, self.recvd, len(self.data),
                                                                         self.sent))
            self.eof = True
            return
        end = self.recvd + len(chunk)
        if end > self.sent:
            fail("%s: %d bytes echoed but only %d sent" % (self.name, end, self.sent))
        if chunk != self.data[self.recvd:end]:
            bad = next(i for i in range(len(chunk)) if chunk[i] != self.data[self.recvd + i])
            fail("%s: wrong byte at stream offset %d (%s): got %#x, sent %#x" % (
                self.name, self.recvd + bad, self.where(self.recvd + bad), chunk[bad], self.data[self.recvd + bad]))
        self.recvd = end


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, rcvbuf=None, timeout=10.0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    if rcvbuf:  # before connect(), so the window scale we offer matches it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setblocking(False)
    return s


def run_conns(conns, limit_s, what):
    """Drives the connections until all are done; fails on a stall."""
    sel = selectors.DefaultSelector()
    for c in conns:
        c.maybe_shut()
        sel.register(c.sock, c.want(), c)
    active = {c for c in conns if not c.done()}
    for c in conns:
        if c.done():
            sel.unregister(c.sock)
    deadline = time.monotonic() + limit_s
    last_progress = time.monotonic()
    while active:
        now = time.monotonic()
        if now > deadline or now - last_progress > STALL_S:
            state = ", ".join("%s sent %d echoed %d of %d" % (c.name, c.sent, c.recvd, len(c.data))
                              for c in sorted(active, key=lambda c: c.name)[:8])
            fail("%s: %s (%d connections unfinished: %s)" % (
                what, "stalled" if now <= deadline else "too slow", len(active), state))
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            before = (c.sent, c.recvd, c.eof)
            if ev & selectors.EVENT_WRITE:
                c.on_write()
                c.maybe_shut()
            if ev & selectors.EVENT_READ:
                c.on_read()
            if (c.sent, c.recvd, c.eof) != before:
                last_progress = time.monotonic()
            if c.done():
                active.discard(c)
                sel.unregister(c.sock)
            else:
                sel.modify(c.sock, c.want(), c)
    sel.close()


def phase_stream(args, rng):
    n_conn = 4
    parts = [[] for _ in range(n_conn)]
    sizes = [1, MAX_MSG] + [msg_size(rng) for _ in range(args.messages - 2)]
    for i, size in enumerate(sizes):
        parts[i % n_conn].append(rng.randbytes(size))
    conns = []
    for k in range(n_conn):
        bounds, off = [], 0
        for m in parts[k]:
            bounds.append(off)
            off += len(m)
        c = Conn("stream%d" % k, b"".join(parts[k]), bounds)
        c.sock = connect(args.host, args.port)
        conns.append(c)
    t = time.monotonic()
    run_conns(conns, 40, "stream")
    for c in conns:
        c.sock.close()
    total = sum(len(c.data) for c in conns)
    dt = time.monotonic() - t
    print("stream: %d messages (%d .. %d bytes), %d bytes over %d connections echoed intact in %.2f s (%.1f MB/s)"
          % (len(sizes), min(sizes), max(sizes), total, n_conn, dt, 2 * total / dt / 1e6), flush=True)
    return n_conn


def phase_concurrent(args, rng):
    n = args.concurrent
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    t = time.monotonic()
    socks = []
    for _ in range(n):
        s = socket.socket(family(args.host), socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((args.host, args.port))
        if err not in (0, errno.EINPROGRESS):
            fail("concurrent: connect: %s" % errno.errorcode.get(err, err))
        socks.append(s)
    # Every connection established before any is used: all N are open at once.
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_WRITE, i)
    pending = set(range(n))
    deadline = time.monotonic() + 20
    while pending:
        if time.monotonic() > deadline:
            fail("concurrent: %d of %d connections not established in 20 s" % (len(pending), n))
        for key, _ in sel.select(timeout=0.5):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                fail("concurrent: connection %d: %s" % (key.data, errno.errorcode.get(err, err)))
            pending.discard(key.data)
            sel.unregister(key.fileobj)
    sel.close()
    established = time.monotonic() - t
    conns = []
    for i, s in enumerate(socks):
        c = Conn("conc%d" % i, rng.randbytes(rng.randint(1, 2048)))
        c.sock = s
        conns.append(c)
    run_conns(conns, 20, "concurrent")
    for s in socks:
        s.close()
    print("concurrent: %d connections open at once (established in %.2f s), each echoed its message in %.2f s"
          % (n, established, time.monotonic() - t), flush=True)
    return n


def phase_halfclose(args, rng):
    sizes = [0, 1, 1460, 65536, 300000, 1 << 20]
    conns = []
    for i, size in enumerate(sizes):
        c = Conn("half%d" % i, rng.randbytes(size), half_close=True)
        c.sock = connect(args.host, args.port)
        conns.append(c)
    run_conns(conns, 20, "halfclose")
    for c in conns:
        # The echo ended with Tern's FIN; our side is fully closed now.
        c.sock.close()
    print("halfclose: %d connections (%s bytes): shutdown(SHUT_WR), echo read to EOF, intact"
          % (len(conns), ", ".join(str(s) for s in sizes)), flush=True)
    return len(conns)


def phase_abort(args, rng):
    n = args.aborts
    conns = []
    for i in range(n):
        c = Conn("abort%d" % i, rng.randbytes(1 << 20))
        # A small receive buffer: Tern's echo backs up into its send buffer.
        c.sock = connect(args.host, args.port, rcvbuf=32768)
        conns.append(c)
    # Write far more than Tern can hold while reading only a little back:
    # Tern's send buffer fills, echo is left pending on the connection, and
    # the client's own buffers fill up. Then reset every connection.
    sel = selectors.DefaultSelector()
    for c in conns:
        c.window = 1 << 30  # no flow control of our own
        sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    deadline = time.monotonic() + 10
    want_echo = 64 * 1024
    while time.monotonic() < deadline:
        busy = False
        for key, ev in sel.select(timeout=0.2):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.sent < len(c.data):
                c.on_write()
                busy = True
            if ev & selectors.EVENT_READ and c.recvd < want_echo:
                c.on_read()
                busy = True
            sel.modify(c.sock, (selectors.EVENT_READ if c.recvd < want_echo else 0) |
                       (selectors.EVENT_WRITE if c.sent < len(c.data) else 0) or selectors.EVENT_READ, c)
        if all(c.recvd >= want_echo for c in conns) and not busy:
            break  # every connection echoed a little and can take no more
    sel.close()
    for c in conns:
        if c.recvd < want_echo:
            fail("abort: %s echoed only %d bytes before the reset" % (c.name, c.recvd))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sock.close()
    sent = sum(c.sent for c in conns)
    print("abort: %d connections reset mid-stream (SO_LINGER 0) after sending %d bytes and reading back %d"
          % (n, sent, sum(c.recvd for c in conns)), flush=True)
    # Tern must still serve.
    c = Conn("after-abort", rng.randbytes(100000))
    c.sock = connect(args.host, args.port)
    run_conns([c], 10, "after abort")
    c.sock.close()
    print("abort: a new connection echoes 100000 bytes intact afterwards", flush=True)
    return n + 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--concurrent", type=int, default=1000)
    p.add_argument("--aborts", type=int, default=20)
    p.add_argument("--phases", default="stream,concurrent,halfclose,abort")
    args = p.parse_args()
    rng = random.Random(args.seed)
    print("echo_client: seed %d, server %s:%d" % (args.seed, args.host, args.port), flush=True)
    phases = {"stream": phase_stream, "concurrent": phase_concurrent, "halfclose": phase_halfclose,
              "abort": phase_abort}
    summary = {"connections": 0, "aborts": 0}
    t = time.monotonic()
    for name in args.phases.split(","):
        summary["connections"] += phases[name](args, rng)
        if name == "abort":
            summary["aborts"] = args.aborts
    summary["seconds"] = round(time.monotonic() - t, 2)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
