#!/bin/bash
# Online OCSP with a resolver that does not answer (keyd/resolve.c): the
# name in a peer certificate's AIA URL is looked up within ocsp-timeout,
# like the rest of the question, and a lookup left running does not hold
# a fetch thread.  In the test's own network and mount namespaces: our
# resolv.conf (nameserver 127.0.0.1, 20 s per try, 2 tries: 40 s a
# lookup without the deadline), hosts and nsswitch.conf (files, then dns)
# are bind-mounted over /etc's for this test alone; a UDP sink on
# 127.0.0.1:53 counts the queries and never answers.
#
# hung: peer-ocsp-online = hard, ocsp-timeout = 2000: refused
#   (ocsp-unavailable) after 1.5..6 s, "no answer from the resolver in
#   time", and the sink saw the query (the lookup was really asked).
# threads: 4 more hung questions (5 lookups left running, the fetch
#   threads are 4), then a responder named in /etc/hosts (the lookup
#   that succeeds) answers good: without the deadline every fetch thread
#   would still be waiting.
# refused: the sink stopped (ICMP port unreachable): the lookup fails at
#   once with the resolver's reason, well before ocsp-timeout.
# stop: SIGTERM while a lookup hangs: the daemon stops within 6 s.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl ip unshare python3 gnutls-cli certtool mount
TK_NETNS_MOUNT=1 tk_netns_enter "$@"
tk_setup --no-daemon
O=$TK_TMP/ocsp
mkdir "$O"

# --- our resolver configuration, this namespace only ------------------------
[ -e /etc/resolv.conf ] || tk_skip "no /etc/resolv.conf to bind-mount over"
printf 'nameserver 127.0.0.1\noptions timeout:20 attempts:2\n' >"$O/resolv.conf"
{ cat /etc/hosts; printf '127.0.0.1 ocsp.good.test\n'; } >"$O/hosts"
{ grep -v '^hosts:' /etc/nsswitch.conf; printf 'hosts: files dns\n'; } >"$O/nsswitch.conf"
for f in resolv.conf hosts nsswitch.conf; do
	mount --bind "$O/$f" "/etc/$f" || tk_fail "cannot bind-mount $O/$f over /etc/$f"
done
getent hosts ocsp.good.test | grep -q '^127\.0\.0\.1 ' || tk_fail "our /etc/hosts is not in effect"

# dns_sink: a UDP socket on 127.0.0.1:53 that reads queries and never
# answers; one line per query in dns.log.
dns_sink() {
	: >"$O/dns.log"
	tk_bg timeout 300 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    s.recv(4096)
    print("query", flush=True)
' >"$O/dns.log" 2>"$O/dns.err"
	DNS_PID=$TK_BG_PID
	tk_wait_until 10 "$DNS_PID" grep -q '^ready$' "$O/dns.log" ||
		{ cat "$O/dns.err" >&2; tk_fail "the DNS sink did not start"; }
}
dns_sink

# --- PKI --------------------------------------------------------------------
ocsp_port=$(tk_free_port) || tk_fail "no free port"
hung_url=http://ocsp.hang.test:$ocsp_port/
good_url=http://ocsp.good.test:$ocsp_port/
tk_ocsp_pki "$O"
peer() {
	tk_check_cert "$O/$1.pem" "$O/peer-server.pub" 30 "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
ocsp_uri = $2"
}
peer hung "$hung_url"
peer good "$good_url"
for c in hung good; do
	printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=%s\n' "$(tk_ocsp_serial "$O/$c.pem")" "$c"
done >"$O/index.txt"
echo 'unique_subject = no' >"$O/index.txt.attr"
tk_ocsp_responder_start "$O" "$ocsp_port"

tk_conf hard "peer-ocsp-online=hard" "ocsp-timeout=2000" "workers=2"
tk_daemon_start "$TK_TMP/hard.conf"

# app NAME: alice as client against the openssl s_server at $SRV_PORT, in
# the background; its pid in APP_PID.
app() {
	tk_bg timeout 60 "$TK_APP" client --connect "127.0.0.1:$SRV_PORT" --myname alice@example.test \
		--sni peer.example.test "${@:2}" >"$O/$1.out" 2>"$O/$1.err"
	APP_PID=$TK_BG_PID
}

