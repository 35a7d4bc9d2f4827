# Part of test/lib/tk.sh (sourced by it): helpers for test/hostile (the
# datapath and attack programs, callers under other uids).  Every wait is
# bounded, processes are signalled by pid.

# tk_real_exe PROG: the ELF that runs when PROG (possibly a libtool wrapper
# script) is executed: what the daemon reads from /proc/PID/exe.
tk_real_exe() {
	local prog=$1 lt
	lt=$(dirname "$prog")/.libs/$(basename "$prog")
	if [ -x "$lt" ]; then
		readlink -f "$lt"
	else
		readlink -f "$prog"
	fi
}

# tk_app_as_uid NAME UID GID ARGS...: tk_app NAME ARGS as UID:GID (no
# supplementary groups), through setpriv; the caller made the temp dirs
# reachable (tk_make_test_user does).
tk_app_as_uid() {
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
HOSTILE_ATTACK=${HOSTILE_ATTACK:-$top_builddir/test/hostile/attack}

# tk_dp_bg NAME ARGS...: datapath ARGS in the background (bounded by timeout),
# output in NAME.out / NAME.err; pid in DP_PID.
tk_dp_bg() {
	local name=$1
	shift
	tk_built "$DATAPATH"
	tk_bg timeout 120 "$DATAPATH" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
	DP_PID=$TK_BG_PID
}

# tk_dp_peer NAME [ARGS...]: the silent TLS peer (datapath peer) with the
# fixture's peer-server certificate; sets DP_PORT and DP_PEER_PID.
tk_dp_peer() {
	local name=$1
	shift
	rm -f "$TK_TMP/$name.port"
	tk_dp_bg "$name" peer --port-file "$TK_TMP/$name.port" --cert "$TK_FX/peer-server.pem" \
		--key "$TK_FX/peer-server.key" "$@"
	DP_PEER_PID=$DP_PID
	tk_wait_file "$TK_TMP/$name.port" "$DP_PEER_PID" 10 || { cat "$TK_TMP/$name.err" >&2; tk_fail "datapath peer $name did not start"; }
	DP_PORT=$(cat "$TK_TMP/$name.port")
}

# tk_log_count_all ERE: how many daemon log lines match ERE.
tk_log_count_all() { grep -cE -- "$1" "$TK_TMP/tlskeyd.log" || true; }

# tk_log_count_ge ERE N: at least N daemon log lines match ERE.
tk_log_count_ge() { [ "$(tk_log_count_all "$1")" -ge "$2" ]; }

# tk_wait_log_count ERE N [SECONDS]: wait (bounded) until the daemon
# log has at least N lines matching ERE.
tk_wait_log_count() {
	tk_wait_until "${3:-20}" "" tk_log_count_ge "$1" "$2" && return 0
	tk_fail "fewer than $2 lines /$1/ in the daemon log after ${3:-20} s ($(tk_log_count_all "$1"))"
}

# tk_legit_within TAG SECONDS: tk_legit_check, which must also be done
# within SECONDS (a victim that is served, but only after the attacker's
# timers ran out, is starved all the same).
tk_legit_within() {
	local t0 ms
	t0=$(tk_ms)
	tk_legit_check "$1"
	ms=$(($(tk_ms) - t0))
	tk_log "legitimate session $1: $ms ms"
	[ "$ms" -le $(($2 * 1000)) ] || tk_fail "legitimate session $1 took $ms ms (limit $2 s): starved"
}

# tk_as UID GID CMD...: run CMD under another uid (root only), with
# only that account's groups.
tk_as() {
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"
}

# tk_as_exec UID GID CMD...: tk_as in place of the current shell, for a
# subshell only (tk_bg tk_as_exec ...): TK_BG_PID is then the command
# itself, and killing it ends the command, not a wrapper that leaves it
# running until the test's cleanup.
tk_as_exec() {
	local uid=$1 gid=$2
	shift 2
	exec setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"
}
