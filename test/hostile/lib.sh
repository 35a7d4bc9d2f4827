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
}

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

HOSTILE_ATTACK=${HOSTILE_ATTACK:-$top_builddir/test/hostile/attack}
[ -x "$HOSTILE_ATTACK" ] || tk_fail "$HOSTILE_ATTACK not built"

# hostile_wait_line FILE ERE PID [SECONDS]: wait (bounded, default 20 s)
# until FILE has a line matching ERE; fail if PID exits first.
hostile_wait_line() {
	local f=$1 ere=$2 pid=$3 limit=$((${4:-20} * 10)) i
	for i in $(seq "$limit"); do
		grep -E -- "$ere" "$f" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$f" >&2; tk_fail "process $pid exited before /$ere/ in $(basename "$f")"; }
		sleep 0.1
	done
	cat "$f" >&2
	tk_fail "no /$ere/ in $(basename "$f") within ${4:-20} s"
}

# hostile_log_count ERE: how many daemon log lines match ERE.
hostile_log_count() { grep -cE -- "$1" "$TK_TMP/tlskeyd.log" || true; }

# hostile_wait_log_count ERE N [SECONDS]: wait (bounded) until the daemon
# log has at least N lines matching ERE.
hostile_wait_log_count() {
	local i limit=$((${3:-20} * 10))
	for i in $(seq "$limit"); do
		[ "$(hostile_log_count "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	tk_fail "fewer than $2 lines /$1/ in the daemon log after ${3:-20} s ($(hostile_log_count "$1"))"
}

# hostile_legit_within TAG SECONDS: tk_legit_check, which must also be done
# within SECONDS (a victim that is served, but only after the attacker's
# timers ran out, is starved all the same).
hostile_legit_within() {
	local t0 ms
	t0=$(fault_ms)
	tk_legit_check "$1"
	ms=$(($(fault_ms) - t0))
	tk_log "legitimate session $1: $ms ms"
	[ "$ms" -le $(($2 * 1000)) ] || tk_fail "legitimate session $1 took $ms ms (limit $2 s): starved"
}

# hostile_as UID GID CMD...: run CMD under another uid (root only), with
# only that account's groups.
hostile_as() {
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"
}
