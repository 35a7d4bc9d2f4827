#!/bin/bash
# A kept control connection speaks only for the process that connected (a
# review of the control path, 2026-12-03): a root process's child, after
# fork() and a drop to uid 65534, could send STARTs on its parent's kept
# connection and have them judged as its parent (root), for as long as
# the parent ran.  The daemon now has the kernel record the sender of
# every message (SO_PASSCRED on the listener) and refuses one from
# another pid (EPERM, "opened by pid ..."), and the library closes the
# parent's kept connections in a child.  kept-fork.py speaks the protocol
# itself (a hostile child would not use the library).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup
PY=python3
if [ "$(id -u)" = 0 ] && [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3 # the child, uid 65534, may not reach one under /root
	chmod 755 "$TK_TMP" "$TK_FX"
fi
tk_app_server srv --myname server.example.test
timeout 60 "$PY" "$top_srcdir/test/hostile/kept-fork.py" "$TK_PORT" >"$TK_TMP/kf.out" 2>&1 ||
	{ cat "$TK_TMP/kf.out" >&2; tk_fail "kept-fork.py failed"; }
cat "$TK_TMP/kf.out" >&2
tk_expect_line "$TK_TMP/kf.out" "FIRST errno=0 keep=1"
tk_expect_grep "$TK_TMP/kf.out" '^CHILD errno=1 message=this connection to tlskeyd was opened by pid [0-9]+; a request from pid [0-9]+ on it is not taken'
tk_expect_line "$TK_TMP/kf.out" "FRESH errno=0"
tk_expect_grep "$TK_TMP/tlskeyd.log" "audit: event=refused uid=$(id -u) .*result=EPERM .*opened by pid"
tk_wait_pid "$TK_SERVER_PID" 10 || true
tk_legit_check after
tk_pass
