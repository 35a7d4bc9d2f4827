#!/usr/bin/env python3
"""nodata-flood.py TLSLITE-DIR PORT COUNT

A hostile TLS 1.3 client for test/hostile/nodata-flood.sh, on tlslite-ng
(the tlsfuzzer checkout's): after the handshake it sends COUNT
application data records that carry no data, only padding (about 16 KiB
each), then the line "hello", and prints "ECHO <line>" for what comes
back, or "END <why>" when the server ends the connection (or "SENT-FAIL
after N" if that happened during the flood).  Every wait is bounded.
"""
import socket
import sys

sys.path.insert(0, sys.argv[1])
from tlslite.api import TLSConnection, HandshakeSettings  # noqa: E402
from tlslite.errors import TLSAbruptCloseError, TLSRemoteAlert  # noqa: E402
from tlslite.messages import ApplicationData  # noqa: E402


def out(line):
    print(line, flush=True)


def main():
    port, count = int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn = TLSConnection(sock)
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4)
    settings.cipherNames = ["aes128gcm"]
    conn.handshakeClientCert(settings=settings, serverName="server.example.test")
    out("HANDSHAKE %s" % conn.getCipherName())
    # Every record as long as it may be, all of it padding.
    conn._recordLayer.padding_cb = lambda length, ctype, most: most
    try:
        for i in range(count):
            for _ in conn._sendMsg(ApplicationData().create(bytearray())):
                pass
        conn._recordLayer.padding_cb = None
        conn.write(b"hello\n")
    except (ConnectionError, socket.timeout, TLSAbruptCloseError, TLSRemoteAlert) as e:
        out("SENT-FAIL after %d: %s" % (i, type(e).__name__))
        return
    sock.settimeout(10)
    try:
        got = b""
        while not got.endswith(b"\n"):
            d = conn.read(max=4096)
            if not d:
                out("END eof")
                return
            got += bytes(d)
        out("ECHO %s" % got.decode(errors="replace").strip())
        conn.close()  # close_notify: a clean end for the app
    except (ConnectionError, socket.timeout, TLSAbruptCloseError, TLSRemoteAlert) as e:
        out("END %s" % type(e).__name__)


main()
