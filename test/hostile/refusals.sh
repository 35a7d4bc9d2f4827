#!/bin/bash
# Refusals reach the client and the audit log (audit findings 10, 16, 17):
#  - max-pending full: the next client gets EAGAIN and "too many waiting
#    clients" (not ECONNRESET), and the refusal is audited;
#  - an O_PATH descriptor passed as the socket: ENOTSOCK;
#  - at shutdown, queued requests (refused, ESHUTDOWN) and handshakes in
#    flight (aborted, ESHUTDOWN) are answered and audited.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_fault_setup "max-pending = 8
max-handshakes = 2
request-timeout = 30000"
SOCK=$TLSKEYD_SOCKET
tk_legit_check warm-up

# 1. Eight idle clients fill max-pending.
tk_mark
tk_bg "$HOSTILE_ATTACK" idle "$SOCK" 8 30 >"$TK_TMP/idle.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/idle.out" '^READY n=8 up=8 ' "$apid"
for i in 1 2 3; do
	tk_app_listen "sink-$i" sink --timeout 10
	tk_app "over-$i" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--expect-errno EAGAIN || tk_fail "client $i: not refused with EAGAIN: $(cat "$TK_TMP/over-$i.err")"
	tk_expect_grep "$TK_TMP/over-$i.err" 'errno=EAGAIN .*too many waiting clients'
	kill "$TK_SERVER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_SERVER_PID" 10 || true
done
tk_log_expect "audit: event=refused uid=$(id -u) .*result=EAGAIN .*detail=\"tlskeyd has too many waiting clients"
kill "$apid" 2>/dev/null || true
tk_wait_pid "$apid" 10 || true
tk_legit_check after-overload

# 2. An O_PATH descriptor of a socket inode (fstat says "socket").
rc=0
timeout 20 "$HOSTILE_ATTACK" opath "$SOCK" "$SOCK" >"$TK_TMP/opath.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || tk_fail "opath: exit $rc: $(cat "$TK_TMP/opath.out")"
tk_expect_grep "$TK_TMP/opath.out" '^OPATH errno=ENOTSOCK: passed descriptor is not a socket$'
tk_legit_check after-opath

# 3. Shutdown with two handshakes in flight (max-handshakes; the per-uid
# share is at least 2) and two queued behind them.
tk_mark
tk_bg "$HOSTILE_ATTACK" handshakes "$SOCK" 4 3600000 20 alice@example.test >"$TK_TMP/hs.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/hs.out" '^READY n=4 up=4 ' "$apid"
tk_wait_log_count "handshake timer 3600000 ms capped" 4
kill "$TK_DAEMON_PID"
tk_wait_pid "$TK_DAEMON_PID" 10 || tk_fail "tlskeyd did not exit cleanly on SIGTERM"
TK_DAEMON_PID=
tk_log_expect "audit: event=handshake-failed uid=$(id -u) .*myname=alice@example.test .*result=ESHUTDOWN"
tk_log_expect "audit: event=refused uid=$(id -u) .*result=ESHUTDOWN .*detail=\"tlskeyd is shutting down"
[ "$(tk_log_since | grep -cE 'audit: .*result=ESHUTDOWN')" -ge 4 ] ||
	tk_fail "not every aborted request was audited: $(tk_log_since | grep -c ESHUTDOWN) of 4"
kill "$apid" 2>/dev/null || true
tk_wait_pid "$apid" 10 || true
tk_log "PASS"
