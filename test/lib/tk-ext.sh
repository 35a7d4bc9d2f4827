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
# (30 random bits of serial: an openssl ocsp index with two entries of one
# serial is refused, and the responder stops.)
tk_check_cert() {
	local pem=$1 pub=$2 days=$3 body=$4 tmpl=$1.tmpl
	{
		printf 'serial = %d\n%s\n' "$(((RANDOM << 15 | RANDOM) + 1000))" "$body"
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

# tk_user_cert NAME USER: a file key and a client certificate of the
# fixture CA for USER (user@domain), $TK_TMP/NAME.key and $TK_TMP/NAME.pem.
tk_user_cert() {
	certtool --generate-privkey --key-type=ecdsa --no-text --outfile "$TK_TMP/$1.key" 2>/dev/null ||
		tk_fail "cannot make $1.key"
	certtool --load-privkey "$TK_TMP/$1.key" --pubkey-info --outfile "$TK_TMP/$1.pub" 2>/dev/null ||
		tk_fail "cannot make $1.pub"
	tk_check_cert "$TK_TMP/$1.pem" "$TK_TMP/$1.pub" 365 "cn = \"$2\"
email = $2
tls_www_client
signing_key"
}

# tk_check_swap CONF OLD NEW: the fixture configuration with every line
# OLD (a fixed string, whole line) replaced by NEW, written to CONF.
tk_check_swap() {
	awk -v old="$2" -v new="$3" '$0 == old { print new; next } { print }' \
		"$TK_FX/tlskeyd.conf" >"$1"
	cmp -s "$1" "$TK_FX/tlskeyd.conf" && tk_fail "tk_check_swap: no line '$2'"
	return 0
}

# tk_size_ge FILE BYTES: FILE has at least BYTES bytes.
tk_size_ge() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

# tk_session_start MIB: a long session between two tk-apps through the
# daemon (server.example.test <- alice), their stdin FIFOs held open on fds
# 7 and 8; MIB MiB of random data relayed each way so far.  Sets S_PID,
# C_PID and TK_HALF; tk_session_finish sends the other half.
tk_session_start() {
	local f
	TK_HALF=$(($1 * 1024 * 1024))
	for f in s1 s2 c1 c2; do
		head -c "$TK_HALF" /dev/urandom >"$TK_TMP/$f.in"
	done
	cat "$TK_TMP/s1.in" "$TK_TMP/s2.in" >"$TK_TMP/s.all"
	cat "$TK_TMP/c1.in" "$TK_TMP/c2.in" >"$TK_TMP/c.all"
	mkfifo "$TK_TMP/s.fifo" "$TK_TMP/c.fifo"
	exec 7<>"$TK_TMP/s.fifo" 8<>"$TK_TMP/c.fifo"
	tk_bg timeout 120 "$TK_APP" server --listen 127.0.0.1:0 --port-file "$TK_TMP/s.port" \
		--myname server.example.test --timeout 120 \
		<"$TK_TMP/s.fifo" >"$TK_TMP/s.out" 2>"$TK_TMP/s.err" 7>&- 8>&-
	S_PID=$TK_BG_PID
	tk_wait_file "$TK_TMP/s.port" "$S_PID" 10 || tk_fail "tk-app server did not start"
	tk_bg timeout 120 "$TK_APP" client --connect "127.0.0.1:$(cat "$TK_TMP/s.port")" \
		--myname alice@example.test --sni server.example.test --timeout 120 \
		<"$TK_TMP/c.fifo" >"$TK_TMP/c.out" 2>"$TK_TMP/c.err" 7>&- 8>&-
	C_PID=$TK_BG_PID
	timeout 60 cat "$TK_TMP/s1.in" >&7 || tk_fail "could not feed the server app"
	timeout 60 cat "$TK_TMP/c1.in" >&8 || tk_fail "could not feed the client app"
	tk_wait_until 60 "$C_PID" tk_size_ge "$TK_TMP/c.out" "$TK_HALF" ||
		tk_fail "first half did not reach the client"
	tk_wait_until 60 "$S_PID" tk_size_ge "$TK_TMP/s.out" "$TK_HALF" ||
		tk_fail "first half did not reach the server"
}

# tk_session_finish WHAT: the session of tk_session_start relays its other
# half each way, ends, and both streams arrive whole (SHA-256).
tk_session_finish() {
	local a b
	timeout 60 cat "$TK_TMP/s2.in" >&7 || tk_fail "could not feed the server app"
	timeout 60 cat "$TK_TMP/c2.in" >&8 || tk_fail "could not feed the client app"
	exec 7>&- 8>&-
	tk_wait_ok "$C_PID" 60 "tk-app client ($1)" "$TK_TMP/c.err"
	tk_wait_ok "$S_PID" 60 "tk-app server ($1)" "$TK_TMP/s.err"
	a=$(sha256sum <"$TK_TMP/s.all") b=$(sha256sum <"$TK_TMP/c.out")
	[ "$a" = "$b" ] || tk_fail "server -> client stream corrupted ($(stat -c %s "$TK_TMP/c.out") bytes)"
	a=$(sha256sum <"$TK_TMP/c.all") b=$(sha256sum <"$TK_TMP/s.out")
	[ "$a" = "$b" ] || tk_fail "client -> server stream corrupted ($(stat -c %s "$TK_TMP/s.out") bytes)"
	tk_log "$1: $((2 * TK_HALF / 1048576)) MiB each way, hashes match"
}

# tk_held_cli NAME PORT: gnutls-cli as bob to server.example.test on
# 127.0.0.1:PORT, its stdin a FIFO we hold open on fd 6 (send lines with
# >&6, end the session with exec 6>&-); output in NAME.out, NAME.err and
# NAME.cli.log, its pid in TK_CLI_PID.  Opening the FIFO read-write never
# blocks; gnutls-cli must not inherit fd 6 or it would never see EOF.
tk_held_cli() {
	mkfifo "$TK_TMP/$1.fifo"
	exec 6<>"$TK_TMP/$1.fifo"
	tk_bg timeout 60 gnutls-cli --logfile="$TK_TMP/$1.cli.log" --port "$2" \
		--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
		--x509keyfile "$TK_FX/peer-user.key" --verify-hostname server.example.test \
		--sni-hostname server.example.test 127.0.0.1 \
		<"$TK_TMP/$1.fifo" >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err" 6>&-
	TK_CLI_PID=$TK_BG_PID
}

# tk_netns_enter "$@": run this test again (once; its arguments passed on)
# in a network namespace of its own, a user namespace too when not root,
# and bring lo up there: for peers that bind every interface (gnutls-serv,
# openssl ocsp).  Call it before tk_setup.  With TK_NETNS_MOUNT=1 a mount
# namespace of its own too (private mounts: for bind-mounting test files
# over /etc/resolv.conf, /etc/hosts, say, seen by this test alone).
tk_netns_enter() {
	if [ "${TK_NETNS:-}" != 1 ]; then
		local u=n
		[ "${TK_NETNS_MOUNT:-}" = 1 ] && u=nm
		[ "$(id -u)" = 0 ] || u=r$u
		TK_NETNS=1 exec unshare -$u -- "${BASH:-bash}" "$0" "$@"
	fi
	ip link set lo up || tk_fail "cannot bring lo up in the test's network namespace"
}
