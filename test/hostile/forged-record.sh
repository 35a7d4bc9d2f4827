#!/bin/bash
# A record whose tag does not verify, from a remote peer, while the app
# does not read (a review of the data path, 2026-12-03): the session is
# aborted and drains what the app has not read yet, and that used to send
# it round the receive loop again: each turn asked GnuTLS's dead session
# for more, logged one more "relay closed" line and moved the drain's
# deadline, and the worker never came back to its other sessions (one
# peer: 15 GB of log in 10 minutes); with nothing behind the bad record,
# the drained session's network socket went back into epoll, readable for
# ever, and the worker spun for the 10 s drain limit.
# Now: one "relay closed" line per session, the worker serves others, and
# the daemon is idle while the session drains.  workers = 1, so that the
# attacked worker is the only one.  The peer is test/hostile/forge-peer.py
# (1 MB the app does not take, then a good record, a forged one and N good
# ones in one send).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup --no-daemon
sed 's/^workers *=.*/workers = 1/' "$TK_FX/tlskeyd.conf" >"$TK_TMP/kd.conf"
grep -q '^workers' "$TK_TMP/kd.conf" || sed -i '1i workers = 1' "$TK_TMP/kd.conf"
tk_daemon_start "$TK_TMP/kd.conf"
PEER=$top_srcdir/test/hostile/forge-peer.py
cpu() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
tk_legit_check warm

# attack NAME TRAIL: an app server that stops reading (its stdout is a FIFO
# nobody reads) <- forge-peer.py.
attack() {
	local n=$1 fd
	mkfifo "$TK_TMP/$n.fifo"
	exec {fd}<>"$TK_TMP/$n.fifo"
	tk_bg timeout 60 "$TK_APP" server --listen 127.0.0.1:0 --port-file "$TK_TMP/$n.port" \
		--myname server.example.test </dev/null >"$TK_TMP/$n.fifo" 2>"$TK_TMP/$n.err"
	tk_wait_file "$TK_TMP/$n.port" "$TK_BG_PID" 10 || tk_fail "$n: the app did not start"
	tk_bg timeout 60 python3 "$PEER" "$(cat "$TK_TMP/$n.port")" --ca "$TK_FX/ca.pem" \
		--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --pre 1000000 --trail "$2" \
		--hold 30 >"$TK_TMP/$n.peer" 2>&1
	tk_wait_line_pid "$TK_TMP/$n.peer" '^SENT ' "$TK_BG_PID"
}
# Lines of the daemon's log matching ERE (the cases run one after the
# other); a log past 20 MB is the flood itself: fail at once.
flood() {
	[ "$(stat -c %s "$TK_TMP/tlskeyd.log")" -lt 20000000 ] ||
		tk_fail "$1: the daemon's log passed 20 MB (the aborted session goes round and round)"
}
lines() { grep -cE "$1" "$TK_TMP/tlskeyd.log" || true; }
forged() { flood "$2"; [ "$(lines 'relay closed: .*Decryption has failed')" -ge "$1" ]; }

# 1. Records behind the forged one.
attack behind 3
tk_wait_until 5 "" forged 1 behind || tk_fail "behind: the forged record did not end the session"
sleep 1
flood behind
TLSKEYD_TIMEOUT=10000 tk_legit_check behind
n=$(lines 'relay closed: ')
[ "$n" = 1 ] || tk_fail "behind: $n 'relay closed' lines for one session (the aborted session went round again)"
[ "$(lines 'has been invalidated')" = 0 ] || tk_fail "behind: the dead TLS session was read again"

# 2. Nothing behind it: the drained session's socket stays out of epoll.
attack alone 0
tk_wait_until 5 "" forged 2 alone || tk_fail "alone: the forged record did not end the session"
c0=$(cpu)
sleep 3
c1=$(cpu)
tk_log "alone: $((c1 - c0)) CPU ticks in 3 s while the session drains"
[ $((c1 - c0)) -lt 100 ] || tk_fail "alone: the daemon used $((c1 - c0)) ticks of CPU in 3 s while one session drained (spinning)"
n=$(lines 'relay closed: ')
[ "$n" = 2 ] || tk_fail "alone: $((n - 1)) 'relay closed' lines for one session"
tk_legit_check alone
tk_pass
