#!/bin/bash
# The audit records an operator reads (doc/config.md "Audit records"):
#  - a session-end record for each way an established session ends:
#    close_notify (the peer closed first), app_close (the application
#    did), truncated (TCP FIN without close_notify), reset (TCP RST),
#    timeout (close-timeout after the application closed), shutdown (the
#    daemon stopped) -- with bytes each way, duration, remote address;
#  - the remote address and the flag names in the other records, and
#    values with spaces quoted (rule="default deny", a path with a space);
#  - a TCP connect-and-close (a health check) logged at info as
#    closed-before-hello, not as a warning;
#  - timestamps (ISO 8601, ms) on stderr outside journald.
# The daemon keeps serving after the negative cases (tk_legit_check).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup --no-daemon

me=$(id -un)
# An ACL whose path has a space: the rule= of a record quotes it.
acl="$TK_TMP/ops acl.conf"
printf '%s\n' "deny user:$me rsa.example.test any" \
	"allow user:$me server.example.test server" \
	"allow user:$me alice@example.test client" >"$acl"
chmod 600 "$acl"
tk_conf ops close-timeout=500 "acl=$acl"
tk_daemon_start "$TK_TMP/ops.conf"

# peer NAME PORT MODE [ARGS]: test/ops/tls-peer.py in the background.
peer() {
	local name=$1 port=$2 mode=$3
	shift 3
	tk_bg timeout 30 python3 "$top_srcdir/test/ops/tls-peer.py" "$port" "$mode" \
		--ca "$TK_FX/ca.pem" --cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" \
		--sni server.example.test "$@" >"$TK_TMP/$name.peer.out" 2>"$TK_TMP/$name.peer.err"
	PEER_PID=$TK_BG_PID
}

# end_case NAME APP-ARGS... -- PEER-MODE [PEER-ARGS]: an app server
# (server.example.test) and a tls-peer client that ends the session its way.
end_case() {
	local name=$1 sargs=()
	shift
	tk_before_dd "$@"
	sargs=("${TK_PRE[@]}")
	shift "$TK_SKIP"
	tk_log "case $name: tls-peer $*"
	tk_mark
	tk_app_server "$name" --myname server.example.test "${sargs[@]}"
	peer "$name" "$TK_PORT" "$@"
	tk_wait_line "$TK_TMP/$name.peer.out" '^HANDSHAKE ok' 10 "$PEER_PID" ||
		{ cat "$TK_TMP/$name.peer.err" >&2; tk_fail "$name: tls-peer made no handshake"; }
	tk_log_expect "audit: event=established .*myname=server.example.test role=server .*remote=127\.0\.0\.1:[0-9]+ flags=none "
}

# end_record RESULT END BYTES-IN BYTES-OUT [DURATION-ERE [DETAIL-ERE]]: the
# session-end record.
end_record() {
	tk_log_expect "info: audit: event=session-end uid=$(id -u) .*myname=server.example.test role=server .*peer=bob@example.test result=$1 .*remote=127\.0\.0\.1:[0-9]+ flags=none sign_ms=- handshake_ms=- end=$2 bytes_in=$3 bytes_out=$4 duration_ms=${5:-[0-9]+}${6:+ detail=$6}"
}

n=$(printf 'hello from tls-peer\n' | wc -c)
# 1. The peer's close_notify first: the app (echo) answers with EOF.
end_case close --echo -- close
tk_wait_pid "$PEER_PID" 20 || tk_fail "close: tls-peer failed"
end_record ok close_notify "$n" "$n" "[0-9]+" "\"both directions done\""
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "close: the app server failed"

# 2. The application closes first (sends its file, shuts down); the peer
# reads to the end and answers the close_notify.
printf 'from the application\n' >"$TK_TMP/app.in"
end_case app -- drain
tk_wait_pid "$PEER_PID" 20 || tk_fail "app: tls-peer failed"
end_record ok app_close 0 "$(wc -c <"$TK_TMP/app.in")"
tk_expect_grep "$TK_TMP/app.peer.out" "^from the application$"
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "app: the app server failed"

