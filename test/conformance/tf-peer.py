#!/usr/bin/python3
"""tf-peer: a TLS server (tlslite-ng, from ../shared/tlsfuzzer) that
misbehaves after the handshake, for test/conformance/client-role.sh.

    tf-peer.py MODE VERSION CERT KEY PORTFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE), accepts one
connection, does a full handshake as server with VERSION (1.2 or 1.3),
prints "HANDSHAKE version=V cipher=C", reads one line from the client,
answers "reply from tf-peer", then by MODE:
    alert      sends a fatal alert (unexpected_message) and closes
    badrecord  sends an application_data record of random bytes (its
               authentication tag cannot verify), then reads what the client
               answers: "ALERT <description>" for an alert, "EOF" for a close
Every socket operation is bounded (20 s).  Exit status 0, or 1 on error.
"""
import os
import socket
import sys

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import AlertDescription
from tlslite.errors import TLSLocalAlert, TLSRemoteAlert, TLSAbruptCloseError


def main():
    mode, version, certf, keyf, portfile = sys.argv[1:6]
    with open(certf) as f:
        chain = X509CertChain()
        chain.parsePemList(f.read())
    with open(keyf) as f:
        key = parsePEMKey(f.read(), private=True)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(20)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, portfile)
    sock, _ = lsock.accept()
    sock.settimeout(20)
    tls = TLSConnection(sock)
    settings = HandshakeSettings()
    v = (3, 4) if version == "1.3" else (3, 3)
    settings.minVersion = v
    settings.maxVersion = v
    tls.handshakeServer(certChain=chain, privateKey=key, settings=settings)
    print("HANDSHAKE version=%s cipher=%s" % (tls.getVersionName(), tls.getCipherName()),
          flush=True)
    line = b""
    while not line.endswith(b"\n") and len(line) < 4096:
        data = tls.read(max=4096 - len(line))
        if not data:
            break
        line += data
    print("GOT %r" % line, flush=True)
    tls.write(b"reply from tf-peer\n")
    if mode == "alert":
        try:
            for _ in tls._sendError(AlertDescription.unexpected_message, "tf-peer"):
                pass
        except TLSLocalAlert:
            pass
        print("SENT alert unexpected_message", flush=True)
    elif mode == "badrecord":
        # type application_data, legacy version 3.3, 32 random bytes
        sock.sendall(bytes([23, 3, 3, 0, 32]) + os.urandom(32))
        print("SENT bad record", flush=True)
        try:
            while tls.read():
                pass
            print("EOF", flush=True)
        except TLSRemoteAlert as e:
            print("ALERT %s" % AlertDescription.toStr(e.description), flush=True)
        except (TLSAbruptCloseError, OSError) as e:
            print("EOF %s" % e, flush=True)
    else:
        sys.exit("unknown mode " + mode)
    sock.close()


if __name__ == "__main__":
    main()
