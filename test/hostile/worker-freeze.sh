#!/bin/bash
# Finding 2: one admitted caller could freeze every worker thread.
#  (a) it keeps a duplicate of the socket it passes, clears O_NONBLOCK
#      through it once the daemon admitted it (the daemon no longer sets
#      it, but a daemon that did would have it undone), and makes its peer
#      send one byte: a worker whose GnuTLS transport relies on O_NONBLOCK
#      blocks in recv() for good;
#  (b) it sets SO_LINGER {1, 3600} on a socket whose buffers it filled and
#      abandons the start: the worker's close() blocks for an hour.
# Each attack runs more times than there are workers; meanwhile another
# uid starts a session, which must complete within its handshake timer.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
WORKERS=2
HS_MS=4000
ATTACKS=$((WORKERS + 1))
tk_fault_setup "workers = $WORKERS
handshake-timeout = $HS_MS"
tk_make_test_user
tk_peer_serv
tk_acl_set "allow user:$TK_ME server.example.test server" \
	"allow user:$TK_ME alice@example.test client" \
	"allow user:$TK_TEST_USER alice@example.test client"
tk_legit_check warm

# other_uid TAG: the test user's session through the daemon, bounded by the
# handshake timer plus slack; must succeed with the echo intact.
other_uid() {
	local tag=$1 rc=0 t0
	printf 'hello from %s\n' "$tag" >"$TK_TMP/$tag.in"
	t0=$(tk_ms)
	timeout $((HS_MS / 1000 + 4)) "$TK_TMP/as-user" client --connect "127.0.0.1:$PEER_PORT" \
		--myname alice@example.test --sni peer.example.test \
		<"$TK_TMP/$tag.in" >"$TK_TMP/$tag.out" 2>"$TK_TMP/$tag.err" || rc=$?
	tk_log "$tag: other uid's session: exit $rc after $(($(tk_ms) - t0)) ms"
	[ "$rc" = 0 ] || { cat "$TK_TMP/$tag.err" >&2; tk_fail "$tag: the other uid's session did not complete within its handshake timer (exit $rc): workers frozen"; }
	tk_expect_line "$TK_TMP/$tag.err" "PEER=peer.example.test"
	tk_same "$TK_TMP/$tag.in" "$TK_TMP/$tag.out"
}

# attack MODE WORD: ATTACKS callers of MODE, each until it says "WORD armed".
attack() {
	local mode=$1 word=$2 i
	PIDS=()
	for i in $(seq "$ATTACKS"); do
		tk_dp_bg "$mode-$i" "$mode" --myname "$3" --hold 60
		PIDS+=("$DP_PID")
	done
	for i in $(seq "$ATTACKS"); do
		tk_wait_line "$TK_TMP/$mode-$i.out" "^$word armed\$" 15 ||
			{ cat "$TK_TMP/$mode-$i.err" >&2; tk_fail "$mode-$i did not get going"; }
	done
	tk_log "$ATTACKS x $mode armed"
}

# (b) SO_LINGER {1, 3600} with full buffers, then the daemon closes.
attack freeze-linger LINGER alice@example.test
other_uid during-linger
tk_legit_check during-linger
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done

# (a) O_NONBLOCK cleared through a duplicate, one byte from the peer.
attack freeze-nonblock FREEZE server.example.test
other_uid during-nonblock
tk_legit_check during-nonblock
# The frozen starts end by their handshake timer, as any stalled peer.
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
tk_legit_check after
tk_pass
