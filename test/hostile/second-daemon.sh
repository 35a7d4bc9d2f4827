#!/bin/bash
# A second tlskeyd on a live daemon's socket (audit finding 14): it must
# refuse to start and leave the first one serving; a stale socket (its
# daemon was killed) is replaced; a daemon removes at exit only the socket
# it created, not one that has since been put at its path.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup
SOCK=$TLSKEYD_SOCKET
CONF=$TK_FX/tlskeyd.conf
tk_legit_check first
ino0=$(stat -c %i "$SOCK")

# 1. A second daemon on the same socket.
rc=0
timeout -k 2 20 "$TLSKEYD" -c "$CONF" </dev/null >"$TK_TMP/second.log" 2>&1 || rc=$?
[ "$rc" != 124 ] && [ "$rc" != 137 ] || tk_fail "the second daemon started on a live daemon's socket"
[ "$rc" != 0 ] || tk_fail "the second daemon exited with status 0"
tk_expect_grep "$TK_TMP/second.log" "another tlskeyd is listening on $SOCK: not starting"
[ -S "$SOCK" ] && [ "$(stat -c %i "$SOCK")" = "$ino0" ] || tk_fail "the first daemon's socket was replaced or removed"
tk_legit_check after-second

# 2. A daemon that exits removes only its own socket.  Move the first
# daemon's socket aside and start another daemon at the path: stopping the
# first must leave the second's socket alone.
mv "$SOCK" "$SOCK.first"
first=$TK_DAEMON_PID
"$TLSKEYD" -d -c "$CONF" </dev/null >>"$TK_TMP/tlskeyd.log" 2>&1 &
TK_DAEMON_PID=$!
for i in $(seq 100); do
	[ -S "$SOCK" ] && break
	kill -0 "$TK_DAEMON_PID" 2>/dev/null || tk_fail "the replacement daemon did not start"
	sleep 0.1
done
[ -S "$SOCK" ] || tk_fail "the replacement daemon did not create $SOCK"
kill "$first"
tk_wait_pid "$first" 10 || tk_fail "the first daemon did not exit cleanly"
[ -S "$SOCK" ] || tk_fail "the first daemon removed the socket of the daemon that replaced it"
tk_legit_check after-first-exit
rm -f "$SOCK.first"

# 3. A stale socket: its daemon was killed and could not clean up.
kill -KILL "$TK_DAEMON_PID"
tk_wait_pid "$TK_DAEMON_PID" 10 || true
TK_DAEMON_PID=
[ -S "$SOCK" ] || tk_fail "no stale socket left by SIGKILL"
tk_mark
"$TLSKEYD" -d -c "$CONF" </dev/null >>"$TK_TMP/tlskeyd.log" 2>&1 &
TK_DAEMON_PID=$!
tk_log_expect "replacing the stale socket $SOCK"
tk_log_expect "listening on $SOCK"
tk_legit_check after-stale
tk_pass
