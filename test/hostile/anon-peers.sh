#!/bin/bash
# Finding 3: a server-role caller may ask not to require
# (TLSKEY_FLAG_NO_REQUIRE_PEER_CERT, 0x1) or not to request (..._NO_REQUEST_
# PEER_CERT, 0x2) a client certificate -- unprivileged flags.  That must not
# lift the ACL's restriction on who the peer may be: a rule with peers= or
# map-user refuses a peer without a certificate (EACCES after the handshake,
# a handshake-failed audit record saying why), while
#   - alice, whom peers= names, still gets through with the same flags
#   - bob, whom it does not name, is refused as before
#   - a rule without peers= keeps admitting anonymous clients
#   - "tlskeyctl acl test --peer ''" agrees with the daemon
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli openssl
tk_setup
ACL=$TK_FX/acl.conf
BOB=(--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key")

tk_acl_set "allow user:$TK_ME server.example.test server peers=alice@example.test" \
	"allow user:$TK_ME rsa.example.test server map-user" \
	"allow user:$TK_ME alice@example.test client" \
	"allow user:$TK_ME carol@example.test server" \
	"map *@example.test %u"

# ---- no certificate, peers= ----------------------------------------------------
for f in 1 2 3; do
	tk_mark
	tk_srv_cli "anon-gnutls-$f" --flags "$f" --expect-errno EACCES --
	tk_wait_log "audit: event=handshake-failed uid=$(id -u) .*myname=server.example.test role=server .*result=EACCES rule=$ACL:2 .*peer sent no certificate, but $ACL:2 admits only certain peers" || tk_fail "expected audit record missing"
	tk_expect_grep "$TK_TMP/anon-gnutls-$f.err" "EACCES"
done

# The same with openssl s_client (TLS 1.2 and 1.3).
for v in -tls1_2 -tls1_3; do
	name=anon-openssl$v
	tk_mark
	tk_app_server "$name" --myname server.example.test --echo --flags 1 --expect-errno EACCES
	printf 'x\n' >"$TK_TMP/$name-cli.in"
	tk_fifo_client "$name-cli" "$TK_TMP/$name-cli.in" 1 \
		openssl s_client -connect "127.0.0.1:$TK_PORT" -CAfile "$TK_FX/ca.pem" \
		-servername server.example.test -verify_return_error "$v" || true
	tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: app server did not get EACCES"; }
	tk_wait_log "audit: event=handshake-failed .*myname=server.example.test .*result=EACCES .*peer sent no certificate" || tk_fail "expected audit record missing"
done

# ---- no certificate, map-user ---------------------------------------------------
tk_log "case anon-map: map-user rule, no certificate"
tk_app_server anon-map --myname rsa.example.test --echo --flags 1 --expect-errno EACCES
printf 'x\n' >"$TK_TMP/anon-map-cli.in"
tk_fifo_client anon-map-cli "$TK_TMP/anon-map-cli.in" 1 \
	gnutls-cli --logfile="$TK_TMP/anon-map-cli.log" --port "$TK_PORT" \
	--x509cafile "$TK_FX/ca.pem" --verify-hostname rsa.example.test \
	--sni-hostname rsa.example.test 127.0.0.1 || true
tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/anon-map.err" >&2; tk_fail "anon-map: app server did not get EACCES"; }

# ---- alice (named in peers=) passes with NO_REQUIRE_PEER_CERT ---------------------
# (With NO_REQUEST_PEER_CERT no peer ever sends a certificate, so a peers=
# rule can never be met: every such connection is refused, as above.)
for f in 1; do
	name=alice-$f
	printf 'from alice %s\n' "$f" >"$TK_TMP/$name-c.in"
	tk_app_server "$name-s" --myname server.example.test --echo --flags "$f"
	tk_app "$name-c" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni server.example.test || { cat "$TK_TMP/$name-c.err" >&2; tk_fail "$name: client failed"; }
	tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/$name-s.err" >&2; tk_fail "$name: server failed"; }
	tk_expect_line "$TK_TMP/$name-s.err" "PEER=alice@example.test"
	tk_same "$TK_TMP/$name-c.in" "$TK_TMP/$name-c.out"
done

# ---- bob (not named) is refused, certificate or not --------------------------------
tk_srv_cli bob-1 --flags 1 --expect-errno EACCES -- "${BOB[@]}"

# ---- a rule without peers= still admits anonymous clients ---------------------------
tk_log "case carol-anon: no peers= restriction, no certificate"
printf 'hello carol\n' >"$TK_TMP/carol-anon-cli.in"
tk_app_server carol-anon --myname carol@example.test --echo --flags 1
tk_fifo_client carol-anon-cli "$TK_TMP/carol-anon-cli.in" "$(wc -c <"$TK_TMP/carol-anon-cli.in")" \
	gnutls-cli --logfile="$TK_TMP/carol-anon-cli.log" --port "$TK_PORT" \
	--x509cafile "$TK_FX/ca.pem" --insecure 127.0.0.1 || tk_fail "carol-anon: gnutls-cli failed"
tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/carol-anon.err" >&2; tk_fail "carol-anon: app server failed"; }
tk_expect_line "$TK_TMP/carol-anon.err" "PEER="
tk_same "$TK_TMP/carol-anon-cli.in" "$TK_TMP/carol-anon-cli.out"

# ---- tlskeyctl agrees ------------------------------------------------------------
tk_dctl 1 t-anon acl test --user "$TK_ME" --myname server.example.test --role server --peer ""
tk_expect_grep "$TK_TMP/t-anon.out" "^peer: none refused: $ACL:2 admits only certain peers"
tk_dctl 0 t-anon-carol acl test --user "$TK_ME" --myname carol@example.test --role server --peer ""
tk_expect_line "$TK_TMP/t-anon-carol.out" "peer: none allowed"

tk_legit_check after
tk_pass
