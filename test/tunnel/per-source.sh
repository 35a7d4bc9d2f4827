#!/bin/bash
# --max-conns-per-source: one source address that holds silent connections
# cannot take every slot of a server-mode tunnel.
#  1. --max-conns 8, so the default share is 2 per source: a flood of 8
#     silent connections from 127.0.0.2 holds 2 slots and the other 6 are
#     reset at once, with one log line.  A client from 127.0.0.1 is served
#     at once, before the flood's connections reach their handshake timer.
#  2. --max-conns-per-source 0 (no cap), the same flood: all 8 slots are
#     taken, the listener pauses ("max-conns 8 reached"), and the client is
#     served only after the flood's timer ends it.  This is what case 1
#     prevents, and it shows that case 1's check can fail.
#  3. A SIGHUP that sets the cap applies it to the next connections.
#  4. Bad values exit 2; client mode has no default cap.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli python3
tk_setup
printf 'hello through the tunnel\n' >"$TK_TMP/data"
want=$(wc -c <"$TK_TMP/data")

# flood NAME PORT N HOLD: N TCP connections from 127.0.0.2 that never
# speak. Each is held, or reset or closed by the tunnel within 1.5 s; prints
# "held H closed C" once it knows, then keeps the held ones HOLD seconds.
flood() {
	tk_bg timeout 60 python3 - "$2" "$3" "$4" >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err" <<'EOF'
import select, socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
deadline = time.monotonic() + 1.5
closed = set()
while time.monotonic() < deadline and len(closed) < n:
    r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.1)
    for s in r:
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except OSError:
            closed.add(s)
