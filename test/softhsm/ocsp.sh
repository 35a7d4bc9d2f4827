#!/bin/bash
# OCSP (doc/config.md "OCSP"): `openssl ocsp` is the responder (an index,
# a delegated OCSP signing certificate of the fixture CA).
#
# Server role: the response of an identity (ocsp-response, fetched by
# tlskeyctl ocsp-fetch from the certificate's AIA responder) is stapled:
# openssl s_client -status sees "Cert Status: good" (TLS 1.3 and 1.2); a
# revoked status is stapled as it is and logged; an expired response, one
# about another certificate and one signed by another CA are not stapled
# and are logged; a reload re-reads the file; a must-staple certificate
# without a current response is refused before any handshake (EKEYEXPIRED).
#
# Client role: the app as client against openssl s_server -status_file:
# peer-ocsp = if-stapled (default), require and off; good, revoked,
# missing and foreign staples; a must-staple server certificate without a
# staple; the per-identity setting.
#
# openssl ocsp binds every interface: the whole test runs in a network
# namespace of its own, where only lo exists.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need strace openssl ip unshare
tk_netns_enter "$@"
PY=/usr/bin/python3
"$PY" -c 'import cryptography.x509.ocsp' 2>/dev/null ||
	tk_fail "python3-cryptography is missing (tools/install-deps.sh --test installs it)"
tk_setup --no-daemon
TLSKEYCTL=${TLSKEYCTL:-$top_builddir/tlskeyctl}
[ -x "$TLSKEYCTL" ] || tk_fail "tlskeyctl not built"
O=$TK_TMP/ocsp
mkdir "$O"

# --- PKI: a delegated responder, a must-staple server certificate -------
ocsp_port=$(tk_free_port) || tk_fail "no free port"
url=http://127.0.0.1:$ocsp_port/
tk_ocsp_pki "$O"
aia="ocsp_uri = $url"
tk_check_cert "$O/server.pem" "$TK_FX/server-ec.pub" 30 "cn = server.example.test
dns_name = server.example.test
signing_key
tls_www_server
$aia"
tk_check_cert "$O/rsa.pem" "$TK_FX/server-rsa.pub" 30 "cn = rsa.example.test
dns_name = rsa.example.test
signing_key
encryption_key
tls_www_server
$aia"
tk_check_cert "$O/staple.pem" "$TK_FX/server-ec.pub" 30 "cn = staple.example.test
dns_name = staple.example.test
signing_key
tls_www_server
tls_feature = 5
$aia"
# Remote servers (file keys) for the client role; one must-staple.
tk_check_cert "$O/peer-ms.pem" "$O/peer-server.pub" 30 "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
tls_feature = 5
$aia"
openssl x509 -in "$O/staple.pem" -noout -text | grep -A1 'TLS Feature' | grep -q status_request ||
	tk_fail "staple.pem is not must-staple"

# The responder's index: R(evoked) for rsa.pem and peer-server2.
{
	printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=a\n' "$(tk_ocsp_serial "$O/server.pem")" \
		"$(tk_ocsp_serial "$O/staple.pem")" "$(tk_ocsp_serial "$TK_FX/peer-server.pem")" \
		"$(tk_ocsp_serial "$O/peer-ms.pem")"
	printf 'R\t301231235959Z\t261201000000Z\t%s\tunknown\t/CN=b\n' "$(tk_ocsp_serial "$O/rsa.pem")" \
		"$(tk_ocsp_serial "$TK_FX/peer-server2.pem")"
} >"$O/index.txt"
echo 'unique_subject = no' >"$O/index.txt.attr"
# The port is in the certificates already: started here, not by tk_start_peer.
tk_ocsp_responder_start "$O" "$ocsp_port"

# fetch CERT OUT: the response for CERT (openssl as the OCSP client).
fetch() {
	openssl ocsp -issuer "$TK_FX/ca.pem" -cert "$1" -url "$url" -respout "$2" \
		-CAfile "$TK_FX/ca.pem" >"$2.log" 2>&1 || { cat "$2.log" >&2; tk_fail "fetch $1"; }
}
fetch "$TK_FX/peer-server.pem" "$O/peer-good.der"
fetch "$TK_FX/peer-server2.pem" "$O/peer-revoked.der"
# An expired response (nextUpdate yesterday), correctly signed by the
# responder: openssl ocsp cannot date one in the past.
"$PY" - "$O/server.pem" "$TK_FX/ca.pem" "$O/responder.pem" "$O/responder.key" \
	"$O/expired.der" <<'EOF' || tk_fail "cannot make the expired response"
