#!/bin/bash
# ALPN (tlskey_options.alpn): the app as TLS server against openssl
# s_client -alpn (server preference order, strict no-overlap: alert 120
# and ENOPROTOOPT, lenient no-overlap: no ALPN), the app as TLS client
# against openssl s_server -alpn (the same both ways), the negotiated id in
# the start result and in tlskey_query(), and the library's argument checks
# (EINVAL, ERANGE).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl
tk_setup

printf 'one line through ALPN\n' >"$TK_TMP/line"
want=$(wc -c <"$TK_TMP/line")
USER_CERT=(-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key")

# srv NAME 'APP-ARGS' S_CLIENT-ARGS...: app server (echo) against s_client.
srv() {
	local name=$1 app=$2 rc=0
	shift 2
	tk_log "case $name: app server $app, s_client $*"
	# shellcheck disable=SC2086
	tk_app_server "$name" --myname server.example.test --echo $app
	# Without -quiet s_client prints the session first: wait for the echo.
	TK_FIFO_WAIT_LINE="one line through ALPN" \
		tk_fifo_client "$name-cli" "$TK_TMP/line" "$want" openssl s_client -no_ign_eof \
		-connect "127.0.0.1:$TK_PORT" -servername server.example.test \
		-CAfile "$TK_FX/ca.pem" "${USER_CERT[@]}" "$@" || rc=$?
	TK_CLI_RC=$rc
	tk_wait_ok "$TK_SERVER_PID" 20 "$name: tk-app server" "$TK_TMP/$name.err"
	cat "$TK_TMP/$name-cli.out" "$TK_TMP/$name-cli.err" >"$TK_TMP/$name-cli.all"
	tk_daemon_alive
}

# ---- app as server --------------------------------------------------------
# The server's order wins: h2 although the client prefers http/1.1.
srv s-h2 "--alpn h2,http/1.1 --query" -alpn http/1.1,h2
tk_expect_line "$TK_TMP/s-h2.err" "ALPN=h2"
tk_expect_line "$TK_TMP/s-h2.err" "QUERY-ALPN=h2"
tk_expect_grep "$TK_TMP/s-h2-cli.all" '^ALPN protocol: h2$'
tk_expect_grep "$TK_TMP/s-h2-cli.out" 'one line through ALPN'
tk_expect_grep "$TK_TMP/tlskeyd.log" 'event=established .*detail="TLS1\.3 [A-Z0-9-]+ alpn=h2"'
srv s-http11 "--alpn http/1.1,h2" -alpn h2,http/1.1
tk_expect_line "$TK_TMP/s-http11.err" "ALPN=http/1.1"
tk_expect_grep "$TK_TMP/s-http11-cli.all" '^ALPN protocol: http/1.1$'
# TLS 1.2 as well.
srv s-h2-12 "--alpn h2" -tls1_2 -alpn h2
tk_expect_line "$TK_TMP/s-h2-12.err" "ALPN=h2"
# Lenient, no overlap: the handshake goes on without ALPN.
srv s-lenient "--alpn h2 --query" -alpn spdy/3
tk_expect_line "$TK_TMP/s-lenient.err" "ALPN="
tk_expect_line "$TK_TMP/s-lenient.err" "QUERY-ALPN="
tk_expect_grep "$TK_TMP/s-lenient-cli.all" 'No ALPN negotiated'
tk_expect_grep "$TK_TMP/s-lenient-cli.out" 'one line through ALPN'
# Strict, no overlap: alert no_application_protocol (120), ENOPROTOOPT.
srv s-strict "--alpn h2,http/1.1 --alpn-strict --expect-errno ENOPROTOOPT" -alpn spdy/3
tk_expect_grep "$TK_TMP/s-strict.err" 'ENOPROTOOPT.*no ALPN protocol in common'
tk_expect_grep "$TK_TMP/s-strict-cli.all" 'no application protocol.*|alert number 120'
# Strict and a client without ALPN at all: the same, refused on its
# ClientHello (keyd/alpn.c's hook), before the daemon signs anything.
srv s-strict-none "--alpn h2 --alpn-strict --expect-errno ENOPROTOOPT"
tk_expect_grep "$TK_TMP/s-strict-none.err" 'ENOPROTOOPT.*no ALPN protocol in common'
tk_expect_grep "$TK_TMP/s-strict-none-cli.all" 'no application protocol.*|alert number 120'
# TLS 1.2: the same refusal on the ClientHello.
srv s-strict-none-12 "--alpn h2 --alpn-strict --expect-errno ENOPROTOOPT" -tls1_2
tk_expect_grep "$TK_TMP/s-strict-none-12.err" 'ENOPROTOOPT.*no ALPN protocol in common'
tk_expect_grep "$TK_TMP/s-strict-none-12-cli.all" 'no application protocol.*|alert number 120'
# Strict with overlap works, also with a server name callback (GnuTLS's
# post-client-hello function and our ClientHello hook together).
srv s-strict-ok "--alpn h2 --alpn-strict" -alpn h2
tk_expect_line "$TK_TMP/s-strict-ok.err" "ALPN=h2"
srv s-strict-sni "--alpn h2 --alpn-strict --sni-allow server.example.test" -alpn h2
tk_expect_line "$TK_TMP/s-strict-sni.err" "ALPN=h2"
tk_expect_line "$TK_TMP/s-strict-sni.err" "SNI=server.example.test"
# Without --alpn the daemon answers no ALPN to a client that offers it.
srv s-none "--query" -alpn h2
tk_expect_line "$TK_TMP/s-none.err" "QUERY-ALPN="
tk_expect_grep "$TK_TMP/s-none-cli.all" 'No ALPN negotiated'

# ---- app as client --------------------------------------------------------
# cli NAME S_SERVER-ALPN APP-ARGS...: app client against s_server -alpn
# (none: s_server without -alpn, a server that selects nothing).
cli() {
	local name=$1 salpn=$2 rc=0
	shift 2
	tk_log "case $name: s_server -alpn $salpn, app client $*"
	if [ "$salpn" = none ]; then salpn=(); else salpn=(-alpn "$salpn"); fi
	tk_start_openssl_serv "$name-srv" -state "${salpn[@]}" \
		-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
	cp "$TK_TMP/line" "$TK_TMP/$name.in"
	tk_app "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test "$@" || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: tk-app exit $rc"; }
	tk_wait_pid "$TK_PEER_PID" 10 || true
	cat "$TK_TMP/$name-srv.out" "$TK_TMP/$name-srv.err" >"$TK_TMP/$name-srv.all"
	tk_daemon_alive
}
cli c-http11 http/1.1 --alpn h2,http/1.1 --query
tk_expect_line "$TK_TMP/c-http11.err" "ALPN=http/1.1"
tk_expect_line "$TK_TMP/c-http11.err" "QUERY-ALPN=http/1.1"
tk_expect_grep "$TK_TMP/c-http11-srv.all" 'ALPN protocols selected: http/1.1'
rev <"$TK_TMP/line" >"$TK_TMP/line.rev"
tk_same "$TK_TMP/line.rev" "$TK_TMP/c-http11.out"
cli c-h2 h2,http/1.1 --alpn h2
tk_expect_line "$TK_TMP/c-h2.err" "ALPN=h2"
# No overlap, lenient: a server that selects nothing (s_server without
# -alpn; OpenSSL 3.0's s_server -alpn itself refuses a client it shares no
# id with, next case).  The handshake goes on without ALPN.
cli c-lenient none --alpn h2,http/1.1 --query
tk_expect_line "$TK_TMP/c-lenient.err" "ALPN="
tk_expect_line "$TK_TMP/c-lenient.err" "QUERY-ALPN="
tk_same "$TK_TMP/line.rev" "$TK_TMP/c-lenient.out"
cli c-peer-refuses spdy/3 --alpn h2,http/1.1 --expect-errno ECONNABORTED
tk_expect_grep "$TK_TMP/c-peer-refuses.err" 'ECONNABORTED.*No supported application protocol'
# Strict, and the server selects nothing: the app refuses with alert 120.
cli c-strict none --alpn h2,http/1.1 --alpn-strict --expect-errno ENOPROTOOPT
tk_expect_grep "$TK_TMP/c-strict.err" 'ENOPROTOOPT.*no ALPN protocol agreed'
tk_expect_grep "$TK_TMP/c-strict-srv.all" 'no application protocol|alert number 120'
# The id does not fit the caller's buffer: ERANGE, never truncated.
cli c-erange h2 --alpn h2 --alpn-len 2 --expect-errno ERANGE
tk_expect_grep "$TK_TMP/c-erange.err" 'ERANGE.*ALPN id needs 3 bytes'

