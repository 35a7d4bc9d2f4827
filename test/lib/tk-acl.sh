# Part of test/lib/tk.sh (sourced by it): the ACL administration helpers
# (tlskeyctl, reload, audit) and a second local account.  Every wait is
# bounded, processes are remembered by pid.
TLSKEYCTL=${TLSKEYCTL:-$top_builddir/tlskeyctl}
TK_ME=$(id -un)
TK_TEST_USER=
TK_TEST_GROUP=

# tk_ctl NAME ARGS...: run tlskeyctl ARGS (bounded), output in NAME.out and
# NAME.err; returns its exit status.  The caller gives -c or --acl.
tk_ctl() {
	local name=$1 rc=0
	shift
	tk_built "$TLSKEYCTL"
	timeout 30 "$TLSKEYCTL" "$@" </dev/null >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || rc=$?
	return "$rc"
}

# tk_ctl_expect WANT NAME ARGS...: tlskeyctl must exit with status WANT.
tk_ctl_expect() {
	local want=$1 name=$2 rc=0
	shift 2
	tk_ctl "$name" "$@" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "--- tlskeyctl $* (stdout, stderr):" >&2
		cat "$TK_TMP/$name.out" "$TK_TMP/$name.err" >&2
		tk_fail "tlskeyctl $*: exit $rc, wanted $want"
	fi
}

# tk_dctl WANT NAME ARGS...: tlskeyctl against the fixture's daemon configuration.
tk_dctl() {
	local want=$1 name=$2
	shift 2
	tk_ctl_expect "$want" "$name" -c "$TK_FX/tlskeyd.conf" "$@"
}

# tk_acl_set LINE...: replace the fixture's ACL (the daemon's) with LINEs and
# make the daemon load it.
tk_acl_set() {
	printf '%s\n' "# written by $TK_NAME" "$@" >"$TK_FX/acl.conf.new"
	chmod 644 "$TK_FX/acl.conf.new"
	mv -f "$TK_FX/acl.conf.new" "$TK_FX/acl.conf"
	tk_dctl 0 reload-set reload
	tk_expect_grep "$TK_TMP/reload-set.out" '^ACL loaded from '
}

# tk_log_expect ERE: the daemon logged a line matching ERE since tk_mark
# (tk-ext.sh); it may log a moment after the client got its answer: wait
# up to 5s.
tk_log_expect() {
	tk_wait_log "$1" 5 || tk_fail "expected /$1/ in the daemon log"
}

# tk_need_root WHY: skip unless we are root.
tk_need_root() {
	[ "$(id -u)" = 0 ] || tk_skip "needs root ($*)"
}

# tk_retry CMD...: user and group tools fail while another test holds the
# lock on /etc/passwd (make -j): try for up to 10s.
tk_retry() {
	local i
	for i in $(seq 20); do
		"$@" 2>"$TK_TMP/retry.err" && return 0
		sleep 0.5
	done
	cat "$TK_TMP/retry.err" >&2
	return 1
}

tk_acl_cleanup() {
	local rc=$?
	set +e
	# The daemon may run as the account (unprivileged.sh), and so may
	# attackers the test started: stop them first, or userdel refuses.
	tk_daemon_stop
	tk_stop_started
	if [ -n "$TK_TEST_USER" ]; then
		tk_retry userdel "$TK_TEST_USER" || echo "WARNING: could not delete user $TK_TEST_USER" >&2
	fi
	if [ -n "$TK_TEST_GROUP" ]; then
		tk_retry groupdel "$TK_TEST_GROUP" || echo "WARNING: could not delete group $TK_TEST_GROUP" >&2
	fi
	(exit "$rc")
	tk_cleanup
}

# tk_make_test_user: create a system account TK_TEST_USER (no home, no
# shell) in a new group TK_TEST_GROUP as well as its own group; deleted
# on exit.  Sets TK_TEST_UID, TK_TEST_GID.  Call after tk_setup.
tk_make_test_user() {
	tk_need_root "creates a local account"
	tk_need useradd userdel groupadd groupdel setpriv
	trap tk_acl_cleanup EXIT
	TK_TEST_GROUP=tlskeyg$$
	tk_retry groupadd -r "$TK_TEST_GROUP" || tk_fail "groupadd $TK_TEST_GROUP failed"
	# -U: its own primary group; -G: the extra group, supplementary.
	tk_retry useradd -r -M -U -G "$TK_TEST_GROUP" -s /usr/sbin/nologin -d /nonexistent \
		"tlskeyt$$" || tk_fail "useradd tlskeyt$$ failed"
	TK_TEST_USER=tlskeyt$$
	TK_TEST_UID=$(id -u "$TK_TEST_USER")
	TK_TEST_GID=$(id -g "$TK_TEST_USER")
	# The daemon socket lives in the test's temp dirs (mode 0700 from
	# mktemp): let others through.  Secrets inside stay 0600/0700.
	chmod 755 "$TK_TMP" "$TK_FX"
	cat >"$TK_TMP/as-user" <<EOF
#!/bin/sh
exec setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups "$TK_APP" "\$@"
EOF
	chmod 755 "$TK_TMP/as-user"
	setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups \
		sh -c 'test -r "$1" && test -x "$1" && test -S "$2" && test -w "$2"' sh \
		"$TK_APP" "$TLSKEYD_SOCKET" ||
		tk_skip "user $TK_TEST_USER cannot run $TK_APP or reach $TLSKEYD_SOCKET (build directory not readable by others?)"
}