import sys, datetime
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives import hashes, serialization
load = lambda p: x509.load_pem_x509_certificate(open(p, 'rb').read())
cert, issuer, rcert = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
rkey = serialization.load_pem_private_key(open(sys.argv[4], 'rb').read(), None)
now = datetime.datetime.utcnow()
b = ocsp.OCSPResponseBuilder().add_response(
    cert=cert, issuer=issuer, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
    this_update=now - datetime.timedelta(days=2), next_update=now - datetime.timedelta(days=1),
    revocation_time=None, revocation_reason=None)
b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, rcert).certificates([rcert])
open(sys.argv[5], 'wb').write(b.sign(rkey, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
EOF
# Signed by a CA that did not issue the certificate.
openssl ocsp -index "$O/index.txt" -rsigner "$TK_FX/rogue-ca.pem" -rkey "$TK_FX/rogue-ca.key" \
	-CA "$TK_FX/ca.pem" -issuer "$TK_FX/ca.pem" -cert "$O/server.pem" -ndays 1 \
	-respout "$O/rogue.der" >"$O/rogue.log" 2>&1 || { cat "$O/rogue.log" >&2; tk_fail "rogue"; }

# --- daemon configuration ---------------------------------------------------
# conf NAME SERVER-RESPONSE STAPLE-RESPONSE [GLOBAL-SETTING...]: the fixture's
# configuration with the AIA certificates and their response files.
conf() {
	local name=$1 srv=$2 ms=$3
	shift 3
	tk_conf "$name" "$@" -- "[identity staple.example.test]" \
		"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $O/staple.pem" \
		"pin-file = $TK_FX/pin" ${ms:+"ocsp-response = $ms"}
	sed -i -e "s#^cert = $TK_FX/server-ec.pem\$#cert = $O/server.pem${srv:+\nocsp-response = $srv}#" \
		-e "s#^cert = $TK_FX/server-rsa.pem\$#cert = $O/rsa.pem\nocsp-response = $O/rsa.der#" \
		"$TK_TMP/$name.conf"
}

# status NAME MYNAME [S_CLIENT-ARGS...]: the app serves MYNAME once;
# openssl s_client -status connects; its output in NAME.out.
status() {
	local name=$1 myname=$2 rc=0
	shift 2
	tk_app_server "$name" --myname "$myname" --echo --flags no-request-peer-cert
	echo "hello $name" >"$TK_TMP/$name-c.in"
	tk_fifo_client "$name-c" "$TK_TMP/$name-c.in" 1 openssl s_client -status -no_ign_eof \
		-connect "127.0.0.1:$TK_PORT" -servername "$myname" -CAfile "$TK_FX/ca.pem" \
		-verify_return_error "$@" || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/$name-c.out" "$TK_TMP/$name-c.err" >&2; tk_fail "$name: s_client exit $rc"; }
	tk_wait_ok "$TK_SERVER_PID" 20 "$name: tk-app server" "$TK_TMP/$name.err"
}

# --- server role ------------------------------------------------------------
tk_log "tlskeyctl ocsp-fetch: the responders named by the certificates"
conf fetch "$O/server.der" "$O/staple.der"
# Each response reaches the disk before its name moves (fsync, then
# rename): after a crash a staple file holds the old answer or the new.
# (LeakSanitizer cannot run under ptrace: off for this one run.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=fsync,rename,renameat,renameat2 -o "$O/fetch.strace" \
	"$TLSKEYCTL" -c "$TK_TMP/fetch.conf" ocsp-fetch >"$O/fetch.out" 2>&1 ||
	{ cat "$O/fetch.out" >&2; tk_fail "ocsp-fetch failed"; }
cat "$O/fetch.out" >&2
awk '/fsync\(/ { f++ } /rename(at2?)?\(.*staple\.der/ { if (f == 0) bad = 1; r++ }
	END { exit (bad || r == 0) }' "$O/fetch.strace" ||
	{ cat "$O/fetch.strace" >&2; tk_fail "ocsp-fetch renamed staple.der without an fsync before"; }
for f in server staple rsa; do
	[ -s "$O/$f.der" ] || tk_fail "ocsp-fetch wrote no $f.der"
done
openssl ocsp -respin "$O/rsa.der" -resp_text -noverify 2>/dev/null | grep -q 'Cert Status: revoked' ||
	tk_fail "rsa.der does not say revoked"
grep -E 'rsa.example.test.*revoked' "$O/fetch.out" >/dev/null || tk_fail "ocsp-fetch did not say revoked"

tk_log "tlskeyctl keys shows each response as the daemon will judge it"
"$TLSKEYCTL" -c "$TK_TMP/fetch.conf" keys >"$O/keys.out" 2>&1 || true
tk_expect_grep "$O/keys.out" "ocsp: +good, next update .* \\($O/server.der\\)"
tk_expect_grep "$O/keys.out" "ocsp: +REVOKED, next update .* \\($O/rsa.der\\)"
tk_daemon_start "$TK_TMP/fetch.conf"
tk_mark
for ver in tls1_3 tls1_2; do
	status "good-$ver" server.example.test "-$ver"
	tk_expect_grep "$TK_TMP/good-$ver-c.out" 'Cert Status: good'
done
tk_log "a revoked certificate: stapled as it is, logged at load"
grep -E 'identity rsa.example.test: the OCSP response says the certificate is REVOKED' \
	"$TK_TMP/tlskeyd.log" >/dev/null || tk_fail "revoked response not logged"
status revoked rsa.example.test -verify_return_error -verify_hostname rsa.example.test
tk_expect_grep "$TK_TMP/revoked-c.out" 'Cert Status: revoked'
status ms-good staple.example.test
tk_expect_grep "$TK_TMP/ms-good-c.out" 'Cert Status: good'

# Bad responses: loaded (the generation is fine), never stapled, logged.
for bad in expired rogue peer-good; do
	tk_log "server role: $bad response is not stapled"
	case $bad in
	expired) why='the response expired' ;;
	rogue) why='the response is not signed by the certificate.s issuer' ;;
	peer-good) why='the response is about another certificate' ;;
	esac
	conf "bad-$bad" "$O/$bad.der" "$O/staple.der"
	tk_daemon_start "$TK_TMP/bad-$bad.conf"
	grep -E "identity server.example.test: ocsp-response .*$bad.der not stapled: $why" \
		"$TK_TMP/tlskeyd.log" >/dev/null || { tail -5 "$TK_TMP/tlskeyd.log" >&2; tk_fail "$bad: not logged"; }
	status "bad-$bad" server.example.test
	tk_expect_grep "$TK_TMP/bad-$bad-c.out" 'OCSP response: no response sent'
