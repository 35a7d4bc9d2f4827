#!/bin/bash
# A misspelt PKCS#11 URI attribute (typ=private) in the first identity:
# it used to read as "no such token present" and, registered first, to
# shadow the token's PIN file, so that the next identity on the same
# token failed with "no PIN file registered for token".  Now it is an
# error at the line of the 'key' setting, naming the attribute; that one
# identity is unusable (-t exits 1), and the daemon serves the others.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

good="key = $TK_TOKEN_URI;object=server-ec;type=private"
tk_check_swap "$TK_TMP/typo.conf" "$good" "key = $TK_TOKEN_URI;object=server-ec;typ=private"
line=$(grep -n ';typ=private' "$TK_TMP/typo.conf" | cut -d: -f1)
tk_check_t typo "$TK_TMP/typo.conf" 1 "with a misspelt URI attribute"
tk_expect_grep "$TK_TMP/typo.t" \
	"typo\.conf:$line: identity server\.example\.test: 'key': unknown PKCS#11 URI attribute 'typ'"
tk_expect_grep "$TK_TMP/typo.t" 'configuration NOT OK \(4 identities, 3 usable'
if grep -E 'no PIN file registered|no such token' "$TK_TMP/typo.t" >/dev/null; then
	tk_fail "the misspelt URI broke another identity: $(cat "$TK_TMP/typo.t")"
fi

tk_daemon_start "$TK_TMP/typo.conf"
tk_expect_grep "$TK_TMP/tlskeyd.log" 'ready: .*4 identities, 3 usable'
# rsa.example.test and alice@example.test share the token and its PIN file.
for n in 1 2; do
	printf 'ping %s\n' "$n" >"$TK_TMP/ok$n-c.in"
	printf 'pong %s\n' "$n" >"$TK_TMP/ok$n-s.in"
	tk_app_server "ok$n-s" --myname rsa.example.test
	tk_app "ok$n-c" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni rsa.example.test || tk_fail "handshake $n failed: $(cat "$TK_TMP/ok$n-c.err")"
	tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "app server $n failed: $(cat "$TK_TMP/ok$n-s.err")"
	tk_same "$TK_TMP/ok$n-c.in" "$TK_TMP/ok$n-s.out"
	tk_same "$TK_TMP/ok$n-s.in" "$TK_TMP/ok$n-c.out"
done
tk_no_log 'no PIN file registered'
tk_pass
