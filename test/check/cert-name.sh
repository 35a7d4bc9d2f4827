#!/bin/bash
# A certificate for another name than the identity's: -t used to say
# nothing.  Now a warning naming the file:line, the certificate's name and
# the identity's (peers checking the name refuse it); exit 0: the key
# works, and a deployment may rely on pins instead of names.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

tk_check_cert "$TK_TMP/other-name.pem" "$TK_FX/server-ec.pub" 30 'cn = "other.example.test"
dns_name = other.example.test
signing_key
tls_www_server'
tk_check_swap "$TK_TMP/name.conf" "cert = $TK_FX/server-ec.pem" "cert = $TK_TMP/other-name.pem"
tk_check_t name "$TK_TMP/name.conf" 0 "for a certificate of another name"
tk_expect_grep "$TK_TMP/name.t" \
	"warning: .*name\.conf:10: identity server\.example\.test: certificate $TK_TMP/other-name\.pem is for other\.example\.test, not server\.example\.test"
tk_expect_grep "$TK_TMP/name.t" 'configuration OK \(4 identities, 4 usable, 0 errors, 1 warnings\)'
tk_pass