done

tk_log "tlskeyd -t counts them as warnings, not errors"
tk_check_t bad-t "$TK_TMP/bad-rogue.conf" 0 "a rogue response"
# The rogue response, and rsa.example.test's revoked one.
tk_expect_grep "$TK_TMP/bad-t.t" 'configuration OK \(5 identities, 5 usable, 0 errors, 2 warnings\)'
"$TLSKEYCTL" -c "$TK_TMP/bad-rogue.conf" keys >"$O/keys-rogue.out" 2>&1 || true
tk_expect_grep "$O/keys-rogue.out" "ocsp: +not stapled: the response is not signed by the certificate's issuer"

tk_log "a reload re-reads the response file"
cp "$O/expired.der" "$O/live.der"
conf live "$O/live.der" "$O/staple.der"
tk_daemon_start "$TK_TMP/live.conf"
status live-before server.example.test
tk_expect_grep "$TK_TMP/live-before-c.out" 'OCSP response: no response sent'
cp "$O/server.der" "$O/live.der"
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_wait_log 'reload|generation' 10 || tk_fail "no reload"
status live-after server.example.test
tk_expect_grep "$TK_TMP/live-after-c.out" 'Cert Status: good'

tk_log "must-staple without a current response: refused before the handshake"
for ms in missing expired; do
	case $ms in missing) f= ;; expired) f=$O/expired.der ;; esac
	conf "ms-$ms" "$O/server.der" "$f"
	tk_daemon_start "$TK_TMP/ms-$ms.conf"
	grep -E 'identity staple.example.test: must-staple certificate without a valid ocsp-response' \
		"$TK_TMP/tlskeyd.log" >/dev/null || tk_fail "ms-$ms: not logged"
	tk_mark
	tk_app_server_bare "ms-$ms" --myname staple.example.test --expect-errno EKEYEXPIRED
	tk_expect_grep "$TK_TMP/ms-$ms.err" 'must-staple certificate and no current OCSP response'
	tk_wait_log 'event=handshake-failed.*myname=staple.example.test.*EKEYEXPIRED' ||
		tk_fail "ms-$ms: no audit record"
	# The other identities are served as before.
	status "ms-$ms-other" server.example.test
	tk_expect_grep "$TK_TMP/ms-$ms-other-c.out" 'Cert Status: good'
