#!/bin/bash
# Descriptors whose close() waits, passed so that the daemon drops the last
# reference (a review of the control path, 2026-12-03): a loopback TCP
# socket whose peer never reads, send queue full, SO_LINGER {1, 3600}
# (test/hostile/linger-attack.py).  Before, a plain close() of such a
# socket froze the thread that made it for up to an hour:
#  - attached to a request that takes no descriptor (CHECK), to a message
#    of an unknown type, to a START refused before the ACL (role 3): the
#    accept loop or a worker;
#  - queued behind another message on the same connection: released by the
#    close of the control connection (after a CHECK, after a refused START,
#    during an admitted handshake);
#  - one of 253 descriptors on one message: a small receive buffer let the
#    kernel close the rest on the receiving thread;
#  - deep: behind a CHECK, more messages than the daemon drains from a
#    connection it closes (256), the last carrying one: the close of the
#    connection released it, 100 ms each on the thread that answered (40
#    connections: the CHECK probe waited over 2 s); now such a close goes
#    to the closer threads (review of 2026-12-07);
#  - 100 UNIX sockets on one CHECK, each holding a lingering socket in its
#    receive queue (nested): each close under the timer still took 100 ms,
#    10 s for the message on the receiving thread (review of 2026-12-06);
#    now closer threads take them.
# Now every such descriptor is closed by passclose() (SO_LINGER reset, a
# timer bounding the close) and a control connection is shut, drained and
# closed under the timer.  After each attack, with the attacker's sockets
# still held: a CHECK from another client is answered within 2 s,
# tlskeyctl status answers, and a legitimate handshake works.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup --no-daemon
sed 's/^workers *=.*/workers = 2/' "$TK_FX/tlskeyd.conf" >"$TK_TMP/kd.conf"
grep -q '^workers' "$TK_TMP/kd.conf" || sed -i '1i workers = 2' "$TK_TMP/kd.conf"
tk_daemon_start "$TK_TMP/kd.conf"
ATTACK=$top_srcdir/test/hostile/linger-attack.py
# Another uid where we can be one: the attacks need no ACL entry.
# (The system's python3: another uid may not reach one under /root.)
AS=()
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null && command -v setpriv >/dev/null &&
	[ -x /usr/bin/python3 ]; then
	chmod 755 "$TK_TMP" "$TK_FX"
	AS=(setpriv --reuid "$(id -u nobody)" --regid "$(id -g nobody)" --clear-groups /usr/bin/python3)
fi
tk_legit_check warm

probe() { # probe TAG: a CHECK answered within 2 s, status, a handshake
	local t0 out
	t0=$(tk_ms)
	out=$(timeout 10 python3 "$ATTACK" probe 2 2>&1) || tk_fail "$1: the daemon did not answer a CHECK within 2 s while the attack holds ($out)"
	tk_log "$1: $out"
	timeout 10 "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" status >/dev/null 2>&1 ||
		tk_fail "$1: tlskeyctl status did not answer within 10 s"
	TLSKEYD_TIMEOUT=10000 tk_legit_check "$1"
	tk_log "$1: served $(($(tk_ms) - t0)) ms after the attack was armed"
}

attack() { # attack MODE N [as-self]
	local mode=$1 n=$2 pid
	local -a who=("${AS[@]}")
	[ "${3:-}" = as-self ] || [ ${#who[@]} = 0 ] && who=(python3)
	tk_bg "${who[@]}" "$ATTACK" "$mode" "$n" 60 >"$TK_TMP/$mode.out" 2>&1
	pid=$TK_BG_PID
	tk_wait_line_pid "$TK_TMP/$mode.out" "^ARMED n=$n" "$pid"
	probe "$mode"
	kill "$pid" 2>/dev/null || true
	tk_wait_pid "$pid" 10 || true
}

# Two of each where a worker is the victim (workers = 2).
attack check 2
attack badtype 2
attack badrole 3
attack queued 2
attack queued-start 3
attack manyfds 2
attack pipeline 3 as-self
# nested: the daemon stopped while the messages are sent, so that the
# attacker's closes of the holders come first and the daemon's are the last.
kill -STOP "$TK_DAEMON_PID"
tk_bg "${AS[@]}" "$ATTACK" nested 2 60 >"$TK_TMP/nested.out" 2>&1
npid=$TK_BG_PID
rc=0
tk_wait_line "$TK_TMP/nested.out" "^ARMED n=2" 20 "$npid" || rc=$?
kill -CONT "$TK_DAEMON_PID"
[ "$rc" = 0 ] || { cat "$TK_TMP/nested.out" >&2; tk_fail "nested: the attack did not arm"; }
probe nested
kill "$npid" 2>/dev/null || true
tk_wait_pid "$npid" 10 || true
# deep: sent while the daemon is stopped too, so that all of each
# connection's messages are queued before it reads the first.
kill -STOP "$TK_DAEMON_PID"
tk_bg "${AS[@]}" "$ATTACK" deep 40 60 >"$TK_TMP/deep.out" 2>&1
dpid=$TK_BG_PID
rc=0
tk_wait_line "$TK_TMP/deep.out" "^ARMED n=40" 30 "$dpid" || rc=$?
kill -CONT "$TK_DAEMON_PID"
[ "$rc" = 0 ] || { cat "$TK_TMP/deep.out" >&2; tk_fail "deep: the attack did not arm"; }
probe deep
kill "$dpid" 2>/dev/null || true
tk_wait_pid "$dpid" 10 || true
tk_expect_grep "$TK_TMP/tlskeyd.log" "caller went away or misbehaved during handshake"
tk_pass