# tk_app_user NAME ARGS...: tk_app as the test user.
tk_app_user() {
	TK_APP=$TK_TMP/as-user tk_app "$@"
}

# tk_peer_serv: a gnutls-serv remote server (peer.example.test, echo); sets PEER_PORT.
tk_peer_serv() {
	tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" \
		--x509keyfile "$TK_FX/peer-server.key"
	PEER_PORT=$TK_PORT
	PEER_PID=$TK_PEER_PID
}

# tk_acl_client NAME WANT MYNAME [TK-APP-ARGS...]: the app as TLS client
# (through the daemon) against peer_serv.  WANT: "ok" (PEER= and the data
# echoed back are checked) or an errno list for --expect-errno.  Runs as
# the test user when AS_USER=1.
tk_acl_client() {
	local name=$1 want=$2 myname=$3 rc=0 run=tk_app
	shift 3
	[ "${AS_USER:-0}" = 1 ] && run=tk_app_user
	printf 'hello from %s\n' "$name" >"$TK_TMP/$name.in"
	if [ "$want" = ok ]; then
		$run "$name" client --connect "127.0.0.1:$PEER_PORT" --myname "$myname" \
			--sni peer.example.test "$@" || rc=$?
		if [ "$rc" != 0 ]; then
			cat "$TK_TMP/$name.err" >&2
			kill -0 "$PEER_PID" 2>/dev/null || tk_log "the gnutls-serv peer (pid $PEER_PID) is gone"
			tk_fail "$name: tk-app client exit $rc"
		fi
		tk_expect_line "$TK_TMP/$name.err" "PEER=peer.example.test"
		tk_same "$TK_TMP/$name.in" "$TK_TMP/$name.out"
	else
		$run "$name" client --connect "127.0.0.1:$PEER_PORT" --myname "$myname" \
			--sni peer.example.test --expect-errno "$want" "$@" || rc=$?
		[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: wanted $want, tk-app exit $rc"; }
	fi
	tk_daemon_alive
}

# tk_acl_server NAME WANT MYNAME CERT [TK-APP-ARGS...]: the app as TLS server
# (through the daemon, echoing); gnutls-cli connects with the fixture's
# client certificate CERT (peer-user: bob@example.test).  WANT as for
# tk_acl_client; on "ok" PEER= is left for the caller to check.
tk_acl_server() {
	local name=$1 want=$2 myname=$3 cert=$4 rc=0
	shift 4
	local cli=(gnutls-cli --logfile="$TK_TMP/$name.cli" --x509cafile "$TK_FX/ca.pem"
		--x509certfile "$TK_FX/$cert.pem" --x509keyfile "$TK_FX/$cert.key"
		--verify-hostname "$myname" --sni-hostname "$myname")
	printf 'hello from %s\n' "$name" >"$TK_TMP/$name.data"
	if [ "$want" = ok ]; then
		tk_app_server "$name" --myname "$myname" --echo "$@"
		tk_fifo_client "$name-c" "$TK_TMP/$name.data" "$(wc -c <"$TK_TMP/$name.data")" \
			"${cli[@]}" --port "$TK_PORT" 127.0.0.1 || rc=$?
		[ "$rc" = 0 ] || { cat "$TK_TMP/$name.cli" "$TK_TMP/$name.err" >&2; tk_fail "$name: gnutls-cli exit $rc"; }
		tk_wait_ok "$TK_SERVER_PID" 20 "$name: tk-app server" "$TK_TMP/$name.err"
		tk_same "$TK_TMP/$name.data" "$TK_TMP/$name-c.out"
	else
		tk_app_server "$name" --myname "$myname" --echo --expect-errno "$want" "$@"
		# The refusal may come before or after gnutls-cli's handshake ends.
		timeout 20 "${cli[@]}" --port "$TK_PORT" 127.0.0.1 </dev/null \
			>>"$TK_TMP/$name.cli" 2>&1 || true
		tk_wait_ok "$TK_SERVER_PID" 20 "$name: wanted $want from the app server," "$TK_TMP/$name.err"
	fi
	tk_daemon_alive
}
