#!/bin/bash
# Hostile remote peers against an application server behind tlskeyd:
# garbage instead of a ClientHello, a reset in the middle of the handshake,
# a stalled handshake (handshake-timeout -> ETIMEDOUT), a TLS 1.2
# renegotiation attempt, and an established stream that ends without
# close_notify (TCP FIN, or a reset).  The application must get an error,
# never a clean EOF, for a broken stream.  The daemon must stay up and keep
# serving.
#
# Known daemon gaps are reported as "XFAIL <case>: ..." and do not fail the
# test (set FAULT_STRICT=1 to make them fail); if one starts passing the
# test says "XPASS" so that the mark can be removed.
. "${top_srcdir:-.}/test/fault/lib.sh"
tk_need openssl
fault_setup "handshake-timeout = 2000"
STRICT=${FAULT_STRICT:-0}
XFAILS=0

xfail() {
	if [ "$STRICT" = 1 ]; then
		tk_fail "$*"
	fi
	echo "XFAIL $*" >&2
	XFAILS=$((XFAILS + 1))
}

peer() { # NAME MODE [ARGS]: hostile peer against a fresh app server
	local name=$1 mode=$2
	shift 2
	tk_app_server "$name-app" --myname server.example.test "$@"
	APP_PID=$TK_SERVER_PID
	T0=$(fault_ms)
	timeout 30 "$FAULT_HOSTILE" peer "$mode" "127.0.0.1:$TK_PORT" \
		--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --ca "$TK_FX/ca.pem" \
		--hold 6 >"$TK_TMP/$name-peer.out" 2>&1 || true
	APP_RC=0
	tk_wait_pid "$APP_PID" 20 || APP_RC=$?
	APP_MS=$(($(fault_ms) - T0))
	tk_log "$name: app exit $APP_RC after $APP_MS ms: $(grep -E 'ERROR|PEER=|RELAY' "$TK_TMP/$name-app.err" | tr '\n' ' ')"
	tk_log "$name: peer: $(tr '\n' ' ' <"$TK_TMP/$name-peer.out")"
	tk_daemon_alive
}

tk_legit_check warm

# Handshake failures: the app must see an error, quickly.
peer garbage garbage
[ "$APP_RC" = 2 ] || tk_fail "garbage: app exit $APP_RC, want a failed starttls (2)"
tk_expect_grep "$TK_TMP/garbage-app.err" '^ERROR errno=(EPROTO|ECONNRESET|ECONNABORTED|EBADMSG) '
[ "$APP_MS" -lt 3000 ] || tk_fail "garbage: took $APP_MS ms"

peer reset reset
[ "$APP_RC" = 2 ] || tk_fail "reset: app exit $APP_RC, want a failed starttls (2)"
tk_expect_grep "$TK_TMP/reset-app.err" '^ERROR errno=(ECONNRESET|ECONNABORTED|EPROTO) '

peer stall stall
[ "$APP_RC" = 2 ] || tk_fail "stall: app exit $APP_RC, want a failed starttls (2)"
tk_expect_grep "$TK_TMP/stall-app.err" '^ERROR errno=ETIMEDOUT '
[ "$APP_MS" -ge 1500 ] && [ "$APP_MS" -lt 6000 ] || tk_fail "stall: ETIMEDOUT after $APP_MS ms, handshake-timeout is 2000"
tk_expect_grep "$TK_TMP/stall-peer.out" 'PEER server (closed|error)'
tk_legit_check after-handshake-faults

# Broken streams after the handshake: "hello" arrives, then the app must
# see an error (ECONNRESET like a TCP socket), not an orderly EOF.
for mode in truncate rst-data; do
	peer "$mode" "$mode" --query-at-end
	tk_expect_line "$TK_TMP/$mode-app.err" "PEER=bob@example.test"
	tk_expect_line "$TK_TMP/$mode-app.out" "hello"
	if [ "$APP_RC" = 3 ] && grep -q 'RELAY-ERROR receive' "$TK_TMP/$mode-app.err"; then
		tk_log "$mode: the app saw an error: OK"
		[ "$STRICT" = 1 ] || echo "XPASS $mode: remove the XFAIL mark" >&2
	elif [ "$APP_RC" = 0 ]; then
		# A UNIX socket pair cannot carry a reset (doc/api.md); the
		# daemon must at least report the session as failed.
		tk_expect_line "$TK_TMP/$mode-app.err" "ENDSTATE=failed"
		xfail "$mode: the stream ended without close_notify but the app saw EOF (ENDSTATE=failed via tlskey_query)"
	else
		tk_fail "$mode: app exit $APP_RC"
	fi
done

# Renegotiation (TLS 1.2, client-initiated): refused.  The connection may
# survive the refusal or end, but if it ends the app must see an error.
# s_client takes "R" as a command only when it arrives in a read of its own.
tk_app_server reneg-app --myname server.example.test --echo
APP_PID=$TK_SERVER_PID
rc=0
(echo before; sleep 1; echo R; sleep 2; echo after; sleep 1) |
	timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" -tls1_2 \
		-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" -CAfile "$TK_FX/ca.pem" \
		-servername server.example.test >"$TK_TMP/reneg-peer.out" 2>"$TK_TMP/reneg-peer.err" || rc=$?
APP_RC=0
tk_wait_pid "$APP_PID" 20 || APP_RC=$?
tk_log "renegotiation: s_client exit $rc, app exit $APP_RC; echoed: $(grep -xE 'before|after' "$TK_TMP/reneg-peer.out" | tr '\n' ' ')"
tk_log "renegotiation: s_client: $(grep -hiE 'RENEGOTIATING|alert|error' "$TK_TMP/reneg-peer.err" | head -3 | tr '\n' ' ')"
tk_log "renegotiation: app: $(grep -E 'ERROR|RELAY' "$TK_TMP/reneg-app.err" | tr '\n' ' ')"
tk_expect_line "$TK_TMP/reneg-peer.out" "before"
tk_expect_grep "$TK_TMP/reneg-peer.err" 'RENEGOTIATING'
if grep -qx after "$TK_TMP/reneg-peer.out"; then
	tk_log "renegotiation refused, connection survived"
elif [ "$APP_RC" = 3 ]; then
	tk_log "renegotiation refused, connection ended with an error for the app: OK"
elif [ "$APP_RC" = 0 ]; then
	xfail "renegotiation: the peer aborted after the refusal but the app saw a clean EOF (keyd/relay.c relay_abort)"
else
	tk_fail "renegotiation: app exit $APP_RC"
fi

tk_legit_check after
[ "$XFAILS" = 0 ] || tk_log "$XFAILS known failure(s), see XFAIL lines"
tk_pass
