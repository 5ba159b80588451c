#!/usr/bin/env python3
"""Kernel-side load for tests/interop/stat_test.sh: connections to tern-echo
that stay open, carrying traffic, while the script reads them with tern-stat.

  stat_client.py HOST PORT echo N STOPFILE   N connections, a 100-byte
                                             round trip on each every 10 ms
  stat_client.py HOST PORT bulk 1 STOPFILE   one connection, written and
                                             read as fast as they go

Prints "ready" once every connection is established and carrying data, runs
until STOPFILE exists (at most 60 s), then closes cleanly and checks every
byte came back: the last line is "done BYTES", or "FAIL: ..." with exit 1.
"""
import os
import socket
import sys
import threading
import time

LIMIT_S = 60


def fail(msg):
    print("FAIL: " + msg, flush=True)
    os._exit(1)


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            fail("EOF after %d of %d bytes" % (len(got), n))
        got += b
    return got


def echo(host, port, n, stop):
    conns = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
    msg = bytes(range(100))
    total = 0
    ready = False
    deadline = time.time() + LIMIT_S
    while not os.path.exists(stop) and time.time() < deadline:
        for s in conns:
            s.sendall(msg)
            if recv_exactly(s, len(msg)) != msg:
                fail("echo differs")
            total += len(msg)
        if not ready:
            print("ready", flush=True)
            ready = True
        time.sleep(0.01)
    for s in conns:
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            fail("data after the echo")
        s.close()
    return total


def bulk(host, port, stop):
    s = socket.create_connection((host, port), timeout=10)
    chunk = bytes((i * 7) & 0xFF for i in range(65536))
    sent = [0]
    received = [0]
    pattern_ok = [True]

    def reader():
        pos = 0
        while True:
            b = s.recv(1 << 20)
            if not b:
                return
            # Each byte is chunk[(offset of the byte in the stream) % 65536].
            i = pos % 65536
            want = (chunk[i:] + chunk * (len(b) // 65536 + 1))[: len(b)]
            if b != want:
                pattern_ok[0] = False
            pos += len(b)
            received[0] = pos

    t = threading.Thread(target=reader)
    t.start()
    deadline = time.time() + LIMIT_S
    ready = False
    while not os.path.exists(stop) and time.time() < deadline:
        s.sendall(chunk)
        sent[0] += len(chunk)
        if not ready and received[0] > 0:
            print("ready", flush=True)
            ready = True
    s.shutdown(socket.SHUT_WR)
    t.join(30)
    if t.is_alive():
        fail("echo did not end within 30 s of the half-close (%d of %d bytes back)" % (received[0], sent[0]))
    if not pattern_ok[0]:
        fail("echoed bytes differ")
    if received[0] != sent[0]:
        fail("%d bytes sent, %d echoed" % (sent[0], received[0]))
    s.close()
    return sent[0]


def main():
    host, port, mode, n, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    total = echo(host, port, n, stop) if mode == "echo" else bulk(host, port, stop)
    print("done %d" % total, flush=True)


if __name__ == "__main__":
    main()
