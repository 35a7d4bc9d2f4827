#!/bin/bash
# A session cut by the daemon's shutdown (SIGTERM, or an upgrade's drain
# limit) must not look complete to the remote peer (a review of the data
# path, 2026-12-03): the daemon used to send close_notify to every live
# session as it stopped, so a peer took a stream cut in the middle for
# the whole of it.  Now the peer of a cut stream sees it end without
# close_notify (a reset), while the app reads ECONNRESET as before.  The
# peer is test/hostile/sink-peer.py (Python's ssl, ragged EOFs reported).
#  1. Control: an app that sends 1000 bytes and closes: "END clean 1000".
#  2. An app streaming 50 MB, SIGTERM after the peer read 1 MB: the peer
#     sees "END reset" or "END truncated", the app ECONNRESET.  The peer
#     stops reading at 1 MB until the daemon is gone (--pause), so the
#     stream cannot finish before the signal lands (it did, in 90 ms, in
#     a CI run).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup
PEER=$top_srcdir/test/hostile/sink-peer.py
sink() { # sink NAME [ARGS]: sink-peer.py against the app server on TK_PORT
	local n=$1
	shift
	tk_bg timeout 60 python3 "$PEER" "$TK_PORT" --ca "$TK_FX/ca.pem" --cert "$TK_FX/peer-user.pem" \
		--key "$TK_FX/peer-user.key" "$@" >"$TK_TMP/$n.peer" 2>&1
	SINK=$TK_BG_PID
}

# 1.
head -c 1000 /dev/zero >"$TK_TMP/small.in"
tk_app_server small --myname server.example.test
sink small
tk_wait_pid "$SINK" 20 || true
tk_expect_line "$TK_TMP/small.peer" "END clean 1000"

# 2.
head -c 50000000 /dev/zero >"$TK_TMP/big.in"
tk_app_server big --myname server.example.test
sink big --first 1048576 --signal-file "$TK_TMP/go" --pause
tk_wait_file "$TK_TMP/go" "$SINK" 20 || tk_fail "the peer did not get 1 MB"
kill "$TK_DAEMON_PID"
tk_wait_pid "$TK_DAEMON_PID" 10 || tk_fail "tlskeyd did not stop on SIGTERM"
TK_DAEMON_PID=
kill -USR1 "$(cat "$TK_TMP/go")" # the python peer under timeout, ours
tk_wait_pid "$SINK" 20 || true
tk_log "peer: $(cat "$TK_TMP/big.peer" | tr '\n' ' ')"
tk_expect_grep "$TK_TMP/big.peer" '^END (reset|truncated) [0-9]+$'
tk_wait_pid "$TK_SERVER_PID" 10 || true
tk_expect_grep "$TK_TMP/big.err" 'RELAY-ERROR .*ECONNRESET'
tk_expect_grep "$TK_TMP/tlskeyd.log" 'audit: event=session-end .*end=shutdown'
tk_pass
