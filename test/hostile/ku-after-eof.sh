#!/bin/bash
# key-update-bytes counted the peer's bytes after the app had ended its
# side (a review of the data path, 2026-12-03): a KeyUpdate fell due that
# could never be sent (none after our close_notify), its EPOLLOUT interest
# stayed, and the worker spun on it; each of those events also restarted
# the close timer, so the session outlived close-timeout.  The app here
# sends nothing and half-closes at once; the peer (sink-peer.py) reads our
# close_notify, then sends 64 KiB (4 x key-update-bytes) and holds the
# connection.  Now: the daemon stays idle, and the session ends by
# close-timeout (2 s) as a silent peer's would.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup --no-daemon
tk_conf ku "key-update-bytes=16384" "close-timeout=2000"
tk_daemon_start "$TK_TMP/ku.conf"
cpu() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
tk_app_server ku --myname server.example.test
tk_bg timeout 60 python3 "$top_srcdir/test/hostile/sink-peer.py" "$TK_PORT" --ca "$TK_FX/ca.pem" \
	--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --send-after 65536 --hold 20 \
	>"$TK_TMP/peer.out" 2>&1
tk_wait_line_pid "$TK_TMP/peer.out" '^SENT 65536$' "$TK_BG_PID"
c0=$(cpu)
sleep 1.5
c1=$(cpu)
tk_log "$((c1 - c0)) CPU ticks in 1.5 s after the peer's bytes"
[ $((c1 - c0)) -lt 30 ] || tk_fail "the daemon used $((c1 - c0)) ticks of CPU in 1.5 s with one quiet session (spinning)"
wait_log() { tk_wait_until "$2" "" grep -qE "$1" "$TK_TMP/tlskeyd.log"; }
wait_log 'audit: event=session-end .*end=timeout' 8 ||
	tk_fail "the session was not ended by close-timeout"
tk_pass
