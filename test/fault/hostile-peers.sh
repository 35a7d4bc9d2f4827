#!/bin/bash
# Hostile remote peers against an application server behind tlskeyd:
# garbage instead of a ClientHello, a reset in the middle of the handshake,
# a stalled handshake (handshake-timeout -> ETIMEDOUT), a TLS 1.2
# renegotiation attempt, and an established stream that ends without
# close_notify (TCP FIN, or a reset).  The application must get an error,
# never a clean EOF, for a broken stream.  The daemon must stay up and keep
# serving.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl
tk_fault_setup "handshake-timeout = 2000"
peer() { # NAME MODE [ARGS]: hostile peer against a fresh app server
	local name=$1 mode=$2
	shift 2
	tk_app_server "$name-app" --myname server.example.test "$@"
	APP_PID=$TK_SERVER_PID
	T0=$(tk_ms)
	timeout 30 "$FAULT_HOSTILE" peer "$mode" "127.0.0.1:$TK_PORT" \
		--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --ca "$TK_FX/ca.pem" \
		--hold 6 >"$TK_TMP/$name-peer.out" 2>&1 || true
	APP_RC=0
	tk_wait_pid "$APP_PID" 20 || APP_RC=$?
	APP_MS=$(($(tk_ms) - T0))
	tk_log "$name: app exit $APP_RC after $APP_MS ms: $(grep -E 'ERROR|PEER=|RELAY' "$TK_TMP/$name-app.err" | tr '\n' ' ')"
	tk_log "$name: peer: $(tr '\n' ' ' <"$TK_TMP/$name-peer.out")"
	tk_daemon_alive
}

tk_legit_check warm

# Handshake failures: the app must see an error, quickly.
peer garbage garbage
[ "$APP_RC" = 2 ] || tk_fail "garbage: app exit $APP_RC, want a failed starttls (2)"
tk_expect_grep "$TK_TMP/garbage-app.err" '^ERROR errno=(EPROTO|ECONNRESET|ECONNABORTED|EBADMSG) '
# The errno says it was not the timer; this bounds the wait.
[ "$APP_MS" -lt 5000 ] || tk_fail "garbage: took $APP_MS ms"

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
# see an error (ECONNRESET, as on a TCP socket), not an orderly EOF, and
# tlskey_query() must say the session failed.
for mode in truncate rst-data; do
	peer "$mode" "$mode" --query-at-end
	tk_expect_line "$TK_TMP/$mode-app.err" "PEER=bob@example.test"
	tk_expect_line "$TK_TMP/$mode-app.err" "PROTECTED=tcp"
	tk_expect_line "$TK_TMP/$mode-app.out" "hello"
	[ "$APP_RC" = 3 ] || tk_fail "$mode: app exit $APP_RC, want a relay error (3)"
	tk_expect_grep "$TK_TMP/$mode-app.err" '^RELAY-ERROR receive: .*\(ECONNRESET\)'
	tk_expect_line "$TK_TMP/$mode-app.err" "ENDSTATE=failed"
done

# A truncation behind a slow reader: everything the peer sent before the
# stream broke still reaches the app (the daemon drains what the app has
# not read before it resets the descriptor), then the error.
bytes=$((8 * 1024 * 1024))
mkfifo "$TK_TMP/trunc-big-app.out"
"$FAULT_HOSTILE" slowcat $((2 * 1024 * 1024)) <"$TK_TMP/trunc-big-app.out" >"$TK_TMP/trunc-big.data" &
SLOW_PID=$!
tk_app_server trunc-big-app --myname server.example.test
APP_PID=$TK_SERVER_PID
timeout 60 "$FAULT_HOSTILE" peer truncate "127.0.0.1:$TK_PORT" \
	--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" --ca "$TK_FX/ca.pem" \
	--bytes "$bytes" >"$TK_TMP/trunc-big-peer.out" 2>&1 || true
APP_RC=0
tk_wait_pid "$APP_PID" 60 || APP_RC=$?
tk_wait_pid "$SLOW_PID" 30 || tk_fail "trunc-big: the slow reader did not finish"
tk_log "trunc-big: app exit $APP_RC: $(grep -E 'ERROR|RELAY' "$TK_TMP/trunc-big-app.err" | tr '\n' ' ')"
tk_log "trunc-big: peer: $(tr '\n' ' ' <"$TK_TMP/trunc-big-peer.out")"
want=$(sed -n 's/^PEER sent [0-9]* bytes sha256 //p' "$TK_TMP/trunc-big-peer.out")
[ -n "$want" ] || tk_fail "trunc-big: the peer did not send its payload"
got=$(tail -c +7 "$TK_TMP/trunc-big.data" | sha256sum | cut -d' ' -f1)
size=$(($(stat -c %s "$TK_TMP/trunc-big.data") - 6))
[ "$got" = "$want" ] || tk_fail "trunc-big: the app got $size of $bytes bytes (or different ones) before the error"
[ "$APP_RC" = 3 ] || tk_fail "trunc-big: app exit $APP_RC, want a relay error (3)"
tk_expect_grep "$TK_TMP/trunc-big-app.err" '^RELAY-ERROR receive: .*\(ECONNRESET\)'
tk_daemon_alive

