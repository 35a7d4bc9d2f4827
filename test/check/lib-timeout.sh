#!/bin/bash
# starttls_*() and tlskey_query() used to wait forever on a daemon that
# accepts and never answers.  Now the wait is bounded: TLSKEYD_TIMEOUT
# (milliseconds) here, ETIMEDOUT, and tlskey_last_error() says what
# happened.  The "daemon" is tk-mute, started and stopped by PID.
. "${top_srcdir:-.}/test/lib/tk.sh"
MUTE=$top_builddir/test/check/tk-mute
tk_built "$MUTE" "$TK_APP"
TK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$TK_NAME.XXXXXX")
trap tk_cleanup EXIT

tk_bg "$MUTE" "$TK_TMP/mute.sock" 60 >"$TK_TMP/mute.out" 2>&1
MUTE_PID=$TK_BG_PID
tk_wait_line "$TK_TMP/mute.out" '^LISTENING$' 10 "$MUTE_PID" || tk_fail "tk-mute did not start"
port=$(awk '$1 == "PORT" { print $2 }' "$TK_TMP/mute.out")
export TLSKEYD_SOCKET=$TK_TMP/mute.sock TLSKEYD_TIMEOUT=1500

t0=$(date +%s%3N)
tk_app start client --connect "127.0.0.1:$port" --myname alice@example.test --expect-errno ETIMEDOUT ||
	tk_fail "starttls_client against a silent daemon: exit $? ($(cat "$TK_TMP/start.err"))"
ms=$(($(date +%s%3N) - t0))
tk_expect_grep "$TK_TMP/start.err" '^ERROR errno=ETIMEDOUT .*tlskeyd did not answer within 1500 ms \(TLSKEYD_TIMEOUT'
[ "$ms" -ge 1400 ] && [ "$ms" -lt 15000 ] || tk_fail "starttls_client gave up after $ms ms, not about 1500"
tk_log "starttls_client: ETIMEDOUT after $ms ms"

t0=$(date +%s%3N)
tk_app query query --kind plain --expect-errno ETIMEDOUT ||
	tk_fail "tlskey_query against a silent daemon: exit $? ($(cat "$TK_TMP/query.err"))"
ms=$(($(date +%s%3N) - t0))
tk_expect_grep "$TK_TMP/query.err" 'ETIMEDOUT.*did not answer within 1500 ms'
[ "$ms" -lt 15000 ] || tk_fail "tlskey_query gave up after $ms ms"

kill "$MUTE_PID"
tk_wait_pid "$MUTE_PID" 10 || true
echo "PASS: $TK_NAME"
