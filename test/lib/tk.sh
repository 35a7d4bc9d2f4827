# The one shell library of the integration tests (test/softhsm, fault, acl,
# hostile, reload, tokens, tunnel, systemd).  Every function is named tk_*, and
# every test sources it the same way, first thing:
#   . "${top_srcdir:-.}/test/lib/tk.sh"
#
# This file holds the core (temp dir, fixture, daemon, tk-app, peers,
# bounded waits, checks); it sources the parts for the other concerns:
#   tk-pki.sh      certificate issuing and key-flag checks (also fixture.sh)
#   tk-ext.sh      feature tests: tk_ok/tk_err, log marks, tk_conf
#   tk-acl.sh      tlskeyctl, ACL edits, a second local account
#   tk-fault.sh    the daemon on libfaultp11, descriptor and RSS probes
#   tk-hostile.sh  the datapath and attack helpers, other uids
#   tk-tokens.sh   keys on other tokens (p11-kit server, TPM)
#   tk-tunnel.sh   tlskey-tunnel and tt-backend
#   tk-usermgr.sh  a private systemd --user manager for the unit tests
#   tk-tlsfuzzer.sh tlsfuzzer against tlskeyd and gnutls-serv (test/conformance)
#   tk-dns.sh      a DNSSEC-signed zone served by nsd, a validating unbound (test/dane)
#   tk-revoke.sh   CRLs, an OCSP responder, live sessions that revocation ends
#
# A test does:
#   . "${top_srcdir:-.}/test/lib/tk.sh"
#   tk_need gnutls-cli            # exit 77 (skip) if a tool is missing
#   tk_setup                      # temp dir, fixture, daemon; cleanup on exit
#   ... tk_app client ... / tk_start_gnutls_serv ... / tk_check ...
#   tk_pass
#
# Every wait here is bounded.  Only loopback addresses are used.  Processes
# started here are remembered by pid and killed by pid on exit.
set -euo pipefail

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
TK_NAME=$(basename "$0" .sh)
TK_APP=${TK_APP:-$top_builddir/test/softhsm/tk-app}
TLSKEYD=${TLSKEYD:-$top_builddir/tlskeyd}
TK_PIDS=()
TK_DAEMON_PID=
TK_TMP=

tk_log() { echo "[$TK_NAME] $*" >&2; }

tk_skip() {
	echo "SKIP: $TK_NAME: $*" >&2
	exit 77
}

tk_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || tk_skip "$t not found"
	done
}

# tk_fail MSG: print MSG and the tails of the interesting logs, then exit 1.
tk_fail() {
	echo "FAIL: $TK_NAME: $*" >&2
	exit 1
}

tk_dump_logs() {
	local f
	[ -n "$TK_TMP" ] && [ -d "$TK_TMP" ] || return 0
	# TK_DUMP_EXTRA: more names (globs) in $TK_TMP a test wants shown.
	for f in "$TK_TMP"/tlskeyd*.log "$TK_TMP"/last-*.err ${TK_DUMP_EXTRA:+$(cd "$TK_TMP" &&
		for g in $TK_DUMP_EXTRA; do printf '%s\n' "$TK_TMP/$g"; done)}; do
		[ -s "$f" ] || continue
		echo "----- tail of $f -----" >&2
		tail -n 25 "$f" >&2
	done
}

# tk_stop_started: end every process this test started (by pid), the
# daemon included; bounded, SIGKILL after 5 s.
tk_stop_started() {
	local pid
	for pid in "${TK_PIDS[@]}" $TK_DAEMON_PID; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${TK_PIDS[@]}" $TK_DAEMON_PID; do
		tk_wait_pid "$pid" 5 >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null
	done
	TK_PIDS=()
	TK_DAEMON_PID=
}

