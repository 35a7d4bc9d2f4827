#!/bin/bash
# The fixture itself: token keys are sensitive and never extractable, the
# certificates match their keys and chain to the right CA.  Needs no daemon.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need p11tool certtool openssl

TK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$TK_NAME.XXXXXX")
trap tk_cleanup EXIT
bash "$top_srcdir/test/softhsm/fixture.sh" "$TK_TMP/fx" || tk_fail "fixture.sh failed"
. "$TK_TMP/fx/env"
# A second run on a finished directory is a no-op.
bash "$top_srcdir/test/softhsm/fixture.sh" "$TK_TMP/fx" || tk_fail "fixture.sh is not idempotent"

[ "$(stat -c %a "$TK_DIR/pin")" = 600 ] || tk_fail "pin file mode is not 0600"
[ -s "$TK_DIR/pin" ] || tk_fail "empty pin"

export GNUTLS_PIN
GNUTLS_PIN=$(cat "$TK_DIR/pin")
p11tool --provider "$TK_MODULE" --login --list-all-privkeys "$TK_TOKEN_URI" \
	</dev/null >"$TK_TMP/privkeys" 2>&1 || tk_fail "cannot list keys"
for k in server-ec server-rsa alice-ec carol-rsa; do
	flags=$(tk_key_flags "$k" <"$TK_TMP/privkeys")
	case $flags in *CKA_SENSITIVE*) ;; *) tk_fail "$k: not sensitive: $flags" ;; esac
	case $flags in *CKA_NEVER_EXTRACTABLE*) ;; *) tk_fail "$k: not never-extractable: $flags" ;; esac
	case $flags in *"CKA_EXTRACTABLE;"*) tk_fail "$k: extractable: $flags" ;; esac
	# The certificate carries the token key's public half.
	want=$(openssl pkey -pubin -in "$TK_DIR/$k.pub" -outform DER | sha256sum)
	got=$(openssl x509 -in "$TK_DIR/$k.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)
	[ "$want" = "$got" ] || tk_fail "$k.pem does not match the token key"
done
unset GNUTLS_PIN

verify() { # CA CERT
	certtool --verify --load-ca-certificate "$TK_DIR/$1.pem" --infile "$TK_DIR/$2.pem" \
		</dev/null >/dev/null 2>&1
}
for c in server-ec server-rsa alice-ec carol-rsa peer-server peer-user; do
	verify ca "$c" || tk_fail "$c does not verify against ca"
	verify rogue-ca "$c" && tk_fail "$c verifies against rogue-ca"
done
for c in rogue-server rogue-user; do
	verify rogue-ca "$c" || tk_fail "$c does not verify against rogue-ca"
	verify ca "$c" && tk_fail "$c verifies against ca"
done
verify ca expired-server && tk_fail "expired-server verifies"

# Names the tests rely on.
san() { certtool -i --infile "$TK_DIR/$1.pem" </dev/null | grep -E "$2" >/dev/null; }
san server-ec 'DNSname: server\.example\.test$' || tk_fail "server-ec SAN"
san server-rsa 'DNSname: rsa\.example\.test$' || tk_fail "server-rsa SAN"
san alice-ec 'RFC822Name: alice@example\.test$' || tk_fail "alice-ec SAN"
san carol-rsa 'RFC822Name: carol@example\.test$' || tk_fail "carol-rsa SAN"
san peer-user 'RFC822Name: bob@example\.test$' || tk_fail "peer-user SAN"
san rogue-user 'RFC822Name: mallory@example\.test$' || tk_fail "rogue-user SAN"
san peer-server 'DNSname: peer\.example\.test$' || tk_fail "peer-server SAN"

grep -q "^\[identity server.example.test\]" "$TK_DIR/tlskeyd.conf" || tk_fail "tlskeyd.conf"
grep -q "^allow user:$(id -un) \* client,server" "$TK_DIR/acl.conf" || tk_fail "acl.conf"
tk_pass
