#!/usr/bin/env python3
"""Sends one ARP request for TARGET_IP out of IFACE (raw AF_PACKET socket) and
checks Tern's reply field by field (RFC 826). Exit 0 when the reply is right.

usage: arp_probe.py IFACE SENDER_IP TARGET_IP EXPECTED_MAC
"""
import socket
import struct
import sys
import time


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def main():
    iface, sender_ip, target_ip, expected_mac = sys.argv[1:5]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((iface, 0))
    our_mac = s.getsockname()[4][:6]
    spa, tpa = socket.inet_aton(sender_ip), socket.inet_aton(target_ip)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, our_mac, spa, b"\0" * 6, tpa)
    frame = b"\xff" * 6 + our_mac + b"\x08\x06" + arp
    s.settimeout(0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        s.send(frame)
        try:
            while True:
                data = s.recv(2048)
                if len(data) < 42 or data[12:14] != b"\x08\x06":
                    continue
                htype, ptype, hlen, plen, op, sha, rspa, tha, rtpa = struct.unpack("!HHBBH6s4s6s4s", data[14:42])
                if op != 2 or rspa != tpa:
                    continue
                errors = []
                if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
                    errors.append("bad hardware/protocol fields")
                if sha != mac_bytes(expected_mac):
                    errors.append("sender MAC %s, expected %s" % (sha.hex(":"), expected_mac))
                if data[6:12] != sha:
                    errors.append("Ethernet source differs from ARP sender")
                if data[0:6] != our_mac or tha != our_mac:
                    errors.append("reply not addressed to the requester")
                if rtpa != spa:
                    errors.append("target IP is not the requester's")
                if errors:
                    print("ARP reply wrong: " + "; ".join(errors))
                    return 1
                print("ARP reply ok: %s is-at %s" % (target_ip, sha.hex(":")))
                return 0
        except socket.timeout:
            pass
    print("no ARP reply for %s" % target_ip)
    return 1


if __name__ == "__main__":
    sys.exit(main())
