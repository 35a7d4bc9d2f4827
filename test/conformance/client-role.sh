#!/bin/bash
# The daemon in the TLS client role (tk-app client through tlskeyd) against
# real servers: what it negotiates, and what happens after the handshake.
#   1. Versions: gnutls-serv allowing only TLS 1.1, only TLS 1.3; openssl
#      s_server -tls1_2: that version is negotiated (audited) and data flows.
#   2. Suites: gnutls-serv allowing only ChaCha20-Poly1305, openssl s_server
#      allowing only ECDHE-ECDSA-AES256-GCM-SHA384: that cipher is used.
#   3. RSA key exchange is not offered in the client role either
#      (keyd/prio.c): gnutls-serv (RSA token key) allowing only TLS_RSA_*
#      answers handshake_failure, the app gets ECONNABORTED.
#   4. A fatal alert from the server after the handshake (tf-peer.py, a
#      tlslite-ng server; TLS 1.3 and 1.2): the app gets the data sent before
#      it, then ECONNRESET (a relay error, never a clean EOF).
#   5. A record whose authentication fails (tf-peer.py badrecord): the
#      server gets a bad_record_mac alert from the daemon (keyd/relay.c
#      relay_alert), the app the data before it, then ECONNRESET.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_need gnutls-serv openssl
tk_setup

printf 'hello from the app client\n' >"$TK_TMP/hello"
# certtool writes the EC scalar with a leading zero byte, which
# python-ecdsa refuses; openssl rewrites it (PKCS#8) for tf-peer.py.
(umask 077 && openssl pkey -in "$TK_FX/peer-server.key" -out "$TK_TMP/peer-server.p8") ||
	tk_fail "cannot convert peer-server.key"

# client NAME MYNAME SNI: tk-app client to 127.0.0.1:$TK_PORT with stdin
# $TK_TMP/hello; sets RC.
client() {
	cp "$TK_TMP/hello" "$TK_TMP/$1.in"
	RC=0
	tk_app "$1" client --connect "127.0.0.1:$TK_PORT" --myname "$2" --sni "$3" || RC=$?
}

# ---- 1. and 2.: versions and suites ---------------------------------------
# gnutls CASE PRIORITY AUDIT-ERE
gnutls() {
	tk_log "case $1: gnutls-serv --priority $2"
	tk_start_gnutls_serv "srv-$1" --priority "$2" \
		--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
	tk_mark
	client "c-$1" alice@example.test peer.example.test
	[ "$RC" = 0 ] || { cat "$TK_TMP/c-$1.err" "$TK_TMP/srv-$1.err" >&2; tk_fail "$1: tk-app exit $RC"; }
	tk_same "$TK_TMP/hello" "$TK_TMP/c-$1.out"
	tk_wait_log "event=established .*myname=alice@example\.test role=client .*detail=\"$3" ||
		tk_fail "$1: not negotiated as /$3/"
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
}
gnutls v11 NORMAL:-VERS-ALL:+VERS-TLS1.1 'TLS1\.1 '
gnutls v13 NORMAL:-VERS-ALL:+VERS-TLS1.3 'TLS1\.3 '
gnutls chacha NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305 'TLS1\.3 CHACHA20-POLY1305'
gnutls chacha12 NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305 'TLS1\.2 CHACHA20-POLY1305'

# openssl CASE AUDIT-ERE S_SERVER-ARGS...
openssl_case() {
	local name=$1 ere=$2
	shift 2
	tk_log "case $name: openssl s_server $*"
	tk_start_openssl_serv "srv-$name" -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key" "$@"
	tk_mark
	client "c-$name" alice@example.test peer.example.test
	[ "$RC" = 0 ] || { cat "$TK_TMP/c-$name.err" "$TK_TMP/srv-$name.err" >&2; tk_fail "$name: tk-app exit $RC"; }
	# s_server -rev answers each line reversed.
	[ "$(cat "$TK_TMP/c-$name.out")" = "$(rev <"$TK_TMP/hello")" ] || tk_fail "$name: wrong answer"
	tk_wait_log "event=established .*myname=alice@example\.test role=client .*detail=\"$ere" ||
		tk_fail "$name: not negotiated as /$ere/"
	tk_wait_pid "$TK_PEER_PID" 5 || true
}
openssl_case os12 'TLS1\.2 ' -tls1_2
openssl_case os-aes256 'TLS1\.2 AES-256-GCM' -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384

