#!/bin/bash
# Thread safety: 16 threads of one process (8 server/client pairs) start
# TLS at the same moment through tlskeyd; every pair must authenticate
# the right identities and echo its own message; 8 threads in 64 KiB
# stacks do the same; then the same with
# max-handshakes = 1, so that requests queue in the daemon.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup

rc=0
timeout 60 "$top_builddir/test/softhsm/tk-threads" 8 >"$TK_TMP/threads.out" 2>&1 || rc=$?
cat "$TK_TMP/threads.out" >&2
[ "$rc" = 0 ] || tk_fail "tk-threads exit $rc"
tk_expect_grep "$TK_TMP/threads.out" "^8 pairs, 0 failed$"
tk_daemon_alive || tk_fail "daemon died"

# The same in threads of 64 KiB stacks (a start took 63 KiB of stack, a
# 12 KiB message three times over, and such a thread crashed; a sanitizer
# build's frames are bigger: not there).
if ! tk_sanitized; then
	rc=0
	TK_THREADS_STACK_KIB=64 timeout 60 "$top_builddir/test/softhsm/tk-threads" 4 >"$TK_TMP/small.out" 2>&1 || rc=$?
	cat "$TK_TMP/small.out" >&2
	[ "$rc" = 0 ] || tk_fail "tk-threads with 64 KiB stacks: exit $rc"
	tk_expect_grep "$TK_TMP/small.out" "^4 pairs, 0 failed$"
fi

# Again with one handshake at a time: 8 clients start at once against a
# remote gnutls-serv; 7 requests wait in the daemon's queue and each must
# be dispatched when the slot frees up.  (Both ends of one connection
# through a daemon with fewer slots than handshakes would wait for each
# other until the timer: see max-handshakes in doc/config.md.)
sed 's/^max-handshakes = .*/max-handshakes = 1/' "$TK_FX/tlskeyd.conf" >"$TK_TMP/one.conf"
tk_daemon_start "$TK_TMP/one.conf" || tk_fail "daemon did not start"
tk_start_gnutls_serv queue --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	echo "queued $i" >"$TK_TMP/q$i.in"
	tk_bg timeout 60 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test <"$TK_TMP/q$i.in" >"$TK_TMP/q$i.out" 2>"$TK_TMP/q$i.err"
	pids+=("$TK_BG_PID")
done
i=1
for p in "${pids[@]}"; do
	tk_wait_ok "$p" 60 "queued client $i:" "$TK_TMP/q$i.err"
	tk_expect_line "$TK_TMP/q$i.err" "PEER=peer.example.test"
	tk_expect_grep "$TK_TMP/q$i.out" "^queued $i$"
	i=$((i + 1))
done
tk_pass
