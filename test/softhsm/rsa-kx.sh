#!/bin/bash
# RSA key exchange is never offered (keyd/prio.c): the token key only signs.
#   1. gnutls-cli offering only TLS_RSA_* (TLS 1.2) gets a handshake_failure
#      alert, and the application gets EPROTO.
#   2. openssl s_client -tls1_2 -cipher AES128-SHA: the same alert.
#   3. The suites the daemon accepts, probed one by one with openssl
#      s_client through tlskey-tunnel (RSA key): every kRSA suite is refused
#      with handshake_failure, ECDHE-RSA suites are accepted.
#   4. An administrator's priority that asks for +RSA: the daemon warns at
#      start and still refuses RSA key exchange.
# Before the fix RSA key exchange was offered and failed with bad_record_mac.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli openssl
tk_setup

RSA12=NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA

# ---- 1. gnutls-cli, RSA key exchange only ---------------------------------
for id in rsa.example.test server.example.test; do
	tk_log "case 1: $id, gnutls-cli $RSA12"
	tk_app_server "gc-$id" --myname "$id" --flags no-request-peer-cert --expect-errno EPROTO
	rc=0
	timeout 20 gnutls-cli --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" --priority "$RSA12" \
		--sni-hostname "$id" --verify-hostname "$id" 127.0.0.1 </dev/null \
		>"$TK_TMP/gc-$id.cli" 2>&1 || rc=$?
	[ "$rc" != 0 ] || tk_fail "1: gnutls-cli with RSA key exchange only connected to $id"
	tk_expect_grep "$TK_TMP/gc-$id.cli" 'Received alert \[40\]: Handshake failed'
	rc=0
	tk_wait_pid "$TK_SERVER_PID" 20 || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/gc-$id.err" >&2; tk_fail "1: app server for $id exit $rc"; }
done
tk_legit_check 1

# ---- 2. openssl s_client, AES128-SHA (TLS_RSA_WITH_AES_128_CBC_SHA) -------
tk_log "case 2: openssl s_client -tls1_2 -cipher AES128-SHA"
tk_app_server os --myname rsa.example.test --flags no-request-peer-cert --expect-errno EPROTO
rc=0
timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" -tls1_2 -cipher AES128-SHA \
	-servername rsa.example.test </dev/null >"$TK_TMP/os.cli" 2>&1 || rc=$?
[ "$rc" != 0 ] || tk_fail "2: openssl s_client with AES128-SHA connected"
tk_expect_grep "$TK_TMP/os.cli" 'alert handshake failure|alert number 40'
rc=0
tk_wait_pid "$TK_SERVER_PID" 20 || rc=$?
[ "$rc" = 0 ] || { cat "$TK_TMP/os.err" >&2; tk_fail "2: app server exit $rc"; }
tk_legit_check 2

# ---- 3. probe every TLS 1.2 suite with RSA or ECDHE key exchange -----------
# probe CIPHER: print "accepted", "handshake_failure" or "other".
probe() {
	local out=$TK_TMP/probe.out
	timeout 20 openssl s_client -connect "127.0.0.1:$TT_PORT" -tls1_2 -cipher "$1" \
		-servername rsa.example.test </dev/null >"$out" 2>&1 || true
	if grep -E "^ *Cipher *: *$1\$" "$out" >/dev/null; then
		echo accepted
	elif grep -E 'alert handshake failure|alert number 40' "$out" >/dev/null; then
		echo handshake_failure
	else
		echo other
	fi
}
tk_probe_suites() {
	local c kx res n_rsa=0 n_ecdhe=0
	while read -r c kx; do
		res=$(probe "$c")
		echo "PROBE $c $kx $res" >&2
		case $kx in
		Kx=RSA)
			[ "$res" = handshake_failure ] || tk_fail "3: $c (RSA key exchange): $res"
			n_rsa=$((n_rsa + 1))
			;;
		Kx=ECDH)
			# Not every one is in GnuTLS's NORMAL (ARIA, Camellia are not).
			[ "$res" != other ] || { cat "$TK_TMP/probe.out" >&2; tk_fail "3: $c (ECDHE-RSA): $res"; }
			[ "$res" = accepted ] && n_ecdhe=$((n_ecdhe + 1))
			;;
		esac
	done < <(openssl ciphers -v -tls1_2 'kRSA:kECDHE+aRSA:!eNULL' | awk '$2 == "TLSv1.2" || $2 == "SSLv3" { print $1, $3 }')
	for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 \
		ECDHE-RSA-AES128-SHA; do
		[ "$(probe "$c")" = accepted ] || { cat "$TK_TMP/probe.out" >&2; tk_fail "3: $c refused"; }
	done
	[ "$n_rsa" -ge 8 ] && [ "$n_ecdhe" -ge 3 ] || tk_fail "3: too few suites ($n_rsa RSA refused, $n_ecdhe ECDHE accepted)"
	tk_log "probed: $n_rsa RSA key exchange suites, all refused with handshake_failure; $n_ecdhe ECDHE-RSA suites accepted"
}
# No cap per source: every probe comes from 127.0.0.1 and closes at once,
# and with --max-conns 4 the default share is 1 (test/lib/tk-tlsfuzzer.sh
# says why that resets a client that connects again that fast).
tk_tunnel probe --mode server --myname rsa.example.test --flags no-request-peer-cert \
	--max-conns 4 --max-conns-per-source 0 --exec /bin/cat
tk_log "case 3: suite probe"
tk_probe_suites
tk_tunnel_stop probe "$TT_PID"
tk_legit_check 3

# ---- 4. the administrator asks for +RSA -----------------------------------
tk_log "case 4: priority = NORMAL:+RSA"
tk_conf rsa priority=NORMAL:+RSA
tk_mark
tk_daemon_start "$TK_TMP/rsa.conf"
tk_wait_log "warning: priority 'NORMAL:\+RSA' asks for RSA key exchange: tlskeyd never offers it" ||
	tk_fail "4: no warning for +RSA"
tk_app_server adm --myname rsa.example.test --flags no-request-peer-cert --expect-errno EPROTO
rc=0
timeout 20 gnutls-cli --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" --priority "$RSA12" \
	--sni-hostname rsa.example.test --verify-hostname rsa.example.test 127.0.0.1 </dev/null \
	>"$TK_TMP/adm.cli" 2>&1 || rc=$?
[ "$rc" != 0 ] || tk_fail "4: RSA key exchange accepted with priority NORMAL:+RSA"
tk_expect_grep "$TK_TMP/adm.cli" 'Received alert \[40\]: Handshake failed'
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "4: app server failed"
tk_legit_check 4
tk_pass
