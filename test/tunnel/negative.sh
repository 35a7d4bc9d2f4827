#!/bin/bash
# tlskey-tunnel failure cases; each ends in one log line naming the cause,
# the remote sees the connection closed, and the tunnel keeps serving:
#   1. backend down: handshake completes, backend connect refused ->
#      end=backend-failed errno=ECONNREFUSED; the remote TLS client gets EOF
#   2. handshake timer (--timeout 1s) against a silent TCP client ->
#      end=handshake-failed errno=ETIMEDOUT, the client sees a reset
#   3. an untrusted remote certificate -> end=handshake-failed errno=EKEYREJECTED
#   4. --max-conns 1: a second client waits until the first slot frees
#   5. client mode, nothing listening at --connect -> end=connect-failed
#   6. tlskeyd refuses the tunnel (ACL allows the client role only) ->
#      end=handshake-failed errno=EACCES; the remote sees the connection closed
#   7. tlskeyd not running -> end=handshake-failed errno=ENOENT|ECONNREFUSED
#   8. the remote truncates the TLS stream (no close_notify): the tunnel
#      logs end=reset errno=ECONNRESET and the backend reads ECONNRESET
#      after the data, not a clean EOF; the same with tlskeyd's
#      protected-socket = unix, where the tunnel reads EOF and learns from
#      tlskey_query() that the stream broke
#   9. --idle-timeout 1s: a connection with a line every 0.4 s lives on
#      (end=eof); one that goes quiet is ended after about a second
#      (end=idle-timeout errno=ETIMEDOUT) and its backend reads ECONNRESET
#  10. --sni-allow server.example.test,*.alt.test: those names pass, others
#      (and alt.test itself) are refused with alert 112 and
#      end=handshake-failed errno=EHOSTUNREACH naming the refused name
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup
me=$(id -un)

printf 'hello through the tunnel\n' >"$TK_TMP/data"
want=$(wc -c <"$TK_TMP/data")

# tt_remote_closed NAME PORT: a remote TLS client (bob) that must fail or
# get nothing back; bounded.
tt_remote_closed() {
	local name=$1 port=$2 rc=0
	tk_tt_gnutls_cli "$name" "$port" 1 "$TK_TMP/data" 127.0.0.1 || rc=$?
	[ ! -s "$TK_TMP/$name.out" ] || tk_fail "$name: the remote got data: $(cat "$TK_TMP/$name.out")"
	[ "$rc" != 124 ] || tk_fail "$name: the remote client hung"
}

# ---- 1. backend down -------------------------------------------------------
tk_log "case 1: backend down"
dead_port=$(tk_free_port)
tk_tunnel t1 --mode server --myname server.example.test --backend "127.0.0.1:$dead_port" --proxy-v2
T1=$TT_PID
P1=$TT_PORT
tt_remote_closed c1 "$P1"
tk_tunnel_wait_log t1 "^tlskey-tunnel: conn=1 remote=127\.0\.0\.1:[0-9]+ peer=bob@example\.test local=server\.example\.test rx=0 tx=0 ms=[0-9]+ end=backend-failed errno=ECONNREFUSED reason=\"Connection refused\"\$"
# The remote's handshake succeeded, then the connection was closed.
tk_expect_grep "$TK_TMP/c1.cli.log" "Handshake was completed"

# ---- 2. handshake timer -----------------------------------------------------
tk_log "case 2: --timeout 1s, silent client"
tk_tunnel t2 --mode server --myname server.example.test --backend "127.0.0.1:$dead_port" --timeout 1s
T2=$TT_PID
timeout 10 "$TK_APP" sink --connect "127.0.0.1:$TT_PORT" >"$TK_TMP/sink2.out" 2>"$TK_TMP/sink2.err" ||
	tk_fail "case 2: the silent client failed"
tk_expect_grep "$TK_TMP/sink2.err" "^SINK end=(reset|eof)"
ms=$(sed -n 's/^SINK ms=//p' "$TK_TMP/sink2.err")
[ "$ms" -ge 800 ] && [ "$ms" -le 3000 ] || tk_fail "case 2: closed after ${ms}ms, wanted ~1000"
tk_tunnel_wait_log t2 "conn=1 .* peer=- .* end=handshake-failed errno=ETIMEDOUT reason="

# ---- 3. untrusted remote -------------------------------------------------
tk_log "case 3: untrusted remote certificate"
rc=0
tk_fifo_client c3 "$TK_TMP/data" 1 gnutls-cli --logfile="$TK_TMP/c3.cli.log" --port "$TT_PORT" \
	--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/rogue-user.pem" \
	--x509keyfile "$TK_FX/rogue-user.key" --verify-hostname server.example.test 127.0.0.1 || rc=$?
