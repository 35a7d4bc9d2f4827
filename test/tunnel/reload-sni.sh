#!/bin/bash
# A SIGHUP while a handshake is in flight must not change how it is
# finished (a review, 2026-12-03): the start decides whether tlskeyd asks
# the tunnel about the client's server name (--sni-allow), but the finish
# chose tlskey_finish() or tlskey_finish_sni_ctx() from the configuration
# in force then.  A reload that removed sni-allow made it call
# tlskey_finish() on a start that had asked for the question, which fails
# (EINVAL, "tlskeyd asks about the client's server name") and drops the
# client.  Now the connection records the start's choice.
#   1. The tunnel runs with sni-allow = server.example.test.  A TLS client
#      (python ssl) connects and holds its ClientHello back; once the
#      tunnel has started the handshake (its pending descriptor is open),
#      the file loses sni-allow and SIGHUP reloads it; then the client
#      sends its ClientHello: the handshake completes and data echoes
#      (end=eof).
#   2. The same with sni-allow changed to other.test: the new list refuses
#      the name (alert 112, EHOSTUNREACH): the next step uses the new
#      settings, as documented.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup

cat >"$TK_TMP/held.py" <<'EOF'
# held.py PORT CA CERT KEY: connect, say "CONNECTED PID", wait for SIGUSR1
# (at most 20 s), then the TLS handshake (SNI server.example.test), send a
# line, print what comes back ("GOT ...") or how it failed ("FAIL ...").
import os, signal, socket, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
raw = socket.create_connection(("127.0.0.1", port), timeout=20)
print("CONNECTED", os.getpid(), flush=True)
if signal.sigtimedwait({signal.SIGUSR1}, 20) is None:
    print("FAIL no SIGUSR1 within 20 s", flush=True)
    sys.exit(1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
try:
    s = ctx.wrap_socket(raw, server_hostname="server.example.test")
    s.sendall(b"hello across the reload\n")
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        got += d
    print("GOT", got.decode().strip(), flush=True)
except (OSError, ssl.SSLError) as e:
    print("FAIL", repr(e), flush=True)
    sys.exit(1)
EOF

# socks PID: how many sockets PID has open.
socks() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
has_socks() { [ "$(socks "$1")" -ge "$2" ]; }

# held NAME: start held.py against the tunnel; wait until the tunnel has
# the pending descriptor of its start (listener + 1 socket).  Sets HELD
# (its timeout(1)) and HELD_PY.
held() {
	tk_bg timeout 60 python3 "$TK_TMP/held.py" "$TT_PORT" "$TK_FX/ca.pem" "$TK_FX/peer-user.pem" \
		"$TK_FX/peer-user.key" >"$TK_TMP/$1.out" 2>&1
	HELD=$TK_BG_PID
	tk_wait_line "$TK_TMP/$1.out" '^CONNECTED [0-9]+$' 20 "$HELD" || tk_fail "$1: the client did not connect"
	# SIGUSR1 goes to the python client (ours), not to timeout(1).
	HELD_PY=$(sed -n 's/^CONNECTED //p' "$TK_TMP/$1.out")
	tk_wait_until 10 "$T" has_socks "$T" 2 || tk_fail "$1: the tunnel did not start the handshake"
}

# reload LINE: the file's sni-allow line becomes LINE (none if empty);
# SIGHUP, and wait until the log says this reload was applied.
NRELOAD=0
reloaded() { [ "$(grep -c 'SIGHUP: configuration reloaded' "$TK_TMP/t.log")" -ge "$NRELOAD" ]; }
reload() {
	sed -i '/^sni-allow/d' "$CONF"
	[ -z "$1" ] || echo "$1" >>"$CONF"
	NRELOAD=$((NRELOAD + 1))
	kill -HUP "$T"
	tk_wait_until 10 "$T" reloaded || tk_fail "reload $NRELOAD not applied"
}

tk_tt_backend be --count 1 --timeout 40
CONF=$TK_TMP/t.conf
cat >"$CONF" <<EOC
mode = server
listen = 127.0.0.1:0
myname = server.example.test
backend = 127.0.0.1:$TT_BACKEND_PORT
sni-allow = server.example.test
EOC
tk_tunnel t --config "$CONF"
T=$TT_PID
[ "$(socks "$T")" = 1 ] || tk_fail "the idle tunnel has $(socks "$T") sockets, expected its listener alone"

# ---- 1. sni-allow removed while the handshake waits --------------------------
tk_log "case 1: sni-allow removed during the handshake"
held c1
reload ""
kill -USR1 "$HELD_PY"
tk_wait_pid "$HELD" 20 || true
tk_log "case 1: client: $(tr '\n' ' ' <"$TK_TMP/c1.out")"
tk_expect_line "$TK_TMP/c1.out" "GOT hello across the reload"
tk_tunnel_wait_log t "^tlskey-tunnel: conn=1 .* peer=bob@example\.test .* end=(eof|reset)"
tk_expect_grep "$TK_TMP/t.log" "conn=1 .* peer=bob@example\.test .* rx=24 tx=24 "

# ---- 2. sni-allow changed to a list without the name --------------------------
tk_log "case 2: sni-allow changed during the handshake"
reload "sni-allow = server.example.test"
held c2
reload "sni-allow = other.test"
kill -USR1 "$HELD_PY"
tk_wait_pid "$HELD" 20 || true
tk_log "case 2: client: $(tr '\n' ' ' <"$TK_TMP/c2.out")"
tk_expect_grep "$TK_TMP/c2.out" '^FAIL .*(UNRECOGNIZED_NAME|unrecognized name)'
tk_tunnel_wait_log t 'conn=2 .* end=handshake-failed errno=EHOSTUNREACH reason="server name server.example.test is not in --sni-allow"'

tk_tunnel_stop t "$T"
tk_pass
