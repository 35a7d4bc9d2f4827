#!/usr/bin/env python3
"""udp-forge.py: forge what an off-path attacker who knows a UDP flow's
addresses can send to one end of it, on loopback (needs CAP_NET_RAW).

    udp-forge.py empty|short|icmp|icmp-proto FROM_PORT TO_PORT

empty: a UDP datagram with no payload from 127.0.0.1:FROM_PORT to
127.0.0.1:TO_PORT; short: the same with one byte; icmp: an ICMP port
unreachable telling 127.0.0.1:TO_PORT that its datagram to
127.0.0.1:FROM_PORT was refused; icmp-proto: the same as protocol
unreachable.  Prints "FORGED <kind>"."""
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


kind, src, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lo = socket.inet_aton("127.0.0.1")
if kind in ("empty", "short"):
    payload = b"" if kind == "empty" else b"x"
    # UDP checksum 0: none (allowed for IPv4).
    udp = struct.pack("!HHHH", src, dst, 8 + len(payload), 0) + payload
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.sendto(udp, ("127.0.0.1", 0))
elif kind in ("icmp", "icmp-proto"):
    # The datagram the victim (TO_PORT) supposedly sent to FROM_PORT.
    inner_udp = struct.pack("!HHHH", dst, src, 8 + 16, 0)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 16, 0x1234, 0, 64, 17, 0, lo, lo)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    body = struct.pack("!I", 0) + iph + inner_udp
    icmp = struct.pack("!BBH", 3, 3 if kind == "icmp" else 2, 0) + body
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(icmp, ("127.0.0.1", 0))
else:
    sys.exit("usage: udp-forge.py empty|short|icmp|icmp-proto FROM_PORT TO_PORT")
print("FORGED", kind, flush=True)
