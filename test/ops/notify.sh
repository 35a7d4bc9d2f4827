#!/bin/bash
# NOTIFY_SOCKET set to a path nobody listens on: the daemon says so once,
# as an error naming the socket and the errno (a Type=notify unit would
# otherwise sit in "activating" without a word), and serves all the same.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon
export NOTIFY_SOCKET=$TK_TMP/no-such-dir/notify.sock
: >>"$TK_TMP/tlskeyd.log"
tk_mark
tk_daemon_start "$TK_FX/tlskeyd.conf"
msg="error: cannot notify the service manager at NOTIFY_SOCKET=$NOTIFY_SOCKET: No such file or directory \(ENOENT\); it will not see READY=1"
tk_log_expect "$msg"
tk_legit_check
# STATUS= goes out every second and fails each time: still one line.
more() { [ "$(tk_count_log "cannot notify the service manager")" -gt 1 ]; }
if tk_wait_until 3 "$TK_DAEMON_PID" more; then
	tk_fail "the NOTIFY_SOCKET failure was logged more than once"
fi
unset NOTIFY_SOCKET
tk_pass
