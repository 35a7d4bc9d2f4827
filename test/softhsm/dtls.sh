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
tk_need gnutls-cli gnutls-serv ss openssl
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

# OpenSSL as the DTLS client: it answers our HelloVerifyRequest too.
tk_log "case s-ossl: DTLS server, openssl s_client -dtls1_2"
tk_app_server s-ossl --udp --myname server.example.test --echo --dgrams 1
mkfifo "$TK_TMP/s-ossl.fifo"
exec 6<>"$TK_TMP/s-ossl.fifo"
tk_bg timeout 20 openssl s_client -dtls1_2 -connect "127.0.0.1:$TK_PORT" -CAfile "$TK_FX/ca.pem" \
	-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" -servername server.example.test -quiet \
	<"$TK_TMP/s-ossl.fifo" >"$TK_TMP/s-ossl-cli.out" 2>"$TK_TMP/s-ossl-cli.err" 6>&-
printf 'hello dtls\n' >&6
tk_wait_line "$TK_TMP/s-ossl-cli.out" '^hello dtls$' 15 "$TK_BG_PID" ||
	{ cat "$TK_TMP/s-ossl-cli.err" >&2; tk_fail "s-ossl: no echo"; }
exec 6>&-
tk_wait_ok "$TK_SERVER_PID" 10 "s-ossl: tk-app" "$TK_TMP/s-ossl.err"
tk_expect_line "$TK_TMP/s-ossl.err" "PEER=bob@example.test"

# A ClientHello from an address that never answers (a forged one): gnutls-cli's
# first datagram, captured, then sent to the app from a socket that only
# counts what comes back (test/hostile/dtls-hello.py).  The daemon answers
# with a HelloVerifyRequest alone and signs nothing; the handshake ends by
# its timer.  Before the cookie exchange: ServerHello, Certificate and the
# rest, some 3.5 KB resent every second, and a token signature.
tk_log "case cookie: a ClientHello whose sender never answers"
tk_bg timeout 20 python3 "$top_srcdir/test/hostile/dtls-hello.py" capture "$TK_TMP/cap.port" \
	"$TK_TMP/hello.bin" >"$TK_TMP/cap.out" 2>&1
cap=$TK_BG_PID
tk_wait_file "$TK_TMP/cap.port" "$cap" 10 || tk_fail "cookie: the capture did not start"
tk_bg timeout 20 gnutls-cli --udp --port "$(cat "$TK_TMP/cap.port")" --x509cafile "$TK_FX/ca.pem" \
	--sni-hostname server.example.test 127.0.0.1 </dev/null >"$TK_TMP/cap-cli.out" 2>&1