# 3. Truncation: the peer's TCP FIN without close_notify.
end_case truncate --echo -- truncate
# The app got what had arrived before the failure ("drained").
end_record ECONNRESET truncated "$n" "$n" "[0-9]+" drained
tk_wait_pid "$TK_SERVER_PID" 20 || true

# 4. Reset: the peer's RST.
end_case reset --echo -- reset
end_record ECONNRESET reset "$n" "$n" "[0-9]+" drained
tk_wait_pid "$TK_SERVER_PID" 20 || true

# 5. Timeout: the app sent and closed; the peer neither reads nor answers
# the close_notify for close-timeout (500 ms).
printf 'nobody reads this\n' >"$TK_TMP/timeout.in"
end_case timeout -- silent --hold 5
end_record ETIMEDOUT timeout 0 "$(wc -c <"$TK_TMP/timeout.in")" "([5-9][0-9]{2}|[0-9]{4,})" drained
tk_wait_pid "$TK_SERVER_PID" 20 || true
tk_wait_pid "$PEER_PID" 20 || true
tk_legit_check after-timeout

# 6. Health check: connect and close before any ClientHello.
tk_log "case health: connect and close"
tk_mark
tk_app_server health --myname server.example.test --expect-errno ECONNRESET
exec 3<>"/dev/tcp/127.0.0.1/$TK_PORT"
exec 3>&-
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "health: the app server did not get ECONNRESET"
tk_log_expect "info: audit: event=closed-before-hello .*myname=server.example.test role=server .*result=ECONNRESET .*remote=127\.0\.0\.1:[0-9]+ .*detail=\"the peer closed the connection before its ClientHello\""
if tk_log_since | grep -E "warning: .*(closed-before-hello|handshake-failed)" >&2; then
	tk_fail "health: a connect-and-close was logged as a warning"
fi

# 7. Quoting, remote address and flag names in denials.
tk_mark
tk_app_server deny-s --myname server.example.test --expect-errno any --timeout 10
tk_err deny-default EACCES client --connect "127.0.0.1:$TK_PORT" --myname carol@example.test \
	--sni server.example.test --flags no-cache-read
tk_log_expect "warning: audit: event=acl-denied .*myname=carol@example.test role=client .*result=EACCES rule=\"default deny\" remote=127\.0\.0\.1:[0-9]+ flags=no-cache-read "
kill "$TK_SERVER_PID" 2>/dev/null || true
tk_wait_pid "$TK_SERVER_PID" 10 || true
tk_app_server deny-s2 --myname server.example.test --expect-errno any --timeout 10
tk_err deny-rule EACCES client --connect "127.0.0.1:$TK_PORT" --myname rsa.example.test \
	--sni server.example.test
tk_log_expect "audit: event=acl-denied .*myname=rsa.example.test .*rule=\"$acl:1\" remote=127\.0\.0\.1:[0-9]+ flags=none "
kill "$TK_SERVER_PID" 2>/dev/null || true
tk_wait_pid "$TK_SERVER_PID" 10 || true
tk_legit_check after-denials

# 8. Timestamps on stderr (not journald here), on every line.
tk_expect_grep "$TK_TMP/tlskeyd.log" '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} tlskeyd: (info|notice|debug|warning|error): '
if grep -E '^tlskeyd: ' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "lines without a timestamp on stderr"
fi

# 9. Shutdown: a live session is ended by SIGTERM, and the daemon says
# what it ended.
end_case shutdown --echo -- silent --hold 10
kill "$TK_DAEMON_PID"
tk_wait_pid "$TK_DAEMON_PID" 10 || tk_fail "tlskeyd did not exit cleanly on SIGTERM"
TK_DAEMON_PID=
end_record ESHUTDOWN shutdown 0 0 "[0-9]+" "\"tlskeyd is shutting down\""
tk_log_expect "notice: shutting down: ending 1 sessions \(0 of them handshakes\)"
tk_log_expect "notice: stopped after [0-9]+ s"
tk_wait_pid "$TK_SERVER_PID" 20 || true
tk_daemon_start "$TK_TMP/ops.conf"
tk_legit_check after-restart
tk_pass
