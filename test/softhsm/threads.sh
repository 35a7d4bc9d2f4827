#!/bin/bash
# Thread safety: 16 threads of one process (8 server/client pairs) start
# TLS at the same moment through tlskeyd; every pair must authenticate
# the right identities and echo its own message.
. "${top_srcdir:-.}/test/softhsm/lib.sh"
tk_setup

rc=0
timeout 60 "$top_builddir/test/softhsm/tk-threads" 8 >"$TK_TMP/threads.out" 2>&1 || rc=$?
cat "$TK_TMP/threads.out" >&2
[ "$rc" = 0 ] || tk_fail "tk-threads exit $rc"
tk_expect_grep "$TK_TMP/threads.out" "^8 pairs, 0 failed$"
tk_daemon_alive || tk_fail "daemon died"
tk_pass
