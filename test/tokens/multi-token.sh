#!/bin/bash
# Several tokens at once: the fixture's SoftHSM token (tlskeyd-test) and a
# second token (tlskeyd-second) in the same SoftHSM token directory, with
# its own PIN file.  The second token holds a key with the same label as
# one on the first (server-ec), so only the token attribute of the RFC 7512
# URI tells them apart, a user key found by CKA_ID (id=...), and a
# certificate object.  One daemon run uses identities on both tokens:
#   server.example.test   token 1 key, certificate file        (server role)
#   alice@example.test    token 1 key, certificate file        (client role)
#   second.example.test   token 2 key "server-ec", certificate read from
#                         the token (cert = pkcs11:...;type=cert) (server role;
#                         gnutls-cli verifies the chain and the host name)
#   dave@example.test     token 2 key by id=, certificate read from the
#                         token                                  (client role;
#                         gnutls-serv requires and verifies it)
# Packages: softhsm2, gnutls-bin (the fixture's).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv
tk_setup --no-daemon

T2_LABEL=tlskeyd-second
T2_URI="pkcs11:token=$T2_LABEL"
T2=$TK_TMP/second
mkdir -m 0700 "$T2"
randpin() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
(umask 077 && randpin >"$T2/pin" && randpin >"$T2/so-pin")

p11() { # ARGS...: p11tool on the SoftHSM module, quiet unless it fails
	p11tool --provider "$TK_MODULE" "$@" </dev/null >>"$TK_TMP/p11tool.log" 2>&1 || {
		tail -n 20 "$TK_TMP/p11tool.log" >&2
		tk_fail "p11tool $* failed"
	}
}

# SoftHSM always offers one fresh slot with an empty label next to the
# initialised tokens; "token=" (empty) selects exactly that one.
GNUTLS_SO_PIN=$(cat "$T2/so-pin") p11 --initialize --label "$T2_LABEL" "pkcs11:model=SoftHSM%20v2;token="
GNUTLS_SO_PIN=$(cat "$T2/so-pin") GNUTLS_PIN=$(cat "$T2/pin") p11 --initialize-pin "$T2_URI"
for key in server-ec dave-ec; do
	GNUTLS_PIN=$(cat "$T2/pin") p11 --login --generate-privkey=ecdsa --curve=secp256r1 \
		--label "$key" --outfile "$T2/$key.pub" "$T2_URI"
	tk_token_key_flags "$TK_MODULE" "$T2_URI" "$T2/pin" "$key"
done
[ "$(p11tool --provider "$TK_MODULE" --list-token-urls </dev/null 2>/dev/null |
	grep -cE "token=(tlskeyd-test|$T2_LABEL)\$")" = 2 ] || tk_fail "the two tokens are not both visible"

tk_token_issue second "$T2/server-ec.pub" "$(tk_server_body second.example.test)"
tk_token_issue dave "$T2/dave-ec.pub" "$(tk_user_body dave@example.test)"
# The certificates go onto the second token as certificate objects.
GNUTLS_PIN=$(cat "$T2/pin") p11 --login --write --load-certificate "$TK_TMP/second.pem" \
	--label second-cert "$T2_URI"
GNUTLS_PIN=$(cat "$T2/pin") p11 --login --write --load-certificate "$TK_TMP/dave.pem" \
	--label dave-cert "$T2_URI"

# dave's key by CKA_ID rather than by label: RFC 7512 id= (percent-encoded).
dave_id=$(GNUTLS_PIN=$(cat "$T2/pin") p11tool --provider "$TK_MODULE" --login \
	--list-privkeys "$T2_URI;object=dave-ec" </dev/null 2>>"$TK_TMP/p11tool.log" |
	sed -n 's/^[[:space:]]*URL: .*;\(id=[^;]*\);.*/\1/p' | head -n 1)
[ -n "$dave_id" ] || tk_fail "cannot find the CKA_ID of dave-ec"
tk_log "dave-ec is $T2_URI;$dave_id [$(tk_secs)s]"

tk_token_conf "$TK_TMP/multi.conf" "$TK_MODULE" \
	"$(tk_token_identity server.example.test "$TK_TOKEN_URI;object=server-ec;type=private" \
		"$TK_FX/server-ec.pem" "$TK_FX/pin")" \
	"$(tk_token_identity alice@example.test "$TK_TOKEN_URI;object=alice-ec;type=private" \
		"$TK_FX/alice-ec.pem" "$TK_FX/pin")" \
	"$(tk_token_identity second.example.test "$T2_URI;object=server-ec;type=private" \
		"$T2_URI;object=second-cert;type=cert" "$T2/pin")" \
	"$(tk_token_identity dave@example.test "$T2_URI;$dave_id;type=private" \
		"$T2_URI;object=dave-cert;type=cert" "$T2/pin")"
tk_daemon_start "$TK_TMP/multi.conf" || tk_fail "tlskeyd did not start with two tokens"
if grep -E 'not usable now|extractable or not sensitive' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "the daemon's start-up probe did not find every key usable"
fi

# Alternate between the tokens so that each worker holds keys of both.
for i in 1 2; do
	tk_token_server_case "t1-srv$i" server.example.test
	tk_token_server_case "t2-srv$i" second.example.test
	tk_token_client_case "t1-cli$i" alice@example.test
	tk_token_client_case "t2-cli$i" dave@example.test
done
# The remote peers saw the certificates read from the second token.
tk_expect_grep "$TK_TMP/t2-srv1-c.log" 'subject `CN=second\.example\.test'
tk_expect_grep "$TK_TMP/t2-srv1-c.log" 'The certificate is trusted'
tk_expect_grep "$TK_TMP/t2-cli1-srv.out" 'dave@example\.test'

# Both tokens at the same moment: two app servers, two remote clients.
tk_token_data
want=$(wc -c <"$TK_TMP/data")
tk_log "case parallel: both tokens at once [$(tk_secs)s]"
tk_app_server par1-s --myname server.example.test --echo
P1=$TK_PORT S1=$TK_SERVER_PID
tk_app_server par2-s --myname second.example.test --echo
P2=$TK_PORT S2=$TK_SERVER_PID
pids=()
for n in 1 2; do
	port=P$n
	name=server.example.test
	[ "$n" = 2 ] && name=second.example.test
	tk_bg timeout 30 gnutls-cli --logfile="$TK_TMP/par$n-c.log" --port "${!port}" \
		--x509cafile "$TK_FX/ca.pem" \
		--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
		--verify-hostname "$name" 127.0.0.1 <"$TK_TMP/data" >"$TK_TMP/par$n-c.out" 2>"$TK_TMP/par$n-c.err"
	pids+=("$TK_BG_PID")
done
# gnutls-cli exits at stdin EOF, possibly before the echo: only the
# handshake and the server's side are checked here.
for p in "${pids[@]}"; do tk_wait_pid "$p" 30 || true; done
for n in 1 2; do
	s=S$n
	tk_wait_pid "${!s}" 20 || { cat "$TK_TMP/par$n-s.err" >&2; tk_fail "parallel $n: tk-app server failed"; }
	tk_expect_line "$TK_TMP/par$n-s.err" "PEER=bob@example.test"
	tk_expect_grep "$TK_TMP/par$n-c.log" 'Handshake was completed'
done

if grep -E 'failed a signature|cannot use key|does not match' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "the daemon reported key failures"
fi
tk_log "done [$(tk_secs)s]"
tk_pass
