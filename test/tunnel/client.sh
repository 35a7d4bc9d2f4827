#!/bin/bash
# tlskey-tunnel client mode: a local plaintext client (tt-backend send) ->
# tunnel (alice@example.test, key on the token) -> gnutls-serv requiring and
# verifying client certificates, echoing.  TCP and UNIX listeners.
# Then both modes chained, which checks half-close in both directions and
# backpressure with 4 MiB:
#   tt-backend send -> tunnel client (alice) -> tunnel server
#   (server.example.test, --proxy-v2) -> tt-backend echo --at-eof
# The backend answers only after it saw EOF, so the client's half-close
# must cross both tunnels (and TLS as close_notify) while the way back
# stays open.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
tk_setup

want=$(tk_lines "$TK_TMP/data" 3000 "line from the local plaintext client ")

# send NAME ADDR TUNNEL-LOG: the local client sends the data to the tunnel
# at ADDR and must get it all back.
send() {
	cp "$TK_TMP/data" "$TK_TMP/$1.in"
	tk_run_ok "$1: send" "$TK_TMP/$1.err" "$TK_TMP/$3.log" -- tk_tt_send "$1" "$2"
	tk_same "$TK_TMP/data" "$TK_TMP/$1.out"
}

# ---- 1. TCP listener against gnutls-serv --------------------------------
tk_log "case 1: client mode, TCP listener"
tk_start_gnutls_serv srv1 --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
SRV=$TK_PEER_PID
tk_tunnel t1 --mode client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
T1=$TT_PID
send s1 "127.0.0.1:$TT_PORT" t1
tk_expect_grep "$TK_TMP/srv1.out" "alice@example\.test"
tk_tunnel_wait_log t1 "^tlskey-tunnel: conn=1 remote=127\.0\.0\.1:[0-9]+ peer=peer\.example\.test local=alice@example\.test rx=$want tx=$want ms=[0-9]+ end=eof\$"
tk_tunnel_stop t1 "$T1"

# ---- 2. UNIX listener, RSA key ---------------------------------------------
tk_log "case 2: client mode, UNIX listener"
tk_tunnel t2 --mode client --listen "unix:$TK_TMP/plain.sock" --connect "127.0.0.1:$TK_PORT" \
	--myname carol@example.test --sni peer.example.test
T2=$TT_PID
[ -S "$TK_TMP/plain.sock" ] || tk_fail "no UNIX listener at $TK_TMP/plain.sock"
send s2 "unix:$TK_TMP/plain.sock" t2
tk_expect_grep "$TK_TMP/srv1.out" "carol@example\.test"
tk_tunnel_wait_log t2 "conn=1 remote=unix peer=peer\.example\.test local=carol@example\.test rx=$want tx=$want .* end=eof\$"
tk_tunnel_stop t2 "$T2"
# The socket is removed at exit.
[ ! -e "$TK_TMP/plain.sock" ] || tk_fail "UNIX listener not removed at exit"
# A SIGHUP that spells the same UNIX path another way names the socket
# file the listener bound: the tunnel keeps that listener (binding anew
# would first remove the file clients connect to), and must not remove it.
tk_log "case 2b: SIGHUP, the UNIX listener's path spelled another way"
CONF=$TK_TMP/t2b.conf
cat >"$CONF" <<EOC
mode = client
listen = unix:$TK_TMP/r.sock
connect = 127.0.0.1:$TK_PORT
myname = carol@example.test
sni = peer.example.test
EOC
TT_NO_PORT_FILE=1 tk_tunnel t2b --config "$CONF"
T2B=$TT_PID
[ -S "$TK_TMP/r.sock" ] || tk_fail "no UNIX listener at $TK_TMP/r.sock"
ino=$(stat -c %i "$TK_TMP/r.sock")
sed -i "s|^listen = .*|listen = unix:$TK_TMP/./r.sock|" "$CONF"
kill -HUP "$T2B"
tk_tunnel_wait_log t2b "^tlskey-tunnel: SIGHUP: configuration reloaded \\(0 connections kept\\)\$"
[ -S "$TK_TMP/r.sock" ] || tk_fail "the reload removed the listener's socket $TK_TMP/r.sock"
[ "$(stat -c %i "$TK_TMP/r.sock")" = "$ino" ] ||
	tk_fail "the reload bound a new socket file for the same listener"
send s2b "unix:$TK_TMP/r.sock" t2b
tk_tunnel_wait_log t2b "conn=1 remote=unix peer=peer\.example\.test local=carol@example\.test rx=$want tx=$want .* end=eof\$"

