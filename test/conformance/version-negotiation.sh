#!/bin/bash
# Version negotiation through tlskeyd is GnuTLS's own (keyd/handshake.c:
# no post-client-hello callback unless the application checks SNI, as in
# gnutls-serv).  Real peers:
#   1. tlsfuzzer (test-tls13-version-negotiation) through tlskey-tunnel, RSA
#      key: supported_versions (3,9),(3,2) gets TLS 1.1 (RFC 8446 4.2.1: a
#      version the client offered; before the fix TLS 1.2); (3,9),(3,3) gets
#      TLS 1.2; legacy_version TLS 1.3 or 1.8 without the extension gets
#      TLS 1.2.
#   2. gnutls-cli offering only TLS 1.0, 1.1, then 1.2 (all in GnuTLS
#      3.7.9's NORMAL, as for gnutls-serv) to the app server (ECDSA and RSA
#      keys): that version is negotiated and audited, data goes both ways.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_need gnutls-cli
tk_setup

# ---- 1. tlsfuzzer -------------------------------------------------------
tk_tf_servers rsa
tk_tf_expect_ok rsa test-tls13-version-negotiation 'fallback from TLS 1.8 to 1.1' \
	'fallback from TLS 1.8 to 1.2' 'TLS 1.3 in client hello legacy field' \
	'TLS 1.8 in client hello legacy field'
tk_tf_servers_stop rsa

# ---- 2. gnutls-cli, one version only ---------------------------------------
for id in server.example.test rsa.example.test; do
	for v in 1.0 1.1 1.2; do
		tk_log "case 2: $id, TLS $v only"
		tk_mark
		tk_app_server "v$v-$id" --myname "$id" --flags no-request-peer-cert --echo
		printf 'hello TLS %s\n' "$v" >"$TK_TMP/v$v-$id-cli.in"
		rc=0
		tk_fifo_client "v$v-$id-cli" "$TK_TMP/v$v-$id-cli.in" "$(wc -c <"$TK_TMP/v$v-$id-cli.in")" \
			gnutls-cli --logfile="$TK_TMP/v$v-$id.cli.log" --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
			--priority "NORMAL:-VERS-ALL:+VERS-TLS$v" --sni-hostname "$id" --verify-hostname "$id" \
			127.0.0.1 || rc=$?
		[ "$rc" = 0 ] || { cat "$TK_TMP/v$v-$id-cli.err" >&2; tk_fail "2: TLS $v to $id: gnutls-cli exit $rc"; }
		tk_same "$TK_TMP/v$v-$id-cli.in" "$TK_TMP/v$v-$id-cli.out"
		tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "2: app server for $id failed"
		tk_wait_log "event=established .*myname=$id .*detail=\"TLS$v " || tk_fail "2: TLS $v not audited for $id"
	done
done

tk_legit_check
tk_pass
