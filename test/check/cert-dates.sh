#!/bin/bash
# An expired certificate: -t used to say OK.  Now an error at file:line
# with the date, -t exits 1; one that expires within cert-expiry-warning
# days (default 14) is a warning (exit 0), and none with the setting at 0.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

body='cn = "server.example.test"
dns_name = server.example.test
signing_key
tls_www_server'
tk_check_cert "$TK_TMP/expired.pem" "$TK_FX/server-ec.pub" past "$body"
tk_check_cert "$TK_TMP/soon.pem" "$TK_FX/server-ec.pub" 5 "$body"
tk_check_swap "$TK_TMP/expired.conf" "cert = $TK_FX/server-ec.pem" "cert = $TK_TMP/expired.pem"
tk_check_swap "$TK_TMP/soon.conf" "cert = $TK_FX/server-ec.pem" "cert = $TK_TMP/soon.pem"

tk_check_t expired "$TK_TMP/expired.conf" 1 "with an expired certificate"
tk_expect_grep "$TK_TMP/expired.t" \
	"error: .*expired\.conf:10: identity server\.example\.test: certificate 0 of $TK_TMP/expired\.pem expired on 2020-12-31 23:59:59 UTC"
tk_expect_grep "$TK_TMP/expired.t" 'configuration NOT OK \(4 identities, 3 usable'

tk_check_t soon "$TK_TMP/soon.conf" 0 "for a certificate that expires in 5 days"
tk_expect_grep "$TK_TMP/soon.t" \
	"warning: .*soon\.conf:10: identity server\.example\.test: certificate 0 of $TK_TMP/soon\.pem expires on .*in less than 14 days"
tk_expect_grep "$TK_TMP/soon.t" 'configuration OK \(4 identities, 4 usable, 0 errors, 1 warnings\)'

# The window is a setting; 3 days does not cover a 5-day certificate.
awk '/^\[/ && !d { print "cert-expiry-warning = 3"; d = 1 } { print }' "$TK_TMP/soon.conf" >"$TK_TMP/soon3.conf"
tk_check_t soon3 "$TK_TMP/soon3.conf" 0 "with cert-expiry-warning = 3"
tk_expect_grep "$TK_TMP/soon3.t" '0 errors, 0 warnings'

tk_daemon_start "$TK_TMP/expired.conf"
tk_expect_grep "$TK_TMP/tlskeyd.log" 'ready: .*4 identities, 3 usable'
tk_pass