# ---- 3. RSA key exchange only on the server -------------------------------
tk_log "case 3: gnutls-serv with only RSA key exchange"
GNUTLS_PIN=$(cat "$TK_FX/pin")
export GNUTLS_PIN
tk_start_peer srv-rsakx gnutls-serv --echo --port PORT --provider "$TK_MODULE" -a \
	--priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA --x509certfile "$TK_FX/server-rsa.pem" \
	--x509keyfile "$TK_TOKEN_URI;object=server-rsa;type=private"
unset GNUTLS_PIN
cp "$TK_TMP/hello" "$TK_TMP/c-rsakx.in"
rc=0
tk_app c-rsakx client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni rsa.example.test \
	--expect-errno ECONNABORTED || rc=$?
[ "$rc" = 0 ] || { cat "$TK_TMP/c-rsakx.err" >&2; tk_fail "3: wanted ECONNABORTED, tk-app exit $rc"; }
tk_expect_grep "$TK_TMP/c-rsakx.err" 'peer sent fatal alert: Handshake failed'
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true
tk_daemon_alive

# ---- 4. and 5.: after the handshake ----------------------------------------
# peer MODE VERSION: tf-peer.py MODE VERSION, then tk-app client whose
# stdin stays open (a FIFO) so that the daemon sends no close_notify first.
peer() {
	local name=$1-$2 pf
	pf=$TK_TMP/$name.port
	tk_log "case $name: tf-peer $1, TLS $2"
	tk_bg env PYTHONPATH="$TK_TF_DIR/tlslite-ng" timeout 30 "$TK_TF_PY" "$top_srcdir/test/conformance/tf-peer.py" \
		"$1" "$2" "$TK_FX/peer-server.pem" "$TK_TMP/peer-server.p8" "$pf" \
		</dev/null >"$TK_TMP/$name.peer" 2>&1
	PEER_PID=$TK_BG_PID
	tk_wait_file "$pf" "$PEER_PID" 10 || { cat "$TK_TMP/$name.peer" >&2; tk_fail "tf-peer did not start"; }
	TK_PORT=$(cat "$pf")
	rm -f "$TK_TMP/$name.in"
	mkfifo "$TK_TMP/$name.in"
	exec 7<>"$TK_TMP/$name.in"
	cat "$TK_TMP/hello" >&7
	tk_mark
	RC=0
	tk_app "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test 7>&- || RC=$?
	exec 7>&-
	tk_wait_pid "$PEER_PID" 20 || { cat "$TK_TMP/$name.peer" >&2; tk_fail "$name: tf-peer failed"; }
	tk_expect_line "$TK_TMP/$name.peer" "GOT b'hello from the app client\\n'"
	tk_expect_line "$TK_TMP/$name.out" "reply from tf-peer"
	[ "$RC" = 3 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: app exit $RC, want a relay error (3)"; }
	tk_expect_grep "$TK_TMP/$name.err" '^RELAY-ERROR receive: .*\(ECONNRESET\)'
}
for v in 1.3 1.2; do
	peer alert "$v"
	tk_wait_log 'relay closed: .*myname=alice@example\.test .*TLS receive: A TLS fatal alert has been received' ||
		tk_fail "alert-$v: the daemon did not log the alert"
	peer badrecord "$v"
	tk_expect_line "$TK_TMP/badrecord-$v.peer" "ALERT bad_record_mac"
	tk_wait_log 'relay closed: .*myname=alice@example\.test .*TLS receive: ' ||
		tk_fail "badrecord-$v: the daemon did not log the failure"
done
tk_legit_check
tk_pass
