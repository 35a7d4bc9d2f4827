#!/bin/bash
# The daemon at its open file limit: sessions beyond what it can hold are
# refused or wait with a clear log line, the daemon does not spin on its
# listening socket, established sessions keep working, and once sessions
# end new requests succeed again.
. "${top_srcdir:-.}/test/softhsm/lib.sh"
tk_need prlimit gnutls-serv
tk_setup

tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
base=$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)
# Room for about 8 sessions (2 descriptors each) above the baseline.
limit=$((base + 16))
prlimit --pid "$TK_DAEMON_PID" --nofile="$limit:$limit" || tk_skip "prlimit cannot lower the limit here"
tk_log "baseline $base descriptors, limit now $limit"

# 20 clients that keep their sessions open (stdin stays open 12 s).
pids=()
for i in $(seq 20); do
	(sleep 12 | timeout 30 "$TK_APP" client --connect "127.0.0.1:$PEER_PORT" \
		--myname alice@example.test --sni peer.example.test \
		>"$TK_TMP/c$i.out" 2>"$TK_TMP/c$i.err") &
	pids+=("$!")
done

# While they are held: the daemon must not burn CPU on a listener it
# cannot accept from.
sleep 3
ticks() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
t0=$(ticks)
sleep 2
t1=$(ticks)
hz=$(getconf CLK_TCK)
tk_log "daemon CPU while at the limit: $(( (t1 - t0) * 1000 / hz )) ms in 2 s"
[ $((t1 - t0)) -lt $((hz / 2)) ] || tk_fail "daemon spins at its descriptor limit ($((t1 - t0)) ticks in 2 s)"
tk_daemon_alive
up=$(grep -l '^PEER=peer.example.test' "$TK_TMP"/c*.err 2>/dev/null | wc -l)
tk_log "$up of 20 sessions up"
[ "$up" -ge 4 ] || tk_fail "only $up sessions were established below the limit"
[ "$up" -lt 20 ] || tk_fail "all 20 sessions fit: the limit did not bite"
tk_expect_grep "$TK_TMP/tlskeyd.log" "cannot accept more clients: Too many open files|out of file descriptors|Too many open files"

# Release everything; the daemon must serve again.
for p in "${pids[@]}"; do tk_wait_pid "$p" 40 || true; done
prlimit --pid "$TK_DAEMON_PID" --nofile=4096:4096 || true
sleep 1.5
tk_legit_check after-limit
tk_pass