[ ! -s "$TK_TMP/c3.out" ] || tk_fail "case 3: the rogue client got data"
tk_tunnel_wait_log t2 "conn=2 .* peer=- .* end=handshake-failed errno=(EKEYREJECTED|EPROTO|ECONNRESET) reason="
tk_tunnel_stop t2 "$T2"

# ---- 4. max-conns ----------------------------------------------------------
tk_log "case 4: --max-conns 1"
tk_tt_backend be4
tk_tunnel t4 --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--max-conns 1 --timeout 2s
T4=$TT_PID
# A silent client holds the only slot until its handshake timer fires.
tk_bg timeout 10 "$TK_APP" sink --connect "127.0.0.1:$TT_PORT" >"$TK_TMP/sink4.out" 2>"$TK_TMP/sink4.err"
SINK4=$TK_BG_PID
tk_tunnel_wait_log t4 "max-conns 1 reached"
tk_run_ok "case 4: gnutls-cli" "$TK_TMP/c4.cli.log" "$TK_TMP/t4.log" -- \
	tk_tt_gnutls_cli c4 "$TT_PORT" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c4.out"
tk_tunnel_wait_log t4 "conn=1 .* end=handshake-failed errno=ETIMEDOUT"
tk_tunnel_wait_log t4 "conn=2 .* peer=bob@example\.test .* rx=$want tx=$want .* end=eof\$"
tk_wait_pid "$SINK4" 10 || true
tk_tunnel_stop t4 "$T4"

# ---- 5. client mode, remote down -----------------------------------------------
tk_log "case 5: client mode, nothing at --connect"
tk_tunnel t5 --mode client --connect "127.0.0.1:$dead_port" --myname alice@example.test \
	--sni peer.example.test
T5=$TT_PID
cp "$TK_TMP/data" "$TK_TMP/s5.in"
tk_tt_send s5 "127.0.0.1:$TT_PORT" || true
[ ! -s "$TK_TMP/s5.out" ] || tk_fail "case 5: got data"
tk_tunnel_wait_log t5 "conn=1 remote=127\.0\.0\.1:[0-9]+ peer=- local=alice@example\.test .* end=connect-failed errno=ECONNREFUSED"
tk_tunnel_stop t5 "$T5"

# ---- 6. ACL refusal ----------------------------------------------------------
tk_log "case 6: tlskeyd refuses the server role"
sed "s#^acl = .*#acl = $TK_TMP/acl-client-only.conf#" "$TK_FX/tlskeyd.conf" >"$TK_TMP/client-only.conf"
printf 'allow user:%s * client\n' "$me" >"$TK_TMP/acl-client-only.conf"
tk_daemon_start "$TK_TMP/client-only.conf" || tk_fail "daemon with the client-only ACL did not start"
tt_remote_closed c6 "$P1"
tk_tunnel_wait_log t1 "conn=2 remote=127\.0\.0\.1:[0-9]+ peer=- local=server\.example\.test rx=0 tx=0 ms=[0-9]+ end=handshake-failed errno=EACCES reason="
# The daemon logged the refusal with the caller.
tk_expect_grep "$TK_TMP/tlskeyd.log" "event=acl-denied .* myname=server\.example\.test role=server"
# The remote never completed a handshake.
if grep -q "Handshake was completed" "$TK_TMP/c6.cli.log"; then
	tk_fail "case 6: the remote completed a handshake"
fi

# ---- 7. daemon not running --------------------------------------------------
tk_log "case 7: tlskeyd not running"
tk_daemon_stop
tt_remote_closed c7 "$P1"
tk_tunnel_wait_log t1 "conn=3 .* end=handshake-failed errno=(ENOENT|ECONNREFUSED) reason="
# The tunnel itself is still there and stops cleanly.
tk_tunnel_stop t1 "$T1"

