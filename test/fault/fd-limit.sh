#!/bin/bash
# The daemon at its open file limit: sessions beyond what it can hold are
# refused or wait with a clear log line, the daemon does not spin on its
# listening socket, established sessions keep working, and once sessions
# end new requests succeed again.  tlskeyctl status reports the limit and
# the estimate it admits by, and counts the pause; while paused (when
# tlskeyctl status waits in the backlog too) the service manager's STATUS=
# says so.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need prlimit gnutls-serv python3
tk_setup --no-daemon
# A stand-in for the service manager's notification socket: one line per
# datagram.
tk_bg timeout 120 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    print("bound", file=f, flush=True)
    while True:
        print(s.recv(4096).decode(errors="replace").replace("\n", " | "), file=f, flush=True)
' "$TK_TMP/notify.sock" "$TK_TMP/notify.log" </dev/null
tk_wait_file "$TK_TMP/notify.log" "$TK_BG_PID" 10 || tk_fail "the notification socket did not come up"
NOTIFY_SOCKET=$TK_TMP/notify.sock tk_daemon_start "$TK_FX/tlskeyd.conf"

tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
# One session first, so whatever the libraries open lazily is open.
tk_legit_check warm-up
# st KEY: the value of "KEY: value" in tlskeyctl status (empty if none).
st() { timeout 10 "$TLSKEYCTL" status 2>/dev/null | awk -v k="$1" -F': ' '$1 == k { print $2 }'; }
limit_is() { [ "$(st 'descriptors in use' | sed -n 's/^about [0-9]* of //p')" = "$1" ]; }
[ "$(st 'pauses at the descriptor limit')" = 0 ] || tk_fail "a pause counted before any: $(st 'pauses at the descriptor limit')"
used=$(st 'descriptors in use' | sed -n 's/^about \([0-9]*\) of [0-9]*$/\1/p')
[ -n "$used" ] || tk_fail "no 'descriptors in use: about N of M' in tlskeyctl status"
base=$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)
# Room for about 24 sessions (2 descriptors each) above the baseline,
# less the daemon's reserve (8 + 3 per worker: 14 with the fixture's 2).
limit=$((base + 48))
# Only the soft limit: raising a hard limit again needs CAP_SYS_RESOURCE.
read -r soft hard < <(prlimit --pid "$TK_DAEMON_PID" --nofile --output SOFT,HARD --noheadings)
[ "$soft" -gt $((limit + 64)) ] 2>/dev/null || tk_skip "the daemon's soft limit is only $soft"
prlimit --pid "$TK_DAEMON_PID" --nofile="$limit:" || tk_skip "prlimit cannot lower the limit here"
tk_log "baseline $base descriptors, limit now $limit"
# The daemon reads its limit again once a second.
tk_wait_until 10 "$TK_DAEMON_PID" limit_is "$limit" ||
	tk_fail "tlskeyctl status does not report the limit $limit: $(st 'descriptors in use')"
# Its estimate is the real count within the few descriptors a status
# request itself holds.
[ "$used" -ge $((base - 4)) ] && [ "$used" -le $((base + 4)) ] ||
	tk_fail "the status counts $used descriptors in use, /proc shows $base"

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
tk_wait_line "$TK_TMP/tlskeyd.log" "cannot accept more clients: open file limit reached" 20 "$TK_DAEMON_PID" ||
	tk_fail "the daemon did not pause at its limit: $(tail -3 "$TK_TMP/tlskeyd.log")"
tk_wait_line "$TK_TMP/notify.log" "STATUS=.*; paused at the descriptor limit \(about [0-9]+ of $limit in use\)" 5 ||
	tk_fail "STATUS= does not say the daemon is paused: $(tail -1 "$TK_TMP/notify.log")"
ticks() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
t0=$(ticks)
sleep 2
t1=$(ticks)
hz=$(getconf CLK_TCK)
tk_log "daemon CPU while at the limit: $(( (t1 - t0) * 1000 / hz )) ms in 2 s"
[ $((t1 - t0)) -lt $((hz / 2)) ] || tk_fail "daemon spins at its descriptor limit ($((t1 - t0)) ticks in 2 s)"
tk_daemon_alive
n_up() { grep -l '^PEER=peer.example.test' "$TK_TMP"/c*.err 2>/dev/null | wc -l; }
at_least_up() { [ "$(n_up)" -ge "$1" ]; }
tk_wait_until 10 "$TK_DAEMON_PID" at_least_up 8 || true
up=$(n_up)
tk_log "$up of $n sessions up"
# Admission stops before the limit, so every request it accepted can be
# served: about 16 sessions fit, and none was lost to a failed receive.
[ "$up" -ge 8 ] || tk_fail "only $up sessions were established below the limit"
[ "$up" -lt "$n" ] || tk_fail "all $n sessions fit: the limit did not bite"
if grep -q 'out of file descriptors' "$TK_TMP/tlskeyd.log"; then
	tk_fail "an accepted request was dropped for lack of descriptors"
fi
# The reserve is real: the token's own transient files still open, so no
# signature fails and the module is not reset (an estimate that counted a
# handshake or a queued request one descriptor short let the burst eat
# the reserve: "PKCS #11 error", then "re-initialising PKCS#11").
if grep -Eq 'PKCS #11 error|re-initialising|Too many open files' "$TK_TMP/tlskeyd.log"; then
	tk_fail "the daemon ran out of descriptors inside the limit: $(grep -Em3 'PKCS #11 error|re-initialising|Too many open files' "$TK_TMP/tlskeyd.log")"
fi

# Release everything; the daemon must serve again.
for p in "${pids[@]}"; do tk_wait_pid "$p" 40 || true; done
prlimit --pid "$TK_DAEMON_PID" --nofile="$soft:" || tk_fail "prlimit cannot restore the soft limit $soft"
tk_wait_until 10 "$TK_DAEMON_PID" limit_is "$soft" ||
	tk_fail "the raised limit does not show: $(st 'descriptors in use')"
[ "$(st 'pauses at the descriptor limit')" -ge 1 ] || tk_fail "the pause was not counted"
last_unpaused() { tail -1 "$TK_TMP/notify.log" | grep -E '^STATUS=[0-9]+ sessions' | grep -vq paused; }
tk_wait_until 5 "$TK_DAEMON_PID" last_unpaused || tk_fail "STATUS= still says paused: $(tail -1 "$TK_TMP/notify.log")"
tk_legit_check after-limit
tk_pass
