#!/bin/bash
# tlskey-tunnel server mode in front of plaintext backends:
#   1. TCP backend with --proxy-v2: gnutls-cli (bob's certificate) -> tunnel
#      (server.example.test, key on the token) -> tt-backend echo.  Data both
#      ways; the backend gets a valid PROXY v2 header whose SSL TLV names
#      bob@example.test and whose addresses are the remote client and the
#      tunnel's listening address; the log line has the identity and the
#      byte counts.  TLS 1.3, then TLS 1.2 on the same tunnel.
#   2. UNIX backend without PROXY header, the same data.
#   3. IPv6 listener (if ::1 exists): the header is tcp6.
#   4. --config file + command line override; SIGTERM stops with status 0.
#   5. one listener for two identities (--myname a,b): each SNI gets its own
#      certificate and the log line names the identity used; a name the
#      list does not cover is refused (unrecognized_name).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup

want=$(tk_lines "$TK_TMP/data" 3000 "line from the remote TLS client ")

# fetch CASE TUNNEL-LOG GNUTLS-CLI-ARGS...: the remote client sends the data
# through the tunnel and must get it all back (client log: cCASE.cli.log).
fetch() {
	local c=$1 tlog=$2
	shift 2
	tk_run_ok "$c: gnutls-cli" "$TK_TMP/c$c.cli.log" "$TK_TMP/$tlog.log" -- \
		tk_tt_gnutls_cli "c$c" "$TT_PORT" "$want" "$TK_TMP/data" "$@"
	tk_same "$TK_TMP/data" "$TK_TMP/c$c.out"
}

# ---- 1. TCP backend, PROXY v2 ---------------------------------------------
tk_tt_backend be1 --proxy-v2 --count 2
tk_tunnel t1 --mode server --myname server.example.test \
	--backend "127.0.0.1:$TT_BACKEND_PORT" --proxy-v2 --timeout 10s
T1=$TT_PID
n=0
for prio in NORMAL:-VERS-ALL:+VERS-TLS1.3 NORMAL:-VERS-ALL:+VERS-TLS1.2; do
	n=$((n + 1))
	tk_log "case 1.$n: proxy-v2 ${prio##*+}"
	fetch "1-$n" t1 --priority "$prio" 127.0.0.1
	tk_tunnel_wait_log t1 "^tlskey-tunnel: conn=$n remote=127\.0\.0\.1:[0-9]+ peer=bob@example\.test local=server\.example\.test rx=$want tx=$want ms=[0-9]+ end=eof\$"
done
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be1" "$TK_TMP/be1.err"
# What the backend received: the PROXY header was stripped by its parser,
# the payload is exactly the client's data, twice.
cat "$TK_TMP/data" "$TK_TMP/data" >"$TK_TMP/data2"
tk_same "$TK_TMP/data2" "$TK_TMP/be1.out"
[ "$(grep -c '^PROXY ' "$TK_TMP/be1.err")" = 2 ] || tk_fail "expected two PROXY headers"
tk_expect_grep "$TK_TMP/be1.err" "^PROXY fam=tcp4 src=127\.0\.0\.1:[0-9]+ dst=127\.0\.0\.1:$TT_PORT client=0x07 verify=0 version=TLS1\.3 cipher=TLS_[A-Z0-9_]+ cn=bob@example\.test\$"
tk_expect_grep "$TK_TMP/be1.err" "^PROXY fam=tcp4 .* version=TLS1\.2 cipher=[A-Z0-9_-]+ cn=bob@example\.test\$"
# The source port in the header is the remote client's, as logged.
src=$(sed -n '1s/^PROXY .* src=\([^ ]*\) .*/\1/p' "$TK_TMP/be1.err")
tk_expect_grep "$TK_TMP/t1.log" "conn=1 remote=$src "
tk_tunnel_stop t1 "$T1"

# ---- 2. UNIX backend, no header -----------------------------------------
tk_log "case 2: unix backend"
tk_tt_backend be2 --unix "$TK_TMP/backend.sock"
tk_tunnel t2 --mode server --myname server.example.test --backend "unix:$TK_TMP/backend.sock"
T2=$TT_PID
fetch "2" t2 127.0.0.1
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be2" "$TK_TMP/be2.err"
tk_same "$TK_TMP/data" "$TK_TMP/be2.out"
tk_tunnel_wait_log t2 "conn=1 .* peer=bob@example\.test .* rx=$want tx=$want .* end=eof"
tk_tunnel_stop t2 "$T2"

