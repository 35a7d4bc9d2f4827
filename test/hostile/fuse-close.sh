#!/bin/bash
# Descriptors whose close() waits for good: a file on a FUSE mount whose
# server never answers the flush that every close() sends
# (test/hostile/stallfs.c stalls only the daemon's).  The kernel sends that
# flush as a forced request and waits for it uninterruptibly, so no timer
# can end such a close: a thread that makes it is held until the server
# answers or goes.  Any local user can mount FUSE and pass such a file as
# "the socket" of a START, which is refused before the ACL (review of
# 2026-12-06: the accept thread and both workers were held, a CHECK from
# another client got no answer and SIGTERM was not obeyed).  Now the
# accept thread and the workers hand what callers pass to closer threads.
#   4 STARTs (role 3) with the file attached: the server holds 4 flushes of
#   the daemon (at least 1 closer thread held), while a CHECK from another
#   client is answered within 2 s, tlskeyctl status answers and a
#   handshake works; 13 more: 16 closers held (the most), the 17th
#   descriptor queued and reported; an upgrade is then refused (exit 1,
#   "still waiting to be closed": its child's exit would close the queued
#   FUSE file and hold the accept thread in waitpid; stallfs stalls only
#   the daemon's own flushes, so without the check the upgrade went
#   through here: what this checks is the refusal), a CHECK and a
#   handshake still work; the server stopped, the daemon stops on SIGTERM
#   within 10 s.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
[ -c /dev/fuse ] || tk_skip "no /dev/fuse"
tk_setup --no-daemon
sed 's/^workers *=.*/workers = 2/' "$TK_FX/tlskeyd.conf" >"$TK_TMP/kd.conf"
grep -q '^workers' "$TK_TMP/kd.conf" || sed -i '1i workers = 2' "$TK_TMP/kd.conf"
tk_daemon_start "$TK_TMP/kd.conf"
ATTACK=$top_srcdir/test/hostile/linger-attack.py
STALLFS=$top_builddir/test/hostile/stallfs
MNT=$TK_TMP/mnt
mkdir "$MNT"
tk_bg "$STALLFS" "$MNT" "$TK_DAEMON_PID" >"$TK_TMP/stallfs.out" 2>"$TK_TMP/stallfs.err"
FS_PID=$TK_BG_PID
rc=0
tk_wait_line_pid "$TK_TMP/stallfs.out" "^READY" "$FS_PID" || rc=$?
if [ "$rc" != 0 ]; then
	tk_wait_pid "$FS_PID" 5 || rc=$?
	[ "$rc" = 77 ] && tk_skip "cannot mount FUSE here: $(cat "$TK_TMP/stallfs.err")"
	cat "$TK_TMP/stallfs.err" >&2
	tk_fail "stallfs did not start"
fi
unmount() {
	kill "$FS_PID" 2>/dev/null || true
	tk_wait_pid "$FS_PID" 5 || true
	umount -l "$MNT" 2>/dev/null || true
}
# set +e first: under set -e the (exit) would end the trap before tk_cleanup,
# leaving the daemon running after a failure.
trap 'rc=$?; set +e; unmount; (exit "$rc"); tk_cleanup' EXIT
tk_legit_check warm

tk_log "4 STARTs with the FUSE file attached"
for i in 1 2 3 4; do
	STALL_FILE=$MNT/f timeout 20 python3 "$ATTACK" fuse 1 0 >"$TK_TMP/fuse$i.out" 2>&1 ||
		{ cat "$TK_TMP/fuse$i.out" >&2; tk_fail "fuse$i: the attack did not run"; }
done
stalls() { [ "$(grep -c '^STALL' "$TK_TMP/stallfs.out" || true)" -ge "$1" ]; }
tk_wait_until 10 "$FS_PID" stalls 4 ||
	tk_fail "the daemon did not close the 4 descriptors ($(grep -c '^STALL' "$TK_TMP/stallfs.out") flushes held)"
t0=$(tk_ms)
out=$(timeout 10 python3 "$ATTACK" probe 2 2>&1) ||
	tk_fail "a CHECK was not answered within 2 s while 4 flushes are held ($out)"
tk_log "probe: $out"
timeout 10 "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" status >/dev/null 2>&1 ||
	tk_fail "tlskeyctl status did not answer within 10 s"
TLSKEYD_TIMEOUT=10000 tk_legit_check held
tk_log "served $(($(tk_ms) - t0)) ms after the flushes were held"

tk_log "13 more: all 16 closers held, one descriptor queued; an upgrade is refused, not stuck"
for i in $(seq 5 17); do
	STALL_FILE=$MNT/f timeout 20 python3 "$ATTACK" fuse 1 0 >"$TK_TMP/fuse$i.out" 2>&1 ||
		{ cat "$TK_TMP/fuse$i.out" >&2; tk_fail "fuse$i: the attack did not run"; }
done
tk_wait_until 10 "$FS_PID" stalls 16 ||
	tk_fail "$(grep -c '^STALL' "$TK_TMP/stallfs.out") flushes held, not 16"
tk_wait_line "$TK_TMP/tlskeyd.log" "descriptors callers passed wait to be closed: all 16 closer threads are held" 10 "$TK_DAEMON_PID" ||
	tk_fail "the queued descriptor was not reported"
rc=0
timeout 10 "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" upgrade >"$TK_TMP/upgrade.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$TK_TMP/upgrade.out" >&2; tk_fail "upgrade: exit $rc, not 1 (refused)"; }
tk_expect_grep "$TK_TMP/upgrade.out" "still waiting to be closed"
out=$(timeout 10 python3 "$ATTACK" probe 2 2>&1) ||
	tk_fail "a CHECK was not answered within 2 s after the refused upgrade ($out)"
TLSKEYD_TIMEOUT=10000 tk_legit_check after-upgrade

tk_log "the server goes: the daemon stops on SIGTERM"
unmount
t0=$(tk_ms)
kill "$TK_DAEMON_PID"
rc=0
tk_wait_pid "$TK_DAEMON_PID" 10 || rc=$?
TK_DAEMON_PID=
[ "$rc" = 0 ] || tk_fail "the daemon did not exit 0 within 10 s of SIGTERM (rc $rc)"
tk_log "stopped $(($(tk_ms) - t0)) ms after SIGTERM"
tk_pass
