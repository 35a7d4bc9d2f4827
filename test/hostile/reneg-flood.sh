#!/bin/bash
# A hostile TLS 1.2 server floods the daemon's client session with
# HelloRequests and does not read (test/hostile/hello-flood.py, on the
# tlsfuzzer checkout's tlslite-ng).  Each draws a no_renegotiation
# warning; once the server's small receive buffer and the daemon's send
# buffer (the app's socket, SO_SNDBUF 4096) are full, those alerts cannot
# go out.  GnuTLS used to keep such
# an alert, and the next gnutls_record_send() sent it and returned its
# length (2) in place of the data's: the relay counted two bytes of the
# app's data as sent that never were (the server got "CDEFGHIJKLMNOP").
# Now a line the app writes after the flood reaches the server whole, or
# the session ends with an error for the app: never a clean stream with
# bytes missing.
. "${top_srcdir:-.}/test/lib/tk.sh"
. "$top_srcdir/test/lib/tk-tlsfuzzer.sh"
[ -d "$TK_TF_DIR/tlslite-ng/tlslite" ] || tk_skip "tlsfuzzer (tlslite-ng) not found in $TK_TF_DIR"
tk_need certtool
tk_setup
tk_mark

# An RSA file key for the hostile server (tlslite reads no EC key).
certtool --generate-privkey --key-type=rsa --bits=2048 --no-text --outfile "$TK_TMP/fl.key" 2>/dev/null ||
	tk_fail "certtool: key"
printf 'cn = peer.example.test\ndns_name = peer.example.test\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n' \
	>"$TK_TMP/fl.tmpl"
tk_cert_issue "$TK_TMP/fl.pem" "$TK_TMP/fl.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
	--load-privkey "$TK_TMP/fl.key" 2>/dev/null || tk_fail "certtool: certificate"

flood() { # flood NAME COUNT
	local name=$1 count=$2 srv app rc=0 want
	tk_log "case $name: $count HelloRequests, not read, then a line from the app"
	tk_bg timeout 90 "$TK_TF_PY" "$top_srcdir/test/hostile/hello-flood.py" "$TK_TF_DIR/tlslite-ng" \
		"$TK_TMP/$name.port" "$TK_TMP/fl.pem" "$TK_TMP/fl.key" "$count" \
		>"$TK_TMP/$name-srv.out" 2>"$TK_TMP/$name-srv.err" </dev/null
	srv=$TK_BG_PID
	tk_wait_file "$TK_TMP/$name.port" "$srv" 20 || { cat "$TK_TMP/$name-srv.err" >&2; tk_fail "$name: no server"; }
	mkfifo "$TK_TMP/$name.fifo"
	exec 4<>"$TK_TMP/$name.fifo"
	tk_bg timeout 90 "$TK_APP" client --connect "127.0.0.1:$(cat "$TK_TMP/$name.port")" \
		--myname alice@example.test --sni peer.example.test --sndbuf 4096 \
		<"$TK_TMP/$name.fifo" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" 4>&-
	app=$TK_BG_PID
	tk_wait_line "$TK_TMP/$name-srv.out" '^(FLOODED|RESET after)' 60 "$srv" ||
		{ cat "$TK_TMP/$name-srv.err" "$TK_TMP/$name.err" >&2; tk_fail "$name: the flood did not end"; }
	echo ABCDEFGHIJKLMNOP >&4
	tk_wait_pid "$srv" 30 || { cat "$TK_TMP/$name-srv.err" >&2; tk_fail "$name: the server did not end"; }
	exec 4>&-
	tk_wait_pid "$app" 30 || rc=$?
	cat "$TK_TMP/$name-srv.out" >&2
	want="APPDATA $(printf 'ABCDEFGHIJKLMNOP\n' | od -An -tx1 | tr -d ' \n')"
	if grep -q '^APPDATA ' "$TK_TMP/$name-srv.out"; then
		# Whatever arrived is the whole line, once.
		[ "$(grep -c '^APPDATA ' "$TK_TMP/$name-srv.out")" = 1 ] && grep -qxF "$want" "$TK_TMP/$name-srv.out" ||
			tk_fail "$name: the server got $(grep '^APPDATA ' "$TK_TMP/$name-srv.out" | tr '\n' ' '), not the app's line"
	else
		# Nothing arrived: the app must know (an error, not a clean end).
		tk_expect_grep "$TK_TMP/$name.err" '^RELAY-ERROR |^ERROR '
	fi
	tk_daemon_alive
}

# 3000 alerts (93 KB) fill the two small buffers but not the daemon's
# stash: the line must arrive whole.  20000 overflow the stash: the
# session ends ("peer does not read"), the app is told.
flood f3k 3000
grep -q '^FLOODED$' "$TK_TMP/f3k-srv.out" || tk_fail "f3k: the session did not live through 3000"
flood f20k 20000
grep -q '^RESET after' "$TK_TMP/f20k-srv.out" || tk_fail "f20k: a peer that asks and does not read kept its session"
tk_log_expect 'TLS send: peer does not read'

tk_legit_check after-flood
tk_pass
