#!/bin/sh
# Run test/unit/test_p11 against throwaway SoftHSM tokens:
#   tlskeyd-test  built by test/softhsm/fixture.sh (keys server-ec, server-rsa, ...)
#   tlskeyd-aux   built here: key aux-ec and certificate object aux-cert; the
#                 wrong-PIN tests use this one so they cannot disturb the other.
# Exit 77 (skipped) when SoftHSM or p11tool is missing.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

for tool in softhsm2-util p11tool certtool; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test_p11.sh: $tool not found: skipped" >&2
		exit 77
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tk-p11.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

bash "$top_srcdir/test/softhsm/fixture.sh" "$TMP/fx"
. "$TMP/fx/env"

AUX_PIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
AUX_SO=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
# softhsm2-util only takes PINs on its command line; acceptable for a
# throwaway token in a test, never in product code.
softhsm2-util --init-token --free --label tlskeyd-aux \
	--pin "$AUX_PIN" --so-pin "$AUX_SO" >"$TMP/aux.log" 2>&1
GNUTLS_PIN=$AUX_PIN p11tool --provider "$TK_MODULE" --login \
	--generate-privkey=ecdsa --curve=secp256r1 --label aux-ec \
	"pkcs11:token=tlskeyd-aux" </dev/null >>"$TMP/aux.log" 2>&1
GNUTLS_PIN=$AUX_PIN p11tool --provider "$TK_MODULE" --login --write \
	--load-certificate "$TK_DIR/server-ec.pem" --label aux-cert \
	"pkcs11:token=tlskeyd-aux" </dev/null >>"$TMP/aux.log" 2>&1
# With a trailing newline, unlike fixture.sh's pin file: both must work.
(umask 077 && printf '%s\n' "$AUX_PIN" >"$TMP/aux-pin")

mkdir -m 0700 "$TMP/scratch"
TK_AUX_PIN_FILE=$TMP/aux-pin TK_TMP=$TMP/scratch \
	"$top_builddir/test/unit/test_p11"
