# Helpers for test/hostile, on top of test/fault/lib.sh and test/acl/lib.sh
# (both sourced here): every wait is bounded, processes are signalled by pid.
. "${top_srcdir:-.}/test/fault/lib.sh"
. "$top_srcdir/test/acl/lib.sh"

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
