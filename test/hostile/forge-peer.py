#!/usr/bin/env python3
"""forge-peer.py: a TLS 1.3 client that breaks the record layer on purpose.

    forge-peer.py PORT --ca CA --cert CERT --key KEY [--pre BYTES]
                  [--trail N] [--hold SECS]

After the handshake it sends --pre bytes of application data (so that an
app that does not read has its socket full), waits a second, then in ONE
send(): a good record, the next record with its last byte flipped (its tag
no longer verifies), and --trail good records behind it.  Prints "HS" after
the handshake and "SENT" after the forged flight, then holds the
connection open --hold seconds.  Loopback only; every wait is bounded."""
import argparse
import socket
import ssl
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--ca", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--sni", default="server.example.test")
ap.add_argument("--pre", type=int, default=0)
ap.add_argument("--trail", type=int, default=3)
ap.add_argument("--hold", type=float, default=5)
a = ap.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(a.ca)
ctx.load_cert_chain(a.cert, a.key)
rx, tx = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(rx, tx, server_hostname=a.sni)
s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        out = tx.read()
        if out:
            s.sendall(out)
        data = s.recv(65536)
        if not data:
            sys.exit("EOF during the handshake")
        rx.write(data)
out = tx.read()
if out:
    s.sendall(out)
print("HS", tls.version(), flush=True)
# What the app does not read fills its socket, then our window: bounded by
# the socket timeout (10 s), which a full window would hit.
sent = 0
try:
    while sent < a.pre:
        n = min(16384, a.pre - sent)
        tls.write(b"P" * n)
        s.sendall(tx.read())
        sent += n
except socket.timeout:
    pass
time.sleep(1)
tls.write(b"A" * 100)
good = tx.read()
tls.write(b"B" * 100)
bad = bytearray(tx.read())
bad[-1] ^= 1
trail = b""
for _ in range(a.trail):
    tls.write(b"C" * 100)
    trail += tx.read()
s.sendall(good + bytes(bad) + trail)
print("SENT pre=%d trail=%d" % (sent, a.trail), flush=True)
time.sleep(a.hold)
