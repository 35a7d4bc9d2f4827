#!/usr/bin/env python3
"""kept-fork.py: a kept control connection used by a child after fork().

    kept-fork.py PORT

As its caller (admitted for alice@example.test as client): one START on a
new connection toward the TLS server at 127.0.0.1:PORT (server.example.test,
through the daemon too), which must succeed with KEEP.  Then fork(); the
child drops to uid/gid 65534 when it runs as root, and sends a START on its
parent's kept connection with a socket to a silent server.  Prints
"FIRST errno=E keep=K", "CHILD errno=E message=M" (or "CHILD none" when no
answer came within 5 s) and "FRESH errno=E" for a CHECK the parent then
sends on a new connection.  Environment: TLSKEYD_SOCKET.  Loopback only;
every wait is bounded."""
import array
import os
import select
import socket
import struct
import sys

MAGIC, VERSION = 0x544B, 1
START, CHECK = 1, 9
T_ROLE, T_PROTO, T_FLAGS, T_MYNAME, T_SNINAME, T_ERRNO, T_MESSAGE, T_KEEP = 1, 2, 3, 4, 5, 10, 12, 31


def item(tag, value):
    if isinstance(value, str):
        value = value.encode()
    return struct.pack(">HH", tag, len(value)) + value


def message(mtype, items):
    return struct.pack(">HBBI", MAGIC, VERSION, mtype, len(items)) + items


def start_msg():
    return message(START, item(T_ROLE, b"\x01") + item(T_PROTO, b"\x06") + item(T_FLAGS, b"\0\0\0\0") +
                   item(T_MYNAME, "alice@example.test") + item(T_SNINAME, "server.example.test"))


def daemon():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.environ["TLSKEYD_SOCKET"])
    return s


def request(c, m, fd=None, timeout=10):
    """Send m (with fd), return (errno, message, keep) or None."""
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))] if fd is not None else []
    c.sendmsg([m], anc)
    r, _, _ = select.select([c], [], [], timeout)
    if not r:
        return None
    data, anc, _, _ = c.recvmsg(16384, socket.CMSG_SPACE(4 * 4))
    for lvl, typ, d in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            for f in array.array("i", d[:len(d) - len(d) % 4]):
                os.close(f)
    items, p = {}, 8
    while p + 4 <= len(data):
        tag, ln = struct.unpack(">HH", data[p:p + 4])
        items[tag] = data[p + 4:p + 4 + ln]
        p += 4 + ln
    err = struct.unpack(">I", items[T_ERRNO])[0] if len(items.get(T_ERRNO, b"")) == 4 else 0
    keep = items.get(T_KEEP, b"\0")[0] if items.get(T_KEEP) else 0
    return err, items.get(T_MESSAGE, b"").decode(errors="replace"), keep


port = int(sys.argv[1])
c = daemon()
t = socket.create_connection(("127.0.0.1", port), timeout=10)
r = request(c, start_msg(), t.fileno(), 20)
t.close()
if r is None:
    sys.exit("FIRST none")
print("FIRST errno=%d keep=%d" % (r[0], r[2]), flush=True)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
pid = os.fork()
if pid == 0:
    if os.getuid() == 0:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
    silent = socket.create_connection(ls.getsockname(), timeout=5)
    r = request(c, start_msg(), silent.fileno(), 5)
    if r is None:
        print("CHILD none", flush=True)
    else:
        print("CHILD errno=%d message=%s" % (r[0], r[1]), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
r = request(daemon(), message(CHECK, item(T_ROLE, b"\x01") + item(T_MYNAME, "alice@example.test")))
print("FRESH errno=%s" % (r[0] if r else "none"), flush=True)