done

tk_log "a response file others may write is not stapled"
cp "$O/server.der" "$O/loose.der"
chmod 0664 "$O/loose.der"
conf loose "$O/loose.der" "$O/staple.der"
tk_daemon_start "$TK_TMP/loose.conf"
grep -E 'identity server.example.test: ocsp-response .*loose.der not stapled: .*writable by group or others' \
	"$TK_TMP/tlskeyd.log" >/dev/null || tk_fail "loose: not logged"
status loose server.example.test
tk_expect_grep "$TK_TMP/loose-c.out" 'OCSP response: no response sent'
tk_daemon_stop

# --- hostile responders -------------------------------------------------------
# hostile.pem names a responder on another port; ocsp-fetch must give up
# within --timeout, refuse what is not a response, and keep the old file.
h_port=$(tk_free_port) || tk_fail "no free port"
tk_check_cert "$O/hostile.pem" "$TK_FX/server-ec.pub" 30 "cn = hostile.example.test
dns_name = hostile.example.test
signing_key
tls_www_server
ocsp_uri = http://127.0.0.1:$h_port/ocsp"
tk_conf hostile -- "[identity hostile.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $O/hostile.pem" \
	"pin-file = $TK_FX/pin" "ocsp-response = $O/hostile.der"
echo "old contents" >"$O/hostile.der"
for h in silent huge garbage notfound; do
	tk_log "hostile responder: $h"
	if [ "$h" = silent ]; then
		# Accepts and reads, never answers.
		tk_bg "$TK_APP" sink --listen "127.0.0.1:$h_port" --timeout 30 >"$O/h-$h.out" 2>&1
	else
		tk_bg "$PY" - "$h_port" "$h" >"$O/h-$h.out" 2>&1 <<'PYEOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.recv(65536)
body = {"huge": b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * (200 * 1024),
        "garbage": b"HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\nnot der",
        "notfound": b"HTTP/1.0 404 Not Found\r\n\r\n"}[sys.argv[2]]
try:
    c.sendall(body)
except OSError:
    pass
c.close()
PYEOF
	fi
	hpid=$TK_BG_PID
	tk_wait_listen "$h_port" "$hpid" || tk_fail "$h: hostile responder did not start"
	start=$(date +%s)
	rc=0
	timeout 30 "$TLSKEYCTL" -c "$TK_TMP/hostile.conf" ocsp-fetch --timeout 2 hostile.example.test \
		>"$O/h-$h.fetch" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	cat "$O/h-$h.fetch" >&2
	[ "$rc" = 1 ] || tk_fail "$h: ocsp-fetch exit $rc, wanted 1"
	[ "$took" -le 6 ] || tk_fail "$h: ocsp-fetch took ${took}s with --timeout 2"
	case $h in
	silent) why='Connection timed out' ;;
	huge) why='answer too large' ;;
	garbage) why='not a DER OCSP response' ;;
	notfound) why='not an HTTP 200 answer' ;;
	esac
	tk_expect_grep "$O/h-$h.fetch" "hostile.example.test: .*$why.*the file is left as it was"
	[ "$(cat "$O/hostile.der")" = "old contents" ] || tk_fail "$h: the file was changed"
	kill "$hpid" 2>/dev/null || true
	tk_wait_pid "$hpid" 5 || true
