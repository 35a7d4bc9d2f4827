#!/bin/bash
# fixture.sh DIR: build a throwaway SoftHSM token, keys, a test PKI and a
# tlskeyd configuration in DIR (an empty or missing directory).
#
# Result (all paths absolute):
#   DIR/env            sourceable: SOFTHSM2_CONF, TK_MODULE, TK_TOKEN_URI, TK_DIR
#   DIR/softhsm2.conf  DIR/tokens/   token "tlskeyd-test"
#   DIR/pin DIR/so-pin random PINs, mode 0600, no trailing newline
#   token keys (non-extractable, sensitive): server-ec, server-rsa, alice-ec, carol-rsa
#   DIR/ca.{pem,key}   test CA (file key); DIR/<token key>.pem and -chain.pem
#   DIR/peer-server.{pem,key} DIR/peer-user.{pem,key} DIR/expired-server.{pem,key}
#   DIR/rogue-ca.{pem,key} DIR/rogue-server.{pem,key} DIR/rogue-user.{pem,key}
#   DIR/peer-server2.{pem,key} (another key and certificate for peer.example.test)
#   DIR/expired-user.{pem,key} (eve@example.test, issued by the CA, expired in 2020)
#   DIR/tlskeyd.conf DIR/acl.conf
#
# Re-running on a finished DIR is a no-op.  PINs are passed to the one-shot
# tools through GNUTLS_PIN / GNUTLS_SO_PIN, never on a command line.
set -euo pipefail

die() { echo "fixture.sh: $*" >&2; exit 1; }
# shellcheck source=../lib/tk-pki.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tk-pki.sh"

[ $# -eq 1 ] || die "usage: fixture.sh DIR"
mkdir -p -- "$1"
DIR=$(cd -- "$1" && pwd -P)

if [ -e "$DIR/.fixture-ok" ]; then
	exit 0
fi
if [ -n "$(ls -A -- "$DIR")" ]; then
	die "$DIR is not empty and holds no finished fixture"
fi

for tool in p11tool certtool od; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# libsofthsm2.so moved between releases and distributions; TK_MODULE wins.
find_module() {
	local c multiarch=""
	if [ -n "${TK_MODULE:-}" ]; then
		[ -r "$TK_MODULE" ] || die "TK_MODULE=$TK_MODULE is not readable"
		echo "$TK_MODULE"
		return
	fi
	if command -v dpkg-architecture >/dev/null 2>&1; then
		multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
	elif command -v gcc >/dev/null 2>&1; then
		multiarch=$(gcc -print-multiarch 2>/dev/null || true)
	fi
	for c in \
		/usr/lib/softhsm/libsofthsm2.so \
		${multiarch:+/usr/lib/$multiarch/softhsm/libsofthsm2.so} \
		/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib64/pkcs11/libsofthsm2.so \
		/usr/lib64/softhsm/libsofthsm2.so \
		/usr/lib/pkcs11/libsofthsm2.so \
		/usr/local/lib/softhsm/libsofthsm2.so; do
		if [ -r "$c" ]; then
			echo "$c"
			return
		fi
	done
	die "libsofthsm2.so not found (set TK_MODULE)"
}

LOG=$DIR/fixture.log
: >"$LOG"
# run CMD...: quiet on success, the tool's output on failure.
run() {
	if ! "$@" </dev/null >>"$LOG" 2>&1; then
		echo "fixture.sh: failed: $*" >&2
		tail -n 30 "$LOG" >&2
		exit 1
	fi
}

randpin() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

MODULE=$(find_module)
TOKEN_LABEL=tlskeyd-test
TOKEN_URI="pkcs11:token=$TOKEN_LABEL"

mkdir -m 0700 "$DIR/tokens"
cat >"$DIR/softhsm2.conf" <<EOF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$DIR/softhsm2.conf

{
	printf 'export SOFTHSM2_CONF=%q\n' "$DIR/softhsm2.conf"
	printf 'export TK_MODULE=%q\n' "$MODULE"
	printf 'export TK_TOKEN_URI=%q\n' "$TOKEN_URI"
	printf 'export TK_DIR=%q\n' "$DIR"
} >"$DIR/env"

(umask 077 && randpin >"$DIR/pin" && randpin >"$DIR/so-pin")
PIN=$(cat "$DIR/pin")
SO_PIN=$(cat "$DIR/so-pin")

# --- token ---------------------------------------------------------------
# GnuTLS does not list uninitialised tokens, but --initialize finds the
# fresh SoftHSM slot by model.  A new tokendir holds exactly one such slot.
GNUTLS_SO_PIN=$SO_PIN run p11tool --provider "$MODULE" --initialize \
	--label "$TOKEN_LABEL" "pkcs11:model=SoftHSM%20v2"
GNUTLS_SO_PIN=$SO_PIN GNUTLS_PIN=$PIN run p11tool --provider "$MODULE" \
	--initialize-pin "$TOKEN_URI"

# p11tool generates keys CKA_SENSITIVE and not CKA_EXTRACTABLE by default;
# checked below rather than trusted.
gen_token_key() { # LABEL ecdsa|rsa
	local args
	case $2 in
	ecdsa) args=(--generate-privkey=ecdsa --curve=secp256r1) ;;
	rsa) args=(--generate-privkey=rsa --bits=2048) ;;
	esac
	GNUTLS_PIN=$PIN run p11tool --provider "$MODULE" --login "${args[@]}" \
		--label "$1" --outfile "$DIR/$1.pub" "$TOKEN_URI"
}
gen_token_key server-ec ecdsa
gen_token_key server-rsa rsa
gen_token_key alice-ec ecdsa
gen_token_key carol-rsa rsa

