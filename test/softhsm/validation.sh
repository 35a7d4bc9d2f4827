#!/bin/bash
# Peer certificate validation in both roles: expired, wrong name,
# self-signed, untrusted issuer and wrong key purpose are refused with
# EKEYREJECTED and a reason (tlskey_last_error()); the client role against
# gnutls-serv, the server role against gnutls-cli and openssl s_client.
# Pins ([peer NAME] pin-sha256 / cert-sha256) accept a peer without a CA,
# but only under the name the connection is about and never an expired
# certificate; a wrong pin refuses.  ca-dir loads every file of a directory.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv openssl
tk_setup

# Self-signed certificates made here, with file keys.
selfsigned() { # NAME TEMPLATE-BODY
	(umask 077 && certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
		--outfile "$TK_TMP/$1.key" </dev/null 2>/dev/null)
	printf 'serial = 7\nexpiration_days = 30\n%s\n' "$2" >"$TK_TMP/$1.tmpl"
	certtool --generate-self-signed --load-privkey "$TK_TMP/$1.key" --template "$TK_TMP/$1.tmpl" \
		--no-text --outfile "$TK_TMP/$1.pem" </dev/null >/dev/null 2>&1 ||
		tk_fail "certtool could not make $1"
}
selfsigned self-server "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server"
selfsigned self-user "cn = sam@example.test
email = sam@example.test
signing_key
tls_www_client"

# keycert NAME KEY TEMPLATE-BODY: a self-signed certificate for an existing
# key (the pinned one): what its holder can make of it.
keycert() {
	printf 'serial = 8\nexpiration_days = 30\n%s\n' "$3" >"$TK_TMP/$1.tmpl"
	certtool --generate-self-signed --load-privkey "$2" --template "$TK_TMP/$1.tmpl" \
		--no-text --outfile "$TK_TMP/$1.pem" </dev/null >/dev/null 2>&1 ||
		tk_fail "certtool could not make $1"
	cp "$2" "$TK_TMP/$1.key"
}
# Its subject names the pinned peer (dc= components, then uid=); its
# SAN another identity, which nobody vouched for.
keycert pin-names-server "$TK_FX/rogue-server.key" "dc = test
dc = example
dc = peer
uri = spiffe://td.test/bank
signing_key
tls_www_server"
keycert pin-names-user "$TK_FX/rogue-user.key" "dc = test
dc = example
uid = mallory
uri = spiffe://td.test/admin
signing_key
tls_www_client"

# serve NAME CERT KEY: a gnutls-serv with that certificate; sets TK_PORT.
serve() {
	[ -z "${SERVE_PID:-}" ] || { kill "$SERVE_PID" 2>/dev/null || true; tk_wait_pid "$SERVE_PID" 5 || true; }
	tk_start_gnutls_serv "srv-$1" --x509certfile "$2" --x509keyfile "$3"
	SERVE_PID=$TK_PEER_PID
}
fx() { echo "$TK_FX/$1.pem" "$TK_FX/$1.key"; }
tmp() { echo "$TK_TMP/$1.pem" "$TK_TMP/$1.key"; }
app_client() { # NAME [ARGS...]
	local name=$1
	shift
	printf 'hello %s\n' "$name" >"$TK_TMP/$name.in"
	tk_ok "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test "$@"
	tk_same "$TK_TMP/$name.in" "$TK_TMP/$name.out"
}
# reason NAME ERE: the refusal names the reason.
reason() {
	tk_expect_grep "$TK_TMP/$1.err" "^ERROR errno=EKEYREJECTED .*$2"
}

# ---- client role ---------------------------------------------------------
serve good $(fx peer-server)
app_client good --sni peer.example.test
tk_expect_line "$TK_TMP/good.err" "PEER=peer.example.test"
tk_err wrong-name EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni other.example.test
reason wrong-name 'does not match'
serve expired $(fx expired-server)
tk_err expired EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
reason expired 'expired'
serve rogue $(fx rogue-server)
tk_err untrusted EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
reason untrusted 'issuer is unknown'
tk_err untrusted-nosni EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname carol@example.test
reason untrusted-nosni 'issuer is unknown'
serve self $(tmp self-server)
tk_err self-signed EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
reason self-signed 'NOT trusted|issuer is unknown'
# A client-only certificate (bob's) on a server: wrong key purpose.
serve purpose $(fx peer-user)
tk_err purpose EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test
reason purpose 'purpose'
SELF_PORT=
kill "$SERVE_PID" 2>/dev/null || true
SERVE_PID=

