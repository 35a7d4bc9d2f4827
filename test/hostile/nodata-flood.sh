#!/bin/bash
# A hostile TLS 1.3 client sends records that carry no data, only padding
# (test/hostile/nodata-flood.py, on the tlsfuzzer checkout's tlslite-ng).
# A session whose peer sends more than 1 MiB of records without data ends
# ("more than 1 MiB of records without data"), and the app is told: such
# records cost decryption and deliver nothing, and GnuTLS gathers a
# post-handshake message whole, whatever length it declares (16 MiB), for
# as long as the peer stalls.  40 such records (about 640 KiB) are
# within the bound: the line after them is echoed.
. "${top_srcdir:-.}/test/lib/tk.sh"
. "$top_srcdir/test/lib/tk-tlsfuzzer.sh"
[ -d "$TK_TF_DIR/tlslite-ng/tlslite" ] || tk_skip "tlsfuzzer (tlslite-ng) not found in $TK_TF_DIR"
tk_setup

flood() { # flood NAME COUNT: sets RC (the app's exit status)
	local name=$1
	tk_log "case $name: $2 padding-only records, then a line"
	tk_app_server "$name" --myname server.example.test --flags 2 --echo
	timeout 90 "$TK_TF_PY" "$top_srcdir/test/hostile/nodata-flood.py" "$TK_TF_DIR/tlslite-ng" \
		"$TK_PORT" "$2" >"$TK_TMP/$name-cli.out" 2>"$TK_TMP/$name-cli.err" </dev/null ||
		{ cat "$TK_TMP/$name-cli.err" >&2; tk_fail "$name: the client failed"; }
	cat "$TK_TMP/$name-cli.out" >&2
	RC=0
	tk_wait_pid "$TK_SERVER_PID" 30 || RC=$?
	tk_daemon_alive
}

flood within 40
tk_expect_line "$TK_TMP/within-cli.out" "ECHO hello"
[ "$RC" = 0 ] || { cat "$TK_TMP/within.err" >&2; tk_fail "within: tk-app exit $RC"; }

tk_mark
flood over 100
! grep -q '^ECHO' "$TK_TMP/over-cli.out" || tk_fail "over: 1.6 MiB of records without data, and the session went on"
tk_expect_grep "$TK_TMP/over.err" '^RELAY-ERROR '
tk_log_expect 'more than 1 MiB of records without data'
tk_legit_check after-flood
tk_pass
