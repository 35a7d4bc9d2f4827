#!/bin/bash
# Per-identity trust (doc/config.md, "Validation"): server.example.test
# validates client certificates with the global ca-file (the fixture CA),
# rsa.example.test with its own (the rogue CA), TLS 1.3 only and no CA
# names in its CertificateRequest.  A peer valid for one is refused by the
# other, in both directions and in both roles (the client role against
# gnutls-serv: alice with the global CA, dave with the rogue CA), and a
# cached validation under one identity
# does not admit the peer under the other.  openssl s_client -tls1_2 is
# refused by rsa.example.test only; s_client lists the CA names each
# identity asks for.  A bad per-identity setting fails the configuration
# at that identity's line.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli openssl
tk_setup --no-daemon

tk_conf own -- "[identity own.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "ca-file = $TK_FX/rogue-ca.pem" \
	"priority = NORMAL:-VERS-ALL:+VERS-TLS1.3" "client-ca-names = none" "" \
	"[identity dave@example.test]" \
	"key = $TK_TOKEN_URI;object=alice-ec;type=private" "cert = $TK_FX/alice-ec.pem" \
	"pin-file = $TK_FX/pin" "ca-file = $TK_FX/rogue-ca.pem" "" \
	"[identity names.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "ca-file = $TK_TMP/both.pem" "client-ca-names = $TK_FX/rogue-ca.pem"
cat "$TK_FX/ca.pem" "$TK_FX/rogue-ca.pem" >"$TK_TMP/both.pem"
tk_daemon_start "$TK_TMP/own.conf" || tk_fail "daemon with a per-identity ca-file did not start"

# as MYNAME NAME CERT KEY [APP-ARGS...]: the app serves MYNAME, gnutls-cli
# presents CERT (the daemon's own certificate is not what is tested here:
# --insecure on the client side).
as() {
	local myname=$1 name=$2 cert=$3 key=$4
	shift 4
	tk_srv_cli "$name" --myname "$myname" "$@" -- --insecure --x509certfile "$cert" --x509keyfile "$key"
}
BOB="$TK_FX/peer-user.pem $TK_FX/peer-user.key"
MAL="$TK_FX/rogue-user.pem $TK_FX/rogue-user.key"

# The global CA: bob yes, mallory no.
# shellcheck disable=SC2086
as server.example.test bob-global $BOB
tk_expect_line "$TK_TMP/bob-global.err" "PEER=bob@example.test"
# shellcheck disable=SC2086
as server.example.test mal-global $MAL --expect-errno EKEYREJECTED
# The identity's own CA: mallory yes, bob no -- although bob's validation
# for server.example.test is in the cache.
# shellcheck disable=SC2086
as own.example.test mal-own $MAL
tk_expect_line "$TK_TMP/mal-own.err" "PEER=mallory@example.test"
tk_mark
# shellcheck disable=SC2086
as own.example.test bob-own $BOB --expect-errno EKEYREJECTED
tk_no_log "validation cache hit" || tk_fail "bob-own: a cached validation of another identity was used"
# And back: mallory's cached entry for own.example.test does not help her.
# shellcheck disable=SC2086
as server.example.test mal-global2 $MAL --expect-errno EKEYREJECTED

# The client role: alice (global CA) accepts peer.example.test and refuses
# the rogue CA's server; dave (own CA: the rogue one) the other way round.
tk_start_gnutls_serv srv-good --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
GOOD=$TK_PORT
tk_start_gnutls_serv srv-rogue --x509certfile "$TK_FX/rogue-server.pem" --x509keyfile "$TK_FX/rogue-server.key"
ROGUE=$TK_PORT
tk_ok cli-alice-good client --connect "127.0.0.1:$GOOD" --myname alice@example.test --sni peer.example.test
tk_err cli-alice-rogue EKEYREJECTED client --connect "127.0.0.1:$ROGUE" --myname alice@example.test \
	--sni peer.example.test
tk_ok cli-dave-rogue client --connect "127.0.0.1:$ROGUE" --myname dave@example.test --sni peer.example.test
tk_err cli-dave-good EKEYREJECTED client --connect "127.0.0.1:$GOOD" --myname dave@example.test \
	--sni peer.example.test

# sclient NAME MYNAME ARGS...: openssl s_client against the app serving
# MYNAME (bob's certificate, or SC_USER's); output in NAME.sc, app's exit in TK_APP_RC.
sclient() {
	local name=$1 myname=$2 want=$3
	shift 3
	# shellcheck disable=SC2086
	tk_app_server "$name" --myname "$myname" --echo $want
	echo hi | timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" -cert "$TK_FX/${SC_USER:-peer-user}.pem" \
		-key "$TK_FX/${SC_USER:-peer-user}.key" "$@" >"$TK_TMP/$name.sc" 2>&1 || true
	TK_APP_RC=0
	tk_wait_pid "$TK_SERVER_PID" 20 || TK_APP_RC=$?
}

# ca_list NAME: the CA names s_client printed (NAME.sc) into NAME.list.
ca_list() {
	awk '/^Acceptable client certificate CA names/ { on = 1; next } /^Requested Signature/ { on = 0 } on' \
		"$TK_TMP/$1.sc" >"$TK_TMP/$1.list"
}

# TLS 1.2 is fine for server.example.test, not for own.example.test.
sclient tls12-global server.example.test "" -tls1_2
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/tls12-global.sc" "$TK_TMP/tls12-global.err" >&2; tk_fail "tls12-global: app exit $TK_APP_RC"; }
tk_expect_grep "$TK_TMP/tls12-global.sc" "Protocol *: TLSv1.2"
tk_expect_grep "$TK_TMP/tls12-global.sc" "^Acceptable client certificate CA names"
ca_list tls12-global
tk_expect_grep "$TK_TMP/tls12-global.list" "CN *= *tlskeyd test CA"
SC_USER=rogue-user sclient tls12-own own.example.test "--expect-errno any" -tls1_2
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/tls12-own.err" >&2; tk_fail "tls12-own: app exit $TK_APP_RC"; }
if grep -E "^New, TLSv1.2" "$TK_TMP/tls12-own.sc" >/dev/null; then
	cat "$TK_TMP/tls12-own.sc" >&2
	tk_fail "tls12-own: TLS 1.2 negotiated with a TLS 1.3-only identity"
fi
tk_expect_grep "$TK_TMP/tls12-own.err" "^ERROR errno="
# TLS 1.3 there, and no CA names (client-ca-names = none).
SC_USER=rogue-user sclient tls13-own own.example.test "" -tls1_3
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/tls13-own.sc" "$TK_TMP/tls13-own.err" >&2; tk_fail "tls13-own: app exit $TK_APP_RC"; }
tk_expect_grep "$TK_TMP/tls13-own.sc" "No client certificate CA names sent"

# client-ca-names = FILE: only that CA's name, though both are anchors.
sclient names-file names.example.test "" -tls1_3
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/names-file.sc" "$TK_TMP/names-file.err" >&2; tk_fail "names-file: app exit $TK_APP_RC"; }
tk_expect_grep "$TK_TMP/names-file.sc" "^Acceptable client certificate CA names"
ca_list names-file
tk_expect_grep "$TK_TMP/names-file.list" "CN *= *rogue test CA"
if grep -E "CN *= *tlskeyd test CA" "$TK_TMP/names-file.list" >/dev/null; then
	cat "$TK_TMP/names-file.sc" >&2
	tk_fail "names-file: a CA name not in client-ca-names was sent"
fi
# A name that is no anchor of the identity is a mistake.
tk_conf badnames -- "[identity bad.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "client-ca-names = $TK_FX/rogue-ca.pem"
tk_check_t badnames "$TK_TMP/badnames.conf"
[ "$TK_RC" != 0 ] || tk_fail "tlskeyd -t accepted client-ca-names naming a CA that is no anchor"
tk_expect_grep "$TK_TMP/badnames.t" "identity bad.example.test: client-ca-names $TK_FX/rogue-ca.pem: certificate 1 is not a trust anchor"

# ---- bad per-identity settings: the identity's line, nothing started --------
tk_conf badca -- "[identity bad.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "ca-file = $TK_TMP/nosuch.pem"
tk_check_t badca "$TK_TMP/badca.conf"
[ "$TK_RC" != 0 ] || tk_fail "tlskeyd -t accepted an identity with a missing ca-file"
tk_conf badprio -- "[identity bad.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "priority = NOSUCH:+NOTHING"
cp "$TK_TMP/badprio.conf" "$TK_TMP/own.conf"
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_wait_log "keeping the previous configuration: .*identity bad.example.test: priority 'NOSUCH:\+NOTHING': invalid" 5 ||
	tk_fail "a bad per-identity priority was not reported at its identity"
tk_done