listing=$(GNUTLS_PIN=$PIN p11tool --provider "$MODULE" --login \
	--list-all-privkeys "$TOKEN_URI" </dev/null 2>>"$LOG") || die "cannot list private keys"
for label in server-ec server-rsa alice-ec carol-rsa; do
	flags=$(printf '%s\n' "$listing" | tk_key_flags "$label")
	if why=$(tk_key_flags_bad "$flags"); then
		die "key $label on the token: $why"
	fi
done

# --- file-key PKI ----------------------------------------------------------
file_key() { # PATH
	(umask 077 && run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--no-text --outfile "$1")
}

serial=1
# issue NAME TEMPLATE-BODY CA-PREFIX [PUBKEY-ARGS...]
issue() {
	local name=$1 body=$2 ca=$3
	shift 3
	serial=$((serial + 1))
	printf 'serial = %d\n%s\n' "$serial" "$body" >"$DIR/$name.tmpl"
	run tk_cert_issue "$DIR/$name.pem" "$DIR/$name.tmpl" "$DIR/$ca.pem" "$DIR/$ca.key" "$@"
	cat "$DIR/$name.pem" "$DIR/$ca.pem" >"$DIR/$name-chain.pem"
}

make_ca() { # NAME CN
	file_key "$DIR/$1.key"
	cat >"$DIR/$1.tmpl" <<EOF
cn = "$2"
serial = 1
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
EOF
	run certtool --generate-self-signed --load-privkey "$DIR/$1.key" \
		--template "$DIR/$1.tmpl" --no-text --outfile "$DIR/$1.pem"
}

SERVER_USAGE='tls_www_server
tls_www_client
expiration_days = 365'
# No tls_www_server here: certtool drops the email SAN when it is set.
CLIENT_USAGE='tls_www_client
signing_key
expiration_days = 365'

make_ca ca "tlskeyd test CA"
make_ca rogue-ca "rogue test CA"

issue server-ec "cn = server.example.test
dns_name = server.example.test
signing_key
$SERVER_USAGE" ca --load-pubkey "$DIR/server-ec.pub"
issue server-rsa "cn = rsa.example.test
dns_name = rsa.example.test
signing_key
encryption_key
$SERVER_USAGE" ca --load-pubkey "$DIR/server-rsa.pub"
issue alice-ec "cn = alice@example.test
email = alice@example.test
$CLIENT_USAGE" ca --load-pubkey "$DIR/alice-ec.pub"
issue carol-rsa "cn = carol@example.test
email = carol@example.test
$CLIENT_USAGE" ca --load-pubkey "$DIR/carol-rsa.pub"

peer() { # NAME TEMPLATE-BODY CA
	file_key "$DIR/$1.key"
	issue "$1" "$2" "$3" --load-privkey "$DIR/$1.key"
}
server_peer() { # NAME CA
	peer "$1" "cn = peer.example.test
dns_name = peer.example.test
signing_key
$SERVER_USAGE" "$2"
}
user_peer() { # NAME USER CA
	peer "$1" "cn = $2
email = $2
$CLIENT_USAGE" "$3"
}
server_peer peer-server ca
user_peer peer-user bob@example.test ca
server_peer rogue-server rogue-ca
user_peer rogue-user mallory@example.test rogue-ca
peer expired-server "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
activation_date = \"2020-01-01 00:00:00 UTC\"
expiration_date = \"2020-12-31 23:59:59 UTC\"" ca
server_peer peer-server2 ca
peer expired-user "cn = eve@example.test
email = eve@example.test
tls_www_client
signing_key
activation_date = \"2020-01-01 00:00:00 UTC\"
expiration_date = \"2020-12-31 23:59:59 UTC\"" ca

# Every certificate must verify against its CA (except the expired one).
for c in server-ec server-rsa alice-ec carol-rsa peer-server peer-user peer-server2; do
	run certtool --verify --load-ca-certificate "$DIR/ca.pem" --infile "$DIR/$c.pem"
done
for c in rogue-server rogue-user; do
	run certtool --verify --load-ca-certificate "$DIR/rogue-ca.pem" --infile "$DIR/$c.pem"
done
for c in expired-server expired-user; do
	if certtool --verify --load-ca-certificate "$DIR/ca.pem" \
		--infile "$DIR/$c.pem" </dev/null >>"$LOG" 2>&1; then
		die "$c.pem unexpectedly verifies"
	fi
done

# --- daemon configuration --------------------------------------------------
identity() { # MYNAME KEYLABEL
	cat <<EOF

[identity $1]
key = $TOKEN_URI;object=$2;type=private
cert = $DIR/$2.pem
pin-file = $DIR/pin
EOF
}
{
	cat <<EOF
# tlskeyd test configuration written by test/softhsm/fixture.sh
socket = $DIR/tlskeyd.sock
acl = $DIR/acl.conf
pkcs11-module = $MODULE
ca-file = $DIR/ca.pem
workers = 2
max-handshakes = 64
handshake-timeout = 10000
EOF
	identity server.example.test server-ec
	identity rsa.example.test server-rsa
	identity alice@example.test alice-ec
	identity carol@example.test carol-rsa
} >"$DIR/tlskeyd.conf"

# The tests run as whoever runs "make check"; root in CI containers.
cat >"$DIR/acl.conf" <<EOF
# tlskeyd test ACL written by test/softhsm/fixture.sh:
# the user running the tests may use every identity in both roles.
allow user:$(id -un) * client,server
EOF

rm -f "$DIR"/*.tmpl
: >"$DIR/.fixture-ok"