# ---- server role: gnutls-cli ---------------------------------------------
cert_args() { echo --x509certfile "$1" --x509keyfile "$2"; }
tk_srv_cli s-good -- $(cert_args $(fx peer-user))
tk_expect_line "$TK_TMP/s-good.err" "PEER=bob@example.test"
tk_srv_cli s-rogue --expect-errno EKEYREJECTED -- $(cert_args $(fx rogue-user))
reason s-rogue 'issuer is unknown'
tk_srv_cli s-expired --expect-errno EKEYREJECTED -- $(cert_args $(fx expired-user))
reason s-expired 'expired'
tk_srv_cli s-self --expect-errno EKEYREJECTED -- $(cert_args $(tmp self-user))
reason s-self 'NOT trusted|issuer is unknown'

# ---- server role: openssl s_client ---------------------------------------
# ossl NAME EXPECT(ok|ERRNO) CERT KEY
ossl() {
	local name=$1 want=$2 cert=$3 key=$4 exp=()
	[ "$want" = ok ] || exp=(--expect-errno "$want")
	tk_log "case $name: server role, openssl s_client with $(basename "$cert")"
	tk_app_server "$name" --myname server.example.test --echo "${exp[@]}"
	printf 'hello %s\n' "$name" >"$TK_TMP/$name-cli.in"
	tk_fifo_client "$name-cli" "$TK_TMP/$name-cli.in" \
		$([ "$want" = ok ] && wc -c <"$TK_TMP/$name-cli.in" || echo 1) \
		openssl s_client -connect "127.0.0.1:$TK_PORT" -quiet -no_ign_eof \
		-CAfile "$TK_FX/ca.pem" -verify_return_error -servername server.example.test \
		-cert "$cert" -key "$key" || true
	tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: app exit $?"; }
	if [ "$want" = ok ]; then
		tk_same "$TK_TMP/$name-cli.in" "$TK_TMP/$name-cli.out"
	fi
}
ossl o-good ok $(fx peer-user)
tk_expect_line "$TK_TMP/o-good.err" "PEER=bob@example.test"
ossl o-rogue EKEYREJECTED $(fx rogue-user)
reason o-rogue 'issuer is unknown'
ossl o-expired EKEYREJECTED $(fx expired-user)
reason o-expired 'expired'
ossl o-self EKEYREJECTED $(tmp self-user)
reason o-self 'NOT trusted|issuer is unknown'

# ---- pins -----------------------------------------------------------------
tk_conf pins -- "[peer peer.example.test]" \
	"pin-sha256 = $(tk_spki_pin "$TK_FX/rogue-server.pem")" \
	"pin-sha256 = $(tk_spki_pin "$TK_FX/expired-server.pem")" \
	"cert-sha256 = $(openssl x509 -in "$TK_TMP/self-server.pem" -outform DER | sha256sum | cut -c1-64)" \
	"" "[peer mallory@example.test]" \
	"pin-sha256 = $(tk_spki_pin "$TK_FX/rogue-user.pem")"
