#!/bin/bash
# DTLS 1.2 (IPPROTO_UDP): the app as DTLS client against gnutls-serv --udp
# (client certificate required, echo), and as DTLS server with gnutls-cli
# --udp as the remote client.  Datagram boundaries survive both ways
# (three datagrams of different sizes out, the same three back); the
# protected descriptor is SOCK_SEQPACKET.  Negative: untrusted peers in
# both roles (EKEYREJECTED), DTLS on a TCP socket and TLS on a UDP socket
# (EPROTOTYPE), an unconnected UDP socket (ENOTCONN).  tlskey_control()
# KeyUpdate on DTLS: EOPNOTSUPP; the exporter works.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv ss
tk_setup
# On a failure, the UDP peers' side too.
TK_DUMP_EXTRA='srv-*.err srv-*.out'

printf 'one\ntwo two\nthree three three\n' >"$TK_TMP/dgrams"
LENS='4 8 18'

# udp_serv NAME CERT-BASENAME: gnutls-serv --udp --echo; sets UDP_PORT, UDP_PID.
udp_serv() {
	local name=$1 cert=$2 port i
	for _ in 1 2 3 4 5; do
		port=$(tk_free_port) || tk_fail "no free port"
		if ss -Hlun "sport = :$port" | grep . >/dev/null; then
			continue
		fi
		# Line-buffered, so its log says where a failed case stood.
		tk_bg stdbuf -oL -eL gnutls-serv --udp --port "$port" --echo --x509cafile "$TK_FX/ca.pem" \
			--require-client-cert --verify-client-cert \
			--x509certfile "$TK_FX/$cert.pem" --x509keyfile "$TK_FX/$cert.key" \
			</dev/null >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err"
		UDP_PID=$TK_BG_PID
		# IPv4 (-4): gnutls-serv binds every address the port resolves
		# to and goes on with the IPv6 one alone if the IPv4 bind fails
		# (the port taken meanwhile), and the app sends to 127.0.0.1.
		for i in $(seq 50); do
			if ss -Hlun4 "sport = :$port" | grep . >/dev/null; then
				UDP_PORT=$port
				return 0
			fi
			kill -0 "$UDP_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$UDP_PID" 2>/dev/null || true
	done
	tk_fail "gnutls-serv --udp ($name) did not start"
}

# udp_serv_done NAME N: wait (bounded) until gnutls-serv NAME has ended N
# sessions.  It serves one session at a time and, until the previous one
# has ended, takes the next client's datagrams for strays and drops them;
# the daemon sends close_notify only after the app has gone, so without
# this the next case could race the previous one's end.
udp_serv_done() {
	local name=$1 n=$2
	udp_serv_ended() {
		[ "$(cat "$TK_TMP/$name.out" "$TK_TMP/$name.err" 2>/dev/null |
			grep -c -E '^EOF$|^Error in (recv|send|handshake)')" -ge "$n" ]
	}
	tk_wait_until 10 "$UDP_PID" udp_serv_ended ||
		tk_fail "gnutls-serv $name has not ended its session $n"
}

# dgram_lens FILE: the DGRAM lengths tk-app logged, space separated.
dgram_lens() {
	sed -n 's/^DGRAM len=//p' "$1" | tr '\n' ' ' | sed 's/ $//'
}

# ---- app as DTLS client ---------------------------------------------------
udp_serv srv-peer peer-server
cp "$TK_TMP/dgrams" "$TK_TMP/c1.in"
tk_ok c1 client --udp --connect "127.0.0.1:$UDP_PORT" --myname alice@example.test \
	--sni peer.example.test --query
tk_expect_line "$TK_TMP/c1.err" "PEER=peer.example.test"
tk_expect_line "$TK_TMP/c1.err" "PROTECTED=seqpacket"
tk_expect_grep "$TK_TMP/c1.err" '^QUERY state=secure version=DTLS1.2 .* peer=peer.example.test local=alice@example.test '
[ "$(dgram_lens "$TK_TMP/c1.err")" = "$LENS" ] ||
	tk_fail "c1: datagrams received: $(dgram_lens "$TK_TMP/c1.err"), wanted $LENS"
tk_same "$TK_TMP/dgrams" "$TK_TMP/c1.out"
# (gnutls-serv requires and verifies the client certificate, so the app
# did present alice's; its own output is block-buffered in UDP mode.)
# The RSA user key over DTLS as well.
udp_serv_done srv-peer 1
cp "$TK_TMP/dgrams" "$TK_TMP/c2.in"
tk_ok c2 client --udp --connect "127.0.0.1:$UDP_PORT" --myname carol@example.test \
	--sni peer.example.test
