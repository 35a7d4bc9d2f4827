#!/bin/bash
# tlskey-tunnel --alpn, in both modes, against real peers:
#   1. server mode, --alpn h2,http/1.1: curl --http2 through the tunnel to
#      nghttpd --no-tls (cleartext HTTP/2) fetches a page, byte for byte;
#      curl --http1.1 gets http/1.1 negotiated instead.
#   2. server mode with --proxy-v2: the backend's PROXY v2 header carries
#      PP2_TYPE_ALPN with the negotiated id, and none without ALPN.
#   3. client mode, --alpn h2: openssl s_server -alpn h2 selects h2; a
#      server that shares no id refuses the tunnel's client (alert 120).
#   --alpn-strict in both modes: no id agreed, alert 120, ENOPROTOOPT.
#   4. bad --alpn lists exit 2.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need curl nghttpd openssl
tk_setup

CURL=(curl -sS --max-time 20 --cacert "$TK_FX/ca.pem" --cert "$TK_FX/peer-user.pem"
	--key "$TK_FX/peer-user.key")

# ---- 1. curl --http2 -> tunnel (server) -> nghttpd --no-tls ------------------
tk_log "case 1: curl --http2 through the tunnel to nghttpd"
mkdir "$TK_TMP/www"
head -c 200000 /dev/urandom | base64 >"$TK_TMP/www/page.txt"
tk_start_peer nghttpd nghttpd --no-tls --address=127.0.0.1 -d "$TK_TMP/www" PORT
NG=$TK_PEER_PID
tk_tunnel t1 --mode server --myname server.example.test --alpn h2,http/1.1 \
	--backend "127.0.0.1:$TK_PORT" --timeout 10s
T1=$TT_PID
url="https://server.example.test:$TT_PORT/page.txt"
res=(--resolve "server.example.test:$TT_PORT:127.0.0.1")
"${CURL[@]}" -v --http2 "${res[@]}" -o "$TK_TMP/h2.out" "$url" 2>"$TK_TMP/h2.err" ||
	{ cat "$TK_TMP/h2.err" "$TK_TMP/t1.log" >&2; tk_fail "curl --http2 failed"; }
tk_expect_grep "$TK_TMP/h2.err" 'ALPN.*server accepted (to use )?h2'
tk_expect_grep "$TK_TMP/h2.err" '< HTTP/2 200'
tk_same "$TK_TMP/www/page.txt" "$TK_TMP/h2.out"
# curl ends the connection abruptly (end=reset) once it has the page.
tk_tunnel_wait_log t1 "^tlskey-tunnel: conn=1 .*peer=bob@example\.test .*rx=[0-9]+ tx=[0-9]+ .*end="
# A client that offers only http/1.1 gets it (lenient: the tunnel does not
# insist on h2); nghttpd then refuses the HTTP/1.1 request it cannot parse.
"${CURL[@]}" -v --http1.1 "${res[@]}" -o /dev/null "$url" 2>"$TK_TMP/h1.err" || true
tk_expect_grep "$TK_TMP/h1.err" 'ALPN.*server accepted (to use )?http/1.1'
if grep -q '< HTTP/2 200' "$TK_TMP/h1.err"; then
	tk_fail "curl --http1.1 spoke HTTP/2"
fi
tk_tunnel_stop t1 "$T1"
kill "$NG" 2>/dev/null || true
tk_wait_pid "$NG" 5 || true

# --alpn-strict: a client with no id in common gets alert 120, and the
# tunnel logs ENOPROTOOPT; the backend never sees it.
tk_log "case 1b: server mode, --alpn-strict"
tk_tunnel t1b --mode server --myname server.example.test --alpn h2 --alpn-strict \
	--backend 127.0.0.1:1 --timeout 10s
T1B=$TT_PID
printf 'x\n' >"$TK_TMP/x"
tk_fifo_client s1b "$TK_TMP/x" 1 openssl s_client -no_ign_eof -connect "127.0.0.1:$TT_PORT" \
	-servername server.example.test -CAfile "$TK_FX/ca.pem" \
	-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" -alpn http/1.1 || true
cat "$TK_TMP/s1b.out" "$TK_TMP/s1b.err" >"$TK_TMP/s1b.all"
tk_expect_grep "$TK_TMP/s1b.all" 'alert no application protocol.*|alert number 120'
tk_tunnel_wait_log t1b 'conn=1 .*end=handshake-failed errno=ENOPROTOOPT reason="no ALPN protocol in common'
tk_tunnel_stop t1b "$T1B"

# ---- 2. PROXY v2 PP2_TYPE_ALPN ----------------------------------------------
tk_log "case 2: PROXY v2 header carries the negotiated id"
printf 'through ALPN and PROXY v2\n' >"$TK_TMP/line"
want=$(wc -c <"$TK_TMP/line")
tk_tt_backend be2 --proxy-v2 --count 2
tk_tunnel t2 --mode server --myname server.example.test --alpn h2,http/1.1 \
	--backend "127.0.0.1:$TT_BACKEND_PORT" --proxy-v2 --timeout 10s
