#!/bin/bash
# The application is the TLS server (tk-app server through tlskeyd, key on
# the token); gnutls-cli is the remote client with a client certificate.
# TLS 1.3 and 1.2, ECDSA and RSA server keys, with and without a checksni
# callback.  Checks the authenticated peer and data in both directions
# (the app echoes).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup

want=$(tk_lines "$TK_TMP/data" 2000 "line from the remote client ")

n=0
for myname in server.example.test rsa.example.test; do
	for prio in NORMAL:-VERS-ALL:+VERS-TLS1.3 NORMAL:-VERS-ALL:+VERS-TLS1.2; do
		n=$((n + 1))
		case=$n-$myname-${prio##*+}
		sni=()
		[ $((n % 2)) = 0 ] && sni=(--sni-allow "$myname")
		tk_log "case $case ${sni[*]}"
		tk_app_server "s$n" --myname "$myname" --echo "${sni[@]}"
		tk_run_ok "$case: gnutls-cli" "$TK_TMP/c$n.log" -- \
			tk_fifo_client "c$n" "$TK_TMP/data" "$want" gnutls-cli --logfile="$TK_TMP/c$n.log" \
			--port "$TK_PORT" --priority "$prio" \
			--x509cafile "$TK_FX/ca.pem" \
			--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
			--verify-hostname "$myname" --sni-hostname "$myname" 127.0.0.1
		tk_wait_ok "$TK_SERVER_PID" 20 "$case: tk-app server" "$TK_TMP/s$n.err"
		tk_expect_line "$TK_TMP/s$n.err" "PEER=bob@example.test"
		if [ ${#sni[@]} -gt 0 ]; then
			tk_expect_line "$TK_TMP/s$n.err" "SNI=$myname"
		fi
		tk_same "$TK_TMP/data" "$TK_TMP/c$n.out"
		tk_expect_grep "$TK_TMP/c$n.log" "Description: \\(TLS${prio##*+VERS-TLS}"
	done
done

# IPv6 loopback, if the host has it.
if ip -6 addr show dev lo 2>/dev/null | grep '::1' >/dev/null; then
	tk_log "case ipv6"
	tk_app_server s6 --listen '[::1]:0' --myname server.example.test --echo
	tk_run_ok "ipv6: gnutls-cli" "$TK_TMP/c6.log" -- \
		tk_fifo_client c6 "$TK_TMP/data" "$want" gnutls-cli --logfile="$TK_TMP/c6.log" \
		--port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
		--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
		--verify-hostname server.example.test --sni-hostname server.example.test ::1
	tk_wait_ok "$TK_SERVER_PID" 20 "ipv6: tk-app server" "$TK_TMP/s6.err"
	tk_expect_line "$TK_TMP/s6.err" "PEER=bob@example.test"
	tk_same "$TK_TMP/data" "$TK_TMP/c6.out"
else
	tk_log "no IPv6 loopback: ipv6 case skipped"
fi
tk_daemon_alive
tk_pass
