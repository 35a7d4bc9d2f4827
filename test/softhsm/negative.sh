#!/bin/bash
# Negative cases.  After each one the daemon must still be running and a
# legitimate handshake must still work (tk_legit_check).
#   - ACL: no rule for the caller; role/name patterns that do not match
#   - unknown myname (ENOKEY); daemon unreachable (ENOENT)
#   - wrong PIN (refused at startup with CKR_PIN_INCORRECT, or failing handshakes)
#   - untrusted, expired and misnamed peers, in both roles; identity-type flags
#   - a checksni callback refusing the name (unrecognized_name alert)
#   - a remote server's fatal alert of an unknown code (named by its number)
#   - descriptors that are not connected TCP sockets
#   - peer name buffer too small (ERANGE)
#   - bad proto / flags (EPROTONOSUPPORT, EPROTOTYPE, EINVAL)
#   - malformed wire messages on the daemon socket
#   - handshake timer against a silent peer
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv
tk_setup

# starttls.h lists ECONNRESET, EPROTO, EBADMSG for untrusted peers; the
# daemon reports EKEYREJECTED when it rejects the certificate itself.
UNTRUSTED=EKEYREJECTED,EPROTO,EBADMSG,ECONNRESET,EACCES
me=$(id -un)

# tk_neg NAME EXPECTED-ERRNOS tk-app-ARGS...: tk-app must fail with one of them.
tk_neg() {
	local name=$1
	shift
	tk_err "neg-$name" "$@"
}

# A well-behaved remote server for the client-role cases.
tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
client() { echo client --connect "127.0.0.1:$PEER_PORT" "$@"; }

# ---- library-side argument checks ------------------------------------
tk_neg proto-99 EPROTONOSUPPORT $(client --myname alice@example.test --proto 99)
# SCTP (132) too: not supported (doc/api.md "SCTP").
tk_neg proto-sctp EPROTONOSUPPORT $(client --myname alice@example.test --proto 132)
# DTLS on a TCP socket: the daemon checks the socket type.
tk_neg proto-udp-on-tcp EPROTOTYPE $(client --myname alice@example.test --proto 17)
tk_neg unknown-flags EINVAL $(client --myname alice@example.test --flags 100)
tk_neg server-flag-as-client EINVAL $(client --myname alice@example.test --flags 1)
tk_neg bad-myname EINVAL $(client --myname 'bad_name!')
TLSKEYD_SOCKET=$TK_TMP/nonexistent.sock tk_neg no-daemon ENOENT,ECONNREFUSED \
	$(client --myname alice@example.test)

# ---- daemon-side request checks ----------------------------------------
tk_neg unknown-myname ENOKEY $(client --myname nobody.example.test --sni peer.example.test)
tk_neg pipe ENOTSOCK badfd --kind pipe --myname alice@example.test
tk_neg pipe-server ENOTSOCK badfd --kind pipe --role server --myname server.example.test
tk_neg unconnected ENOTCONN,ENOTSOCK,EBADF badfd --kind unconnected --myname alice@example.test
tk_neg udp-socket EPROTOTYPE,ENOTSOCK,EBADF badfd --kind udp --myname alice@example.test
tk_neg unix-socket EPROTONOSUPPORT,ENOTSOCK,EBADF badfd --kind unix --myname alice@example.test
tk_neg finish-sni-badfd EBADF badfd --kind finish-sni --myname alice@example.test
tk_neg finish-sni-nocb EINVAL badfd --kind finish-sni-nocb --myname alice@example.test
tk_neg closed-fd EBADF badfd --kind closed --myname alice@example.test
tk_legit_check requests

# ---- authentication of the remote peer -----------------------------------
tk_neg peername-too-small ERANGE $(client --myname alice@example.test --sni peer.example.test --peername-len 4)
tk_neg wrong-sni "$UNTRUSTED" $(client --myname alice@example.test --sni other.example.test)
tk_neg no-remote-domain EACCES $(client --myname alice@example.test --sni peer.example.test --flags 10)
kill "$TK_PEER_PID" 2>/dev/null || true

tk_start_gnutls_serv rogue --x509certfile "$TK_FX/rogue-server.pem" --x509keyfile "$TK_FX/rogue-server.key"
tk_neg rogue-server "$UNTRUSTED" client --connect "127.0.0.1:$TK_PORT" \
	--myname alice@example.test --sni peer.example.test