done

# --- client role ------------------------------------------------------------
# client NAME MODE ERRNO|ok S_SERVER-ARGS...: alice as client with
# peer-ocsp = MODE against openssl s_server.
client() {
	local name=$1 mode=$2 want=$3
	shift 3
	[ -e "$TK_TMP/cl-$mode.conf" ] || {
		tk_conf "cl-$mode" "peer-ocsp=$mode"
		sed -i "s#^cert = $TK_FX/carol-rsa.pem\$#&\npeer-ocsp = require#" "$TK_TMP/cl-$mode.conf"
	}
	[ "${TK_CL_MODE:-}" = "$mode" ] || tk_daemon_start "$TK_TMP/cl-$mode.conf"
	TK_CL_MODE=$mode
	tk_start_openssl_serv "$name-srv" "$@"
	tk_mark
	if [ "$want" = ok ]; then
		tk_ok "$name" client --connect "127.0.0.1:$TK_PORT" --myname "${TK_CL_ME:-alice@example.test}" \
			--sni peer.example.test
	else
		tk_err "$name" "$want" client --connect "127.0.0.1:$TK_PORT" \
			--myname "${TK_CL_ME:-alice@example.test}" --sni peer.example.test
	fi
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
}
good=(-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key")
revoked=(-cert "$TK_FX/peer-server2.pem" -key "$TK_FX/peer-server2.key")
ms=(-cert "$O/peer-ms.pem" -key "$TK_FX/peer-server.key")
for mode in if-stapled require off; do
	tk_log "client role, peer-ocsp = $mode"
	client "$mode-good" "$mode" ok "${good[@]}" -status_file "$O/peer-good.der"
	case $mode in
	require) client "$mode-none" "$mode" EKEYREJECTED "${good[@]}"
		tk_expect_grep "$TK_TMP/$mode-none.err" 'ocsp-missing'
		tk_wait_log 'event=handshake-failed.*ocsp-missing' || tk_fail "$mode-none: no audit" ;;
	*) client "$mode-none" "$mode" ok "${good[@]}" ;;
	esac
	case $mode in
	off) # A valid response that says revoked is honoured even so.
		client "$mode-revoked" "$mode" EKEYREJECTED "${revoked[@]}" -status_file "$O/peer-revoked.der"
		tk_expect_grep "$TK_TMP/$mode-revoked.err" 'rejected: revoked'
		client "$mode-ms" "$mode" ok "${ms[@]}"
		client "$mode-foreign" "$mode" ok "${good[@]}" -status_file "$O/peer-revoked.der" ;;
	*) client "$mode-revoked" "$mode" EKEYREJECTED "${revoked[@]}" -status_file "$O/peer-revoked.der"
		tk_expect_grep "$TK_TMP/$mode-revoked.err" 'rejected: revoked'
		tk_wait_log 'event=handshake-failed.*myname=alice@example.test.*result=EKEYREJECTED.*revoked' ||
			tk_fail "$mode-revoked: no audit record"
		client "$mode-ms" "$mode" EKEYREJECTED "${ms[@]}"
		tk_expect_grep "$TK_TMP/$mode-ms.err" 'ocsp-missing'
		# A response about another certificate proves nothing.
		client "$mode-foreign" "$mode" EKEYREJECTED "${good[@]}" -status_file "$O/peer-revoked.der" ;;
	esac
done
tk_log "per identity: carol has peer-ocsp = require, alice the global if-stapled"
TK_CL_ME=carol@example.test client carol-none if-stapled EKEYREJECTED "${good[@]}"
tk_expect_grep "$TK_TMP/carol-none.err" 'ocsp-missing'
TK_CL_ME=carol@example.test client carol-good if-stapled ok "${good[@]}" -status_file "$O/peer-good.der"

tk_log "tlskeyd -t names a bad peer-ocsp value"
tk_conf badmode "peer-ocsp=sometimes"
tk_check_t badmode "$TK_TMP/badmode.conf" 1 "bad peer-ocsp"
tk_expect_grep "$TK_TMP/badmode.t" "'peer-ocsp' must be off, if-stapled or require"
kill "$RESPONDER_PID" 2>/dev/null || true
tk_daemon_alive
tk_pass
