#!/bin/bash
# Descriptors whose close() waits (test/hostile/linger-attack.py: a TCP
# socket whose peer never reads, SO_LINGER {1, 3600}) queued on control
# connections the daemon never accepted: the close of the listener at exit
# released them on the main thread, which then waited in close() for up to
# an hour with the socket path already gone.  Now the listener is left to
# the process's exit, whose closes never linger.  The daemon's descriptor
# limit is lowered below what it holds (prlimit), so it can accept nothing and
# another uid's connections stay in the listener's backlog; after SIGTERM
# it must be gone within 10 s.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup --no-daemon
tk_daemon_start "$TK_FX/tlskeyd.conf"
ATTACK=$top_srcdir/test/hostile/linger-attack.py
AS=(python3)
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null && command -v setpriv >/dev/null &&
	[ -x /usr/bin/python3 ]; then
	chmod 755 "$TK_TMP" "$TK_FX"
	AS=(setpriv --reuid "$(id -u nobody)" --regid "$(id -g nobody)" --clear-groups /usr/bin/python3)
fi
tk_need prlimit
tk_legit_check warm

prlimit --pid "$TK_DAEMON_PID" --nofile=8: || tk_fail "prlimit failed"
tk_bg "${AS[@]}" "$ATTACK" backlog 4 60 >"$TK_TMP/backlog.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/backlog.out" "^ARMED n=4" "$apid"
t0=$(tk_ms)
tk_wait_line "$TK_TMP/tlskeyd.log" "cannot accept more clients" 10 "$TK_DAEMON_PID" ||
	tk_fail "the daemon did not stop accepting at its descriptor limit"
kill -TERM "$TK_DAEMON_PID"
gone=0
for _ in $(seq 100); do
	kill -0 "$TK_DAEMON_PID" 2>/dev/null || { gone=1; break; }
	sleep 0.1
done
if [ "$gone" = 0 ]; then
	kill -KILL "$TK_DAEMON_PID" 2>/dev/null || true
	tk_fail "tlskeyd still running 10 s after SIGTERM with lingering descriptors in its backlog"
fi
wait "$TK_DAEMON_PID" 2>/dev/null || true
tk_log "exited $(($(tk_ms) - t0)) ms after SIGTERM"
TK_DAEMON_PID=
kill "$apid" 2>/dev/null || true
tk_wait_pid "$apid" 10 || true
tk_expect_grep "$TK_TMP/tlskeyd.log" "stopped after"
tk_pass