cli=$TK_BG_PID
tk_wait_pid "$cap" 15 || tk_fail "cookie: no ClientHello captured"
kill "$cli" 2>/dev/null || true
tk_expect_grep "$TK_TMP/cap.out" '^CAPTURED [0-9]+$'
tk_app_server cookie --udp --myname server.example.test --echo --hs-timeout 2000 --expect-errno ETIMEDOUT
tk_mark
python3 "$top_srcdir/test/hostile/dtls-hello.py" replay "$TK_TMP/hello.bin" "$TK_PORT" 3 >"$TK_TMP/replies"
tk_log "cookie: $(cat "$TK_TMP/replies")"
tk_expect_grep "$TK_TMP/replies" '^REPLIES count=[1-9][0-9]* bytes=[0-9]+ types=22/3(,22/3)*$'
b=$(sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' "$TK_TMP/replies")
[ "$b" -le 200 ] || tk_fail "cookie: $b bytes sent to an address that never answered"
tk_wait_pid "$TK_SERVER_PID" 10 || tk_fail "cookie: the app did not end"
tk_wait_log 'handshake-failed .*sign_ms=- .*no ClientHello returned our DTLS cookie' ||
	tk_fail "cookie: no handshake-failed record without a signature"

# ---- forged datagrams (an off-path attacker who knows the addresses) ------
# An empty UDP datagram from the server's address and port, one of one
# byte, and ICMP port unreachables (udp-forge.py, raw sockets: root only)
# reach the app's socket between its datagrams; the app also sends an empty
# datagram of its own.  Each used to end the session (an empty datagram
# read as the peer's end: the app got DGRAM-EOF; an ICMP error failed the
# next receive; the app's empty datagram read as its shutdown, so the
# daemon sent close_notify); a 1-byte one spoiled the datagram after it.
# Now all four come back and the session ends with the app.  The app's
# socket has IP_RECVERR (so every ICMP message also waits on its error
# queue, which kept EPOLLERR asserted: the daemon must drain it, not spin),
# and a protocol unreachable is ignored as well as a port unreachable.
# Its last datagrams, one after an empty one and right before its
# shutdown, still arrive (the empty one read as the end lost them).  Then the
# largest datagram the daemon's MTU (1280) leaves room for: 1243 bytes come
# out as one record, 1244 are dropped (as documented in doc/api.md), and
# the session goes on (gnutls-serv's log says what arrived).
if [ "$(id -u)" = 0 ] && command -v python3 >/dev/null; then
	tk_log "case forged: datagrams and ICMP errors forged to the app's DTLS socket"
	udp_serv srv-forge peer-server
	mkfifo "$TK_TMP/forge.fifo"
	exec 7<>"$TK_TMP/forge.fifo"
	tk_bg timeout 30 "$TK_APP" client --udp --connect "127.0.0.1:$UDP_PORT" --myname alice@example.test \
		--sni peer.example.test --empty-dgrams --recverr <"$TK_TMP/forge.fifo" \
		>"$TK_TMP/forge.out" 2>"$TK_TMP/forge.err" 7>&-
	app=$TK_BG_PID
	# send LINE: one datagram out, wait (bounded) for its echo.
	send() {
		local want
		want=$(($(grep -c '^DGRAM len=' "$TK_TMP/forge.err" 2>/dev/null || true) + 1))
		printf '%s\n' "$1" >&7
		echoed() { [ "$(grep -c '^DGRAM len=' "$TK_TMP/forge.err")" -ge "$want" ]; }
		tk_wait_until 10 "$app" echoed || { cat "$TK_TMP/forge.err" >&2; tk_fail "forged: no echo of '$1'"; }
	}
	forge() { python3 "$top_srcdir/test/hostile/udp-forge.py" "$1" "$2" "$3" >/dev/null; }
	send one
	# The app's local address: the one of the flow that is not the server's.
	lp=$(ss -Hun "dport = :$UDP_PORT" | tr ' ' '\n' | sed -n 's/^127\.0\.0\.1://p' | grep -vx "$UDP_PORT" | head -1)
	[ -n "$lp" ] || tk_fail "forged: the app's UDP port not found"
	forge empty "$UDP_PORT" "$lp"
	forge icmp "$UDP_PORT" "$lp"
	send "two two"
	forge short "$UDP_PORT" "$lp"
	send "three three three"
	forge icmp-proto "$UDP_PORT" "$lp"
	cpu() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
	c0=$(cpu)
	sleep 1 # CPU over a second is what is measured
	c1=$(cpu)
	[ $((c1 - c0)) -lt 30 ] || tk_fail "forged: the daemon used $((c1 - c0)) ticks in 1 s after an ICMP error (spinning)"
	printf '\n' >&7 # the app's own empty datagram
	send four
	printf '%s\n' "$(head -c 1242 /dev/zero | tr '\0' a)" "$(head -c 1243 /dev/zero | tr '\0' b)" five >&7
	five() { grep -q ']: five$' "$TK_TMP/srv-forge.out"; }
	tk_wait_until 10 "$app" five || tk_fail "forged: the datagram after the large ones did not arrive"
	printf 'six\n\nseven\n' >&7
	exec 7>&-
	tk_wait_ok "$app" 15 "forged: tk-app" "$TK_TMP/forge.err"
	[ "$(dgram_lens "$TK_TMP/forge.err" | cut -d' ' -f1-4)" = "4 8 18 5" ] ||
		tk_fail "forged: datagrams received: $(dgram_lens "$TK_TMP/forge.err"), wanted 4 8 18 5 first"
	# gnutls-serv prints a record in pieces of its buffer, each with the
	# record's sequence number.
	[ "$(grep 'aaaa' "$TK_TMP/srv-forge.out" | sed 's/\].*//' | sort -u | wc -l)" = 1 ] &&
		[ "$(grep 'aaaa' "$TK_TMP/srv-forge.out" | tr -cd a | wc -c)" = 1242 ] ||
		tk_fail "forged: the 1243-byte datagram did not arrive as one record"
	! grep -q 'bbbb' "$TK_TMP/srv-forge.out" || tk_fail "forged: a 1244-byte datagram went out"
	grep -q ']: seven$' "$TK_TMP/srv-forge.out" ||
		tk_fail "forged: the datagram between an empty one and the app's end was lost"
	grep -q 'DTLS: ignored a network error: Protocol not available' "$TK_TMP/tlskeyd.log" ||
		tk_fail "forged: no protocol unreachable seen"
	grep -q 'DTLS: ignored a datagram too short' "$TK_TMP/tlskeyd.log" || tk_fail "forged: no short datagram seen"
	grep -q 'DTLS: ignored a network error: Connection refused' "$TK_TMP/tlskeyd.log" ||
		tk_fail "forged: no ICMP error seen (the test did not reach the daemon's socket)"
	grep -q 'DTLS: the application sent an empty datagram' "$TK_TMP/tlskeyd.log" ||
		tk_fail "forged: the app's empty datagram not seen"
	kill "$UDP_PID" 2>/dev/null || true
else
	tk_log "case forged: skipped (raw sockets need root)"
fi

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
