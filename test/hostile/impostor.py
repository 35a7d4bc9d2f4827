#!/usr/bin/env python3
"""impostor.py: a listener at a daemon socket path that is not tlskeyd.

    impostor.py PATH

Listens (SOCK_SEQPACKET) at PATH, prints "LISTENING", then for each
connection (at most 8, for at most 30 s in all) prints one line:
"CONN bytes=N fds=M" for what the first message carried (descriptors are
closed unread), "CONN eof" if the client hung up without sending.  What a
real impostor would do with a descriptor (read the app's plaintext,
answer a forged peer name) needs nothing more than getting it."""
import array
import os
import socket
import sys
import time

path = sys.argv[1]
ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ls.bind(path)
os.chmod(path, 0o666)
ls.listen(8)
print("LISTENING", flush=True)
end = time.monotonic() + 30
for _ in range(8):
    left = end - time.monotonic()
    if left <= 0:
        break
    ls.settimeout(left)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        break
    c.settimeout(10)
    try:
        data, anc, _, _ = c.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
    except (OSError, socket.timeout) as e:
        print("CONN error", repr(e), flush=True)
        c.close()
        continue
    fds = array.array("i")
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(d[: len(d) - (len(d) % fds.itemsize)])
    for fd in fds:
        os.close(fd)
    if not data and not fds:
        print("CONN eof", flush=True)
    else:
        print("CONN bytes=%d fds=%d" % (len(data), len(fds)), flush=True)
    c.close()
