#!/bin/bash
# tlskey-tunnel reloads its configuration on SIGHUP (issue 10) without
# dropping connections:
#   1. a session (gnutls-cli as bob -> tunnel -> echo backend 1) is open;
#   2. the --config file gets a new listen address and backend 2; SIGHUP:
#      the new listener serves (its port in the port file), the old one is
#      gone, new connections reach backend 2, and the open session still
#      echoes through backend 1;
#   3. an invalid file (unknown key) and a mode change are refused: the log
#      says the previous configuration is kept, and it still serves;
#   4. the session ends with everything it sent echoed, in order;
#   5. a SIGHUP that sets an idle-timeout and another --myname: a session
#      already idle is ended by the new timer, and its line names the
#      identity its handshake used, not the new one.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli ss
tk_setup

tk_tt_backend be1 --count 1 --timeout 60
B1=$TT_BACKEND_PORT BE1=$TT_BACKEND_PID
tk_tt_backend be2 --count 2 --timeout 60
B2=$TT_BACKEND_PORT BE2=$TT_BACKEND_PID
CONF=$TK_TMP/t.conf
cat >"$CONF" <<EOC
mode = server
listen = 127.0.0.1:0
myname = server.example.test
backend = 127.0.0.1:$B1
EOC
tk_tunnel t --config "$CONF"
T=$TT_PID P1=$TT_PORT

# wait_for FILE TEXT: FILE gets the line TEXT (bounded: 10 s).  The session
# writes through fd 5: tk_fifo_client (tk_tt_gnutls_cli) uses fd 7.
wait_for() {
	tk_wait_until 10 "" grep -qxF -- "$2" "$1" ||
		{ cat "$1" "$TK_TMP/s.err" >&2; tk_fail "'$2' did not come back through the session"; }
}

# ---- 1. the long session ----------------------------------------------------
tk_held_cli s "$P1"
CLI=$TK_CLI_PID
echo "line 1, before the reload" >&6
wait_for "$TK_TMP/s.out" "line 1, before the reload"

# ---- 2. new listener and backend by SIGHUP -------------------------------------
P2=$(tk_free_port) || tk_fail "no free port"
sed -i "s/^listen = .*/listen = 127.0.0.1:$P2/; s/^backend = .*/backend = 127.0.0.1:$B2/" "$CONF"
kill -HUP "$T"
tk_tunnel_wait_log t "^tlskey-tunnel: SIGHUP: configuration reloaded, new listener \\(1 connections kept\\)\$"
tk_expect_grep "$TK_TMP/t.log" "server mode: TLS on 127\\.0\\.0\\.1:$P2 as server\\.example\\.test, backend 127\\.0\\.0\\.1:$B2\$"
[ "$(cat "$TK_TMP/t.port")" = "$P2" ] || tk_fail "port file says $(cat "$TK_TMP/t.port"), want $P2"
tk_listening "$P1" && tk_fail "the old listener on $P1 is still open"
tk_listening "$P2" || tk_fail "nothing listens on $P2"
want=$(tk_lines "$TK_TMP/data" 200 "line after the reload ")
tk_run_ok "c2: gnutls-cli" "$TK_TMP/c2.cli.log" "$TK_TMP/t.log" -- \
	tk_tt_gnutls_cli c2 "$P2" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c2.out"
tk_wait_until 10 "" tk_has_line "$TK_TMP/be2.out" "^line after the reload 200\$" ||
	tk_fail "backend 2 did not get the new connection's data"
echo "line 2, after the reload" >&6
wait_for "$TK_TMP/s.out" "line 2, after the reload"

# ---- 3. refused reloads keep the configuration ----------------------------------
cp "$CONF" "$TK_TMP/good.conf"
echo "no-such-key = 1" >>"$CONF"
kill -HUP "$T"
tk_tunnel_wait_log t "SIGHUP: keeping the previous configuration: the new one is invalid"
tk_expect_grep "$TK_TMP/t.log" "no-such-key"
sed "s/^mode = .*/mode = client/; s/^backend = .*/connect = 127.0.0.1:$B2/" "$TK_TMP/good.conf" >"$CONF"
kill -HUP "$T"
tk_tunnel_wait_log t "SIGHUP: keeping the previous configuration: mode needs a restart"
tk_run_ok "c3: gnutls-cli" "$TK_TMP/c3.cli.log" "$TK_TMP/t.log" -- \
	tk_tt_gnutls_cli c3 "$P2" "$want" "$TK_TMP/data" 127.0.0.1
tk_same "$TK_TMP/data" "$TK_TMP/c3.out"
echo "line 3, after the refused reloads" >&6
wait_for "$TK_TMP/s.out" "line 3, after the refused reloads"

# ---- 4. the session ends cleanly --------------------------------------------
exec 6>&-
tk_wait_ok "$CLI" 20 "gnutls-cli (the long session)" "$TK_TMP/s.cli.log"
printf '%s\n' "line 1, before the reload" "line 2, after the reload" \
	"line 3, after the refused reloads" >"$TK_TMP/s.want"
tk_same "$TK_TMP/s.want" "$TK_TMP/s.out"
tk_wait_ok "$BE1" 20 "backend be1" "$TK_TMP/be1.err"
tk_wait_ok "$BE2" 20 "backend be2" "$TK_TMP/be2.err"
tk_tunnel_wait_log t "conn=1 .*peer=bob@example\\.test .*end=eof"

# ---- 5. idle-timeout and myname by SIGHUP, for a session under way --------
tk_tt_backend be3 --count 1 --timeout 60
B3=$TT_BACKEND_PORT
sed "s/^backend = .*/backend = 127.0.0.1:$B3/" "$TK_TMP/good.conf" >"$CONF"
kill -HUP "$T"
tk_tunnel_wait_log t "backend 127\\.0\\.0\\.1:$B3\$"
tk_held_cli s5 "$P2"
CLI5=$TK_CLI_PID
echo "line 5, then silence" >&6
wait_for "$TK_TMP/s5.out" "line 5, then silence"
printf '%s\n' "idle-timeout = 1s" "myname = rsa.example.test" >>"$CONF"
kill -HUP "$T"
tk_tunnel_wait_log t "as rsa\\.example\\.test, backend 127\\.0\\.0\\.1:$B3\$"
# Bounded by tk_tunnel_wait_log (10 s): without the reload reaching it,
# the session would wait for the old timer, which there is none of.
tk_tunnel_wait_log t "conn=[0-9]+ .*peer=bob@example\\.test local=server\\.example\\.test .*end=idle-timeout errno=ETIMEDOUT"
exec 6>&-
tk_wait_pid "$CLI5" 20 || true
tk_tunnel_stop t "$T"
tk_pass