# ---- 8. truncated TLS stream -> reset to the backend ---------------------------
tk_log "case 8: the remote truncates the stream"
HOSTILE=$top_builddir/test/fault/hostile
[ -x "$HOSTILE" ] || tk_fail "$HOSTILE not built"
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon did not start again"
# truncated NAME ERE: a tunnel in front of a backend that must read
# ECONNRESET after the data; the hostile peer sends "hello" and cuts the
# TLS stream; the tunnel's line for it must match ERE.
truncated() {
	local name=$1 ere=$2 t rc=0
	tk_tt_backend "be-$name" --count 1
	tk_tunnel "t-$name" --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT"
	t=$TT_PID
	timeout 30 "$HOSTILE" peer truncate "127.0.0.1:$TT_PORT" --cert "$TK_FX/peer-user.pem" \
		--key "$TK_FX/peer-user.key" --ca "$TK_FX/ca.pem" >"$TK_TMP/p-$name.out" 2>&1 || true
	tk_wait_pid "$TT_BACKEND_PID" 20 || rc=$?
	tk_log "$name: peer: $(tr '\n' ' ' <"$TK_TMP/p-$name.out"); backend exit $rc: $(tr '\n' ' ' <"$TK_TMP/be-$name.err")"
	tk_expect_line "$TK_TMP/be-$name.out" "hello"
	[ "$rc" = 1 ] || tk_fail "$name: backend exit $rc, want 1 (a read error, not EOF)"
	tk_expect_grep "$TK_TMP/be-$name.err" "^tt-backend: read: Connection reset by peer"
	tk_tunnel_wait_log "t-$name" "$ere"
	tk_tunnel_stop "t-$name" "$t"
}
truncated case-8 "conn=1 remote=127\.0\.0\.1:[0-9]+ peer=bob@example\.test .* end=reset errno=ECONNRESET"
# A UNIX protected descriptor: the truncation reads as EOF there.
tk_log "case 8b: the same with protected-socket = unix"
tk_daemon_stop
tk_conf unix protected-socket=unix
tk_daemon_start "$TK_TMP/unix.conf" || tk_fail "daemon did not start with protected-socket = unix"
truncated case-8b "conn=1 .* peer=bob@example\.test .* end=reset errno=ECONNRESET reason=\"the TLS stream was cut"
tk_daemon_stop
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon did not start again"

# ---- 9. idle timeout --------------------------------------------------------------
tk_log "case 9: --idle-timeout 1s"
tk_tt_backend be9 --count 2
tk_tunnel t9 --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--idle-timeout 1s
T9=$TT_PID
cli9() {
	timeout 20 gnutls-cli --logfile="$TK_TMP/$1.cli.log" --port "$TT_PORT" \
		--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
		--x509keyfile "$TK_FX/peer-user.key" --verify-hostname server.example.test \
		--sni-hostname server.example.test 127.0.0.1 >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err"
}
(for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.4; done) | cli9 c9a || true
[ "$(grep -c '^tick ' "$TK_TMP/c9a.out")" = 6 ] || tk_fail "case 9: a busy connection was cut: $(tr '\n' ' ' <"$TK_TMP/c9a.out")"
tk_tunnel_wait_log t9 "conn=1 .* end=eof\$"
(echo "quiet after this"; sleep 5) | cli9 c9b || true
tk_expect_line "$TK_TMP/c9b.out" "quiet after this"
tk_tunnel_wait_log t9 "conn=2 .* end=idle-timeout errno=ETIMEDOUT reason=\"no data in either direction\""
ms=$(sed -n 's/.*conn=2 .* ms=\([0-9]*\) end=idle-timeout.*/\1/p' "$TK_TMP/t9.log")
tk_log "case 9: the quiet connection lived $ms ms"
[ "${ms:-0}" -ge 900 ] && [ "$ms" -lt 4000 ] || tk_fail "case 9: the idle connection lived ${ms:-?} ms"
rc=0
tk_wait_pid "$TT_BACKEND_PID" 20 || rc=$?
[ "$rc" = 1 ] || tk_fail "case 9: backend exit $rc, want 1 (reset by the idle timeout)"
tk_expect_grep "$TK_TMP/be9.err" "^tt-backend: read: Connection reset by peer"
tk_tunnel_stop t9 "$T9"

# ---- 10. --sni-allow ---------------------------------------------------------------
tk_log "case 10: --sni-allow"
tk_tt_backend be10 --count 2
tk_tunnel t10 --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--sni-allow 'server.example.test,*.alt.test'
T10=$TT_PID
cli10() { # NAME SNI
	echo "hello $2" | timeout 20 gnutls-cli --logfile="$TK_TMP/$1.cli.log" --port "$TT_PORT" \
		--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
		--x509keyfile "$TK_FX/peer-user.key" --verify-hostname server.example.test \
		--sni-hostname "$2" 127.0.0.1 >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err"
}
n=0
for sni in server.example.test www.alt.test; do
	n=$((n + 1))
	cli10 "c10-$n" "$sni" || true
	tk_expect_line "$TK_TMP/c10-$n.out" "hello $sni"
	tk_tunnel_wait_log t10 "conn=$n .* peer=bob@example\.test .* end=eof\$"
done
for sni in other.example.test alt.test; do
	n=$((n + 1))
	cli10 "c10-$n" "$sni" || true
	[ ! -s "$TK_TMP/c10-$n.out" ] || tk_fail "case 10: $sni got data through"
	tk_expect_grep "$TK_TMP/c10-$n.cli.log" 'alert \[112\]|not recognized'
	tk_tunnel_wait_log t10 "conn=$n .* end=handshake-failed errno=EHOSTUNREACH reason=\"server name $sni is not in --sni-allow\""
done
tk_tunnel_stop t10 "$T10"

tk_log "PASS"
exit 0