# case 2c: a socket someone still listens on is not a stale one: a second
# tunnel at that path does not start, and the first keeps serving.
tk_log "case 2c: a live UNIX listener at the path is left alone"
rc=0
timeout 20 "$TT_TUNNEL" --mode client --listen "unix:$TK_TMP/r.sock" --connect "127.0.0.1:$TK_PORT" \
	--myname carol@example.test --sni peer.example.test </dev/null >/dev/null 2>"$TK_TMP/t2c.log" || rc=$?
[ "$rc" = 1 ] || { cat "$TK_TMP/t2c.log" >&2; tk_fail "second tunnel on a live UNIX socket: exit $rc, want 1"; }
tk_expect_grep "$TK_TMP/t2c.log" "cannot listen on unix:$TK_TMP/r\.sock: Address already in use"
[ "$(stat -c %i "$TK_TMP/r.sock")" = "$ino" ] || tk_fail "the second tunnel replaced the live socket"
send s2c "unix:$TK_TMP/r.sock" t2b
# (conn=2 was the second tunnel's probe: a connect, closed at once.)
tk_tunnel_wait_log t2b "conn=2 remote=unix peer=peer\.example\.test local=carol@example\.test rx=0 tx=0 .* end=eof\$"
tk_tunnel_wait_log t2b "conn=3 remote=unix peer=peer\.example\.test local=carol@example\.test rx=$want tx=$want .* end=eof\$"
tk_tunnel_stop t2b "$T2B"
[ ! -e "$TK_TMP/r.sock" ] || tk_fail "UNIX listener not removed at exit (after the reload)"

# case 2d: the socket of a tunnel that died (SIGKILL: no cleanup) is stale
# and is replaced by the next one.
tk_log "case 2d: a stale UNIX socket is replaced"
tk_tunnel t2d --mode client --listen "unix:$TK_TMP/r.sock" --connect "127.0.0.1:$TK_PORT" \
	--myname carol@example.test --sni peer.example.test
kill -KILL "$TT_PID"
tk_wait_pid "$TT_PID" 10 || true
[ -S "$TK_TMP/r.sock" ] || tk_fail "SIGKILL left no socket: the stale case is not tested"
tk_tunnel t2e --mode client --listen "unix:$TK_TMP/r.sock" --connect "127.0.0.1:$TK_PORT" \
	--myname carol@example.test --sni peer.example.test
T2E=$TT_PID
send s2e "unix:$TK_TMP/r.sock" t2e
tk_tunnel_wait_log t2e "conn=1 remote=unix peer=peer\.example\.test local=carol@example\.test rx=$want tx=$want .* end=eof\$"
tk_tunnel_stop t2e "$T2E"
kill "$SRV" 2>/dev/null || true
tk_wait_pid "$SRV" 5 || true

# ---- 3. both modes chained, half-close, 4 MiB --------------------------------
tk_log "case 3: chain, half-close both ways"
head -c 4194304 /dev/urandom >"$TK_TMP/big"
big=$(wc -c <"$TK_TMP/big")
tk_tt_backend be3 --proxy-v2 --at-eof
tk_tunnel t3s --mode server --myname server.example.test \
	--backend "127.0.0.1:$TT_BACKEND_PORT" --proxy-v2
T3S=$TT_PID
tk_tunnel t3c --mode client --listen "unix:$TK_TMP/chain.sock" --connect "127.0.0.1:$TT_PORT" \
	--myname alice@example.test --sni server.example.test
T3C=$TT_PID
cp "$TK_TMP/big" "$TK_TMP/s3.in"
tk_run_ok "3: send" "$TK_TMP/s3.err" "$TK_TMP/t3c.log" "$TK_TMP/t3s.log" -- \
	tk_tt_send s3 "unix:$TK_TMP/chain.sock"
tk_same "$TK_TMP/big" "$TK_TMP/s3.out"
tk_wait_pid "$TT_BACKEND_PID" 20 || tk_fail "backend be3 failed: $(cat "$TK_TMP/be3.err")"
tk_same "$TK_TMP/big" "$TK_TMP/be3.out"
tk_expect_grep "$TK_TMP/be3.err" "^PROXY fam=tcp4 .* cn=alice@example\.test\$"
tk_tunnel_wait_log t3c "conn=1 remote=unix peer=server\.example\.test local=alice@example\.test rx=$big tx=$big .* end=eof\$"
tk_tunnel_wait_log t3s "conn=1 remote=127\.0\.0\.1:[0-9]+ peer=alice@example\.test local=server\.example\.test rx=$big tx=$big .* end=eof\$"
tk_tunnel_stop t3c "$T3C"
tk_tunnel_stop t3s "$T3S"

tk_daemon_alive
tk_pass
