#!/bin/bash
# The application is the TLS server (through tlskeyd); openssl s_client is
# the remote client with a client certificate.  TLS 1.3 and 1.2, ECDSA and
# RSA server keys.  The app echoes; checks the peer identity and the data.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl
tk_setup

want=$(tk_lines "$TK_TMP/data" 2000 "line from openssl ")

n=0
for myname in server.example.test rsa.example.test; do
	for ver in tls1_3 tls1_2; do
		n=$((n + 1))
		case=$n-$myname-$ver
		tk_log "case $case"
		tk_app_server "s$n" --myname "$myname" --echo --sni-allow "$myname"
		rc=0
		# -quiet implies -ign_eof: -no_ign_eof makes s_client end at stdin EOF.
		tk_fifo_client "c$n" "$TK_TMP/data" "$want" openssl s_client -quiet -no_ign_eof \
			-"$ver" -connect "127.0.0.1:$TK_PORT" -servername "$myname" \
			-verify_hostname "$myname" -CAfile "$TK_FX/ca.pem" -verify_return_error \
			-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" || rc=$?
		[ "$rc" = 0 ] || tk_fail "$case: s_client exit $rc"
		tk_wait_ok "$TK_SERVER_PID" 20 "$case: tk-app server" "$TK_TMP/s$n.err"
		tk_expect_line "$TK_TMP/s$n.err" "PEER=bob@example.test"
		tk_expect_line "$TK_TMP/s$n.err" "SNI=$myname"
		tk_same "$TK_TMP/data" "$TK_TMP/c$n.out"
	done
done

# No session resumption: the daemon issues no TLS 1.3 tickets and keeps no
# TLS 1.2 session cache, so each connection is fully authenticated.
for ver in tls1_3 tls1_2; do
	tk_app_server "nr-$ver" --myname server.example.test --echo
	rc=0
	tk_fifo_client "nr-$ver" "$TK_TMP/data" "$want" openssl s_client -quiet -no_ign_eof \
		-"$ver" -connect "127.0.0.1:$TK_PORT" -servername server.example.test \
		-CAfile "$TK_FX/ca.pem" -cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" \
		-sess_out "$TK_TMP/nr-$ver.sess" || rc=$?
	[ "$rc" = 0 ] || tk_fail "no-resumption $ver: s_client exit $rc"
	tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "no-resumption $ver: tk-app server failed"
	if [ ! -s "$TK_TMP/nr-$ver.sess" ]; then
		# TLS 1.3 without a ticket: nothing the client could resume.
		tk_log "$ver: no resumable session was offered"
		continue
	fi
	openssl sess_id -in "$TK_TMP/nr-$ver.sess" -noout -text >"$TK_TMP/nr-$ver.txt" 2>&1 ||
		tk_fail "no-resumption $ver: unreadable session file"
	tk_log "$ver session: $(grep -iE 'ticket|Session-ID:' "$TK_TMP/nr-$ver.txt" | tr '\n' ' ')"
	if grep -qi 'TLS session ticket:' "$TK_TMP/nr-$ver.txt"; then
		tk_fail "no-resumption $ver: the daemon issued a session ticket"
	fi
	tk_app_server "nr2-$ver" --myname server.example.test --echo
	rc=0
	tk_fifo_client "nr2-$ver" "$TK_TMP/data" "$want" openssl s_client -no_ign_eof \
		-"$ver" -connect "127.0.0.1:$TK_PORT" -servername server.example.test \
		-CAfile "$TK_FX/ca.pem" -cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" \
		-sess_in "$TK_TMP/nr-$ver.sess" || rc=$?
	tk_wait_pid "$TK_SERVER_PID" 20 || true
	tk_expect_grep "$TK_TMP/nr2-$ver.out" '^New, '
	if grep -q '^Reused, ' "$TK_TMP/nr2-$ver.out"; then
		tk_fail "no-resumption $ver: the session was resumed"
	fi
done
tk_daemon_alive
tk_pass
