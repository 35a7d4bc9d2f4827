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
#   tk_check_t NAME CONF [WANT WHAT]  tlskeyd -t (test/check): output NAME.t, TK_RC
#   tk_check_refused NAME CONF  start-up must refuse CONF before binding
#   tk_check_cert PEM PUB DAYS|past BODY   a certificate from the fixture CA
#   tk_check_swap CONF OLD NEW  the fixture configuration with one line swapped
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
	tk_before_dd "$@"
	sargs=("${TK_PRE[@]}")
	shift "$TK_SKIP"
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

# tk_check_t NAME CONF [WANT WHAT]: run "tlskeyd -t -c CONF" (bounded); its stdout and
# stderr go to $TK_TMP/NAME.t, its exit status to TK_RC.
# With WANT (and WHAT, the case in words), fail unless it exited WANT.
tk_check_t() {
	TK_RC=0
	timeout 60 "$TLSKEYD" -t -c "$2" </dev/null >"$TK_TMP/$1.t" 2>&1 || TK_RC=$?
	tk_log "tlskeyd -t $(basename "$2"): exit $TK_RC: $(tail -n 1 "$TK_TMP/$1.t")"
	[ -z "${3:-}" ] || [ "$TK_RC" = "$3" ] ||
		tk_fail "tlskeyd -t exited $TK_RC ${4:-}: $(cat "$TK_TMP/$1.t")"
}

# tk_check_refused NAME CONF: tlskeyd must refuse CONF at start-up before
# it binds its socket: a non-zero exit within 20 s, no socket at
# $TLSKEYD_SOCKET, no "ready:" line.  Output in $TK_TMP/NAME.d.
tk_check_refused() {
	local rc=0
	tk_daemon_stop
	rm -f "$TLSKEYD_SOCKET"
	timeout 20 "$TLSKEYD" -c "$2" </dev/null >"$TK_TMP/$1.d" 2>&1 || rc=$?
	[ "$rc" != 0 ] || tk_fail "$1: tlskeyd exited 0 with $(basename "$2")"
	[ "$rc" != 124 ] || tk_fail "$1: tlskeyd served $(basename "$2") (still running after 20 s)"
	[ ! -e "$TLSKEYD_SOCKET" ] || tk_fail "$1: tlskeyd created $TLSKEYD_SOCKET before refusing"
	if grep -E 'ready:|listening on' "$TK_TMP/$1.d" >/dev/null; then
		cat "$TK_TMP/$1.d" >&2
		tk_fail "$1: tlskeyd got as far as listening"
	fi
	tk_log "tlskeyd $(basename "$2"): refused, exit $rc"
}

# tk_check_cert PEM PUBKEY DAYS|past BODY: issue PEM from the fixture CA
# for the public key file PUBKEY, valid for DAYS days from now, or expired
# in 2020 ("past"); BODY is the rest of the certtool template.
tk_check_cert() {
	local pem=$1 pub=$2 days=$3 body=$4 tmpl=$1.tmpl
	{
		printf 'serial = %d\n%s\n' "$((RANDOM + 1000))" "$body"
		if [ "$days" = past ]; then
			printf '%s\n' 'activation_date = "2020-01-01 00:00:00 UTC"' \
				'expiration_date = "2020-12-31 23:59:59 UTC"'
		else
			printf 'expiration_days = %s\n' "$days"
		fi
	} >"$tmpl"
	tk_cert_issue "$pem" "$tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" --load-pubkey "$pub" \
		>"$pem.log" 2>&1 || { cat "$pem.log" >&2; tk_fail "cannot issue $pem"; }
}

# tk_check_swap CONF OLD NEW: the fixture configuration with every line
# OLD (a fixed string, whole line) replaced by NEW, written to CONF.
tk_check_swap() {
	awk -v old="$2" -v new="$3" '$0 == old { print new; next } { print }' \
		"$TK_FX/tlskeyd.conf" >"$1"
	cmp -s "$1" "$TK_FX/tlskeyd.conf" && tk_fail "tk_check_swap: no line '$2'"
	return 0
}