tk_cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	tk_stop_started
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		tk_dump_logs
	fi
	if [ -n "$TK_TMP" ] && [ -d "$TK_TMP" ]; then
		if [ "${TK_KEEP:-0}" = 1 ]; then
			echo "kept $TK_TMP" >&2
		else
			rm -rf -- "$TK_TMP"
		fi
	fi
	exit "$rc"
}

# tk_wait_pid PID SECONDS: wait (bounded) for a child; returns its status,
# or 124 after killing it on timeout.
tk_wait_pid() {
	local pid=$1 limit=$(($2 * 10)) i=0 rc=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt "$limit" ]; then
			kill "$pid" 2>/dev/null || true
			# One that ignores SIGTERM (a daemon whose worker spins) must
			# not make wait block for good: SIGKILL 2 s later.
			for i in $(seq 20); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return 124
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# tk_wait_ok PID SECONDS WHAT [FILE...]: tk_wait_pid, and fail unless PID
# exited 0: "WHAT exit N", after showing the FILEs (its stderr, say).
tk_wait_ok() {
	local pid=$1 secs=$2 what=$3 rc=0
	shift 3
	tk_wait_pid "$pid" "$secs" || rc=$?
	[ "$rc" = 0 ] && return 0
	[ "$#" = 0 ] || cat "$@" >&2
	tk_fail "$what exit $rc"
}

# tk_lines FILE N TEXT: write N numbered lines "TEXT1".."TEXTN" to FILE
# (test data) and print its size in bytes.
tk_lines() {
	seq 1 "$2" | sed "s/^/$3/" >"$1"
	wc -c <"$1"
}