kill "$TK_PEER_PID" 2>/dev/null || true
tk_start_gnutls_serv expired --x509certfile "$TK_FX/expired-server.pem" --x509keyfile "$TK_FX/expired-server.key"
tk_neg expired-server "$UNTRUSTED" client --connect "127.0.0.1:$TK_PORT" \
	--myname carol@example.test --sni peer.example.test
kill "$TK_PEER_PID" 2>/dev/null || true

# Server role: the remote client is gnutls-cli, which must fail as well.
# server_case NAME EXPECTED SERVER-ARGS -- GNUTLS-CLI-ARGS
server_case() {
	local name=$1 want=$2 sargs=() rc=0
	shift 2
	tk_before_dd "$@"
	sargs=("${TK_PRE[@]}")
	shift "$TK_SKIP"
	tk_log "negative: $name (server role, expect $want)"
	tk_app_server "neg-$name" --myname server.example.test --echo --expect-errno "$want" "${sargs[@]}"
	# With TLS 1.3 the client may finish before the server rejects it, so
	# gnutls-cli's status is only checked where the refusal comes first.
	timeout 20 gnutls-cli --logfile="$TK_TMP/neg-$name.cli" --port "$TK_PORT" \
		--x509cafile "$TK_FX/ca.pem" --verify-hostname server.example.test \
		--sni-hostname server.example.test "$@" 127.0.0.1 \
		</dev/null >>"$TK_TMP/neg-$name.cli" 2>&1 || rc=$?
	echo "$rc" >"$TK_TMP/neg-$name.cli-rc"
	rc=0
	tk_wait_pid "$TK_SERVER_PID" 20 || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/neg-$name.err" >&2
		tk_fail "$name: wanted errno $want from the app server, exit $rc"
	fi
	grep -E '^ERROR errno=' "$TK_TMP/neg-$name.err" >&2 || true
	tk_daemon_alive
}
server_case rogue-user "$UNTRUSTED" -- \
	--x509certfile "$TK_FX/rogue-user.pem" --x509keyfile "$TK_FX/rogue-user.key"
server_case no-client-cert "$UNTRUSTED" --
server_case no-remote-user EACCES --flags 8 -- \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
server_case server-peername-too-small ERANGE --peername-len 4 -- \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
server_case sni-deny EHOSTUNREACH --sni-deny -- \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
[ "$(cat "$TK_TMP/neg-sni-deny.cli-rc")" != 0 ] || tk_fail "sni-deny: gnutls-cli succeeded"
tk_expect_grep "$TK_TMP/neg-sni-deny.cli" '[Uu]nrecognized.?name|UNRECOGNIZED_NAME|alert'
tk_expect_line "$TK_TMP/neg-sni-deny.err" "SNI=server.example.test"
server_case sni-other EHOSTUNREACH --sni-allow other.example.test -- \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
# A server that answers the ClientHello with a fatal alert of a code
# GnuTLS has no name for (255): the error names the code (it was
# "(null)", a NULL string handed to printf).
python3 - "$TK_TMP/alert.port" <<'PY' >"$TK_TMP/alert-srv.err" 2>&1 &
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
l.settimeout(20)
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = l.accept()
c.settimeout(20)
c.recv(4096)
c.sendall(bytes([0x15, 3, 3, 0, 2, 2, 255]))  # alert: fatal, code 255
c.recv(4096)
PY
TK_PIDS+=("$!")
tk_wait_file "$TK_TMP/alert.port" "$!" 10 || tk_fail "alert server did not start"
tk_neg alert-unknown ECONNABORTED client --connect "127.0.0.1:$(cat "$TK_TMP/alert.port")" \
	--myname alice@example.test --sni peer.example.test
tk_expect_grep "$TK_TMP/neg-alert-unknown.err" 'peer sent fatal alert: unknown \(255\)'
tk_legit_check peers

# ---- hostile clients on the daemon socket ---------------------------------
for mode in garbage bad-magic bad-version truncated length-lie oversize wrong-type \
	no-fd two-fds pipe-fd empty hangup stream; do
	rc=0
	"$TK_APP" hostile "$TLSKEYD_SOCKET" "$mode" --timeout 10 2>"$TK_TMP/hostile-$mode.err" || rc=$?
	cat "$TK_TMP/hostile-$mode.err" >&2
	[ "$rc" = 0 ] || tk_fail "hostile $mode: exit $rc"
	tk_daemon_alive
