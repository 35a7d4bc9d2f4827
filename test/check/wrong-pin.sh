#!/bin/bash
# tlskeyd -t with a wrong PIN: it used to print "configuration OK".  Now
# every identity on the token is unusable, the message names file:line
# and CKR_PIN_INCORRECT, -t exits 1, and the daemon refuses to start with
# no usable identity before it binds its socket.  The right PIN passes.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

(umask 077 && printf 'not-the-pin' >"$TK_TMP/bad.pin")
tk_check_swap "$TK_TMP/badpin.conf" "pin-file = $TK_FX/pin" "pin-file = $TK_TMP/bad.pin"
tk_check_t badpin "$TK_TMP/badpin.conf" 1 "with a wrong PIN"
tk_expect_grep "$TK_TMP/badpin.t" \
	"badpin\.conf:10: identity server\.example\.test: key: token 'tlskeyd-test', .*C_Login: CKR_PIN_INCORRECT"
tk_expect_grep "$TK_TMP/badpin.t" "badpin\.conf:10: identity server\.example\.test is not usable"
tk_expect_grep "$TK_TMP/badpin.t" 'configuration NOT OK \(4 identities, 0 usable'

tk_check_refused badpin "$TK_TMP/badpin.conf"
tk_expect_grep "$TK_TMP/badpin.d" 'CKR_PIN_INCORRECT'
tk_expect_grep "$TK_TMP/badpin.d" '4 identities, 0 usable: not starting'

# The fixture's own configuration: all usable, the start-up line says so.
tk_check_t good "$TK_FX/tlskeyd.conf" 0 "on the fixture"
tk_expect_grep "$TK_TMP/good.t" 'configuration OK \(4 identities, 4 usable, 0 errors, 0 warnings\)'
tk_daemon_start "$TK_FX/tlskeyd.conf"
tk_expect_grep "$TK_TMP/tlskeyd.log" \
	"ready: tlskeyd [^ ]+, config $TK_FX/tlskeyd\.conf, ACL $TK_FX/acl\.conf, 4 identities, 4 usable"
tk_legit_check
tk_pass
