# Helpers for test/hostile, on top of test/fault/lib.sh and test/acl/lib.sh
# (both sourced here): every wait is bounded, processes are signalled by pid.
. "${top_srcdir:-.}/test/fault/lib.sh"
. "$top_srcdir/test/acl/lib.sh"

# real_exe PROG: the ELF that runs when PROG (possibly a libtool wrapper
# script) is executed: what the daemon reads from /proc/PID/exe.
real_exe() {
	local prog=$1 lt
	lt=$(dirname "$prog")/.libs/$(basename "$prog")
	if [ -x "$lt" ]; then
		readlink -f "$lt"
	else
		readlink -f "$prog"
	fi
}

# as_uid NAME UID GID ARGS...: tk_app NAME ARGS as UID:GID (no
# supplementary groups), through setpriv; the caller made the temp dirs
# reachable (make_test_user does).
as_uid() {
	local name=$1 uid=$2 gid=$3
	shift 3
	cat >"$TK_TMP/as-$uid" <<EOS
#!/bin/sh
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups "$TK_APP" "\$@"
EOS
	chmod 755 "$TK_TMP/as-$uid"
	TK_APP=$TK_TMP/as-$uid tk_app "$name" "$@"
DATAPATH=${DATAPATH:-$top_builddir/test/hostile/datapath}
[ -x "$DATAPATH" ] || tk_fail "$DATAPATH not built"

# dp_bg NAME ARGS...: datapath ARGS in the background (bounded by timeout),
# output in NAME.out / NAME.err; pid in DP_PID.
dp_bg() {
	local name=$1
	shift
	tk_bg timeout 120 "$DATAPATH" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
	DP_PID=$TK_BG_PID
}

# dp_wait_line FILE ERE SECONDS: wait (bounded) until FILE has a line matching ERE.
dp_wait_line() {
	local f=$1 re=$2 i
	for i in $(seq $(($3 * 10))); do
		grep -E -- "$re" "$f" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# dp_peer NAME [ARGS...]: the silent TLS peer (datapath peer) with the
# fixture's peer-server certificate; sets DP_PORT and DP_PEER_PID.
dp_peer() {
	local name=$1 i
	shift
	rm -f "$TK_TMP/$name.port"
	dp_bg "$name" peer --port-file "$TK_TMP/$name.port" --cert "$TK_FX/peer-server.pem" \
		--key "$TK_FX/peer-server.key" "$@"
	DP_PEER_PID=$DP_PID
	for i in $(seq 100); do
		[ -s "$TK_TMP/$name.port" ] && break
		kill -0 "$DP_PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$TK_TMP/$name.port" ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "datapath peer $name did not start"; }
	DP_PORT=$(cat "$TK_TMP/$name.port")
}
