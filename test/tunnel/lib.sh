# Helpers for the tlskey-tunnel tests, on top of test/softhsm/lib.sh (the
# fixture, the daemon, bounded waits, cleanup by pid).  A test does:
#   . "${top_srcdir:-.}/test/tunnel/lib.sh"
#   tk_setup
#   tt_backend be echo --proxy-v2         # TT_BACKEND_PORT
#   tt_tunnel t1 --mode server ...        # TT_PORT, TT_PID; log in t1.log
#   ... tk_fifo_client / tt_send ...
#   tt_wait_log t1 'end=eof'
#   tt_tunnel_stop t1
#   tk_pass
# shellcheck source=../softhsm/lib.sh
. "${top_srcdir:-.}/test/softhsm/lib.sh"

TT_TUNNEL=${TT_TUNNEL:-$top_builddir/tlskey-tunnel}
TT_BACKEND=${TT_BACKEND:-$top_builddir/test/tunnel/tt-backend}
[ -x "$TT_TUNNEL" ] || tk_fail "$TT_TUNNEL not built"
[ -x "$TT_BACKEND" ] || tk_fail "$TT_BACKEND not built"

# tt_wait_file FILE PID WHAT: wait (bounded, 10s) until FILE is non-empty.
tt_wait_file() {
	local f=$1 pid=$2 what=$3 i
	for i in $(seq 100); do
		[ -s "$f" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tk_fail "$what did not start"
}

# tt_backend NAME ARGS...: "tt-backend echo ARGS" in the background on a
# free loopback port (unless ARGS has --unix).  Sets TT_BACKEND_PORT and
# TT_BACKEND_PID; stdout NAME.out, stderr NAME.err.
tt_backend() {
	local name=$1 pf
	shift
	pf=$TK_TMP/$name.port
	rm -f "$pf"
	case " $* " in
	*" --unix "*)
		tk_bg timeout 60 "$TT_BACKEND" echo "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
		TT_BACKEND_PID=$TK_BG_PID
		local sock i
		sock=$(printf '%s\n' "$@" | sed -n '/^--unix$/{n;p}')
		for i in $(seq 100); do
			[ -S "$sock" ] && return 0
			sleep 0.1
		done
		tk_fail "backend $name did not create $sock"
		;;
	esac
	tk_bg timeout 60 "$TT_BACKEND" echo --port-file "$pf" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
	TT_BACKEND_PID=$TK_BG_PID
	tt_wait_file "$pf" "$TT_BACKEND_PID" "backend $name"
	TT_BACKEND_PORT=$(cat "$pf")
}

# tt_tunnel NAME ARGS...: tlskey-tunnel ARGS in the background, listening
# on 127.0.0.1:0 unless ARGS has --listen (or --config).  Sets TT_PORT (TCP
# listeners) and TT_PID; stderr (the log) in NAME.log.
tt_tunnel() {
	local name=$1 pf listen=(--listen 127.0.0.1:0) portarg
	shift
	pf=$TK_TMP/$name.port
	rm -f "$pf"
	portarg=(--port-file "$pf")
	case " $* " in *" --listen "* | *" --config "*) listen=() ;; esac
	case " $* " in *" --listen unix:"*) portarg=() ;; esac
	# Not under timeout(1): it forwards SIGTERM and then sends SIGCONT to
	# the process group, which under LeakSanitizer can resume the exiting
	# tunnel in the middle of the leak check's ptrace stop and hang it.
	# tk_cleanup and tt_tunnel_stop bound it instead (SIGTERM, then SIGKILL).
	tk_bg "$TT_TUNNEL" "${listen[@]}" "${portarg[@]}" "$@" \
		</dev/null >"$TK_TMP/$name.stdout" 2>"$TK_TMP/$name.log"
	TT_PID=$TK_BG_PID
	local i
	for i in $(seq 100); do
		grep -q ' mode: ' "$TK_TMP/$name.log" 2>/dev/null && break
		kill -0 "$TT_PID" 2>/dev/null || { cat "$TK_TMP/$name.log" >&2; tk_fail "tunnel $name exited"; }
		sleep 0.1
	done
	TT_PORT=$(cat "$pf" 2>/dev/null || true)
}

# tt_wait_log NAME ERE: wait (bounded, 10s) for a line matching ERE in
# NAME.log (connection lines are written when a connection ends, which
# may be a moment after the remote client has exited).
tt_wait_log() {
	local f=$TK_TMP/$1.log i
	for i in $(seq 100); do
		grep -qE -- "$2" "$f" && return 0
		sleep 0.1
	done
	echo "--- $f:" >&2
	cat "$f" >&2
	tk_fail "expected /$2/ in $1.log"
}

# tt_tunnel_stop NAME PID: SIGTERM; it must exit 0 and log "stopped".
tt_tunnel_stop() {
	local name=$1 pid=$2 rc=0
	kill -TERM "$pid"
	tk_wait_pid "$pid" 10 || rc=$?
	if [ "$rc" = 124 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[ "$rc" = 0 ] || { cat "$TK_TMP/$name.log" >&2; tk_fail "tunnel $name exited $rc on SIGTERM"; }
	tk_expect_line "$TK_TMP/$name.log" "tlskey-tunnel: stopped"
}

# tt_send NAME ADDR: "tt-backend send" (a plaintext client) with stdin
# NAME.in; output NAME.out / NAME.err.  Returns its status.
tt_send() {
	local name=$1 rc=0
	timeout 60 "$TT_BACKEND" send --connect "$2" <"$TK_TMP/$name.in" \
		>"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || rc=$?
	return "$rc"
}

# tt_gnutls_cli NAME PORT WANT INFILE [EXTRA-ARGS...]: gnutls-cli as the
# remote client with bob's certificate, to server.example.test on
# 127.0.0.1:PORT; stdin closed once WANT bytes came back.
tt_gnutls_cli() {
	local name=$1 port=$2 want=$3 in=$4
	shift 4
	tk_fifo_client "$name" "$in" "$want" gnutls-cli --logfile="$TK_TMP/$name.cli.log" \
		--port "$port" --x509cafile "$TK_FX/ca.pem" \
		--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
		--verify-hostname server.example.test --sni-hostname server.example.test "$@"
}