tk_same "$TK_TMP/dgrams" "$TK_TMP/c2.out"
# Session controls over DTLS 1.2: no KeyUpdate there (EOPNOTSUPP), while
# the exporter works (RFC 5705 covers DTLS).
tk_log "case c3: tlskey_control and the exporter on DTLS"
udp_serv_done srv-peer 2
cp "$TK_TMP/dgrams" "$TK_TMP/c3.in"
tk_app c3 client --udp --connect "127.0.0.1:$UDP_PORT" --myname alice@example.test \
	--sni peer.example.test --export EXPERIMENTAL-dtls --ctl key-update || true
tk_expect_grep "$TK_TMP/c3.err" '^EXPORT=[0-9A-F]{64}$'
tk_expect_grep "$TK_TMP/c3.err" '^CTL-ERROR errno=EOPNOTSUPP .*TLS 1.3'
udp_serv_done srv-peer 3
tk_err c-wrong-name EKEYREJECTED client --udp --connect "127.0.0.1:$UDP_PORT" \
	--myname alice@example.test --sni other.example.test
kill "$UDP_PID" 2>/dev/null || true

udp_serv srv-rogue rogue-server
tk_err c-rogue EKEYREJECTED client --udp --connect "127.0.0.1:$UDP_PORT" --myname alice@example.test \
	--sni peer.example.test
tk_expect_grep "$TK_TMP/c-rogue.err" 'issuer is unknown'
kill "$UDP_PID" 2>/dev/null || true

# ---- app as DTLS server ---------------------------------------------------
# udp_client NAME WANT(ok|ERRNO) CERT-BASENAME: tk-app DTLS echo server,
# gnutls-cli --udp sending the three lines one by one.
udp_client() {
	local name=$1 want=$2 cert=$3 exp=() fifo pid line i
	[ "$want" = ok ] || exp=(--expect-errno "$want")
	tk_log "case $name: DTLS server, gnutls-cli --udp with $cert"
	tk_app_server "$name" --udp --myname server.example.test --echo --dgrams 3 --query "${exp[@]}"
	fifo=$TK_TMP/$name.fifo
	mkfifo "$fifo"
	exec 7<>"$fifo"
	tk_bg timeout 20 gnutls-cli --udp --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
		--verify-hostname server.example.test --sni-hostname server.example.test \
		--x509certfile "$TK_FX/$cert.pem" --x509keyfile "$TK_FX/$cert.key" \
		--logfile="$TK_TMP/$name-cli.log" 127.0.0.1 <"$fifo" >"$TK_TMP/$name-cli.out" 2>"$TK_TMP/$name-cli.err" 7>&-
	pid=$TK_BG_PID
	if [ "$want" = ok ]; then
		# One write per line, so that each becomes one datagram; wait for
		# the handshake first.
		for i in $(seq 100); do
			grep -q 'PEER=' "$TK_TMP/$name.err" 2>/dev/null && break
			kill -0 "$TK_SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		while IFS= read -r line; do
			printf '%s\n' "$line" >&7
			sleep 0.2
		done <"$TK_TMP/dgrams"
	fi
	tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/$name.err" >&2; exec 7>&-; tk_fail "$name: app exit $?"; }
	exec 7>&-
	tk_wait_pid "$pid" 10 || true
}
udp_client s1 ok peer-user
tk_expect_line "$TK_TMP/s1.err" "PEER=bob@example.test"
tk_expect_grep "$TK_TMP/s1.err" '^QUERY state=secure version=DTLS1.2 .* peer=bob@example.test local=server.example.test '
[ "$(dgram_lens "$TK_TMP/s1.err")" = "$LENS" ] ||
	tk_fail "s1: datagrams received: $(dgram_lens "$TK_TMP/s1.err"), wanted $LENS"
tk_same "$TK_TMP/dgrams" "$TK_TMP/s1-cli.out"
udp_client s-rogue EKEYREJECTED rogue-user
tk_expect_grep "$TK_TMP/s-rogue.err" 'issuer is unknown'

# ---- wrong socket kinds -----------------------------------------------------
tk_start_gnutls_serv srv-tcp --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
tk_err dtls-on-tcp EPROTOTYPE client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --proto 17
tk_expect_grep "$TK_TMP/dtls-on-tcp.err" 'not a datagram'
udp_serv srv-peer2 peer-server
tk_err tls-on-udp EPROTOTYPE client --udp --proto 6 --connect "127.0.0.1:$UDP_PORT" \
	--myname alice@example.test --sni peer.example.test
tk_err dtls-unconnected ENOTCONN badfd --kind udp --proto 17 --myname alice@example.test
tk_legit_check end
tk_done
