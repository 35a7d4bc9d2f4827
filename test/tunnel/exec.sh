#!/bin/bash
# tlskey-tunnel server mode with --exec (inetd style): the protected
# descriptor is the child's stdin and stdout; TLSKEY_PEER, TLSKEY_LOCAL,
# REMOTE_ADDR and REMOTE_PORT describe the connection.  The child here is
# /bin/sh printing its environment, then cat echoing the data.  Two
# connections, then SIGTERM with a child still running: the child gets
# SIGTERM (logged as end=signal:15), the tunnel exits 0.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_setup

tk_lines "$TK_TMP/data" 500 "exec line " >/dev/null
# shellcheck disable=SC2016
script='printf "peer=%s local=%s addr=%s port=%s\n" "$TLSKEY_PEER" "$TLSKEY_LOCAL" "$REMOTE_ADDR" "$REMOTE_PORT"; exec cat'
tk_tunnel t1 --mode server --myname server.example.test --max-conns 4 \
	--exec /bin/sh -c "$script"
T1=$TT_PID

for n in 1 2; do
	tk_log "case $n"
	hdr_len=$(printf 'peer=bob@example.test local=server.example.test addr=127.0.0.1 port=00000\n' | wc -c)
	# The port has 4 or 5 digits; wait for the header's minimum and all data.
	want=$(($(wc -c <"$TK_TMP/data") + hdr_len - 1))
	tk_run_ok "$n: gnutls-cli" "$TK_TMP/c$n.cli.log" "$TK_TMP/t1.log" -- \
		tk_tt_gnutls_cli "c$n" "$TT_PORT" "$want" "$TK_TMP/data" 127.0.0.1
	tk_expect_grep "$TK_TMP/c$n.out" '^peer=bob@example\.test local=server\.example\.test addr=127\.0\.0\.1 port=[0-9]+$'
	port=$(sed -n '1s/.* port=//p' "$TK_TMP/c$n.out")
	tail -n +2 "$TK_TMP/c$n.out" >"$TK_TMP/c$n.body"
	tk_same "$TK_TMP/data" "$TK_TMP/c$n.body"
	tk_tunnel_wait_log t1 "^tlskey-tunnel: conn=$n remote=127\.0\.0\.1:$port peer=bob@example\.test local=server\.example\.test rx=- tx=- ms=[0-9]+ end=exit:0\$"
done

# A connection whose child is still running when SIGTERM arrives.
tk_log "case 3: SIGTERM with a running child"
mkfifo "$TK_TMP/hold.fifo"
exec 8<>"$TK_TMP/hold.fifo"
tk_bg timeout 60 gnutls-cli --port "$TT_PORT" --x509cafile "$TK_FX/ca.pem" \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
	--verify-hostname server.example.test 127.0.0.1 <"$TK_TMP/hold.fifo" >"$TK_TMP/c3.out" 2>"$TK_TMP/c3.err" 8>&-
C3=$TK_BG_PID
for i in $(seq 100); do
	grep -q '^peer=' "$TK_TMP/c3.out" && break
	sleep 0.1
done
tk_expect_grep "$TK_TMP/c3.out" '^peer=bob@example\.test '
tk_tunnel_stop t1 "$T1"
tk_expect_grep "$TK_TMP/t1.log" "conn=3 .* end=signal:15\$"
exec 8>&-
tk_wait_pid "$C3" 10 || true

tk_daemon_alive
tk_pass
