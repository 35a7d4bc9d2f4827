#!/bin/bash
# A certificate that belongs to another key of the same type (both ECDSA
# P-256): only the algorithm used to be compared, so -t said OK and the
# first handshake failed at the peer with "Decrypt error".  Now the test
# signature does not verify: an error at file:line, -t exits 1 and reports
# 3 of 4 usable; the daemon serves the other identities and a request for
# this one fails with ENOTRECOVERABLE (a local key fault, not the peer's
# EKEYREJECTED).  With optional = yes, -t exits 0 with a warning.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup --no-daemon

tk_check_cert "$TK_TMP/other-key.pem" "$TK_FX/alice-ec.pub" 30 'cn = "server.example.test"
dns_name = server.example.test
signing_key
tls_www_server'
tk_check_swap "$TK_TMP/mm.conf" "cert = $TK_FX/server-ec.pem" "cert = $TK_TMP/other-key.pem"
tk_check_t mm "$TK_TMP/mm.conf" 1 "with another key's certificate"
tk_expect_grep "$TK_TMP/mm.t" \
	"mm\.conf:10: identity server\.example\.test: token 'tlskeyd-test', pkcs11:[^ ]*object=server-ec[^ ]*: private key does not match the certificate"
tk_expect_grep "$TK_TMP/mm.t" 'configuration NOT OK \(4 identities, 3 usable'
if grep -E 'identity (rsa|alice|carol)' "$TK_TMP/mm.t" >/dev/null; then
	tk_fail "the other identities were reported: $(cat "$TK_TMP/mm.t")"
fi

# optional = yes: a warning, exit 0.
awk '{ print } /^\[identity server\.example\.test\]$/ { print "optional = yes" }' \
	"$TK_TMP/mm.conf" >"$TK_TMP/mm-opt.conf"
tk_check_t mm-opt "$TK_TMP/mm-opt.conf" 0 "for an optional unusable identity"
tk_expect_grep "$TK_TMP/mm-opt.t" 'warning: .*identity server\.example\.test is not usable \(optional = yes\)'
tk_expect_grep "$TK_TMP/mm-opt.t" 'configuration OK \(4 identities, 3 usable'

# Start-up serves the others (the choice: an unusable identity is logged,
# not fatal, when others are usable) ...
tk_daemon_start "$TK_TMP/mm.conf"
tk_expect_grep "$TK_TMP/tlskeyd.log" 'ready: .*4 identities, 3 usable'
# ... and refuses this one at its first use, with the local-key errno.
tk_srv_cli mm-use --expect-errno ENOTRECOVERABLE --
tk_expect_grep "$TK_TMP/mm-use.err" '^ERROR errno=ENOTRECOVERABLE .*server\.example\.test.*does not match'
# Another identity on the same token still serves both ways.
printf 'ping\n' >"$TK_TMP/ok-c.in"
printf 'pong\n' >"$TK_TMP/ok-s.in"
tk_app_server ok-s --myname rsa.example.test
tk_app ok-c client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni rsa.example.test ||
	tk_fail "rsa.example.test <-> alice@example.test failed: $(cat "$TK_TMP/ok-c.err")"
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "app server failed: $(cat "$TK_TMP/ok-s.err")"
tk_same "$TK_TMP/ok-c.in" "$TK_TMP/ok-s.out"
tk_pass
