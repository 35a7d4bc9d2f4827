#!/bin/bash
# The close timer blamed the peer for the app's own pause (a review of the
# relay, 2026-12-06): the app half-closes at once and then stops reading
# for longer than close-timeout while the peer keeps sending.  The daemon
# stops reading the peer while decrypted bytes wait for the app, so the
# peer made "no progress", the timer reset the session and the app read
# ECONNRESET on an intact stream.  Now time the app holds the relay back
# does not count: after its pause it reads all BYTES, then the peer's
# close_notify as a clean EOF.  Negative: a peer that goes silent is still
# cut by the same timer (close-timer.sh, ku-after-eof.sh; here: a second
# session whose peer never sends nor reads after the half-close).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
CLOSE_MS=1000
PAUSE=3
BYTES=67108864
tk_setup --no-daemon
tk_conf ct "close-timeout=$CLOSE_MS"
tk_daemon_start "$TK_TMP/ct.conf"

# The app's stdout is a FIFO whose reader waits for the cue (the peer has
# our close_notify and starts sending), pauses PAUSE s, then counts.  Both
# ends open the FIFO in their own process (an open blocks until the other
# end is there).
mkfifo "$TK_TMP/app.fifo"
tk_bg bash -c 'exec <"$1"; for i in $(seq 200); do [ -e "$2" ] && break; sleep 0.1; done
	sleep "$3"; wc -c' reader "$TK_TMP/app.fifo" "$TK_TMP/cue" "$PAUSE" >"$TK_TMP/count"
READER=$TK_BG_PID
pf=$TK_TMP/app.port
tk_bg bash -c 'exec >"$1"; shift; exec "$@"' app "$TK_TMP/app.fifo" timeout 60 "$TK_APP" server \
	--listen 127.0.0.1:0 --port-file "$pf" --myname server.example.test </dev/null 2>"$TK_TMP/app.err"
APP=$TK_BG_PID
tk_wait_file "$pf" "$APP" 10 || { cat "$TK_TMP/app.err" >&2; tk_fail "tk-app did not start"; }
tk_bg timeout 60 python3 "$top_srcdir/test/hostile/sink-peer.py" "$(cat "$pf")" --ca "$TK_FX/ca.pem" \
	--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --send-after "$BYTES" --bye \
	>"$TK_TMP/peer.out" 2>&1
PEER=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/peer.out" '^END clean 0$' "$PEER"
: >"$TK_TMP/cue"
T0=$(tk_ms)
rc=0
tk_wait_pid "$APP" 30 || rc=$?
T1=$(tk_ms)
tk_wait_pid "$READER" 10 || tk_fail "the reader did not finish"
tk_log "app exit $rc after $((T1 - T0)) ms, read $(cat "$TK_TMP/count") bytes; peer: $(tr '\n' ' ' <"$TK_TMP/peer.out")"
[ "$rc" = 0 ] || { cat "$TK_TMP/app.err" >&2; tk_fail "the app's relay failed (exit $rc) after its $PAUSE s pause"; }
[ "$(cat "$TK_TMP/count")" = "$BYTES" ] || tk_fail "the app read $(cat "$TK_TMP/count") of $BYTES bytes"
[ $((T1 - T0)) -ge $((PAUSE * 1000)) ] || tk_fail "the app finished before its pause ended: the test did not hold the relay back"
tk_expect_line "$TK_TMP/peer.out" "BYE"
if grep -q "made no progress" "$TK_TMP/tlskeyd.log"; then
	tk_fail "the close timer ended a session whose peer kept sending"
fi

# Negative: a peer that says nothing after our close_notify is cut.
tk_app_server silent --myname server.example.test
tk_bg timeout 60 python3 "$top_srcdir/test/hostile/sink-peer.py" "$TK_PORT" --ca "$TK_FX/ca.pem" \
	--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --send-after 1 --hold 20 \
	>"$TK_TMP/peer2.out" 2>&1
tk_wait_line_pid "$TK_TMP/peer2.out" '^SENT 1$' "$TK_BG_PID"
tk_wait_until 10 "" grep -q "made no progress for close-timeout ($CLOSE_MS ms)" "$TK_TMP/tlskeyd.log" ||
	tk_fail "a silent peer was not cut by close-timeout"
tk_pass
