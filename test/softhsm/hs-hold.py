#!/usr/bin/env python3
"""hs-hold.py: a TLS 1.3 client (Python's OpenSSL) that stops in the
middle of its handshake.  It sends its ClientHello, reads the server's
flight and then holds its own last flight (Certificate, CertificateVerify,
Finished): it prints "HELD" and waits for a line on stdin before sending
it.  Then it sends --send and prints "REPLY <line>" for what comes back,
or "ENDED <why>" if the server ends the connection instead.  With
--together the held flight and the encrypted --send go out in one
send(), so the server reads its peer's Finished and the first
application data in one recv().  Every wait is bounded (--timeout,
default 20 s)."""
import argparse
import socket
import ssl
import sys


def pump(sock, out):
    data = out.read()
    if data:
        sock.sendall(data)


def fragment(data, size):
    """Re-cut the plaintext handshake records in data into records of
    size bytes each (the ClientHello: nothing is encrypted yet)."""
    body, off = b"", 0
    while off + 5 <= len(data):
        n = int.from_bytes(data[off + 3:off + 5], "big")
        if data[off] != 22:
            return data
        body += data[off + 5:off + 5 + n]
        off += 5 + n
    head = data[:3]
    return b"".join(head + len(body[i:i + size]).to_bytes(2, "big") + body[i:i + size]
                    for i in range(0, len(body), size))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--send", default="hello after the hold\n")
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--junk", action="store_true",
                    help="with --together: a forged record follows the data")
    ap.add_argument("--fragment", type=int, default=0,
                    help="send the ClientHello in records of this many bytes, all in one send()")
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    if not a.send.endswith("\n"):
        a.send += "\n"  # the reply is read up to the first newline

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=a.sni)
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if a.fragment:
                sock.sendall(fragment(out.read(), a.fragment))
                a.fragment = 0
            pump(sock, out)
            data = sock.recv(65536)
            if not data:
                print("ENDED during the server's flight", flush=True)
                return 1
            inc.write(data)
    # The server's Finished is verified; ours is still here.
    final = out.read()
    print("HELD", flush=True)
    if not sys.stdin.readline():
        return 1
    if a.together:
        tls.write(a.send.encode())
        # An application-data record no key made: bad_record_mac.
        junk = b"\x17\x03\x03\x00\x20" + bytes(range(32)) if a.junk else b""
        sock.sendall(final + out.read() + junk)
    else:
        sock.sendall(final)
        tls.write(a.send.encode())
        pump(sock, out)
    got = b""
    while b"\n" not in got:
        try:
            got += tls.read(65536)
            continue
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLError, ssl.SSLEOFError) as e:
            print("ENDED %s" % e, flush=True)
            return 0
        data = sock.recv(65536)
        if not data:
            print("ENDED by EOF", flush=True)
            return 0
        inc.write(data)
        pump(sock, out)
    print("REPLY %s" % got.decode(errors="replace").rstrip("\n"), flush=True)
    if a.together:
        # An orderly end (close_notify): the app sees EOF, not a reset.
        try:
            tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        pump(sock, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
