#!/bin/bash
# A remote token: the fixture's SoftHSM token served by `p11-kit server`
# on a UNIX socket, and tlskeyd using it only through p11-kit's client
# module (`pkcs11-module = .../p11-kit-client.so`, P11_KIT_SERVER_ADDRESS
# in its environment; the daemon cannot reach SoftHSM itself).  This is how
# one HSM is shared by many hosts (doc/tokens.md).
#   - handshakes in both roles with the keys on the remote token;
#   - the token server dies (with the per-connection processes it forked):
#     new handshakes fail fast (well under the handshake timeout) with an
#     error naming the key, and the daemon stays up;
#   - the server comes back on the same socket: after the import back-off
#     (KEY_RETRY_MS, 2 s) handshakes succeed again.
# Packages: p11-kit (p11-kit server), p11-kit-modules (p11-kit-client.so).
. "${top_srcdir:-.}/test/lib/tk.sh"

CLIENT_MODULE=${TK_P11_CLIENT_MODULE:-}
if [ -z "$CLIENT_MODULE" ]; then
	for m in /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so \
		/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so \
		/usr/lib64/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so; do
		[ -e "$m" ] && { CLIENT_MODULE=$m; break; }
	done
fi
tk_need gnutls-cli gnutls-serv
tk_need_pkg p11-kit p11-kit
tk_need_pkg p11-kit-modules "${CLIENT_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so}"
tk_setup --no-daemon

SOCK=$TK_TMP/p11-kit.sock
export P11_KIT_SERVER_ADDRESS="unix:path=$SOCK"
SRV_N=0

# start_token_server: p11-kit server in the foreground, serving only the
# fixture's token from the SoftHSM module; waits (bounded) for its socket.
start_token_server() {
	SRV_N=$((SRV_N + 1))
	rm -f "$SOCK"
	tk_bg p11-kit server -f -n "$SOCK" --provider "$TK_MODULE" "$TK_TOKEN_URI" \
		</dev/null >"$TK_TMP/p11-kit-server$SRV_N.out" 2>"$TK_TMP/p11-kit-server$SRV_N.err"
	SRV_PID=$TK_BG_PID
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TK_TMP/p11-kit-server$SRV_N.err" >&2
	tk_fail "p11-kit server did not create $SOCK"
}

# stop_token_server: the HSM host goes away.  p11-kit server forks one
# process per client connection; those are ours too and die with it.
stop_token_server() {
	local kids pid
	kids=$(ps -o pid= --ppid "$SRV_PID" 2>/dev/null || true)
	kill "$SRV_PID" $kids 2>/dev/null || true
	for pid in $SRV_PID $kids; do
		tk_wait_pid "$pid" 5 >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
	done
}

start_token_server
tk_log "p11-kit server serving $TK_TOKEN_URI on $SOCK [$(tk_secs)s]"

# The fixture's identities, but only the client module: SoftHSM is not
# reachable from the daemon except through the socket.
tk_conf remote "pkcs11-module=$CLIENT_MODULE"
SOFTHSM2_CONF=/nonexistent tk_daemon_start "$TK_TMP/remote.conf" ||
	tk_fail "tlskeyd did not start with the p11-kit client module"
if grep -E 'not usable now' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "the daemon's start-up probe did not reach the remote token"
fi

# ---- both roles, keys on the remote token ----------------------------------
for i in 1 2; do
	tk_token_server_case "up$i-srv" server.example.test
	tk_token_client_case "up$i-cli" alice@example.test
done
tk_token_server_case up-rsa rsa.example.test

# ---- the token server dies ---------------------------------------------------
tk_log "stopping the p11-kit server [$(tk_secs)s]"
stop_token_server
tk_start_gnutls_serv down-srv \
	--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
DOWN_PORT=$TK_PORT
for i in 1 2 3 4; do
	t0=$(date +%s%N)
	rc=0
	tk_app "down$i" client --connect "127.0.0.1:$DOWN_PORT" --myname alice@example.test \
		--sni peer.example.test --expect-errno ENOTRECOVERABLE,ECONNRESET,EPROTO || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/down$i.err" >&2
		tk_fail "down$i: with the token server gone the handshake must fail (tk-app exit $rc)"
	fi
	grep -E '^ERROR errno=' "$TK_TMP/down$i.err" >&2 || true
	# Fast: not the 10 s handshake timeout of the configuration.
	[ "$ms" -lt 3000 ] || tk_fail "down$i: failing took $ms ms"
	# Clear: the caller learns which key failed.
	tk_expect_grep "$TK_TMP/down$i.err" 'object=alice-ec'
	tk_daemon_alive
done
tk_log "handshakes fail fast while the token server is down [$(tk_secs)s]"
grep -E 'alice-ec' "$TK_TMP/tlskeyd.log" | grep -Ev 'event=established' | tail -n 4 >&2 || true

# ---- it comes back --------------------------------------------------------
start_token_server
tk_log "p11-kit server restarted [$(tk_secs)s]"
# Bounded: the back-off is 2 s per worker; allow 15 s in all.
ok=
for i in $(seq 30); do
	rc=0
	tk_app "back$i" client --connect "127.0.0.1:$DOWN_PORT" --myname alice@example.test \
		--sni peer.example.test || rc=$?
	if [ "$rc" = 0 ]; then
		ok=$i
		break
	fi
	tk_daemon_alive
	sleep 0.5
done
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true
if [ -z "$ok" ]; then
	cat "$TK_TMP/back30.err" >&2
	tk_fail "no handshake succeeded within 15 s after the token server came back" \
		"(the PKCS#11 module must be re-initialised: p11-kit-client.so stays" \
		"disconnected, CKR_DEVICE_ERROR, until C_Finalize + C_Initialize)"
fi
tk_log "recovered after $ok attempt(s) [$(tk_secs)s]"
# Every worker recovers, in both roles.
for i in 1 2; do
	tk_token_server_case "again$i-srv" server.example.test
	tk_token_client_case "again$i-cli" alice@example.test
done
tk_log "done [$(tk_secs)s]"
tk_pass
