#!/bin/bash
# tlskey-tunnel warns at start about settings that hand what it vouches
# for to more than the operator may think (a review, 2026-12-03):
#   1. --proxy-v2 with a TCP backend: any local user can connect to the
#      backend directly and forge a PROXY header (address and identity):
#      a warning recommending a UNIX backend socket; none for a UNIX
#      backend with --proxy-v2, nor for a TCP backend without it.
#   2. client mode on a non-loopback TCP listener ('*:0'): everyone who
#      can connect uses the tunnel's client identity: a warning naming it;
#      none for 127.0.0.1, [::1] or a UNIX listener.
#   3. the same warning again after a SIGHUP that brings the setting in.
# Runs in a network namespace of its own (only lo), so that '*:0' takes
# no connection from anywhere but loopback.  No daemon: the start-up
# check only warns that tlskeyd cannot be asked.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need unshare ip
tk_netns_enter "$@"
tk_tmpdir
export TLSKEYD_SOCKET=$TK_TMP/no-daemon.sock
PROXY_WARN='warning: --proxy-v2 with the TCP backend 127\.0\.0\.1:1: any local user can connect to it directly and forge a PROXY header \(address and peer identity\); use a UNIX backend socket in a directory only the tunnel and the backend can reach$'
CLIENT_WARN='warning: client mode listening on .*, not a loopback address: everyone who can connect to it uses the identity alice@example\.test; listen on a UNIX socket'

# run NAME ARGS...: start a tunnel, stop it (SIGTERM, exit 0): its log is
# complete then, start-up warnings included.
run() {
	local name=$1
	shift
	tk_tunnel "$name" "$@"
	tk_tunnel_stop "$name" "$TT_PID"
}
no_warning() { # NAME
	if grep -E 'warning: (--proxy-v2|client mode)' "$TK_TMP/$1.log"; then
		tk_fail "$1: unexpected warning"
	fi
}
S=(--mode server --myname server.example.test)
C=(--mode client --myname alice@example.test --connect 127.0.0.1:1)

# ---- 1. PROXY v2 to a TCP backend ---------------------------------------------
tk_log "case 1: --proxy-v2 backends"
run p-tcp "${S[@]}" --backend 127.0.0.1:1 --proxy-v2
tk_expect_grep "$TK_TMP/p-tcp.log" "^tlskey-tunnel: $PROXY_WARN"
run p-unix "${S[@]}" --backend "unix:$TK_TMP/backend.sock" --proxy-v2
no_warning p-unix
run p-none "${S[@]}" --backend 127.0.0.1:1
no_warning p-none

# ---- 2. client mode listeners ----------------------------------------------------
tk_log "case 2: client-mode listeners"
run c-any "${C[@]}" --listen '*:0'
tk_expect_grep "$TK_TMP/c-any.log" "^tlskey-tunnel: $CLIENT_WARN"
run c-lo "${C[@]}" --listen 127.0.0.1:0
no_warning c-lo
if ip -6 addr show dev lo 2>/dev/null | grep '::1' >/dev/null; then
	run c-lo6 "${C[@]}" --listen '[::1]:0'
	no_warning c-lo6
fi
run c-unix "${C[@]}" --listen "unix:$TK_TMP/plain.sock"
no_warning c-unix

# ---- 3. brought in by SIGHUP ---------------------------------------------------------
tk_log "case 3: SIGHUP"
CONF=$TK_TMP/t.conf
printf 'mode = server\nlisten = 127.0.0.1:0\nmyname = server.example.test\nbackend = 127.0.0.1:1\n' >"$CONF"
tk_tunnel r --config "$CONF"
R=$TT_PID
echo 'proxy-v2 = yes' >>"$CONF"
kill -HUP "$R"
tk_tunnel_wait_log r 'SIGHUP: configuration reloaded'
tk_expect_grep "$TK_TMP/r.log" "^tlskey-tunnel: $PROXY_WARN"
tk_tunnel_stop r "$R"

tk_log "PASS"
exit 0