# ---- 3. IPv6 ------------------------------------------------------------
if ip -6 addr show dev lo 2>/dev/null | grep '::1' >/dev/null; then
	tk_log "case 3: ipv6 listener"
	tk_tt_backend be3 --proxy-v2
	tk_tunnel t3 --mode server --listen '[::1]:0' --myname server.example.test \
		--backend "127.0.0.1:$TT_BACKEND_PORT" --proxy-v2
	T3=$TT_PID
	fetch "3" t3 ::1
	tk_wait_ok "$TT_BACKEND_PID" 20 "backend be3" "$TK_TMP/be3.err"
	tk_expect_grep "$TK_TMP/be3.err" "^PROXY fam=tcp6 src=\[::1\]:[0-9]+ dst=\[::1\]:$TT_PORT .* cn=bob@example\.test\$"
	tk_tunnel_wait_log t3 "conn=1 remote=\[::1\]:[0-9]+ peer=bob@example\.test"
	tk_tunnel_stop t3 "$T3"
else
	tk_log "no IPv6 loopback: case 3 skipped"
fi

# ---- 4. --config, command line wins ------------------------------------------
tk_log "case 4: --config"
tk_tt_backend be4 --proxy-v2
cat >"$TK_TMP/t4.conf" <<EOC
# tunnel test configuration
mode = server
listen = 127.0.0.1:0
myname = rsa.example.test
backend = 127.0.0.1:$TT_BACKEND_PORT
proxy-v2 = yes
flags = no-cache-write
max-conns = 4
timeout = 5000ms
EOC
# The command line overrides myname (wherever --config stands) and drops
# the flag that this ACL would not grant anyway.
tk_tunnel t4 --myname server.example.test --config "$TK_TMP/t4.conf" --flags ''
T4=$TT_PID
fetch "4" t4 127.0.0.1
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be4" "$TK_TMP/be4.err"
tk_expect_grep "$TK_TMP/be4.err" "cn=bob@example\.test\$"
tk_tunnel_wait_log t4 "conn=1 .* local=server\.example\.test .* end=eof"
tk_tunnel_stop t4 "$T4"

# ---- 5. one listener, two identities ----------------------------------------
tk_log "case 5: --myname list"
tk_tt_backend be5 --count 2
tk_tunnel t5 --mode server --myname server.example.test,rsa.example.test \
	--backend "127.0.0.1:$TT_BACKEND_PORT"
T5=$TT_PID
n=0
for name in rsa.example.test server.example.test; do
	n=$((n + 1))
	tk_run_ok "5-$n: gnutls-cli" "$TK_TMP/c5-$n.cli.log" "$TK_TMP/t5.log" -- \
		tk_fifo_client "c5-$n" "$TK_TMP/data" "$want" gnutls-cli --logfile="$TK_TMP/c5-$n.cli.log" \
		--port "$TT_PORT" --x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
		--x509keyfile "$TK_FX/peer-user.key" --verify-hostname "$name" --sni-hostname "$name" 127.0.0.1
	tk_same "$TK_TMP/data" "$TK_TMP/c5-$n.out"
	tk_tunnel_wait_log t5 "conn=$n .* peer=bob@example\.test local=${name//./\\.} rx=$want .* end=eof"
done
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be5" "$TK_TMP/be5.err"
rc=0
timeout 20 gnutls-cli --port "$TT_PORT" --x509cafile "$TK_FX/ca.pem" --sni-hostname other.example.test \
	--verify-hostname other.example.test 127.0.0.1 </dev/null >"$TK_TMP/c5-x.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || tk_fail "case 5: other.example.test was served"
tk_expect_grep "$TK_TMP/c5-x.out" "alert \[112\]"
tk_tunnel_wait_log t5 "conn=3 .* end=handshake-failed errno=EHOSTUNREACH"
tk_tunnel_stop t5 "$T5"

tk_daemon_alive
tk_pass
