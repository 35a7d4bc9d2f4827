#!/bin/bash
# The close timer blamed the peer for the app's own pause (a review of the
# relay, 2026-12-06): the app half-closes at once and then stops reading
# for longer than close-timeout while the peer keeps sending.  The daemon
# stops reading the peer while decrypted bytes wait for the app, so the
# peer made "no progress", the timer reset the session and the app read
# ECONNRESET on an intact stream.  Now time the app holds the relay back
# does not count: after its pause it reads all BYTES, then the peer's
# close_notify as a clean EOF.
# unix: the same with protected-socket = unix, and the app then shuts its
# read side too (shutdown(SHUT_RD), descriptor kept open) while bytes wait
# for it (a review of that change): the daemon's end of the pair reported
# a hang-up at every wait and never turned writable, so the worker spun
# for as long as the app kept the descriptor.  Now the session ends there
# (app_close) and the daemon is idle.
# Negative: a peer that goes silent after the half-close is still cut by
# the timer (also close-timer.sh, ku-after-eof.sh).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3 ss
CLOSE_MS=1000
PAUSE=3
BYTES=67108864
tk_setup --no-daemon
cpu() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }

# paused NAME APP-ARGS...: tk-app server NAME whose stdout is a FIFO read
# by a reader that waits for the file NAME.go, then counts what it reads
# into NAME.count; its peer (sink-peer.py) reads our close_notify (the app
# half-closes at once), then sends BYTES (PEER_ARGS more options).  Both
# ends open the FIFO in their own process (an open blocks until the other
# end is there).  Sets APP, READER, PEER.
paused() {
	local name=$1 pf
	shift
	mkfifo "$TK_TMP/$name.fifo"
	tk_bg bash -c 'exec <"$1"; for i in $(seq 300); do [ -e "$2" ] && break; sleep 0.1; done
		wc -c' reader "$TK_TMP/$name.fifo" "$TK_TMP/$name.go" >"$TK_TMP/$name.count"
	READER=$TK_BG_PID
	pf=$TK_TMP/$name.port
	# APP is tk-app's own PID (it is signalled); its --timeout bounds it.
	tk_bg bash -c 'exec >"$1"; shift; exec "$@"' app "$TK_TMP/$name.fifo" "$TK_APP" server \
		--listen 127.0.0.1:0 --port-file "$pf" --myname server.example.test --timeout 60 "$@" \
		</dev/null 2>"$TK_TMP/$name.err"
	APP=$TK_BG_PID
	tk_wait_file "$pf" "$APP" 10 || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: tk-app did not start"; }
	PORT=$(cat "$pf")
	tk_bg timeout 60 python3 "$top_srcdir/test/hostile/sink-peer.py" "$PORT" --ca "$TK_FX/ca.pem" \
		--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --send-after "$BYTES" \
		$PEER_ARGS >"$TK_TMP/$name.peer" 2>&1
	PEER=$TK_BG_PID
	tk_wait_line_pid "$TK_TMP/$name.peer" '^END clean 0$' "$PEER"
}

# ---- tcp: the app pauses PAUSE s, then reads everything ---------------------
tk_conf ct "close-timeout=$CLOSE_MS"
tk_daemon_start "$TK_TMP/ct.conf"
PEER_ARGS=--bye paused tcp
(sleep "$PAUSE"; : >"$TK_TMP/tcp.go") &
T0=$(tk_ms)
rc=0
tk_wait_pid "$APP" 30 || rc=$?
T1=$(tk_ms)
tk_wait_pid "$READER" 10 || tk_fail "the reader did not finish"
tk_log "tcp: app exit $rc after $((T1 - T0)) ms, read $(cat "$TK_TMP/tcp.count") bytes; peer: $(tr '\n' ' ' <"$TK_TMP/tcp.peer")"
[ "$rc" = 0 ] || { cat "$TK_TMP/tcp.err" >&2; tk_fail "tcp: the app's relay failed (exit $rc) after its $PAUSE s pause"; }
[ "$(cat "$TK_TMP/tcp.count")" = "$BYTES" ] || tk_fail "tcp: the app read $(cat "$TK_TMP/tcp.count") of $BYTES bytes"
[ $((T1 - T0)) -ge $((PAUSE * 1000)) ] || tk_fail "tcp: the app finished before its pause ended: the test did not hold the relay back"
tk_expect_line "$TK_TMP/tcp.peer" "BYE"
if grep -q "made no progress" "$TK_TMP/tlskeyd.log"; then
	tk_fail "tcp: the close timer ended a session whose peer kept sending"
fi

# ---- negative: a peer silent after our close_notify is cut ------------------
tk_app_server silent --myname server.example.test
tk_bg timeout 60 python3 "$top_srcdir/test/hostile/sink-peer.py" "$TK_PORT" --ca "$TK_FX/ca.pem" \
	--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --send-after 1 --hold 20 \
	>"$TK_TMP/silent.peer" 2>&1
tk_wait_line_pid "$TK_TMP/silent.peer" '^SENT 1$' "$TK_BG_PID"
tk_wait_until 10 "" grep -q "made no progress for close-timeout ($CLOSE_MS ms)" "$TK_TMP/tlskeyd.log" ||
	tk_fail "silent: a silent peer was not cut by close-timeout"

# ---- unix: the app shuts its read side while bytes wait for it --------------
tk_conf cu "close-timeout=$CLOSE_MS" "protected-socket=unix"
tk_daemon_start "$TK_TMP/cu.conf"
PEER_ARGS="--hold 20" paused unix --shut-rd-on-usr2
tk_wait_line "$TK_TMP/unix.err" '^SHUT-RD-READY$' 10 "$APP" || tk_fail "unix: the app's relay did not start"
# Bytes wait for the app once the daemon stops reading the peer: the
# receive queue of its network socket (FIN-WAIT-2: our FIN went out with
# the close_notify) then stands still, full.
netq() { ss -Htn "sport = :$PORT" | awk '{ if ($2 > q) q = $2 } END { print q + 0 }'; }
stalled() {
	local a b
	a=$(netq)
	sleep 0.1
	b=$(netq)
	[ "$a" -ge 16384 ] && [ "$a" = "$b" ]
}
tk_wait_until 20 "$APP" stalled || { ss -tn >&2; tk_fail "unix: the relay never backed up (receive queue $(netq), port $PORT)"; }
tk_mark
kill -USR2 "$APP"
tk_wait_log "audit: event=session-end .*end=app_close" 5 ||
	tk_fail "unix: the session did not end when the app shut its read side with bytes waiting"
c0=$(cpu)
sleep 1 # CPU over a second is what is measured
c1=$(cpu)
tk_log "unix: session ended at the app's SHUT_RD; $((c1 - c0)) ticks of daemon CPU in the second after"
[ $((c1 - c0)) -lt 30 ] || tk_fail "unix: the daemon used $((c1 - c0)) ticks in 1 s (spinning)"
: >"$TK_TMP/unix.go"
tk_legit_check after
tk_pass