# ---- the library's checks -------------------------------------------------
# -rev: s_server does not read stdin, so it outlives each connection.
tk_start_peer any openssl s_server -accept 127.0.0.1:PORT -rev \
	-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
ANY=$TK_PORT
long32=$(printf 'a%.0s' $(seq 32))
long256=$(printf 'b%.0s' $(seq 256))
bad() {
	local name=$1
	shift
	tk_err "$name" EINVAL client --connect "127.0.0.1:$ANY" --myname alice@example.test \
		--sni peer.example.test "$@"
	tk_expect_grep "$TK_TMP/$name.err" "^ERROR errno=EINVAL .*$EXPECT"
}
EXPECT='ALPN list of 9 ids' bad over-long-list --alpn a,b,c,d,e,f,g,h,i
EXPECT='ALPN id 1 is empty' bad empty-id --alpn h2,,http/1.1
EXPECT='ALPN id 0 is empty or too long' bad id-32 --alpn "$long32"
EXPECT='ALPN id 1 is empty or too long' bad id-256 --alpn "h2,$long256"
EXPECT='ALPN list NULL with n_alpn 1' bad null-list --alpn h2 --alpn-null
EXPECT='alpn_strict without an ALPN list' bad strict-alone --alpn-strict
EXPECT='ALPN is for TLS over TCP only' bad dtls --alpn h2 --udp
# The daemon refuses the same lists sent raw by a hostile caller
# (the wire decoder: EBADMSG), and keeps serving.
for mode in alpn-empty-id alpn-long-id alpn-nine alpn-overrun; do
	rc=0
	"$TK_APP" hostile "$TLSKEYD_SOCKET" "$mode" --timeout 10 2>"$TK_TMP/hostile-$mode.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/hostile-$mode.err" >&2; tk_fail "hostile $mode: exit $rc"; }
	tk_expect_grep "$TK_TMP/hostile-$mode.err" "^HOSTILE $mode: error reply errno=EBADMSG"
	tk_daemon_alive
done
# Eight ids of 31 bytes each, the most there is, pass.
ids=$(for i in 1 2 3 4 5 6 7; do printf '%s%s,' "$i" "${long32:0:30}"; done)
cli c-max8 h2 --alpn "${ids}h2"
tk_expect_line "$TK_TMP/c-max8.err" "ALPN=h2"
tk_daemon_alive
tk_pass
