#!/bin/bash
# The PROXY v2 header must not claim that a resumed session's client sent
# its certificate on this connection (a review, 2026-12-03): the SSL TLV's
# client field had PP2_CLIENT_CERT_CONN (0x02) whenever there was a peer
# identity, also on a resumed session, where the certificate came on an
# earlier connection.  Now a resumed session gets PP2_CLIENT_SSL |
# PP2_CLIENT_CERT_SESS (0x05), a full handshake 0x07 as before.
# tlskeyd with resumption = on; gnutls-cli --resume --waitresumption (bob)
# through a --proxy-v2 tunnel to tt-backend, which prints each header:
#   1. the first connection, a full TLS 1.3 handshake that waits for the
#      ticket and closes: client=0x07 verify=0 cn=bob@example.test;
#   2. the second resumes it ("This is a resumed session", tlskeyd's
#      resumed=yes) and carries the data, which echoes: client=0x05
#      verify=0, still cn=bob@example.test.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup --no-daemon
tk_conf on resumption=on
tk_daemon_start "$TK_TMP/on.conf"

want=$(tk_lines "$TK_TMP/data" 20 "line through a resumed session ")
tk_tt_backend be --proxy-v2 --count 2
tk_tunnel t --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--proxy-v2 --timeout 10s
T=$TT_PID

tk_run_ok "gnutls-cli --resume" "$TK_TMP/c.cli.log" "$TK_TMP/t.log" -- \
	tk_tt_gnutls_cli c "$TT_PORT" "$want" "$TK_TMP/data" --resume --waitresumption \
	--priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c.out"
tk_expect_grep "$TK_TMP/c.cli.log" "This is a resumed session"
tk_expect_grep "$TK_TMP/tlskeyd.log" 'established.*resumed=yes'
tk_tunnel_wait_log t "^tlskey-tunnel: conn=1 .* peer=bob@example\.test .* end=eof$"
tk_tunnel_wait_log t "^tlskey-tunnel: conn=2 .* peer=bob@example\.test .* rx=$want tx=$want .* end=eof$"
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be" "$TK_TMP/be.err"
sed -n '/^PROXY /p' "$TK_TMP/be.err" >"$TK_TMP/headers"
tk_log "headers: $(tr '\n' ' ' <"$TK_TMP/headers")"
[ "$(wc -l <"$TK_TMP/headers")" = 2 ] || tk_fail "expected two PROXY headers"
sed -n 1p "$TK_TMP/headers" | grep -qE ' client=0x07 verify=0 version=TLS1\.3 .* cn=bob@example\.test$' ||
	tk_fail "case 1: full handshake header: $(sed -n 1p "$TK_TMP/headers")"
sed -n 2p "$TK_TMP/headers" | grep -qE ' client=0x05 verify=0 version=TLS1\.3 .* cn=bob@example\.test$' ||
	tk_fail "case 2: resumed session header (want client=0x05): $(sed -n 2p "$TK_TMP/headers")"

tk_tunnel_stop t "$T"
tk_pass
