# Part of test/lib/tk.sh: revocation tests (CRLs, OCSP) and the live
# sessions they end (reevaluate.sh, reeval-inflight.sh, crl-storm.sh,
# ocsp.sh, ocsp-online.sh).

# tk_crl_make OUT [CERT]: a fresh CRL of the fixture CA (nextUpdate in 30
# days) revoking CERT, made aside in $TK_TMP and renamed into place, so
# that a watched file or crl-dir only ever holds a whole CRL.
tk_crl_make() {
	local w=$TK_TMP/crl-work
	printf 'crl_number = %d\ncrl_next_update = 30\n' "$RANDOM" >"$w.tmpl"
	certtool --generate-crl --load-ca-privkey "$TK_FX/ca.key" --load-ca-certificate "$TK_FX/ca.pem" \
		${2:+--load-certificate "$2"} --template "$w.tmpl" --no-text --outfile "$w.crl" \
		>"$w.log" 2>&1 || { cat "$w.log" >&2; tk_fail "cannot make $1"; }
	mv "$w.crl" "$1"
}

# tk_live_open NAME CERT KEY: app server NAME (echo, myname
# server.example.test) <- gnutls-cli presenting CERT, its stdin a FIFO
# held open on the fd in FD_<NAME>; sets APP_<NAME> and CLI_<NAME> (pids)
# and relays one line.
tk_live_open() {
	local n=$1 fd
	tk_app_server "$n" --myname server.example.test --echo
	eval "APP_$n=\$TK_SERVER_PID"
	mkfifo "$TK_TMP/$n.fifo"
	exec {fd}<>"$TK_TMP/$n.fifo"
	eval "FD_$n=\$fd"
	tk_bg timeout 60 gnutls-cli --logfile="$TK_TMP/$n.cli.log" --port "$TK_PORT" \
		--x509cafile "$TK_FX/ca.pem" --x509certfile "$2" --x509keyfile "$3" \
		--verify-hostname server.example.test --sni-hostname server.example.test 127.0.0.1 \
		<"$TK_TMP/$n.fifo" >"$TK_TMP/$n.out" 2>"$TK_TMP/$n.cerr" {fd}>&-
	eval "CLI_$n=\$TK_BG_PID"
	tk_live_relays "$n" "first line of $n"
}

# tk_live_relays NAME LINE: LINE goes through session NAME and comes back
# (within 10 s), or the test fails.
tk_live_relays() {
	local fd
	eval "fd=\$FD_$1"
	echo "$2" >&"$fd"
	tk_wait_line "$TK_TMP/$1.out" "^$2\$" 10 ||
		{ cat "$TK_TMP/$1.err" "$TK_TMP/$1.cli.log" >&2; tk_fail "session $1 did not relay '$2'"; }
}

# tk_live_close NAME: gnutls-cli of session NAME reads EOF on its stdin.
tk_live_close() {
	local fd
	eval "fd=\$FD_$1"
	exec {fd}>&-
}

# tk_ocsp_serial CERT: its serial number in hex, as an openssl ocsp index
# wants it.
tk_ocsp_serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# tk_ocsp_pki DIR: a delegated OCSP responder of the fixture CA
# (DIR/responder.key, .pub, .pem) and the public key of the fixture's
# peer-server key (DIR/peer-server.pub) for the peers' certificates.
tk_ocsp_pki() {
	local k
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
		--outfile "$1/responder.key" 2>/dev/null || tk_fail "responder key"
	for k in "$1/responder.key" "$TK_FX/peer-server.key"; do
		certtool --load-privkey "$k" --pubkey-info --outfile "$1/$(basename "$k" .key).pub" \
			2>/dev/null || tk_fail "public key of $k"
	done
	tk_check_cert "$1/responder.pem" "$1/responder.pub" 30 'cn = "test OCSP responder"
ocsp_signing_key
signing_key'
}

# tk_ocsp_responder_start DIR PORT: openssl ocsp on 127.0.0.1:PORT (in the
# test's own network namespace: it binds every interface) answering from
# DIR/index.txt as DIR/responder.pem; sets RESPONDER_PID.  Its output is
# appended to DIR/ocspd.out and DIR/ocspd.err.
tk_ocsp_responder_start() {
	tk_bg openssl ocsp -index "$1/index.txt" -port "$2" -rsigner "$1/responder.pem" \
		-rkey "$1/responder.key" -CA "$TK_FX/ca.pem" -ndays 1 </dev/null >>"$1/ocspd.out" 2>>"$1/ocspd.err"
	RESPONDER_PID=$TK_BG_PID
	tk_wait_listen "$2" "$RESPONDER_PID" ||
		{ cat "$1/ocspd.err" >&2; tk_fail "the responder did not start"; }
}
