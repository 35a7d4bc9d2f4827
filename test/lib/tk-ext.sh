# Part of test/lib/tk.sh (sourced by it): helpers for the feature tests
# (flags.sh, validation.sh, cache.sh, session-control.sh, dtls.sh) and the
# daemon log marks every test uses.
#
#   tk_ok NAME ARGS...          tk-app must succeed
#   tk_err NAME ERRNO ARGS...   tk-app must fail with exactly ERRNO
#   tk_srv_cli NAME APP-ARGS... -- GNUTLS-CLI-ARGS...
#                               app server (server.example.test, --echo) and
#                               a gnutls-cli remote client; sets TK_APP_RC,
#                               TK_CLI_RC; outputs NAME.err, NAME-cli.out/.log;
#                               with TK_SOFT_CASE=1 a wrong app outcome is
#                               recorded (tk_soft_fail) instead of fatal
#   tk_mark / tk_log_since      daemon log lines written after the mark
#   tk_wait_log ERE [SECONDS]   wait (bounded, 3 s) for ERE in the log since the mark
#   tk_no_log ERE               ERE must not be in the log since the mark
#   tk_conf NAME [KEY=VALUE|-KEY...] [-- EXTRA-LINES]
#                               write $TK_TMP/NAME.conf: the fixture's
#                               configuration with global settings replaced,
#                               added or (-KEY) removed, EXTRA-LINES appended
#   tk_soft_fail MSG / tk_done  record a failure and go on; tk_done fails if
#                               any was recorded, else passes
TK_SOFT=()

tk_soft_fail() {
	echo "FAIL (continuing): $TK_NAME: $*" >&2
	TK_SOFT+=("$*")
}

tk_done() {
	local m
	if [ "${#TK_SOFT[@]}" -gt 0 ]; then
		echo "FAIL: $TK_NAME: ${#TK_SOFT[@]} check(s) failed:" >&2
		for m in "${TK_SOFT[@]}"; do
			echo "  - $m" >&2
		done
		exit 1
	fi
	tk_pass
}

tk_ok() {
	local name=$1 rc=0
	shift
	tk_log "case $name: must succeed"
	tk_app "$name" "$@" || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/$name.err" >&2
		tk_fail "$name: tk-app exit $rc"
	fi
	tk_daemon_alive
}

tk_err() {
	local name=$1 want=$2 rc=0
	shift 2
	tk_log "case $name: must fail with $want"
	tk_app "$name" "$@" --expect-errno "$want" || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/$name.err" >&2
		tk_fail "$name: wanted errno $want, tk-app exit $rc"
	fi
	grep -E '^ERROR errno=' "$TK_TMP/$name.err" >&2 || true
	tk_daemon_alive
}

# tk_srv_cli NAME APP-ARGS... -- GNUTLS-CLI-ARGS...
# The client sends one line; a successful app server echoes it back.
tk_srv_cli() {
	local name=$1 sargs=() rc=0 want=1
	shift
	while [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	case " ${sargs[*]} " in *" --expect-errno "*) want=0 ;; esac
	tk_log "case $name: server role, gnutls-cli $*"
	tk_app_server "$name" --myname server.example.test --echo "${sargs[@]}"
	printf 'hello from %s\n' "$name" >"$TK_TMP/$name-cli.in"
	tk_fifo_client "$name-cli" "$TK_TMP/$name-cli.in" \
		$((want ? $(wc -c <"$TK_TMP/$name-cli.in") : 1)) \
		gnutls-cli --logfile="$TK_TMP/$name-cli.log" --port "$TK_PORT" \
		--x509cafile "$TK_FX/ca.pem" --verify-hostname server.example.test \
		--sni-hostname server.example.test "$@" 127.0.0.1 || rc=$?
	TK_CLI_RC=$rc
	rc=0
	tk_wait_pid "$TK_SERVER_PID" 20 || rc=$?
	TK_APP_RC=$rc
	grep -E '^(ERROR|PEER|QUERY|STATE)' "$TK_TMP/$name.err" >&2 || true
	if [ "$TK_APP_RC" != 0 ]; then
		cat "$TK_TMP/$name.err" "$TK_TMP/$name-cli.log" >&2
		if [ -n "${TK_SOFT_CASE:-}" ]; then
			tk_soft_fail "$name: app server exit $TK_APP_RC ($(grep -E '^(ERROR|UNEXPECTED)' "$TK_TMP/$name.err" | tr '\n' ' '))"
			tk_daemon_alive
			return 0
		fi
		tk_fail "$name: app server exit $TK_APP_RC"
	fi
	if [ "$want" = 1 ]; then
		tk_same "$TK_TMP/$name-cli.in" "$TK_TMP/$name-cli.out"
	fi
	tk_daemon_alive
}

tk_mark() {
	TK_MARK=$(wc -l <"$TK_TMP/tlskeyd.log")
}

tk_log_since() {
	tail -n "+$((TK_MARK + 1))" "$TK_TMP/tlskeyd.log"
}

# tk_log_has ERE: the daemon logged a line matching ERE since the mark.
tk_log_has() { tk_log_since | grep -E -- "$1" >/dev/null; }

# tk_wait_log ERE [SECONDS]: the daemon logs some lines after it answered
# the application (the audit record of an established session): wait for
# them (bounded, default 3 s).
tk_wait_log() {
	tk_wait_until "${2:-3}" "" tk_log_has "$1" && return 0
	echo "--- daemon log since the mark:" >&2
	tk_log_since >&2
	return 1
}

tk_no_log() {
	sleep 0.2
	if tk_log_since | grep -E -- "$1" >&2; then
		return 1
	fi
	return 0
}

# tk_count_log ERE: how many lines since the mark match.
tk_count_log() {
	tk_log_since | grep -cE -- "$1" || true
}

tk_conf() {
	local name=$1 kv k v out=$TK_TMP/$1.conf
	shift
	cp "$TK_FX/tlskeyd.conf" "$out"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		kv=$1
		shift
		if [ "${kv#-}" != "$kv" ]; then
			sed -i "/^${kv#-} = /d" "$out"
			continue
		fi
		k=${kv%%=*}
		v=${kv#*=}
		if grep -q "^$k = " "$out"; then
			# Global keys come before the first section.
			sed -i "0,/^$k = .*/s##$k = $v#" "$out"
		else
			sed -i "0,/^\[/s##$k = $v\n[#" "$out"
		fi
	done
	[ "${1:-}" = -- ] && shift
	if [ $# -gt 0 ]; then
		printf '%s\n' "" "$@" >>"$out"
	fi
}

# tk_spki_pin PEM: the RFC 7469 pin (base64 SHA-256 of the SPKI).
tk_spki_pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | base64
}

# tk_der PEM OUT: the certificate in DER.
tk_der() {
	openssl x509 -in "$1" -outform DER -out "$2"
}