# Renegotiation (TLS 1.2, client-initiated): refused.  The connection may
# survive the refusal or end, but if it ends the app must see an error.
# s_client takes "R" as a command only when it arrives in a read of its
# own: its input is a FIFO fed one line at a time, each after the last
# one's effect was seen (fixed sleeps did this before; a slow handshake
# merged "before" and "R" into one read, a slow "after" left s_client at
# EOF, closing cleanly).
tk_app_server reneg-app --myname server.example.test --echo
APP_PID=$TK_SERVER_PID
rc=0
mkfifo "$TK_TMP/reneg.fifo"
exec 6<>"$TK_TMP/reneg.fifo"
tk_bg timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" -tls1_2 \
	-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" -CAfile "$TK_FX/ca.pem" \
	-servername server.example.test <"$TK_TMP/reneg.fifo" >"$TK_TMP/reneg-peer.out" \
	2>"$TK_TMP/reneg-peer.err" 6>&-
SC_PID=$TK_BG_PID
echo before >&6
tk_wait_line "$TK_TMP/reneg-peer.out" '^before$' 15 "$SC_PID" || true
echo R >&6
tk_wait_line "$TK_TMP/reneg-peer.err" 'RENEGOTIATING' 10 "$SC_PID" || true
# Give the refusal its effect: an echo of "after", or the end.
echo after >&6 2>/dev/null || true
tk_wait_line "$TK_TMP/reneg-peer.out" '^after$' 10 "$SC_PID" || true
exec 6>&-
tk_wait_pid "$SC_PID" 20 || rc=$?
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
	tk_fail "renegotiation: the connection ended but the app saw a clean EOF"
else
	tk_fail "renegotiation: app exit $APP_RC"
fi

tk_legit_check after

# protected-socket = unix: a UNIX socket pair, on which the same truncation
# can only read as EOF; tlskey_query() still reports the failure.
tk_fault_conf "handshake-timeout = 2000
protected-socket = unix" >"$TK_TMP/kd.conf"
tk_daemon_start kd.conf
peer unix-truncate truncate --query-at-end
tk_expect_line "$TK_TMP/unix-truncate-app.err" "PROTECTED=unix"
tk_expect_line "$TK_TMP/unix-truncate-app.out" "hello"
[ "$APP_RC" = 0 ] || tk_fail "unix-truncate: app exit $APP_RC, want EOF (0)"
tk_expect_line "$TK_TMP/unix-truncate-app.err" "ENDSTATE=failed"

# No usable loopback (a network namespace whose lo is down): told to
# (protected-socket-fallback = unix), the daemon says why, falls back to
# UNIX pairs and keeps serving (the default, refuse: test/hostile).
if unshare -n true 2>/dev/null; then
	printf '#!/bin/sh\nexec unshare -n "$(dirname "$0")/kd" "$@"\n' >"$TK_TMP/kd-nonet"
	chmod +x "$TK_TMP/kd-nonet"
	tk_fault_conf "handshake-timeout = 2000
protected-socket-fallback = unix" >"$TK_TMP/kd.conf"
	saved=$TLSKEYD
	TLSKEYD=$TK_TMP/kd-nonet
	tk_daemon_start kd.conf
	TLSKEYD=$saved
	peer nonet truncate --query-at-end
	tk_expect_line "$TK_TMP/nonet-app.err" "PROTECTED=unix"
	tk_expect_line "$TK_TMP/nonet-app.out" "hello"
	tk_expect_line "$TK_TMP/nonet-app.err" "ENDSTATE=failed"
	tk_expect_grep "$TK_TMP/tlskeyd.log" "cannot make a loopback TCP connection \(.+\): protected descriptors are UNIX sockets"
else
	tk_log "unshare -n is not permitted here: the loopback fallback case is not run"
fi

# An invalid value is refused at start with file:line.
tk_fault_conf "protected-socket = sctp" >"$TK_TMP/bad.conf"
if "$TLSKEYD" -t -c "$TK_TMP/bad.conf" >"$TK_TMP/bad.out" 2>&1; then
	tk_fail "protected-socket = sctp was accepted"
fi
tk_expect_grep "$TK_TMP/bad.out" "bad.conf:[0-9]+: 'protected-socket' must be tcp or unix"
tk_pass
