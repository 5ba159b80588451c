#!/usr/bin/env python3
"""Kernel-side echo server for tests/interop/client_test.sh: Linux's TCP as
the passive side while tern-echo is the client, with a scripted way to end
each connection, and a record of how every connection really ended.

  echo_server.py PORT --connections N --log FILE [--ipv6]
                 [--close-after K] [--close-delay-us D] [--holdback H]

--ipv6 listens on [::] (IPv6 and IPv4-mapped clients) instead of 0.0.0.0.

Behaviours (one per run; every connection of the run gets it):
  default          echo until EOF, then close: the client closes first.
  --close-after K  after echoing K bytes, shutdown(SHUT_WR) (our FIN goes
                   first), then read to EOF (any further byte is an error),
                   then close. --close-delay-us D waits (connection index
                   mod 10) * D microseconds before the FIN, to sweep the FIN
                   across the moment the client's own FIN fires.
  --holdback H     echo everything but keep back the last H bytes; send them
                   only after reading EOF (bytes sent after the client's
                   half-close, which the client must still read), then close.

One JSON line per connection goes to --log when it ends:
  {"n": index, "peer": "ip:port", "bytes_in": .., "bytes_out": ..,
   "first": "client"|"server", "end": "eof"|"reset"|"error: ..",
   "after_eof": bytes sent after EOF, "late_data": bytes read after our FIN}
  first  who sent FIN first as this side saw it: "client" when EOF (or a
         reset) came before we shut down, "server" when our FIN went first.
  end    how the read side finished: EOF, ECONNRESET, or another error.
The server exits once N connections have ended (or after --timeout s, 1).
"""
import argparse
import json
import socket
import sys
import threading
import time


def serve(n, sock, args, out, lock, done):
    rec = {"n": n, "bytes_in": 0, "bytes_out": 0, "first": None, "end": None, "after_eof": 0, "late_data": 0}
    try:
        rec["peer"] = "%s:%d" % sock.getpeername()[:2]
    except OSError:
        rec["peer"] = "?"
    held = b""
    shut = False
    try:
        while True:
            data = sock.recv(1 << 18)
            if not data:
                rec["end"] = "eof"
                if rec["first"] is None:
                    rec["first"] = "client"
                break
            rec["bytes_in"] += len(data)
            if shut:  # the client must not send after it echoed our FIN's worth
                rec["late_data"] += len(data)
                continue
            if args.holdback:
                held += data
                data, held = held[:-args.holdback], held[-args.holdback:]
            if args.close_after is not None:
                room = args.close_after - rec["bytes_out"]
                if len(data) > room:
                    rec["late_data"] += len(data) - room
                    data = data[:room]
            if data:
                sock.sendall(data)
                rec["bytes_out"] += len(data)
            if args.close_after is not None and rec["bytes_out"] == args.close_after:
                if args.close_delay_us:
                    time.sleep((n % 10) * args.close_delay_us / 1e6)
                sock.shutdown(socket.SHUT_WR)
                shut = True
                rec["first"] = "server"
        if rec["end"] == "eof" and held:
            sock.sendall(held)  # the client half-closed; it still reads
            rec["bytes_out"] += len(held)
            rec["after_eof"] = len(held)
    except ConnectionResetError:
        rec["end"] = "reset"
        if rec["first"] is None:
            rec["first"] = "client"
    except OSError as e:
        rec["end"] = "error: %s" % e
    finally:
        sock.close()
        with lock:
            out.write(json.dumps(rec) + "\n")
            out.flush()
            done.release()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--close-after", type=int)
    p.add_argument("--close-delay-us", type=int, default=0)
    p.add_argument("--holdback", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--ipv6", action="store_true")
    args = p.parse_args()

    ls = socket.socket(socket.AF_INET6 if args.ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::" if args.ipv6 else "0.0.0.0", args.port))
    ls.listen(1024)
    print("listening on %d" % args.port, flush=True)

    out = open(args.log, "w")
    lock = threading.Lock()
    done = threading.Semaphore(0)
    deadline = time.monotonic() + args.timeout

    def acceptor():
        n = 0
        while n < args.connections:
            s, _ = ls.accept()
            threading.Thread(target=serve, args=(n, s, args, out, lock, done), daemon=True).start()
            n += 1

    threading.Thread(target=acceptor, daemon=True).start()
    for _ in range(args.connections):
        if not done.acquire(timeout=max(0.0, deadline - time.monotonic())):
            print("FAIL: timed out with connections still open", flush=True)
            sys.exit(1)
    print("all %d connections ended" % args.connections, flush=True)


if __name__ == "__main__":
    main()
