# Part of test/lib/tk.sh (sourced by it): helpers for the tlskey-tunnel
# tests (the fixture, the daemon, bounded waits and cleanup by pid come
# from tk.sh).  A test does:
#   . "${top_srcdir:-.}/test/lib/tk.sh"
#   tk_setup
#   tk_tt_backend be echo --proxy-v2         # TT_BACKEND_PORT
#   tk_tunnel t1 --mode server ...        # TT_PORT, TT_PID; log in t1.log
#   ... tk_fifo_client / tk_tt_send ...
#   tk_tunnel_wait_log t1 'end=eof'
#   tk_tunnel_stop t1
#   tk_pass
TT_TUNNEL=${TT_TUNNEL:-$top_builddir/tlskey-tunnel}
TT_BACKEND=${TT_BACKEND:-$top_builddir/test/tunnel/tt-backend}

# tk_tt_backend NAME ARGS...: "tt-backend echo ARGS" in the background on a
# free loopback port (unless ARGS has --unix).  Sets TT_BACKEND_PORT and
# TT_BACKEND_PID; stdout NAME.out, stderr NAME.err.
tk_tt_backend() {
	local name=$1 pf
	shift
	tk_built "$TT_BACKEND"
	pf=$TK_TMP/$name.port
	rm -f "$pf"
	case " $* " in
	*" --unix "*)
		tk_bg timeout 60 "$TT_BACKEND" echo "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
		TT_BACKEND_PID=$TK_BG_PID
		local sock
		sock=$(printf '%s\n' "$@" | sed -n '/^--unix$/{n;p}')
		tk_wait_until 10 "" test -S "$sock" && return 0
		tk_fail "backend $name did not create $sock"
		;;
	esac
	tk_bg timeout 60 "$TT_BACKEND" echo --port-file "$pf" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
	TT_BACKEND_PID=$TK_BG_PID
	tk_wait_file "$pf" "$TT_BACKEND_PID" 10 || tk_fail "backend $name did not start"
	TT_BACKEND_PORT=$(cat "$pf")
}

# tk_tunnel NAME ARGS...: tlskey-tunnel ARGS in the background, listening
# on 127.0.0.1:0 unless ARGS has --listen (or --config).  Sets TT_PORT (TCP
# listeners) and TT_PID; stderr (the log) in NAME.log.
tk_tunnel() {
	local name=$1 pf listen=(--listen 127.0.0.1:0) portarg
	shift
	tk_built "$TT_TUNNEL"
	pf=$TK_TMP/$name.port
	rm -f "$pf"
	portarg=(--port-file "$pf")
	case " $* " in *" --listen "* | *" --config "*) listen=() ;; esac
	case " $* " in *" --listen unix:"*) portarg=() ;; esac
	# (A UNIX listener from a --config file: no port file either.)
	[ -n "${TT_NO_PORT_FILE:-}" ] && portarg=()
	# Not under timeout(1): it forwards SIGTERM and then sends SIGCONT to
	# the process group, which under LeakSanitizer can resume the exiting
	# tunnel in the middle of the leak check's ptrace stop and hang it.
	# tk_cleanup and tk_tunnel_stop bound it instead (SIGTERM, then SIGKILL).
	tk_bg "$TT_TUNNEL" "${listen[@]}" "${portarg[@]}" "$@" \
		</dev/null >"$TK_TMP/$name.stdout" 2>"$TK_TMP/$name.log"
	TT_PID=$TK_BG_PID
	# No "mode:" line within 10 s is left to the caller's checks; an exit is not.
	local rc=0
	tk_wait_line "$TK_TMP/$name.log" ' mode: ' 10 "$TT_PID" || rc=$?
	if [ "$rc" = 2 ]; then
		cat "$TK_TMP/$name.log" >&2
		tk_fail "tunnel $name exited"
	fi
	TT_PORT=$(cat "$pf" 2>/dev/null || true)
}

# tk_tunnel_wait_log NAME ERE: wait (bounded, 10s) for a line matching ERE in
# NAME.log (connection lines are written when a connection ends, which
# may be a moment after the remote client has exited).
tk_tunnel_wait_log() {
	local f=$TK_TMP/$1.log
	tk_wait_line "$f" "$2" 10 && return 0
	echo "--- $f:" >&2
	cat "$f" >&2
	tk_fail "expected /$2/ in $1.log"
}

# tk_tunnel_stop NAME PID: SIGTERM; it must exit 0 and log "stopped".
tk_tunnel_stop() {
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

# tk_tt_send NAME ADDR: "tt-backend send" (a plaintext client) with stdin
# NAME.in; output NAME.out / NAME.err.  Returns its status.
tk_tt_send() {
	local name=$1 rc=0
	timeout 60 "$TT_BACKEND" send --connect "$2" <"$TK_TMP/$name.in" \
		>"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || rc=$?
	return "$rc"
}

# tk_tt_gnutls_cli NAME PORT WANT INFILE [EXTRA-ARGS...]: gnutls-cli as the
# remote client with bob's certificate, to server.example.test on
# 127.0.0.1:PORT; stdin closed once WANT bytes came back.
tk_tt_gnutls_cli() {
	local name=$1 port=$2 want=$3 in=$4
	shift 4
	tk_fifo_client "$name" "$in" "$want" gnutls-cli --logfile="$TK_TMP/$name.cli.log" \
		--port "$port" --x509cafile "$TK_FX/ca.pem" \
		--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
		--verify-hostname server.example.test --sni-hostname server.example.test "$@"
}
