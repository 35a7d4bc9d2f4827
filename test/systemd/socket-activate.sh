#!/bin/bash
# Socket activation without a service manager: systemd-socket-activate
# listens on a SOCK_SEQPACKET socket and starts tlskeyd on the first
# connection, passing the socket (LISTEN_FDS).  Proves that the daemon
# serves a real handshake (tk-app client through tlskeyd <-> gnutls-serv)
# on the passed socket, never binds its configured one, and leaves the
# passed socket alone when it exits.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need systemd-socket-activate gnutls-serv
tk_setup --no-daemon

# A daemon wedged in the accept loop never handles SIGTERM (it reads signals
# through a signalfd there): kill it hard before failing, so that the
# cleanup's wait stays bounded.
sa_fail() {
	[ -z "$TK_DAEMON_PID" ] || tk_term "$TK_DAEMON_PID" 3 "tlskeyd (main loop blocked?)" || true
	tk_fail "$@"
}

sock=$TK_TMP/activated.sock
conf_sock=$TK_FX/tlskeyd.sock # what tlskeyd.conf says: must stay unused
export TLSKEYD_SOCKET=$sock
log=$TK_TMP/tlskeyd.log

# The child gets only the environment named with -E.
tk_bg systemd-socket-activate --seqpacket -l "$sock" -E SOFTHSM2_CONF \
	"$TLSKEYD" -d -c "$TK_FX/tlskeyd.conf" </dev/null >"$log" 2>&1
TK_DAEMON_PID=$TK_BG_PID
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	kill -0 "$TK_DAEMON_PID" 2>/dev/null || break
	sleep 0.1
done
[ -S "$sock" ] || sa_fail "systemd-socket-activate did not create $sock within 10s"
# Nothing runs the daemon yet: the process is still the activator.
if grep -q '^Execing' "$log" ||
	[ "$(ps -o comm= -p "$TK_DAEMON_PID")" != systemd-socket- ]; then
	sa_fail "tlskeyd started before the first connection"
fi

tk_start_gnutls_serv srv --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
tk_lines "$TK_TMP/c.in" 200 "line through the activated daemon " >/dev/null
rc=0
tk_app c client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --timeout 15 || rc=$?
[ "$rc" = 0 ] || sa_fail "handshake through the activated daemon: tk-app exit $rc"
tk_expect_line "$TK_TMP/c.err" "PEER=peer.example.test"
tk_same "$TK_TMP/c.in" "$TK_TMP/c.out"
tk_expect_grep "$TK_TMP/srv.out" "alice@example.test"

tk_expect_grep "$log" "^Execing $TLSKEYD"
[ "$(ps -o comm= -p "$TK_DAEMON_PID")" = tlskeyd ] ||
	sa_fail "the activated process is not tlskeyd"
tk_expect_grep "$log" "using the socket passed by systemd"
if grep -q "listening on" "$log"; then
	sa_fail "tlskeyd bound a socket of its own although one was passed"
fi
[ ! -e "$conf_sock" ] || sa_fail "tlskeyd created its configured socket $conf_sock"

# A second request on the same daemon (no second activation).
tk_start_gnutls_serv srv2 --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
rc=0
tk_app c2 client --connect "127.0.0.1:$TK_PORT" --myname carol@example.test \
	--sni peer.example.test --timeout 15 || rc=$?
[ "$rc" = 0 ] || sa_fail "second handshake: tk-app exit $rc"
tk_expect_line "$TK_TMP/c2.err" "PEER=peer.example.test"
[ "$(grep -c 'using the socket passed by systemd' "$log")" = 1 ] ||
	sa_fail "the daemon was started more than once"

# SIGTERM: clean exit, and the passed socket is not unlinked (it belongs
# to the service manager, which may pass it to the next instance).
kill -TERM "$TK_DAEMON_PID"
for _ in $(seq 100); do
	kill -0 "$TK_DAEMON_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$TK_DAEMON_PID" 2>/dev/null && sa_fail "tlskeyd did not exit within 10s of SIGTERM"
rc=0
wait "$TK_DAEMON_PID" || rc=$?
TK_DAEMON_PID=
[ "$rc" = 0 ] || sa_fail "tlskeyd exited with status $rc after SIGTERM"
[ -S "$sock" ] || sa_fail "tlskeyd removed the socket passed by systemd"
tk_pass
