#!/bin/bash
# SIGTERM must not make a stream cut short look complete to the remote
# peer (a review, 2026-12-03): the tunnel used to close every connection
# cleanly at shutdown, so tlskeyd sent close_notify and a peer in the
# middle of a 64 MiB download took the 9.6 MB it had for the whole of it.
# Now only a relay with nothing owed either way closes cleanly; the rest
# are reset on both sides.  The remote peer is test/hostile/sink-peer.py
# (Python's ssl, ragged EOFs reported); the backend is "tt-backend source",
# which sends its stdin and says how the tunnel ended its connection.
#  1. Control: the backend sends 1000 bytes and half-closes; the peer reads
#     them and pauses (the connection stays open, close_notify unread);
#     SIGTERM: the peer then reads "END clean 1000"; the peer's own
#     stream never ended, so the backend reads a reset (end=reset), and
#     the line says so (errno=ECONNABORTED, "the plaintext side reset").
#  2. The backend streams 64 MiB; the peer reads 1 MiB and pauses, so the
#     stream cannot finish before the signal lands; SIGTERM: the line says
#     end=shutdown errno=ECONNABORTED, the peer sees "END reset" or "END
#     truncated" (no close_notify), the backend's send fails with a reset.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup
PEER=$top_srcdir/test/hostile/sink-peer.py
tk_built "$TT_BACKEND"

# source NAME: "tt-backend source" with stdin NAME.in; sets SRC_PID, SRC_PORT.
source_start() {
	rm -f "$TK_TMP/$1.port"
	tk_bg timeout 60 "$TT_BACKEND" source --port-file "$TK_TMP/$1.port" --timeout 40 \
		<"$TK_TMP/$1.in" >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err"
	SRC_PID=$TK_BG_PID
	tk_wait_file "$TK_TMP/$1.port" "$SRC_PID" 10 || tk_fail "backend $1 did not start"
	SRC_PORT=$(cat "$TK_TMP/$1.port")
}

# sink NAME ARGS...: sink-peer.py (bob) against the tunnel on TT_PORT,
# pausing at the cue NAME.go until SIGUSR1; sets SINK.
sink() {
	local n=$1
	shift
	tk_bg timeout 60 python3 "$PEER" "$TT_PORT" --ca "$TK_FX/ca.pem" --cert "$TK_FX/peer-user.pem" \
		--key "$TK_FX/peer-user.key" --signal-file "$TK_TMP/$n.go" --pause "$@" >"$TK_TMP/$n.peer" 2>&1
	SINK=$TK_BG_PID
}

# ---- 1. control: a finished stream, still open at SIGTERM ---------------------
tk_log "case 1: a complete stream at SIGTERM ends clean"
head -c 1000 /dev/zero >"$TK_TMP/small.in"
source_start small
tk_tunnel t1 --mode server --myname server.example.test --backend "127.0.0.1:$SRC_PORT"
T1=$TT_PID
sink small --first 1000
tk_wait_file "$TK_TMP/small.go" "$SINK" 20 || tk_fail "case 1: the peer did not get 1000 bytes"
# The backend's half-close went out after its data: the tunnel reads it
# long before the peer's cue (the bytes crossed tlskeyd meanwhile).
tk_wait_line "$TK_TMP/small.err" '^SOURCE sent=1000$' 10 "$SRC_PID" || tk_fail "case 1: backend did not finish"
tk_tunnel_stop t1 "$T1"
kill -USR1 "$(cat "$TK_TMP/small.go")" # the python peer under timeout, ours
tk_wait_pid "$SINK" 20 || true
tk_log "case 1: peer: $(tr '\n' ' ' <"$TK_TMP/small.peer"); backend: $(tr '\n' ' ' <"$TK_TMP/small.err")"
tk_expect_line "$TK_TMP/small.peer" "END clean 1000"
# The peer's own stream (nothing yet, not ended) was cut: the backend
# must not read a clean end of it (it read EOF before, a review found).
tk_expect_grep "$TK_TMP/t1.log" '^tlskey-tunnel: conn=1 .* peer=bob@example\.test .* rx=0 tx=1000 ms=[0-9]+ end=shutdown errno=ECONNABORTED reason="the peer.s stream cut short by SIGTERM: the plaintext side reset"$'
tk_wait_pid "$SRC_PID" 10 || true
tk_expect_line "$TK_TMP/small.err" "SOURCE end=reset"

# ---- 2. a stream cut in the middle -----------------------------------------------
tk_log "case 2: 64 MiB, SIGTERM after 1 MiB"
head -c 67108864 /dev/zero >"$TK_TMP/big.in"
source_start big
tk_tunnel t2 --mode server --myname server.example.test --backend "127.0.0.1:$SRC_PORT"
T2=$TT_PID
sink big --first 1048576
tk_wait_file "$TK_TMP/big.go" "$SINK" 20 || tk_fail "case 2: the peer did not get 1 MiB"
tk_tunnel_stop t2 "$T2"
kill -USR1 "$(cat "$TK_TMP/big.go")"
tk_wait_pid "$SINK" 20 || true
rc=0
tk_wait_pid "$SRC_PID" 20 || rc=$?
tk_log "case 2: peer: $(tr '\n' ' ' <"$TK_TMP/big.peer"); backend exit $rc: $(tr '\n' ' ' <"$TK_TMP/big.err")"
tk_expect_grep "$TK_TMP/big.peer" '^END (reset|truncated) [0-9]+$'
got=$(sed -n 's/^END [a-z]* //p' "$TK_TMP/big.peer")
[ "$got" -lt 67108864 ] || tk_fail "case 2: the peer got the whole stream ($got bytes)"
tk_expect_grep "$TK_TMP/t2.log" '^tlskey-tunnel: conn=1 .* peer=bob@example\.test .* end=shutdown errno=ECONNABORTED reason="cut short by SIGTERM: both sides reset"$'
[ "$rc" = 1 ] || tk_fail "case 2: backend exit $rc, want 1 (its send reset)"
tk_expect_grep "$TK_TMP/big.err" '^SOURCE error sent=[0-9]+: Connection reset by peer$'

tk_daemon_alive
tk_pass