T2=$TT_PID
for c in "alpn -alpn http/1.1" "none"; do
	set -- $c
	name=s2-$1
	shift
	tk_fifo_client "$name" "$TK_TMP/line" "$want" openssl s_client -quiet -no_ign_eof \
		-connect "127.0.0.1:$TT_PORT" -servername server.example.test \
		-CAfile "$TK_FX/ca.pem" -cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" "$@" ||
		tk_fail "$name: s_client failed"
	tk_same "$TK_TMP/line" "$TK_TMP/$name.out"
done
tk_wait_ok "$TT_BACKEND_PID" 20 "backend be2" "$TK_TMP/be2.err"
[ "$(grep -c '^PROXY ' "$TK_TMP/be2.err")" = 2 ] || tk_fail "expected two PROXY headers"
# One ALPN TLV, for the first connection only, with the id agreed.
[ "$(grep -c '^PROXY-ALPN=' "$TK_TMP/be2.err")" = 1 ] || tk_fail "expected one PP2_TYPE_ALPN"
tk_expect_line "$TK_TMP/be2.err" "PROXY-ALPN=http/1.1"
tk_tunnel_stop t2 "$T2"

# ---- 3. client mode ---------------------------------------------------------
tk_log "case 3: client mode offers --alpn"
tk_start_openssl_serv srv3 -alpn h2 -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
tk_tunnel t3 --mode client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --alpn h2,http/1.1
T3=$TT_PID
cp "$TK_TMP/line" "$TK_TMP/s3.in"
tk_run_ok "s3: send" "$TK_TMP/s3.err" "$TK_TMP/t3.log" -- tk_tt_send s3 "127.0.0.1:$TT_PORT"
rev <"$TK_TMP/line" >"$TK_TMP/line.rev"
tk_same "$TK_TMP/line.rev" "$TK_TMP/s3.out"
tk_wait_pid "$TK_PEER_PID" 10 || true
cat "$TK_TMP/srv3.out" "$TK_TMP/srv3.err" >"$TK_TMP/srv3.all"
tk_expect_grep "$TK_TMP/srv3.all" 'ALPN protocols selected: h2'
tk_tunnel_stop t3 "$T3"
# A server that takes none of our ids: OpenSSL's s_server sends alert 120.
tk_start_openssl_serv srv3b -alpn spdy/3 -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
tk_tunnel t3b --mode client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --alpn h2,http/1.1
T3B=$TT_PID
cp "$TK_TMP/line" "$TK_TMP/s3b.in"
tk_tt_send s3b "127.0.0.1:$TT_PORT" || true
tk_tunnel_wait_log t3b 'end=handshake-failed errno=ECONNABORTED reason=".*No supported application protocol'
tk_tunnel_stop t3b "$T3B"

# Strict, and a server that selects nothing: the tunnel refuses it.
tk_start_openssl_serv srv3c -state -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
tk_tunnel t3c --mode client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --alpn h2 --alpn-strict
T3C=$TT_PID
cp "$TK_TMP/line" "$TK_TMP/s3c.in"
tk_tt_send s3c "127.0.0.1:$TT_PORT" || true
tk_tunnel_wait_log t3c 'end=handshake-failed errno=ENOPROTOOPT reason="no ALPN protocol agreed'
tk_wait_pid "$TK_PEER_PID" 10 || true
cat "$TK_TMP/srv3c.out" "$TK_TMP/srv3c.err" >"$TK_TMP/srv3c.all"
tk_expect_grep "$TK_TMP/srv3c.all" 'alert read:fatal:no application protocol'
tk_tunnel_stop t3c "$T3C"

# ---- 4. bad lists -----------------------------------------------------------
S=(--mode server --listen 127.0.0.1:0 --myname server.example.test --backend 127.0.0.1:1)
printf 'alpn = h2\nalpn-strict = maybe\n' >"$TK_TMP/strict.conf"
bad() {
	local name=$1 ere=$2 rc=0
	shift 2
	timeout 10 "$TT_TUNNEL" "${S[@]}" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" </dev/null || rc=$?
	[ "$rc" = 2 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: exit $rc, wanted 2"; }
	tk_expect_grep "$TK_TMP/$name.err" "$ere"
}
bad alpn-empty-id '--alpn: each id must be 1 to 31 bytes' --alpn h2,,http/1.1
bad alpn-long-id '--alpn: each id must be 1 to 31 bytes' --alpn "$(printf 'x%.0s' $(seq 32))"
bad alpn-nine '--alpn: at most 8 ids' --alpn a,b,c,d,e,f,g,h,i
bad alpn-strict-alone '--alpn-strict: needs --alpn' --alpn-strict
bad alpn-strict-value "alpn-strict: expected yes or no, got 'maybe'" --config "$TK_TMP/strict.conf"
bad alpn-space "--alpn: 'h 2' has a byte that is not printable ASCII" --alpn 'h 2'
tk_daemon_alive
tk_pass
