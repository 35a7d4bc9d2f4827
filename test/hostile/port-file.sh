#!/bin/bash
# --port-file never replaces anything but a regular file (audit finding
# 15): run as root, "--port-file /dev/null" used to turn the device into a
# regular file.  The nodes here are our own, in the temp dir: a FIFO, a
# symbolic link to a character device (a copy of /dev/null's numbers,
# made with mknod when we may), a directory.  tlskey-tunnel and tk-app
# must refuse with a clear error and leave each path as it was; a regular
# file is still replaced with the port.
. "${top_srcdir:-.}/test/lib/tk.sh"
TUNNEL=${TLSKEY_TUNNEL:-$top_builddir/tlskey-tunnel}
[ -x "$TUNNEL" ] || tk_fail "$TUNNEL not built"
tk_setup --no-daemon
cd "$TK_TMP"
mkfifo fifo
mkdir dir
targets=(fifo dir)
if mknod nulldev c 1 3 2>/dev/null; then
	ln -s "$TK_TMP/nulldev" devlink
	targets+=(nulldev devlink)
else
	tk_log "cannot mknod here: device cases skipped"
fi
ln -s "$TK_TMP/fifo" fifolink
targets+=(fifolink)

for t in "${targets[@]}"; do
	before=$(stat -c '%F %i %t:%T' "$t")
	rc=0
	timeout 10 "$TUNNEL" --mode server --listen 127.0.0.1:0 --myname server.example.test \
		--backend 127.0.0.1:9 --port-file "$TK_TMP/$t" </dev/null >"tunnel-$t.out" 2>&1 || rc=$?
	[ "$rc" != 124 ] || tk_fail "tlskey-tunnel --port-file $t: kept running"
	[ "$rc" != 0 ] || tk_fail "tlskey-tunnel --port-file $t: exit 0"
	tk_expect_grep "tunnel-$t.out" "$TK_TMP/$t exists and is not a regular file: not replacing it"
	[ "$(stat -c '%F %i %t:%T' "$t")" = "$before" ] || tk_fail "tlskey-tunnel replaced $t ($before)"
	rc=0
	timeout 10 "$TK_APP" sink --listen 127.0.0.1:0 --port-file "$TK_TMP/$t" --timeout 5 \
		</dev/null >"app-$t.out" 2>&1 || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 0 ] || tk_fail "tk-app --port-file $t: exit $rc"
	tk_expect_grep "app-$t.out" "$TK_TMP/$t exists and is not a regular file: not replacing it"
	[ "$(stat -c '%F %i %t:%T' "$t")" = "$before" ] || tk_fail "tk-app replaced $t ($before)"
	tk_log "$t: refused, untouched ($before)"
done
# No temporary files left behind.
ls -a | grep -E '\.(tmp|[A-Za-z0-9]{6})$' >/dev/null && tk_fail "temporary files left: $(ls -a)"

# A regular file is replaced with the port.
echo old >regular
tk_bg "$TUNNEL" --mode server --listen 127.0.0.1:0 --myname server.example.test \
	--backend 127.0.0.1:9 --port-file "$TK_TMP/regular" </dev/null >tunnel-regular.out 2>&1
tpid=$TK_BG_PID
for i in $(seq 100); do
	grep -E '^[0-9]+$' regular >/dev/null && break
	kill -0 "$tpid" 2>/dev/null || { cat tunnel-regular.out >&2; tk_fail "tlskey-tunnel exited"; }
	sleep 0.1
done
grep -E '^[0-9]+$' regular >/dev/null || tk_fail "regular port file not written: $(cat regular)"
kill "$tpid"
tk_wait_pid "$tpid" 10 || true
tk_log "PASS"