print("held %d closed %d" % (n - len(closed), len(closed)), flush=True)
time.sleep(hold)
EOF
	FLOOD_PID=$TK_BG_PID
	tk_wait_until 10 "$FLOOD_PID" test -s "$TK_TMP/$1.out" || tk_fail "$1: the flood did not report"
	tk_log "$1: $(cat "$TK_TMP/$1.out")"
}
# first_line FILE ERE: the number of the first line matching ERE (or "").
first_line() { grep -nE -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# ---- 1. the default share ----------------------------------------------------
tk_log "case 1: --max-conns 8, default share"
tk_tt_backend be1
tk_tunnel t1 --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--max-conns 8 --timeout 10s
T1=$TT_PID
tk_expect_grep "$TK_TMP/t1.log" 'max-conns 8, at most 2 from one source address'
flood f1 "$TT_PORT" 8 12
[ "$(cat "$TK_TMP/f1.out")" = "held 2 closed 6" ] || tk_fail "case 1: the flood got $(cat "$TK_TMP/f1.out"), wanted 2 held, 6 closed"
tk_tunnel_wait_log t1 'max-conns-per-source 2 reached for 127\.0\.0\.2:[0-9]+: connection reset'
[ "$(grep -c 'max-conns-per-source' "$TK_TMP/t1.log")" = 1 ] || tk_fail "case 1: more than one line about the share"
tk_run_ok "case 1: gnutls-cli" "$TK_TMP/c1.cli.log" "$TK_TMP/t1.log" -- \
	tk_tt_gnutls_cli c1 "$TT_PORT" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c1.out"
tk_tunnel_wait_log t1 "conn=[0-9]+ remote=127\.0\.0\.1:[0-9]+ peer=bob@example\.test .* rx=$want tx=$want .* end=eof\$"
! grep -q 'errno=ETIMEDOUT' "$TK_TMP/t1.log" || tk_fail "case 1: the client was served only after the flood's timer"
! grep -q 'max-conns 8 reached' "$TK_TMP/t1.log" || tk_fail "case 1: the flood filled max-conns"
kill "$FLOOD_PID" 2>/dev/null || true
tk_wait_pid "$FLOOD_PID" 10 || true
tk_tunnel_stop t1 "$T1"

# ---- 2. no cap -----------------------------------------------------------------
tk_log "case 2: --max-conns-per-source 0"
tk_tt_backend be2
tk_tunnel t2 --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT" \
	--max-conns 8 --max-conns-per-source 0 --timeout 2s
T2=$TT_PID
tk_expect_grep "$TK_TMP/t2.log" 'max-conns 8, no cap per source address'
flood f2 "$TT_PORT" 8 12
[ "$(cat "$TK_TMP/f2.out")" = "held 8 closed 0" ] || tk_fail "case 2: the flood got $(cat "$TK_TMP/f2.out"), wanted all 8 held"
tk_tunnel_wait_log t2 'max-conns 8 reached'
tk_run_ok "case 2: gnutls-cli" "$TK_TMP/c2.cli.log" "$TK_TMP/t2.log" -- \
	tk_tt_gnutls_cli c2 "$TT_PORT" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c2.out"
tk_tunnel_wait_log t2 "remote=127\.0\.0\.1:[0-9]+ peer=bob@example\.test .* end=eof\$"
timed=$(first_line "$TK_TMP/t2.log" 'remote=127\.0\.0\.2:.* errno=ETIMEDOUT')
served=$(first_line "$TK_TMP/t2.log" 'remote=127\.0\.0\.1:.* end=eof$')
[ -n "$timed" ] && [ "$timed" -lt "$served" ] || tk_fail "case 2: the client was served before the flood's timer (lines $timed, $served)"

# ---- 3. a SIGHUP sets the cap ---------------------------------------------------
kill "$FLOOD_PID" 2>/dev/null || true
tk_wait_pid "$FLOOD_PID" 10 || true
tk_tunnel_stop t2 "$T2"
tk_log "case 3: a SIGHUP sets --max-conns-per-source 1"
# tt_conf CAP: the tunnel's configuration file with that cap.
tt_conf() {
	printf '%s\n' "mode = server" "myname = server.example.test" \
		"backend = 127.0.0.1:$TT_BACKEND_PORT" "max-conns = 8" "timeout = 10s" \
		"max-conns-per-source = $1" >"$TK_TMP/t3.conf.new"
	chmod 600 "$TK_TMP/t3.conf.new"
	mv -f "$TK_TMP/t3.conf.new" "$TK_TMP/t3.conf"
}
tk_tt_backend be3
tt_conf 0
tk_tunnel t3 --listen 127.0.0.1:0 --config "$TK_TMP/t3.conf"
T3=$TT_PID
flood f3a "$TT_PORT" 3 12
F3A=$FLOOD_PID
[ "$(cat "$TK_TMP/f3a.out")" = "held 3 closed 0" ] || tk_fail "case 3: before the reload: $(cat "$TK_TMP/f3a.out")"
tt_conf 1
kill -HUP "$T3"
tk_tunnel_wait_log t3 'SIGHUP: configuration reloaded \(3 connections kept\)'
tk_expect_grep "$TK_TMP/t3.log" 'max-conns 8, at most 1 from one source address'
# The 3 held connections count: the source is over its new share.
flood f3b "$TT_PORT" 2 0
[ "$(cat "$TK_TMP/f3b.out")" = "held 0 closed 2" ] || tk_fail "case 3: after the reload: $(cat "$TK_TMP/f3b.out")"
tk_run_ok "case 3: gnutls-cli" "$TK_TMP/c3.cli.log" "$TK_TMP/t3.log" -- \
	tk_tt_gnutls_cli c3 "$TT_PORT" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c3.out"
kill "$F3A" 2>/dev/null || true
tk_wait_pid "$F3A" 10 || true
tk_tunnel_stop t3 "$T3"

# ---- 4. bad values, client mode ---------------------------------------------------
tk_log "case 4: bad values"
for v in -1 65537 abc ""; do
	rc=0
	timeout 10 "$TT_TUNNEL" --mode server --listen 127.0.0.1:0 --myname server.example.test \
		--backend "127.0.0.1:$TT_BACKEND_PORT" --max-conns-per-source "$v" \
		>"$TK_TMP/bad.out" 2>"$TK_TMP/bad.err" || rc=$?
	[ "$rc" = 2 ] || tk_fail "case 4: --max-conns-per-source '$v' exited $rc, wanted 2"
	tk_expect_grep "$TK_TMP/bad.err" "max-conns-per-source.*expected 0 \(no cap\) to 65536"
done
tk_tunnel t4 --mode client --connect "127.0.0.1:$TT_BACKEND_PORT" --myname alice@example.test \
	--sni peer.example.test --max-conns 8
tk_expect_grep "$TK_TMP/t4.log" 'max-conns 8, no cap per source address'
T4=$TT_PID
tk_tunnel_stop t4 "$T4"
tk_pass
