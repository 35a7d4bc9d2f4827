#!/bin/bash
# The application is the TLS client (tk-app client through tlskeyd, user
# keys on the token: alice ECDSA, carol RSA); gnutls-serv is the remote
# server requiring and verifying client certificates, echoing data.
# TLS 1.3 and 1.2.  Checks the server's identity and the data.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
tk_setup

tk_lines "$TK_TMP/data" 2000 "line from the app client " >/dev/null

n=0
for myname in alice@example.test carol@example.test; do
	for prio in NORMAL:-VERS-ALL:+VERS-TLS1.3 NORMAL:-VERS-ALL:+VERS-TLS1.2; do
		n=$((n + 1))
		case=$n-$myname-${prio##*+}
		tk_log "case $case"
		tk_start_gnutls_serv "srv$n" --priority "$prio" \
			--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
		cp "$TK_TMP/data" "$TK_TMP/c$n.in"
		tk_run_ok "$case: tk-app" "$TK_TMP/c$n.err" "$TK_TMP/srv$n.out" -- \
			tk_app "c$n" client --connect "127.0.0.1:$TK_PORT" --myname "$myname" \
			--sni peer.example.test
		tk_expect_line "$TK_TMP/c$n.err" "PEER=peer.example.test"
		tk_same "$TK_TMP/data" "$TK_TMP/c$n.out"
		# gnutls-serv saw the app's certificate.
		tk_expect_grep "$TK_TMP/srv$n.out" "$myname"
		kill "$TK_PEER_PID" 2>/dev/null || true
		tk_wait_pid "$TK_PEER_PID" 5 || true
	done
done
tk_daemon_alive
tk_pass
