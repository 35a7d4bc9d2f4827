#!/bin/bash
# A listener at the daemon's socket path that is not tlskeyd (a review of
# the client library, 2026-12-03): a stale path or TLSKEYD_SOCKET into a
# directory another user can write let that user's listener take the app's
# socket and answer any peer identity.  The library, tlskeyctl and
# tlskey-tunnel now check who listens (SO_PEERCRED at connect): root, the
# "tlskeyd" account, the caller's own uid, or TLSKEYD_SOCKET_USER.
#  1. An impostor run as nobody (impostor.py): starttls fails with EPERM
#     naming its uid, and the impostor got nothing (the connection ends
#     before the request).
#  2. tlskeyctl status against it: refused, same reason.
#  3. Control: with TLSKEYD_SOCKET_USER=nobody the library does hand it the
#     socket (so 1 is the check, not a broken impostor).
#  4. The real daemon serves a caller meanwhile.
#  5. tlskeyd refuses to listen in a directory another user owns.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need setpriv gnutls-serv
[ -x /usr/bin/python3 ] || tk_skip "needs /usr/bin/python3 (the impostor, as nobody, may not reach one under /root)"
[ "$(id -u)" = 0 ] || tk_skip "needs root (runs the impostor as nobody)"
tk_setup
tk_peer_serv
IMP=$TK_TMP/imp
mkdir "$IMP"
chmod 711 "$TK_TMP"
chown 65534:65534 "$IMP"
tk_bg setpriv --reuid 65534 --regid 65534 --clear-groups \
	/usr/bin/python3 "$top_srcdir/test/hostile/impostor.py" "$IMP/sock" >"$TK_TMP/imp.out" 2>&1
IMP_PID=$TK_BG_PID
tk_wait_line "$TK_TMP/imp.out" '^LISTENING$' 10 "$IMP_PID" || tk_fail "the impostor did not start: $(cat "$TK_TMP/imp.out")"

# 1.
TLSKEYD_SOCKET=$IMP/sock TLSKEYD_TIMEOUT=2000 tk_err to-impostor EPERM client \
	--connect "127.0.0.1:$PEER_PORT" --myname alice@example.test --sni peer.example.test
tk_expect_grep "$TK_TMP/to-impostor.err" "the socket at $IMP/sock is not tlskeyd's: its listener runs as uid 65534"
tk_wait_line "$TK_TMP/imp.out" '^CONN ' 10 "$IMP_PID" || tk_fail "the impostor saw no connection"
tk_expect_line "$TK_TMP/imp.out" "CONN eof"

# 2.
rc=0
timeout 20 "$TLSKEYCTL" -s "$IMP/sock" status >"$TK_TMP/ctl.out" 2>"$TK_TMP/ctl.err" || rc=$?
[ "$rc" != 0 ] || tk_fail "tlskeyctl status took the impostor's answer: $(cat "$TK_TMP/ctl.out")"
tk_expect_grep "$TK_TMP/ctl.err" "is not tlskeyd's: its listener runs as uid 65534"
[ "$(grep -c '^CONN' "$TK_TMP/imp.out")" = 2 ] || tk_fail "the impostor saw $(grep -c '^CONN' "$TK_TMP/imp.out") connections, want 2"
tk_expect_grep "$TK_TMP/imp.out" '^CONN eof$'
grep -q 'fds=' "$TK_TMP/imp.out" && tk_fail "the impostor got a descriptor: $(cat "$TK_TMP/imp.out")"

# 3. (The app then waits for an answer that never comes: any error.)
TLSKEYD_SOCKET=$IMP/sock TLSKEYD_SOCKET_USER=nobody TLSKEYD_TIMEOUT=2000 \
	tk_app told client --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
	--sni peer.example.test || true
tk_wait_line "$TK_TMP/imp.out" 'fds=1' 10 "$IMP_PID" ||
	tk_fail "control: with TLSKEYD_SOCKET_USER=nobody the impostor still got nothing: $(cat "$TK_TMP/imp.out")"

# 4.
tk_legit_check after
kill "$IMP_PID" 2>/dev/null || true

# 5. The daemon itself refuses a socket directory another user may write
#    (there, that user could put the impostor in its place): here nobody's.
rc=0
timeout -k 2 20 "$TLSKEYD" -d -c "$TK_FX/tlskeyd.conf" -s "$IMP/d.sock" </dev/null >"$TK_TMP/d.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || tk_fail "tlskeyd served from nobody's directory (exit $rc): $(tail -3 "$TK_TMP/d.log")"
tk_expect_grep "$TK_TMP/d.log" "refusing the socket directory $IMP: .*owned by uid 65534"
[ ! -e "$IMP/d.sock" ] || tk_fail "tlskeyd made its socket in nobody's directory"
# The same with a relative -s from inside that directory ("." is judged).
rc=0
(cd "$IMP" && exec timeout -k 2 20 "$TLSKEYD" -d -c "$TK_FX/tlskeyd.conf" -s d2.sock) </dev/null >"$TK_TMP/d2.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || tk_fail "tlskeyd served from nobody's directory by a relative -s (exit $rc)"
tk_expect_grep "$TK_TMP/d2.log" "refusing the socket directory \\.: .*owned by uid 65534"
[ ! -e "$IMP/d2.sock" ] || tk_fail "tlskeyd made its socket in nobody's directory (relative -s)"
tk_daemon_alive
tk_pass
