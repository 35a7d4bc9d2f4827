#!/bin/bash
# Renewing a certificate while a session relays (issue 10):
#   - a session between two tk-apps (server.example.test <- alice), both
#     through tlskeyd, relays 32 MiB each way
#   - the certificate file of server.example.test is replaced by a renewal
#     (same token key, new serial); "tlskeyctl keys" shows the daemon still
#     serves the old one (serial 02, not the file's); "tlskeyctl reload"
#     answers with the new generation, and "tlskeyctl keys" then shows
#     serial 1092 (4242) served
#   - a new handshake gets the new certificate (its DER and serial are
#     compared with the file)
#   - the old session then relays another 32 MiB each way and ends with
#     SHA-256 hashes that match on both sides (64 MiB each way in all)
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need sha256sum head certtool cmp
tk_setup

# ---- the long session -----------------------------------------------------------
tk_session_start 32
tk_log "session relaying: 32 MiB each way so far"

# ---- renew: same key (the token's public key), new serial ---------------------
certtool -i --infile "$TK_FX/server-ec.pem" --outder --outfile "$TK_TMP/old.der" 2>/dev/null
cat >"$TK_TMP/renew.tmpl" <<TMPL
serial = 4242
cn = server.example.test
dns_name = server.example.test
signing_key
tls_www_server
tls_www_client
expiration_days = 90
TMPL
tk_cert_issue "$TK_TMP/renewed.pem" "$TK_TMP/renew.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
	--load-pubkey "$TK_FX/server-ec.pub" 2>"$TK_TMP/certtool.err" || tk_fail "certtool failed"
mv "$TK_TMP/renewed.pem" "$TK_FX/server-ec.pem"
certtool -i --infile "$TK_FX/server-ec.pem" --outder --outfile "$TK_TMP/want.der" 2>/dev/null
# tlskeyctl keys tells what the daemon serves, not what the file says.
served() { # NAME: the "served:" line of server.example.test in NAME.out
	awk '/^server\.example\.test /{on=1} on && /^  served:/{print; exit}' "$TK_TMP/$1.out"
}
tk_dctl 0 keys-before keys
tk_log "before the reload: $(served keys-before)"
served keys-before | grep -E 'served: +serial 02, .*NOT the certificate in the file now' >/dev/null ||
	tk_fail "tlskeyctl keys does not show the old certificate as served: $(served keys-before)"
tk_mark
tk_dctl 0 reload reload
tk_expect_grep "$TK_TMP/reload.out" "configuration $TK_FX/tlskeyd.conf \\(generation 2, 4 identities\\)"
tk_log_expect "ACL loaded from .*generation 2"
tk_dctl 0 keys-after keys
tk_log "after the reload: $(served keys-after)"
served keys-after | grep -E 'served: +serial 1092, expires [0-9-]+ [0-9:]+ UTC$' >/dev/null ||
	tk_fail "tlskeyctl keys does not show the renewed certificate as served: $(served keys-after)"
tk_expect_grep "$TK_TMP/keys-after.out" "^daemon: generation 2: 4 identities$"

# ---- a new handshake gets the renewed certificate -----------------------------
tk_app_server n-s --myname server.example.test
tk_app n-c client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni server.example.test --cert-out "$TK_TMP/got.der" || tk_fail "new handshake failed: $(cat "$TK_TMP/n-c.err")"
tk_wait_ok "$TK_SERVER_PID" 20 "tk-app server n-s" "$TK_TMP/n-s.err"
serial=$(certtool -i --inder --infile "$TK_TMP/got.der" | sed -n 's/.*Serial Number (hex): *//p')
tk_log "served after the reload: serial $serial"
cmp -s "$TK_TMP/got.der" "$TK_TMP/old.der" && tk_fail "the old certificate is still served"
cmp -s "$TK_TMP/got.der" "$TK_TMP/want.der" || tk_fail "served certificate (serial $serial) is not the renewed one"
[ "$serial" = 1092 ] || tk_fail "served serial $serial, want 1092 (4242)"

# ---- the old session finishes its 64 MiB each way -----------------------------
tk_session_finish "old session"
tk_legit_check after
tk_pass
