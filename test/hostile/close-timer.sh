#!/bin/bash
# Finding 6: sessions whose application has closed were kept forever when
# the peer never answered our close_notify (and never read): the app's
# descriptor left epoll while a send was pending and nothing timed out.
# N apps start a session against a TLS peer that completes the handshake
# and then goes silent, write a line and close.  The daemon's descriptor
# count must be back to its baseline once close-timeout has passed
# (bounded wait), and it keeps serving others.
. "${top_srcdir:-.}/test/lib/tk.sh"
N=50
CLOSE_MS=2000
tk_fault_setup "close-timeout = $CLOSE_MS"
tk_legit_check warm
base=$(tk_fault_fds)
tk_log "baseline: $base descriptors"

tk_dp_peer silent --count "$N" --hold 90
T0=$(tk_ms)
timeout 60 "$DATAPATH" open-close --connect "127.0.0.1:$DP_PORT" --myname alice@example.test \
	--sni peer.example.test --count "$N" >"$TK_TMP/oc.out" 2>"$TK_TMP/oc.err" ||
	{ cat "$TK_TMP/oc.err" >&2; tk_fail "open-close failed"; }
tk_expect_line "$TK_TMP/oc.out" "OPENCLOSE n=$N"
high=$(tk_fault_fds)
tk_log "after $N closed apps: $high descriptors"

# Back to the baseline within close-timeout plus slack, never sooner than
# the timer allows for the last session.
ok=0
for i in $(seq 150); do
	now=$(tk_fault_fds)
	if [ "$now" -le "$base" ]; then
		ok=1
		break
	fi
	sleep 0.1
done
T1=$(tk_ms)
[ "$ok" = 1 ] || tk_fail "the daemon still holds $(tk_fault_fds) descriptors $((T1 - T0)) ms after $N apps closed (baseline $base, close-timeout $CLOSE_MS ms)"
tk_log "back to $now descriptors $((T1 - T0)) ms after the first start"
tk_expect_grep "$TK_TMP/tlskeyd.log" "relay closed: .*the peer made no progress for close-timeout \($CLOSE_MS ms\)"
tk_legit_check after
tk_pass
