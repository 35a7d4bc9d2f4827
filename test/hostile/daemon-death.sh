#!/bin/bash
# Finding 16: when the daemon dies (SIGKILL, a crash) mid-session the app
# read a clean EOF, exactly like a close_notify.  Now the daemon's end of
# a TCP protected descriptor resets while the session is live: the app's
# read fails with ECONNRESET.  An orderly close still reads EOF (the
# relays of tk_legit_check).  And a handshake still running at SIGTERM is
# answered (ESHUTDOWN, "tlskeyd is shutting down"), not just closed.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_fault_setup
tk_legit_check warm

# ---- SIGKILL mid-session -----------------------------------------------------
tk_dp_peer silent --count 1 --hold 60
fifo=$TK_TMP/app.fifo
mkfifo "$fifo"
exec 7<>"$fifo"
tk_bg timeout 60 "$TK_APP" client --connect "127.0.0.1:$DP_PORT" --myname alice@example.test \
	--sni peer.example.test <"$fifo" >"$TK_TMP/app.out" 2>"$TK_TMP/app.err" 7>&-
APP_PID=$TK_BG_PID
echo "hello" >&7
tk_wait_line "$TK_TMP/app.err" '^PEER=peer.example.test$' 20 || { cat "$TK_TMP/app.err" >&2; tk_fail "no session"; }
tk_expect_line "$TK_TMP/app.err" "PROTECTED=tcp"
tk_wait_line "$TK_TMP/silent.out" '^PEER handshakes=1$' 10 || tk_fail "peer saw no handshake"
kill -9 "$TK_DAEMON_PID"
tk_wait_pid "$TK_DAEMON_PID" 10 || true
TK_DAEMON_PID=
rc=0
tk_wait_pid "$APP_PID" 20 || rc=$?
exec 7>&-
tk_log "app after SIGKILL: exit $rc: $(grep -E 'RELAY|ERROR' "$TK_TMP/app.err" | tr '\n' ' ')"
[ "$rc" = 3 ] || tk_fail "app exit $rc after the daemon died, want a relay error (3), not a clean EOF"
tk_expect_grep "$TK_TMP/app.err" '^RELAY-ERROR receive: .*\(ECONNRESET\)'
kill "$DP_PEER_PID" 2>/dev/null || true

# ---- SIGTERM during a handshake ---------------------------------------------
tk_daemon_start kd.conf
tk_legit_check restarted
tk_dp_peer stall --count 1 --stall --hold 60
tk_dp_bg start start --connect "127.0.0.1:$DP_PORT" --myname alice@example.test --sni peer.example.test
START_PID=$DP_PID
tk_wait_line "$TK_TMP/stall.out" '^PEER stalled=1$' 20 || tk_fail "the handshake did not reach the peer"
kill -TERM "$TK_DAEMON_PID"
rc=0
tk_wait_pid "$TK_DAEMON_PID" 10 || rc=$?
TK_DAEMON_PID=
[ "$rc" = 0 ] || tk_fail "tlskeyd exited with status $rc on SIGTERM"
tk_wait_pid "$START_PID" 20 || true
tk_log "caller: $(cat "$TK_TMP/start.out")"
tk_expect_line "$TK_TMP/start.out" "START errno=ESHUTDOWN: tlskeyd is shutting down"
tk_log PASS
exit 0
