#!/usr/bin/env python3
"""hello-flood.py TLSLITE-DIR PORT-FILE CERT KEY COUNT

A hostile TLS 1.2 server for test/hostile/reneg-flood.sh, on tlslite-ng
(the tlsfuzzer checkout's).  Its receive buffer is small, so that what
the client answers soon fills it and the client's send buffer.  After
the handshake it sends COUNT HelloRequests without reading (each draws a
no_renegotiation warning alert from a client that refuses), prints
"FLOODED", then reads: every application data record it decrypts is
printed as "APPDATA <hex>", and "END <why>" when the connection ends or
has been quiet for 5 s; "RESET after N" if the client ended it during
the flood.  Bounded: every wait has a timeout.
"""
import socket
import sys

sys.path.insert(0, sys.argv[1])
from tlslite.api import TLSConnection, HandshakeSettings, X509CertChain, parsePEMKey  # noqa: E402
from tlslite.constants import AlertLevel, ContentType  # noqa: E402
from tlslite.errors import TLSAbruptCloseError, TLSRemoteAlert  # noqa: E402
from tlslite.messages import Alert, HelloRequest  # noqa: E402


def out(line):
    print(line, flush=True)


def main():
    port_file, cert_file, key_file, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    with open(cert_file) as f:
        chain = X509CertChain()
        chain.parsePemList(f.read())
    with open(key_file) as f:
        key = parsePEMKey(f.read(), private=True)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited at accept
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    import os
    os.rename(port_file + ".tmp", port_file)
    sock, _ = ls.accept()
    sock.settimeout(30)
    conn = TLSConnection(sock)
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 3)
    settings.cipherNames = ["aes128gcm"]
    conn.handshakeServer(certChain=chain, privateKey=key, settings=settings)
    out("HANDSHAKE %s" % conn.getCipherName())
    for i in range(count):
        try:
            for _ in conn._sendMsg(HelloRequest().create()):
                pass
        except (ConnectionError, socket.timeout, TLSAbruptCloseError, TLSRemoteAlert) as e:
            # tlslite reads what came on a failed send: an alert, or not.
            out("RESET after %d: %s" % (i, type(e).__name__))
            return
    out("FLOODED")
    sock.settimeout(5)
    alerts = 0
    while True:
        try:
            # Alerts asked for too: tlslite closes on an unexpected one.
            for result in conn._getMsg((ContentType.application_data, ContentType.alert)):
                if result in (0, 1):
                    continue
                if isinstance(result, Alert):
                    if result.level != AlertLevel.warning:
                        out("END alert %d after %d warnings" % (result.description, alerts))
                        return
                    alerts += 1
                else:
                    out("APPDATA %s" % bytes(result.write()).hex())
                break
        except (TLSAbruptCloseError, TLSRemoteAlert, ConnectionError) as e:
            out("END closed %s" % type(e).__name__)
            return
        except socket.timeout:
            out("END quiet after %d warnings" % alerts)
            return


main()
