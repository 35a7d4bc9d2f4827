#!/usr/bin/env python3
"""tls-peer.py: a remote TLS client for test/ops, ending its session in a
chosen way.  Connects to 127.0.0.1:PORT with a client certificate,
verifies the server for --sni, prints "HANDSHAKE ok" on stdout, then:

  close     send --send, read as many bytes back, send close_notify (unwrap)
  drain     read until the server's close_notify, then answer it (unwrap)
  truncate  send, read back, exit without close_notify (TCP FIN)
  reset     send, read back, exit with SO_LINGER {1, 0} (TCP RST)
  silent    read and send nothing for --hold seconds, then exit

Every wait is bounded (--timeout, default 20 s)."""
import argparse
import os
import socket
import ssl
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("mode", choices=["close", "drain", "truncate", "reset", "silent"])
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--send", default="hello from tls-peer\n")
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname=a.sni)
    print("HANDSHAKE ok", flush=True)
    if a.mode == "silent":
        time.sleep(a.hold)
        os._exit(0)
    if a.mode == "drain":
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        sys.stdout.write(got.decode(errors="replace"))
        s.unwrap()
        print("END drained", flush=True)
        return 0
    data = a.send.encode()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    sys.stdout.write(got.decode(errors="replace"))
    sys.stdout.flush()
    if a.mode == "close":
        s.unwrap()
        print("END close_notify", flush=True)
        return 0
    if a.mode == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # No close_notify: the process ends, the kernel closes the socket.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
