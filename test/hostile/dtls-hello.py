#!/usr/bin/env python3
"""dtls-hello.py: a DTLS ClientHello from an address that never answers.

    dtls-hello.py capture PORT_FILE OUT
    dtls-hello.py replay FILE PORT [SECONDS]

capture: bind a UDP socket on 127.0.0.1, write its port to PORT_FILE,
save the first datagram that arrives (a client's ClientHello) to OUT and
print "CAPTURED <bytes>".  replay: send FILE's datagram to 127.0.0.1:PORT
from a fresh socket, as if from a forged address: nothing is ever sent
back, and every datagram that arrives within SECONDS (default 3) is
counted.  Prints "REPLIES count=N bytes=B types=T,..." where each T is
content-type/handshake-type of the datagram's first record ("22/3" is a
HelloVerifyRequest, "22/2" a ServerHello).  Every wait is bounded."""
import os
import socket
import sys
import time

if sys.argv[1] == "capture":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    s.settimeout(20)
    d, _ = s.recvfrom(65536)
    with open(sys.argv[3], "wb") as f:
        f.write(d)
    print("CAPTURED", len(d), flush=True)
elif sys.argv[1] == "replay":
    hello = open(sys.argv[2], "rb").read()
    port, secs = int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(hello, ("127.0.0.1", port))
    end = time.monotonic() + secs
    count, total, types = 0, 0, []
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except (socket.timeout, ConnectionRefusedError):
            continue
        count += 1
        total += len(d)
        types.append("%d/%d" % (d[0], d[13]) if len(d) > 13 else "%d/-" % d[0])
    print("REPLIES count=%d bytes=%d types=%s" % (count, total, ",".join(types) or "-"), flush=True)
else:
    sys.exit("usage: dtls-hello.py capture PORT_FILE OUT | replay FILE PORT [SECONDS]")