done
grep -q 'errno=ENOTSOCK' "$TK_TMP/hostile-pipe-fd.err" ||
	tk_fail "hostile pipe-fd: no ENOTSOCK answer"
tk_legit_check hostile

# ---- handshake timer --------------------------------------------------------
sed 's/^handshake-timeout = .*/handshake-timeout = 1500/' "$TK_FX/tlskeyd.conf" >"$TK_TMP/timeout.conf"
tk_daemon_start "$TK_TMP/timeout.conf" || tk_fail "daemon with timeout.conf did not start"
tk_app_listen sink sink
tk_neg silent-server ETIMEDOUT client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test
tk_log "negative: silent-client (server role, expect ETIMEDOUT)"
tk_app_server_bare silent-client --myname server.example.test --expect-errno ETIMEDOUT
tk_legit_check timeout

# ---- ACL -----------------------------------------------------------------
acl_case() { # NAME ACL-LINES
	sed "s#^acl = .*#acl = $TK_TMP/acl-$1.conf#" "$TK_FX/tlskeyd.conf" >"$TK_TMP/acl-$1.tlskeyd.conf"
	printf '%s\n' "# test ACL $1" "$2" >"$TK_TMP/acl-$1.conf"
	tk_daemon_start "$TK_TMP/acl-$1.tlskeyd.conf" || tk_fail "daemon with acl-$1 did not start"
}
tk_start_gnutls_serv peer2 --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
acl_case empty ""
tk_neg acl-empty EACCES $(client --myname alice@example.test --sni peer.example.test)
tk_neg acl-empty-badfd EACCES,ENOTSOCK badfd --kind pipe --myname alice@example.test
acl_case other-user "allow uid:$(($(id -u) + 4242)) * both"
tk_neg acl-other-user EACCES $(client --myname alice@example.test --sni peer.example.test)
acl_case deny "deny user:$me alice@example.test both
allow user:$me * both"
tk_neg acl-deny EACCES $(client --myname alice@example.test --sni peer.example.test)
# Patterns and roles: domains may serve, users may be clients, nothing else.
acl_case roles "allow user:$me *.example.test server
allow user:$me @example.test client"
tk_neg acl-role-client EACCES $(client --myname server.example.test --sni peer.example.test)
tk_log "negative: acl-role-server (server role as a user, expect EACCES)"
tk_app_server_bare acl-role-server --myname alice@example.test --expect-errno EACCES
tk_legit_check acl-roles

# ---- wrong PIN ------------------------------------------------------------
# The daemon logs in once per token, so every identity on the token gets
# the same wrong PIN file.  Refusing to start is fine if the log says why;
# if it starts, handshakes must fail cleanly and it must keep running.
printf '0000wrong' >"$TK_TMP/wrong-pin"
chmod 600 "$TK_TMP/wrong-pin"
sed "s#^pin-file = .*#pin-file = $TK_TMP/wrong-pin#" "$TK_FX/tlskeyd.conf" >"$TK_TMP/wrongpin.conf"
rc=0
tk_daemon_start "$TK_TMP/wrongpin.conf" || rc=$?
if [ "$rc" != 0 ]; then
	tk_log "daemon refused to start with a wrong PIN (exit $rc)"
	tk_expect_grep "$TK_TMP/tlskeyd.log" 'CKR_PIN_INCORRECT'
else
	tk_neg wrong-pin any $(client --myname carol@example.test --sni peer.example.test)
	tk_neg wrong-pin-2 any $(client --myname alice@example.test --sni peer.example.test)
	tk_expect_grep "$TK_TMP/tlskeyd.log" 'CKR_PIN_INCORRECT'
fi
kill "$TK_PEER_PID" 2>/dev/null || true
# Each wrong C_Login brings a real token closer to locking its PIN (often
# after 3 tries): one rejection per PIN file, then no more attempts.
tries=$(sed -n '/wrongpin.conf/,$p' "$TK_TMP/tlskeyd.log" |
	grep -cE 'C_Login: CKR_PIN_INCORRECT|the token rejected the PIN' || true)
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon did not restart with the right PIN"
tk_legit_check wrong-pin
if grep -F -e "$(cat "$TK_FX/pin")" -e 0000wrong "$TK_TMP/tlskeyd.log" >/dev/null; then
	tk_fail "a PIN appears in the daemon log"
fi
[ "$tries" -le 1 ] || tk_fail "the daemon tried the same wrong PIN $tries times (see tlskeyd.log)"
tk_pass