tk_log "hung: the lookup is bounded by ocsp-timeout"
tk_start_openssl_serv hung-srv -cert "$O/hung.pem" -key "$TK_FX/peer-server.key" -naccept 100
SRV_PORT=$TK_PORT
tk_mark
t0=$(date +%s%N)
app hung --expect-errno EKEYREJECTED
tk_wait_ok "$APP_PID" 30 "hung" "$O/hung.err"
took=$((($(date +%s%N) - t0) / 1000000))
tk_log "hung: refused after $took ms (ocsp-timeout 2000)"
[ "$took" -ge 1500 ] || tk_fail "hung: refused after $took ms, before ocsp-timeout = 2000"
[ "$took" -le 6000 ] || tk_fail "hung: refused after $took ms with ocsp-timeout = 2000"
tk_expect_grep "$O/hung.err" 'ocsp-unavailable'
tk_wait_log "OCSP: asked $hung_url: failed: responder $hung_url: looking up ocsp\.hang\.test: no answer from the resolver in time" ||
	tk_fail "hung: no log line naming the lookup"
grep -q '^query$' "$O/dns.log" || tk_fail "hung: the sink saw no query: the lookup was not asked"

tk_log "threads: 4 more hung questions, then a name from /etc/hosts answers at once"
pids=()
for i in 1 2 3 4; do
	app "many$i" --expect-errno EKEYREJECTED
	pids+=("$APP_PID")
done
for i in 1 2 3 4; do
	tk_wait_ok "${pids[$((i - 1))]}" 30 "many$i" "$O/many$i.err"
done
tk_start_openssl_serv good-srv -cert "$O/good.pem" -key "$TK_FX/peer-server.key"
SRV_PORT=$TK_PORT
tk_mark
t0=$(date +%s%N)
app good
tk_wait_ok "$APP_PID" 30 "good (the fetch threads are held by lookups)" "$O/good.err"
took=$((($(date +%s%N) - t0) / 1000000))
tk_log "good: connected after $took ms"
tk_wait_log "OCSP: asked $good_url: good" || tk_fail "good: no answer from the responder logged"
tk_wait_log "event=established .*myname=alice@example.test .*ocsp=good" || tk_fail "good: no audit"

tk_log "refused: no resolver listening, the lookup fails at once"
kill "$DNS_PID" 2>/dev/null || true
tk_wait_pid "$DNS_PID" 5 || true
tk_start_openssl_serv refused-srv -cert "$O/hung.pem" -key "$TK_FX/peer-server.key"
SRV_PORT=$TK_PORT
tk_mark
t0=$(date +%s%N)
app refused --expect-errno EKEYREJECTED
tk_wait_ok "$APP_PID" 30 "refused" "$O/refused.err"
took=$((($(date +%s%N) - t0) / 1000000))
tk_log "refused: refused after $took ms"
[ "$took" -le 1500 ] || tk_fail "refused: took $took ms: the lookup did not fail at once"
tk_wait_log "OCSP: asked $hung_url: failed: responder $hung_url: looking up ocsp\.hang\.test: " ||
	tk_fail "refused: no log line naming the lookup"
tk_no_log "no answer from the resolver in time" || tk_fail "refused: reported as a timeout"

tk_log "stop: SIGTERM while a lookup hangs"
dns_sink
tk_start_openssl_serv stop-srv -cert "$O/hung.pem" -key "$TK_FX/peer-server.key"
SRV_PORT=$TK_PORT
tk_mark
app stop
tk_wait_until 10 "" grep -q '^query$' "$O/dns.log" || tk_fail "stop: the lookup was not asked"
t0=$(date +%s%N)
kill "$TK_DAEMON_PID"
rc=0
tk_wait_pid "$TK_DAEMON_PID" 20 || rc=$?
took=$((($(date +%s%N) - t0) / 1000000))
TK_DAEMON_PID=
tk_log "stop: the daemon exited $rc after $took ms"
[ "$rc" = 0 ] || tk_fail "stop: the daemon exited $rc"
[ "$took" -le 6000 ] || tk_fail "stop: took $took ms while a lookup hung"
tk_wait_pid "$APP_PID" 10 || true
tk_pass
