#!/bin/bash
# Token loss while the daemon runs.  tlskeyd uses the token through
# libfaultp11.  An established session (app client <-> gnutls-serv echo)
# keeps relaying throughout.  For each fault (CKR_DEVICE_REMOVED,
# CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID):
# new handshakes must fail fast (< 2 s each) with an error that names the
# token failure, the daemon stays up, the session keeps relaying; once the
# fault is cleared, new handshakes succeed again within a few seconds
# without a restart (the daemon re-imports keys, after a 2 s backoff).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
tk_fault_setup "handshake-timeout = 5000"

# A remote echo server for all handshakes of this test.
tk_start_gnutls_serv echo-serv --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
SERV_PORT=$TK_PORT

# hs NAME: one app-client handshake through the daemon, data both ways.
# Sets HS_MS (duration); returns tk-app's status.
hs() {
	local name=$1 t0 rc=0
	printf 'hello %s\n' "$name" >"$TK_TMP/$name.in"
	t0=$(tk_ms)
	tk_app "$name" client --connect "127.0.0.1:$SERV_PORT" --myname alice@example.test \
		--sni peer.example.test --timeout 20 || rc=$?
	HS_MS=$(($(tk_ms) - t0))
	return "$rc"
}

hs warm-1 || tk_fail "handshake before any fault failed: $(cat "$TK_TMP/warm-1.err")"
hs warm-2 || tk_fail "handshake before any fault failed: $(cat "$TK_TMP/warm-2.err")"

# The long-lived session: stdin is a FIFO we keep open and write to.
mkfifo "$TK_TMP/live.fifo"
exec 8<>"$TK_TMP/live.fifo"
tk_bg timeout 120 "$TK_APP" client --connect "127.0.0.1:$SERV_PORT" --myname alice@example.test \
	--sni peer.example.test --timeout 120 <"$TK_TMP/live.fifo" >"$TK_TMP/live.out" \
	2>"$TK_TMP/live.err" 8>&-
LIVE_PID=$TK_BG_PID
LIVE_N=0
# live_check: one line through the established session, echoed back.
live_check() {
	local i line
	LIVE_N=$((LIVE_N + 1))
	line="live line $LIVE_N"
	echo "$line" >&8
	for i in $(seq 50); do
		grep -qxF "$line" "$TK_TMP/live.out" && return 0
		sleep 0.1
	done
	cat "$TK_TMP/live.err" >&2
	tk_fail "established session stopped relaying ($line not echoed within 5 s)"
}
live_check

for fault in CKR_DEVICE_REMOVED CKR_TOKEN_NOT_PRESENT CKR_DEVICE_ERROR CKR_SESSION_HANDLE_INVALID; do
	tk_log "fault $fault"
	tk_fault_set "fail=$fault"
	# Enough attempts to reach every worker twice: the first failure on a
	# worker's key, then the re-import (or its backoff).  A key that used
	# to work and fails makes the daemon re-initialise the module (at most
	# every 5 s, doc/pkcs11.md); a handshake under way when that starts
	# fails with EIO "being re-initialised": allowed once per fault, never
	# for the first attempt.
	reinit=0
	for i in 1 2 3 4 5 6; do
		name=$fault-fail-$i
		rc=0
		hs "$name" || rc=$?
		[ "$rc" = 2 ] || tk_fail "$fault: handshake $i did not fail cleanly (exit $rc): $(cat "$TK_TMP/$name.err")"
		# Below the handshake timer (5000), with room for a tk-app start and exit.
		[ "$HS_MS" -lt 4000 ] || tk_fail "$fault: handshake $i took $HS_MS ms to fail"
		if [ "$i" -gt 1 ] && [ "$reinit" = 0 ] &&
			grep -qE '^ERROR errno=EIO .*PKCS#11 module is being re-initialised' "$TK_TMP/$name.err"; then
			reinit=1
		else
			tk_expect_grep "$TK_TMP/$name.err" '^ERROR errno=ENOTRECOVERABLE .*(token|CKR_|signature)'
		fi
		tk_log "  attempt $i: ${HS_MS} ms: $(head -n 1 "$TK_TMP/$name.err")"
		tk_daemon_alive
	done
	live_check
	tk_fault_set "fail=none"
	t0=$(tk_ms)
	ok=
	for i in $(seq 20); do
		name=$fault-recover-$i
		if hs "$name"; then
			ok=1
			break
		fi
		sleep 0.25
	done
	[ -n "$ok" ] || tk_fail "$fault: no successful handshake within $(($(tk_ms) - t0)) ms after the fault was cleared"
	tk_log "  recovered after $(($(tk_ms) - t0)) ms ($i attempts)"
	tk_expect_line "$TK_TMP/$name.out" "hello $name"
	# Every worker must have recovered, not just one.
	sleep 2.2
	for i in 1 2 3 4; do
		hs "$fault-after-$i" || tk_fail "$fault: handshake $i after recovery failed: $(cat "$TK_TMP/$fault-after-$i.err")"
	done
	live_check
done

tk_legit_check after
live_check
exec 8>&-
tk_wait_pid "$LIVE_PID" 20 || tk_fail "established session did not end cleanly: $(cat "$TK_TMP/live.err")"
tk_pass