tk_daemon_start "$TK_TMP/pins.conf" || tk_fail "daemon with pins.conf did not start"
serve rogue-pinned $(fx rogue-server)
app_client pin-spki --sni peer.example.test
tk_expect_line "$TK_TMP/pin-spki.err" "PEER=peer.example.test"
# Without SNI the certificate's own name selects the pins.
app_client pin-spki-nosni
tk_expect_line "$TK_TMP/pin-spki-nosni.err" "PEER=peer.example.test"
# The pin belongs to peer.example.test, not to whatever name was asked for.
tk_err pin-other-name EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni other.example.test
serve expired-pinned $(fx expired-server)
tk_err pin-expired EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
reason pin-expired 'expired'
serve self-pinned $(tmp self-server)
app_client pin-cert --sni peer.example.test
tk_expect_line "$TK_TMP/pin-cert.err" "PEER=peer.example.test"
# A pinned peer has the pinned name and no other: its certificate's other
# names are its holder's word (before, the app got the SAN's
# spiffe://td.test/bank and tlskey_query_session() listed it).
serve pin-names $(tmp pin-names-server)
app_client pin-names --query-full
tk_expect_line "$TK_TMP/pin-names.err" "PEER=peer.example.test"
tk_expect_line "$TK_TMP/pin-names.err" "QID peer.example.test"
! grep -F td.test "$TK_TMP/pin-names.err" >&2 || tk_fail "pin-names: a name nobody vouched for"
kill "$SERVE_PID" 2>/dev/null || true
SERVE_PID=
tk_srv_cli s-pin -- $(cert_args $(fx rogue-user))
tk_expect_line "$TK_TMP/s-pin.err" "PEER=mallory@example.test"
tk_mark
tk_srv_cli s-pin-names -- $(cert_args $(tmp pin-names-user))
tk_expect_line "$TK_TMP/s-pin-names.err" "PEER=mallory@example.test"
tk_log_expect 'event=established .* peer=mallory@example.test .*\(pinned\)'
! tk_log_since | grep -F td.test/admin >&2 || tk_fail "s-pin-names: the audit names td.test/admin"
# A pin for one peer does not admit another one of the same rogue CA.
tk_srv_cli s-pin-self --expect-errno EKEYREJECTED -- $(cert_args $(tmp self-user))

# Wrong pins: the right name, another key / another certificate.
tk_conf wrongpin -- "[peer peer.example.test]" \
	"pin-sha256 = $(tk_spki_pin "$TK_FX/peer-server2.pem")" \
	"cert-sha256 = $(openssl x509 -in "$TK_FX/peer-server.pem" -outform DER | sha256sum | cut -c1-64)"
tk_daemon_start "$TK_TMP/wrongpin.conf" || tk_fail "daemon with wrongpin.conf did not start"
serve rogue-wrongpin $(fx rogue-server)
tk_err pin-wrong EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
reason pin-wrong 'issuer is unknown'

# ---- ca-dir -----------------------------------------------------------------
# Any file name: GnuTLS loads every file of the directory (no c_rehash).
mkdir "$TK_TMP/cadir" "$TK_TMP/roguedir"
cp "$TK_FX/ca.pem" "$TK_TMP/cadir/anchors.pem"
cp "$TK_FX/rogue-ca.pem" "$TK_TMP/roguedir/other-anchors.pem"
tk_conf cadir -ca-file "ca-dir=$TK_TMP/cadir"
tk_daemon_start "$TK_TMP/cadir.conf" || tk_fail "daemon with cadir.conf did not start"
serve cadir-good $(fx peer-server)
app_client cadir-good --sni peer.example.test
serve cadir-rogue $(fx rogue-server)
tk_err cadir-rogue EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
kill "$SERVE_PID" 2>/dev/null || true
SERVE_PID=
tk_srv_cli cadir-s-good -- $(cert_args $(fx peer-user))
tk_expect_line "$TK_TMP/cadir-s-good.err" "PEER=bob@example.test"
tk_conf roguedir -ca-file "ca-dir=$TK_TMP/roguedir"
tk_daemon_start "$TK_TMP/roguedir.conf" || tk_fail "daemon with roguedir.conf did not start"
serve roguedir-good $(fx peer-server)
tk_err roguedir-good EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
serve roguedir-rogue $(fx rogue-server)
app_client roguedir-rogue --sni peer.example.test
# An empty directory and no other anchor: the daemon refuses to start.
mkdir "$TK_TMP/emptydir"
tk_conf emptydir -ca-file "ca-dir=$TK_TMP/emptydir"
rc=0
tk_daemon_start "$TK_TMP/emptydir.conf" || rc=$?
[ "$rc" != 0 ] || tk_fail "the daemon started with an empty ca-dir and no other trust anchor"
tk_expect_grep "$TK_TMP/tlskeyd.log" 'no trust anchors loaded from .*emptydir'
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon did not restart"
tk_legit_check end
tk_done
