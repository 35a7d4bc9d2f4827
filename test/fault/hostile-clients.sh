#!/bin/bash
# Hostile local clients of the daemon socket: malformed, truncated and
# oversized requests, zero or two descriptors, a descriptor that is not a
# socket, a client that never speaks (request-timeout), and rounds of 1,000
# concurrent bogus connections while legitimate clients keep being served.
# Afterwards the daemon's descriptor count must be back to its baseline and
# its RSS close to it (no growth from round to round).
. "${top_srcdir:-.}/test/lib/tk.sh"
# The floods and the legitimate clients run as one uid here: let that uid
# have every waiting slot (the per-uid share is test/hostile/fairness.sh's).
tk_fault_setup "request-timeout = 1000
max-pending = 1024
max-pending-per-uid = 1024"
SOCK=$TLSKEYD_SOCKET
FLOOD_N=${FAULT_FLOOD_N:-1000}

# Warm up: both workers import their keys, GnuTLS allocates its caches.
tk_legit_check warm-1
tk_legit_check warm-2
BASE_FDS=$(tk_fault_fds)
BASE_RSS=$(tk_fault_rss_kb)
tk_log "baseline: $BASE_FDS fds, $BASE_RSS kB RSS"

# 1. One of each malformed request (tk-app's hostile modes).
for mode in garbage bad-magic bad-version truncated length-lie oversize wrong-type no-fd \
	two-fds pipe-fd empty hangup stream; do
	rc=0
	timeout 30 "$TK_APP" hostile "$SOCK" "$mode" --timeout 5 >"$TK_TMP/h-$mode.out" \
		2>"$TK_TMP/h-$mode.err" || rc=$?
	[ "$rc" = 0 ] || tk_fail "hostile $mode: exit $rc: $(cat "$TK_TMP/h-$mode.err")"
	tk_log "  $(cat "$TK_TMP/h-$mode.err")"
	tk_daemon_alive
done
tk_expect_grep "$TK_TMP/h-no-fd.err" 'errno=EBADF'
tk_expect_grep "$TK_TMP/h-pipe-fd.err" 'errno=ENOTSOCK'
tk_expect_grep "$TK_TMP/h-two-fds.err" 'errno=EBADMSG|closed'
tk_legit_check after-malformed

# 2. A client that never speaks gets ETIMEDOUT after request-timeout.
rc=0
"$FAULT_HOSTILE" silent "$SOCK" 5000 >"$TK_TMP/silent.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || tk_fail "silent client: $(cat "$TK_TMP/silent.out")"
tk_expect_grep "$TK_TMP/silent.out" '^SILENT errno=ETIMEDOUT ms=(9[0-9][0-9]|1[0-9][0-9][0-9]|2[0-9][0-9][0-9]) '
tk_log "  $(cat "$TK_TMP/silent.out")"

# 3. Floods: FLOOD_N connections at once, legitimate handshakes meanwhile.
rss_round=()
for round in 1 2 3; do
	kind=silent
	[ "$round" = 2 ] && kind=mix
	tk_bg "$FAULT_HOSTILE" flood "$SOCK" "$FLOOD_N" "$kind" 15000 \
		>"$TK_TMP/flood-$round.out" 2>&1
	fpid=$TK_BG_PID
	sleep 0.3
	tk_legit_check "during-flood-$round"
	rc=0
	tk_wait_pid "$fpid" 30 || rc=$?
	cat "$TK_TMP/flood-$round.out" >&2
	[ "$rc" = 0 ] || tk_fail "flood round $round ($kind): some connections were left hanging"
	tk_expect_grep "$TK_TMP/flood-$round.out" "^FLOOD n=$FLOOD_N .* silent=0 "
	tk_daemon_alive
	tk_legit_check "after-flood-$round"
	rss_round+=("$(tk_fault_rss_kb)")
done

# 4. Resources back to baseline.  Descriptors must match exactly once the
# last connections are gone; memory may keep malloc's high-water mark, but
# must not grow from round to round.
# (The loop's own last sample decides: each sample asks the daemon, whose
# answer comes before it closes that connection.)
for i in $(seq 50); do
	fds=$(tk_fault_fds)
	[ "$fds" -le "$BASE_FDS" ] && break
	sleep 0.2
done
rss=$(tk_fault_rss_kb)
tk_log "after: $fds fds, $rss kB RSS (rounds: ${rss_round[*]} kB)"
[ "$fds" -le "$BASE_FDS" ] || { ls -l "/proc/$TK_DAEMON_PID/fd" >&2; tk_fail "descriptor leak: $fds open, baseline $BASE_FDS"; }
# AddressSanitizer keeps freed memory in quarantine, so RSS says nothing
# about leaks in that build (LeakSanitizer checks those at exit instead).
if ldd "$top_builddir/tlskeyd" 2>/dev/null | grep libasan >/dev/null; then
	tk_log "ASan build: RSS bounds not checked (quarantine); leaks are checked at exit"
else
	[ "$rss" -le $((BASE_RSS + 16384)) ] || tk_fail "RSS $rss kB, baseline $BASE_RSS kB (+16 MiB allowed)"
	[ "${rss_round[2]}" -le $((rss_round[0] + 2048)) ] ||
		tk_fail "RSS grows from round to round: ${rss_round[*]} kB"
fi
tk_pass
