#!/bin/bash
# The daemon at its open file limit: sessions beyond what it can hold are
# refused or wait with a clear log line, the daemon does not spin on its
# listening socket, established sessions keep working, and once sessions
# end new requests succeed again.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need prlimit gnutls-serv
tk_setup

tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
# One session first, so whatever the libraries open lazily is open.
tk_legit_check warm-up
base=$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)
# Room for about 24 sessions (2 descriptors each) above the baseline,
# less the daemon's reserve (8 + 3 per worker: 14 with the fixture's 2).
limit=$((base + 48))
prlimit --pid "$TK_DAEMON_PID" --nofile="$limit:$limit" || tk_skip "prlimit cannot lower the limit here"
tk_log "baseline $base descriptors, limit now $limit"
sleep 1.5 # the daemon reads its limit again once a second

# 30 clients at once that keep their sessions open (stdin stays open 12 s).
n=30
pids=()
for i in $(seq $n); do
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
tk_log "$up of $n sessions up"
# Admission stops before the limit, so every request it accepted can be
# served: about 16 sessions fit, and none was lost to a failed receive.
[ "$up" -ge 8 ] || tk_fail "only $up sessions were established below the limit"
[ "$up" -lt "$n" ] || tk_fail "all $n sessions fit: the limit did not bite"
tk_expect_grep "$TK_TMP/tlskeyd.log" "cannot accept more clients: open file limit reached"
if grep -q 'out of file descriptors' "$TK_TMP/tlskeyd.log"; then
	tk_fail "an accepted request was dropped for lack of descriptors"
fi

# Release everything; the daemon must serve again.
for p in "${pids[@]}"; do tk_wait_pid "$p" 40 || true; done
prlimit --pid "$TK_DAEMON_PID" --nofile=4096:4096 || true
sleep 1.5
tk_legit_check after-limit
tk_pass
