#!/usr/bin/env python3
"""sink-peer.py: a TLS client that reads a stream and says how it ended.

    sink-peer.py PORT --ca CA --cert CERT --key KEY [--first BYTES]
                 [--signal-file F [--pause]] [--send-after BYTES --hold SECS]
                 [--bye]

Reads --first bytes (or to the end), then writes F (the test's cue: our
PID), then reads on to the end and prints one line: "END clean BYTES" for a
close_notify, "END truncated BYTES" for a TCP end without one, "END reset
BYTES" for ECONNRESET, "END error BYTES ..." otherwise.  With
--send-after, after a clean end it sends BYTES of its own (our side is
still open), prints "SENT BYTES", and holds the connection --hold
seconds; with --bye it then sends its own close_notify ("BYE") and
closes.  With --pause, it stops reading at the cue until it gets SIGUSR1
(at most 20 s), so the sender cannot finish the stream meanwhile: the
socket buffers fill and it waits.  Loopback only; every read is bounded
by a 20 s timeout."""
import argparse
import os
import signal
import socket
import ssl
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--ca", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--sni", default="server.example.test")
ap.add_argument("--first", type=int, default=0)
ap.add_argument("--signal-file")
ap.add_argument("--pause", action="store_true")
ap.add_argument("--send-after", type=int, default=0)
ap.add_argument("--hold", type=float, default=0)
ap.add_argument("--bye", action="store_true")
a = ap.parse_args()

if a.pause:
    # Blocked before the cue is written, so a SIGUSR1 sent after it
    # waits for sigtimedwait() below rather than killing us.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(a.ca)
ctx.load_cert_chain(a.cert, a.key)
raw = socket.create_connection(("127.0.0.1", a.port), timeout=20)
s = ctx.wrap_socket(raw, server_hostname=a.sni, suppress_ragged_eofs=False)
print("HS", s.version(), flush=True)
got, cued = 0, False
try:
    while True:
        if not cued and got >= a.first:
            if a.signal_file:
                with open(a.signal_file + ".tmp", "w") as f:
                    f.write("%d\n" % os.getpid())
                os.rename(a.signal_file + ".tmp", a.signal_file)
            cued = True
            if a.pause and signal.sigtimedwait({signal.SIGUSR1}, 20) is None:
                print("PAUSE no SIGUSR1 within 20 s", flush=True)
        d = s.recv(65536)
        if not d:
            print("END clean", got, flush=True)
            if a.send_after:
                s.sendall(b"x" * a.send_after)
                print("SENT", a.send_after, flush=True)
                time.sleep(a.hold)
                if a.bye:
                    s.unwrap()
                    print("BYE", flush=True)
            break
        got += len(d)
except ssl.SSLEOFError:
    print("END truncated", got, flush=True)
except ConnectionResetError:
    print("END reset", got, flush=True)
except (OSError, ssl.SSLError) as e:
    print("END error", got, repr(e), flush=True)