# tk_before_dd WORDS...: the words before the first "--" in the array
# TK_PRE, and in TK_SKIP how many to shift to reach the words after it.
# Fails if there is no "--".
tk_before_dd() {
	TK_PRE=()
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		TK_PRE+=("$1")
		shift
	done
	[ "$#" -gt 0 ] || tk_fail "expected -- after: ${TK_PRE[*]}"
	TK_SKIP=$((${#TK_PRE[@]} + 1))
}

# tk_run_ok WHAT [FILE...] -- CMD...: run CMD in the foreground; fail
# unless it exits 0: "WHAT exit N", after showing the FILEs.
tk_run_ok() {
	local what=$1 files=() rc=0
	shift
	tk_before_dd "$@"
	files=("${TK_PRE[@]}")
	shift "$TK_SKIP"
	"$@" || rc=$?
	[ "$rc" = 0 ] && return 0
	[ "${#files[@]}" = 0 ] || cat "${files[@]}" >&2
	tk_fail "$what exit $rc"
}

# tk_term PID SECONDS WHAT: end a process this test started: SIGTERM, then
# SIGKILL if it is still there after SECONDS (logged: "WHAT ignored
# SIGTERM for Ns: killed").  Returns 1 if it had to be killed.
tk_term() {
	local pid=$1 secs=$2 what=$3
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	tk_wait_until "$secs" "" tk_gone "$pid" || true
	if kill -KILL "$pid" 2>/dev/null; then
		tk_log "$what ignored SIGTERM for ${secs}s: killed"
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	wait "$pid" 2>/dev/null || true
}

tk_gone() { ! kill -0 "$1" 2>/dev/null; }

# tk_bg CMD...: start CMD in the background; its pid is in TK_BG_PID.
# "<&0" keeps the caller's stdin: without it bash gives background
# commands /dev/null.
tk_bg() {
	"$@" <&0 &
	TK_BG_PID=$!
	TK_PIDS+=("$TK_BG_PID")
}

# tk_wait_until SECONDS PID CMD...: poll CMD (every 0.1 s, bounded by
# SECONDS) until it succeeds.  Returns 0 then, 1 on timeout, and 2 as soon
# as PID (unless empty) has exited: a helper that died will never write
# what we wait for, so there is no point in waiting out the limit.
tk_wait_until() {
	local limit=$(($1 * 10)) pid=$2 i
	shift 2
	for i in $(seq "$limit"); do
		"$@" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			"$@" && return 0
			return 2
		fi
		sleep 0.1
	done
	return 1
}

# tk_has_line FILE ERE: FILE exists and has a line matching ERE (quiet).
tk_has_line() { grep -E -- "$2" "$1" >/dev/null 2>&1; }

# tk_wait_line FILE ERE SECONDS [PID]: wait (bounded) until FILE has a line
# matching ERE; status as for tk_wait_until.
tk_wait_line() { tk_wait_until "$3" "${4:-}" tk_has_line "$1" "$2"; }

# tk_wait_file FILE PID SECONDS: wait (bounded) until FILE is not empty
# (a port file); status as for tk_wait_until.
tk_wait_file() { tk_wait_until "$3" "$2" test -s "$1"; }

# tk_wait_line_pid FILE ERE PID [SECONDS]: wait (bounded, default 20 s)
# until FILE has a line matching ERE; fail if PID exits first.
tk_wait_line_pid() {
	local rc=0
	tk_wait_line "$1" "$2" "${4:-20}" "$3" || rc=$?
	[ "$rc" = 0 ] && return 0
	cat "$1" >&2
	[ "$rc" = 2 ] && tk_fail "process $3 exited before /$2/ in $(basename "$1")"
	tk_fail "no /$2/ in $(basename "$1") within ${4:-20} s"
}

# tk_sanitized: true if the daemon under test is a sanitizer build (its
# ASan runtime is linked in), for tests whose figures that would distort.
tk_sanitized() {
	grep -a __asan_init "$TLSKEYD" >/dev/null 2>&1
}

# tk_built PATH...: the test programs it needs were built (a missing one is
# a build problem, not a reason to skip).
tk_built() {
	local p
	for p in "$@"; do
		[ -x "$p" ] || [ -e "$p" ] || tk_fail "$p not built"
	done
}

# tk_tmpdir: the test's own temporary directory TK_TMP, removed on exit
# (with every process started here) unless TK_KEEP=1.
tk_tmpdir() {
	TK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$TK_NAME.XXXXXX")
	trap tk_cleanup EXIT
	trap 'exit 130' INT TERM
}

tk_setup() {
	# Missing binaries are a build problem, not a reason to skip.
	[ -x "$TLSKEYD" ] || tk_fail "daemon $TLSKEYD not built"
	[ -x "$TK_APP" ] || tk_fail "$TK_APP not built"
	tk_need p11tool certtool
	tk_tmpdir
	bash "$top_srcdir/test/softhsm/fixture.sh" "$TK_TMP/fx" || tk_fail "fixture.sh failed"
	# shellcheck source=/dev/null
	. "$TK_TMP/fx/env"
	TK_FX=$TK_DIR
	export TLSKEYD_SOCKET=$TK_FX/tlskeyd.sock
	if [ "${1:-}" != --no-daemon ]; then
		tk_daemon_start "$TK_FX/tlskeyd.conf"
	fi
}

# tk_daemon_start [CONF]: start tlskeyd and wait (bounded) for its socket.
# The daemon's stderr goes to $TK_TMP/tlskeyd.log.
tk_daemon_start() {
	local conf=${1:-$TK_FX/tlskeyd.conf} i
	tk_daemon_stop
	rm -f "$TLSKEYD_SOCKET"
	echo "=== tlskeyd -c $conf ($(date +%T))" >>"$TK_TMP/tlskeyd.log"
	TK_DAEMON_LOG_AT=$(stat -c %s "$TK_TMP/tlskeyd.log")
	"$TLSKEYD" -d -c "$conf" </dev/null >>"$TK_TMP/tlskeyd.log" 2>&1 &
	TK_DAEMON_PID=$!
	# The socket is bound before the workers start, the CRL watches are
	# set and "ready:" is logged: a test that acts or reads the log at
	# once must wait for that line (this start's, past the offset).  Not
	# with JOURNAL_STREAM naming the log (device:inode, as the daemon
	# compares it): the daemon logs to journald then.
	if tk_wait_until 10 "$TK_DAEMON_PID" test -S "$TLSKEYD_SOCKET" &&
		{ [ "${JOURNAL_STREAM:-}" = "$(stat -c %d:%i "$TK_TMP/tlskeyd.log")" ] ||
			tk_wait_until 20 "$TK_DAEMON_PID" _tk_daemon_ready; }; then
		return 0
	fi
	if kill -0 "$TK_DAEMON_PID" 2>/dev/null; then
		tk_fail "tlskeyd did not create $TLSKEYD_SOCKET and log 'ready:' within 10+20 s"
	fi
	local rc=0
	wait "$TK_DAEMON_PID" || rc=$?
	TK_DAEMON_PID=
	return "$rc"
}

_tk_daemon_ready() {
	local t
	t=$(tail -c +"$((TK_DAEMON_LOG_AT + 1))" "$TK_TMP/tlskeyd.log")
	[[ $t == *"notice: ready: tlskeyd "* ]]
}

tk_daemon_stop() {
	[ -n "$TK_DAEMON_PID" ] || return 0
	kill "$TK_DAEMON_PID" 2>/dev/null || true
	tk_wait_pid "$TK_DAEMON_PID" 10 || true
	TK_DAEMON_PID=
}

tk_daemon_alive() {
	if [ -z "$TK_DAEMON_PID" ] || ! kill -0 "$TK_DAEMON_PID" 2>/dev/null; then
		tk_fail "tlskeyd is not running any more"
	fi
}

# tk_app NAME ARGS...: run tk-app in the foreground (bounded), stdin from
# $TK_TMP/NAME.in if it exists, stdout to NAME.out, stderr to NAME.err.
# Returns tk-app's exit status.
tk_app() {
	local name=$1 in rc=0
	shift
	in=$TK_TMP/$name.in
	[ -e "$in" ] || in=/dev/null
	timeout 60 "$TK_APP" "$@" <"$in" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || rc=$?
	cp "$TK_TMP/$name.err" "$TK_TMP/last-app.err"
	return "$rc"
}

# tk_app_server NAME ARGS...: start "tk-app server" on 127.0.0.1 (or the
# --listen given in ARGS) in the background; waits for its port, sets
# TK_PORT and TK_SERVER_PID.  I/O files as for tk_app.
tk_app_server() {
	local name=$1
	shift
	tk_app_listen "$name" server "$@"
}

# tk_app_server_bare NAME APP-ARGS...: start tk-app server NAME (give it
# --expect-errno for a refusal), connect to it without TLS, and fail
# unless the app exits 0 within 15 s.  The remote side stays silent, so
# only what the daemon decides before the handshake (or its timer) counts.
tk_app_server_bare() {
	local name=$1 rc=0
	shift
	tk_app_server "$name" "$@"
	exec 8<>"/dev/tcp/127.0.0.1/$TK_PORT"
	tk_wait_pid "$TK_SERVER_PID" 15 || rc=$?
	exec 8<&-
	[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: exit $rc"; }
}

# tk_app_listen NAME MODE ARGS...: the same for any listening tk-app mode
# (server, sink).
tk_app_listen() {
	local name=$1 mode=$2 in pf i listen=127.0.0.1:0
	shift 2
	in=$TK_TMP/$name.in
	[ -e "$in" ] || in=/dev/null
	pf=$TK_TMP/$name.port
	rm -f "$pf"
	case " $* " in *" --listen "*) listen= ;; esac
	tk_bg timeout 60 "$TK_APP" "$mode" ${listen:+--listen "$listen"} --port-file "$pf" "$@" \
		<"$in" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
	TK_SERVER_PID=$TK_BG_PID
	if tk_wait_file "$pf" "$TK_SERVER_PID" 10; then
		TK_PORT=$(cat "$pf")
		return 0
	fi
	cat "$TK_TMP/$name.err" >&2
	tk_fail "tk-app $mode $name did not start"
}

# tk_free_port: print a TCP port that nothing listens on right now.  A
# race with other processes remains; the tk_start_* helpers retry.
tk_free_port() {
	local p i
	for i in $(seq 50); do
		# Below the kernel's ephemeral range (32768-60999 by default): a port
		# that an outgoing connection uses locally can be bound on IPv6 but
		# not IPv4, and gnutls-serv then listens on [::] only.
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep . >/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# tk_wait_listen PORT PID: wait until PORT accepts connections on loopback,
# or PID died.  Bounded to 10s.
tk_wait_listen() {
	tk_wait_until 10 "$2" tk_listening "$1"
}

# tk_listening PORT: something listens on PORT on an IPv4 loopback or
# wildcard address (the tests connect to 127.0.0.1: IPv6 only is not enough).
tk_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -E '(0\.0\.0\.0|127\.0\.0\.1|\*):' >/dev/null
}

# tk_start_peer NAME CMD...: start a remote peer server; the literal word
# PORT in CMD is replaced by a free port, and NEXTPORT by the port after it
# (which must be free too: a server with a second, control port).  Retries
# if the port was taken.  Sets TK_PORT and TK_PEER_PID; output in NAME.out /
# NAME.err.
tk_start_peer() {
	local name=$1 port a args
	shift
	for _ in 1 2 3 4 5; do
		port=$(tk_free_port) || tk_fail "no free port"
		case "$*" in *NEXTPORT*) ! tk_listening $((port + 1)) || continue ;; esac
		args=()
		for a in "$@"; do
			a=${a//NEXTPORT/$((port + 1))}
			args+=("${a//PORT/$port}")
		done
		tk_bg "${args[@]}" <"${TK_PEER_STDIN:-/dev/null}" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
		TK_PEER_PID=$TK_BG_PID
		if tk_wait_listen "$port" "$TK_PEER_PID"; then
			TK_PORT=$port
			return 0
		fi
		kill "$TK_PEER_PID" 2>/dev/null || true
		tk_wait_pid "$TK_PEER_PID" 5 || true
	done
	cat "$TK_TMP/$name.err" >&2
	tk_fail "peer $name did not start"
}

# gnutls-serv with the trusted peer certificate, requiring client certs,
# echoing what it receives.  Extra ARGS are appended.
tk_start_gnutls_serv() {
	local name=$1
	shift
	tk_start_peer "$name" gnutls-serv --port PORT --echo \
		--x509cafile "$TK_FX/ca.pem" \
		--require-client-cert --verify-client-cert "$@"
}

# openssl s_server for one connection, reversing each line it receives
# (-rev), requiring and verifying a client certificate.
tk_start_openssl_serv() {
	local name=$1
	shift
	tk_start_peer "$name" openssl s_server -accept 127.0.0.1:PORT -naccept 1 -rev \
		-CAfile "$TK_FX/ca.pem" -Verify 2 -verify_return_error "$@"
}

# tk_fifo_client NAME INFILE WANT CMD...: run a remote TLS client (gnutls-cli,
# openssl s_client) whose stdin stays open until WANT bytes arrived on its
# stdout, then close stdin.  These clients quit at stdin EOF without
# waiting for the server, so an early EOF would race with the answer.
# With TK_FIFO_WAIT_LINE set, stdin stays open until that whole line is on
# stdout instead (for a client that prints its session first, such as
# s_client without -quiet, whose output passes WANT bytes before any
# answer).  Output in NAME.out / NAME.err; returns CMD's exit status.
tk_fifo_client() {
	local name=$1 infile=$2 want=$3 fifo pid i rc=0
	shift 3
	fifo=$TK_TMP/$name.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	: >"$TK_TMP/$name.out"
	# Opening a FIFO read-write never blocks, and with that writer in place
	# the client's read-only open does not block either.  The client must
	# not inherit fd 7, or it would never see EOF.
	exec 7<>"$fifo"
	tk_bg timeout 60 "$@" <"$fifo" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" 7>&-
	pid=$TK_BG_PID
	cat "$infile" >&7 || true
	for i in $(seq 200); do
		if [ -n "${TK_FIFO_WAIT_LINE:-}" ]; then
			grep -qxF -- "$TK_FIFO_WAIT_LINE" "$TK_TMP/$name.out" && break
		elif [ "$(wc -c <"$TK_TMP/$name.out")" -ge "$want" ]; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	exec 7>&-
	tk_wait_pid "$pid" 20 || rc=$?
	cp "$TK_TMP/$name.err" "$TK_TMP/last-peer.err"
	return "$rc"
}

# tk_expect_line FILE LINE: FILE has LINE as a whole line.
tk_expect_line() {
	grep -qxF -- "$2" "$1" || {
		echo "--- $1:" >&2
		cat "$1" >&2
		tk_fail "expected line '$2' in $(basename "$1")"
	}
}

# tk_expect_grep FILE ERE: FILE matches ERE.
tk_expect_grep() {
	grep -qE -- "$2" "$1" || {
		echo "--- $1:" >&2
		cat "$1" >&2
		tk_fail "expected /$2/ in $(basename "$1")"
	}
}

# tk_same FILE1 FILE2: identical contents.
tk_same() {
	cmp -s -- "$1" "$2" || {
		echo "--- $1 ($(wc -c <"$1") bytes) vs $2 ($(wc -c <"$2") bytes)" >&2
		tk_fail "$(basename "$1") and $(basename "$2") differ"
	}
}

# tk_legit_check [TAG]: one complete local handshake, app server
# (server.example.test) <-> app client (alice@example.test), both through
# the daemon, data both ways.  Used after negative cases to prove the
# daemon is alive and still serving.
tk_legit_check() {
	local tag=legit${1:+-$1} rc=0
	tk_daemon_alive
	printf 'ping from client %s\n' "$tag" >"$TK_TMP/$tag-c.in"
	printf 'pong from server %s\n' "$tag" >"$TK_TMP/$tag-s.in"
	tk_app_server "$tag-s" --myname server.example.test
	tk_app "$tag-c" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni server.example.test || rc=$?
	tk_wait_pid "$TK_SERVER_PID" 20 || rc=$((rc ? rc : $?))
	if [ "$rc" -ne 0 ]; then
		cat "$TK_TMP/$tag-s.err" "$TK_TMP/$tag-c.err" >&2
		tk_fail "legitimate handshake ($tag) failed"
	fi
	tk_expect_line "$TK_TMP/$tag-c.err" "PEER=server.example.test"
	tk_expect_line "$TK_TMP/$tag-s.err" "PEER=alice@example.test"
	tk_same "$TK_TMP/$tag-c.in" "$TK_TMP/$tag-s.out"
	tk_same "$TK_TMP/$tag-s.in" "$TK_TMP/$tag-c.out"
	tk_daemon_alive
}

# tk_pass: stop the daemon, which must exit with status 0 (under the
# sanitizers a leak or error report makes it non-zero), and pass.
tk_pass() {
	local rc=0
	if [ -n "$TK_DAEMON_PID" ]; then
		tk_daemon_alive
		kill "$TK_DAEMON_PID" 2>/dev/null || true
		tk_wait_pid "$TK_DAEMON_PID" 10 || rc=$?
		TK_DAEMON_PID=
		[ "$rc" = 0 ] || tk_fail "tlskeyd exited with status $rc on SIGTERM"
	fi
	tk_log "PASS"
	exit 0
}

# The parts (see the top of this file); they only define functions and
# defaults, so the order matters only for readability.
for _tk_part in pki ext acl fault hostile tokens tunnel tlsfuzzer usermgr dns revoke; do
	# shellcheck source=/dev/null
	. "$top_srcdir/test/lib/tk-$_tk_part.sh"
done
unset _tk_part
