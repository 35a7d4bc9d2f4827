#!/bin/bash
# Online OCSP under a responder that never answers: at most
# OCSP_PER_ORIGIN (2) of the 4 fetch threads ask one responder at a time,
# and a question asked again while it is in flight joins it instead of
# taking a thread.  The hung responder (the test's own: it accepts
# connections, counts them and never answers) and an `openssl ocsp`
# responder on other ports, in the test's own network namespace;
# peer-ocsp-online = hard, ocsp-timeout = 4000, the app against openssl
# s_server.
#   spread: 4 peers with 4 certificates naming the hung responder, then a
#     peer naming the good one: the responder sees 2 connections, the good
#     peer connects within 2.5 s (before: the 4 threads were the hung
#     responder's, the good question waited past its own deadline and was
#     refused), the 4 hung ones are refused ocsp-unavailable within 8 s
#     (the two left queued are asked when a place is free or refused when
#     their time is up, not at the 10 s handshake timer)
#   join: 4 peers with one certificate at once: 1 or 2 new connections at
#     the hung responder (before: 4), all 4 refused ocsp-unavailable
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl ip unshare certtool python3
tk_netns_enter "$@"
tk_setup --no-daemon
O=$TK_TMP/busy
mkdir "$O"

ocsp_port=$(tk_free_port) || tk_fail "no free port"
hung_port=$(tk_free_port) || tk_fail "no free port"
[ "$hung_port" != "$ocsp_port" ] || hung_port=$((ocsp_port + 1))
url=http://127.0.0.1:$ocsp_port/
hung_url=http://127.0.0.1:$hung_port/
tk_ocsp_pki "$O"
peer() {
	tk_check_cert "$O/$1.pem" "$O/peer-server.pub" 30 "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
ocsp_uri = $2"
}
peer good "$url"
for i in 1 2 3 4; do peer "hung$i" "$hung_url"; done
printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=good\n' "$(tk_ocsp_serial "$O/good.pem")" >"$O/index.txt"
echo 'unique_subject = no' >"$O/index.txt.attr"
tk_ocsp_responder_start "$O" "$ocsp_port"

tk_bg timeout 300 python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    print("conn", flush=True)
' "$hung_port" >"$O/hung.log" 2>"$O/hung.err"
HUNG_PID=$TK_BG_PID
tk_wait_until 10 "$HUNG_PID" grep -q '^ready$' "$O/hung.log" ||
	{ cat "$O/hung.err" >&2; tk_fail "the hung responder did not start"; }
conns() { grep -c '^conn$' "$O/hung.log" || true; }
conns_ge() { [ "$(conns)" -ge "$1" ]; }

tk_conf hard "peer-ocsp-online=hard" "ocsp-timeout=4000" "workers=2"
tk_daemon_start "$TK_TMP/hard.conf"

# start_hung NAME CERT: the app against s_server with CERT, in the
# background, expecting the refusal; pid in PIDS, start time in T0S.
PIDS=() T0S=() SRVS=()
start_hung() {
	tk_start_openssl_serv "$1-srv" -cert "$O/$2.pem" -key "$TK_FX/peer-server.key"
	SRVS+=("$TK_PEER_PID")
	T0S+=("$(date +%s%N)")
	tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test --expect-errno EKEYREJECTED >"$O/$1.out" 2>"$O/$1.err"
	PIDS+=("$TK_BG_PID")
}
# end_hung NAME...: each refused ocsp-unavailable within 8 s.
end_hung() {
	local i=0 n took
	for n in "$@"; do
		tk_wait_ok "${PIDS[$i]}" 30 "$n" "$O/$n.err"
		took=$((($(date +%s%N) - ${T0S[$i]}) / 1000000))
		tk_expect_grep "$O/$n.err" 'ocsp-unavailable'
		tk_log "$n: refused after $took ms"
		[ "$took" -le 8000 ] || tk_fail "$n: refused after $took ms (ocsp-timeout 4000)"
		i=$((i + 1))
	done
	kill "${SRVS[@]}" 2>/dev/null || true
	for n in "${SRVS[@]}"; do tk_wait_pid "$n" 5 || true; done
	PIDS=() T0S=() SRVS=()
}

tk_log "spread: 4 questions to the hung responder take 2 threads; a good one is answered meanwhile"
tk_mark
for i in 1 2 3 4; do start_hung "spread$i" "hung$i"; done
tk_wait_until 15 "" conns_ge 2 || tk_fail "spread: the hung responder saw $(conns) connections"
tk_start_openssl_serv good-srv -cert "$O/good.pem" -key "$TK_FX/peer-server.key"
GOOD_SRV=$TK_PEER_PID
t0=$(date +%s%N)
tk_ok good client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni peer.example.test
took=$((($(date +%s%N) - t0) / 1000000))
tk_log "good: connected after $took ms with the hung responder's questions in flight ($(conns) connections there)"
[ "$took" -le 2500 ] || tk_fail "good: took $took ms"
tk_wait_log "OCSP: asked $url: good" || tk_fail "good: no answer logged"
[ "$(conns)" -le 2 ] || tk_fail "spread: $(conns) threads asked the hung responder at once"
kill "$GOOD_SRV" 2>/dev/null || true
tk_wait_pid "$GOOD_SRV" 5 || true
end_hung spread1 spread2 spread3 spread4

tk_log "join: the same question 4 times at once asks once"
before=$(conns)
for i in 1 2 3 4; do start_hung "join$i" hung1; done
end_hung join1 join2 join3 join4
new=$(($(conns) - before))
tk_log "join: $new new connections at the hung responder for 4 questions"
[ "$new" -ge 1 ] && [ "$new" -le 2 ] || tk_fail "join: $new connections for one question asked 4 times"

tk_daemon_alive
kill "$HUNG_PID" 2>/dev/null || true
tk_wait_pid "$HUNG_PID" 5 || true
tk_pass
