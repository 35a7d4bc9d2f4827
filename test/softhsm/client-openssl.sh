#!/bin/bash
# The application is the TLS client (through tlskeyd, user keys on the
# token); openssl s_server is the remote server requiring a client
# certificate (-Verify, -verify_return_error) and reversing each line
# (-rev).  TLS 1.3 and 1.2, ECDSA and RSA client keys.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl rev
tk_setup

tk_lines "$TK_TMP/data" 500 "line-from-the-app-client-" >/dev/null
rev <"$TK_TMP/data" >"$TK_TMP/data.rev"

n=0
for myname in alice@example.test carol@example.test; do
	for ver in tls1_3 tls1_2; do
		n=$((n + 1))
		case=$n-$myname-$ver
		tk_log "case $case"
		tk_start_openssl_serv "srv$n" -"$ver" \
			-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
		cp "$TK_TMP/data" "$TK_TMP/c$n.in"
		tk_run_ok "$case: tk-app" "$TK_TMP/c$n.err" "$TK_TMP/srv$n.err" -- \
			tk_app "c$n" client --connect "127.0.0.1:$TK_PORT" --myname "$myname" \
			--sni peer.example.test
		tk_expect_line "$TK_TMP/c$n.err" "PEER=peer.example.test"
		tk_same "$TK_TMP/data.rev" "$TK_TMP/c$n.out"
		tk_wait_ok "$TK_PEER_PID" 10 "$case: s_server" "$TK_TMP/srv$n.err"
		cat "$TK_TMP/srv$n.out" "$TK_TMP/srv$n.err" >"$TK_TMP/srv$n.all"
		tk_expect_grep "$TK_TMP/srv$n.all" "Peer certificate: CN ?= ?$myname"
	done
done
tk_daemon_alive
tk_pass
