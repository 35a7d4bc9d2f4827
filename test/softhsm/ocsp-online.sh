#!/bin/bash
# Online OCSP (doc/config.md "OCSP", peer-ocsp-online): the daemon asks the
# responder the peer certificate names (AIA) when no valid staple came,
# on its fetch thread, before the protected descriptor is delivered.
# `openssl ocsp` is the responder, in the test's own network namespace.
#
# Client role (the app against openssl s_server, no staple): good ->
# connects; revoked -> EKEYREJECTED, audit reason revoked; the responder
# stopped: soft connects with a log line, hard is refused
# (ocsp-unavailable); a certificate without AIA under hard; a silent
# responder is bounded by ocsp-timeout while another connection on the
# only worker is served meanwhile; the cache answers a second connection
# (the responder stopped, hard mode still connects; one request logged); a
# certificate listing an https:// responder before its http:// one is
# checked with the http:// one; a
# valid staple means nobody is asked; a caller that goes away while its
# question waits is noticed (ECONNABORTED) and the late answer is dropped.
# Server role, item 6: two live sessions with client certificates; one is
# revoked in the responder's index, the cache entry expires
# (ocsp-max-ttl = 2), the fetch thread asks again, and that session ends
# with end=revoked while the other keeps relaying; under reevaluate = log
# it is noted and kept.  ocsp-cache-size = 1: a second certificate evicts
# the first, which is asked about again.  Expired: the responder stopped,
# the live session's refresh fails and the session keeps its verdict, but a
# new connection with the same certificate is refused (hard), not served
# the expired verdict.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl ip unshare gnutls-cli certtool
tk_netns_enter "$@"
tk_setup --no-daemon
O=$TK_TMP/ocsp
mkdir "$O"

# --- PKI --------------------------------------------------------------------
ocsp_port=$(tk_free_port) || tk_fail "no free port"
silent_port=$(tk_free_port) || tk_fail "no free port"
[ "$silent_port" != "$ocsp_port" ] || silent_port=$((ocsp_port + 1))
url=http://127.0.0.1:$ocsp_port/
tk_ocsp_pki "$O"
# peer NAME [AIA-URL]: a server certificate for peer.example.test.
peer() {
	tk_check_cert "$O/$1.pem" "$O/peer-server.pub" 30 "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
${2:+ocsp_uri = $2}"
}
peer good "$url"
peer revoked "$url"
peer other "$url"
peer silent "http://127.0.0.1:$silent_port/"
peer noaia
# An https:// responder listed first: the http:// one after it is asked.
tk_check_cert "$O/twourl.pem" "$O/peer-server.pub" 30 "cn = peer.example.test
dns_name = peer.example.test
signing_key
tls_www_server
ocsp_uri = https://127.0.0.1:$silent_port/
ocsp_uri = $url"
# Client certificates for the server role (item 6).
for u in bob dave; do
	certtool --generate-privkey --key-type=ecdsa --no-text --outfile "$O/$u.key" 2>/dev/null ||
		tk_fail "$u.key"
	certtool --load-privkey "$O/$u.key" --pubkey-info --outfile "$O/$u.pub" 2>/dev/null ||
		tk_fail "$u.pub"
	tk_check_cert "$O/$u.pem" "$O/$u.pub" 30 "cn = \"$u@example.test\"
email = $u@example.test
tls_www_client
signing_key
ocsp_uri = $url"
done

# index [REVOKED-CERT...]: the responder's index; the others are valid.
index() {
	local c s
	: >"$O/index.new"
	for c in good other silent bob dave revoked twourl; do
		s=$(tk_ocsp_serial "$O/$c.pem")
		case " $* " in
		*" $c "*) printf 'R\t301231235959Z\t261201000000Z\t%s\tunknown\t/CN=%s\n' "$s" "$c" ;;
		*) printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=%s\n' "$s" "$c" ;;
		esac >>"$O/index.new"
	done
	mv "$O/index.new" "$O/index.txt"
}
index revoked
echo 'unique_subject = no' >"$O/index.txt.attr"
responder_stop() {
	kill "$RESPONDER_PID" 2>/dev/null || true
	tk_wait_pid "$RESPONDER_PID" 5 || true
}
tk_ocsp_responder_start "$O" "$ocsp_port"

# --- client role --------------------------------------------------------------
# client NAME CONF ERRNO|ok CERT: alice as client against openssl s_server
# with CERT (no staple).
client() {
	local name=$1 conf=$2 want=$3 cert=$4
	[ "${TK_CUR_CONF:-}" = "$conf" ] || tk_daemon_start "$TK_TMP/$conf.conf"
	TK_CUR_CONF=$conf
	tk_start_openssl_serv "$name-srv" -cert "$O/$cert.pem" -key "$TK_FX/peer-server.key"
	tk_mark
	if [ "$want" = ok ]; then
		tk_ok "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
			--sni peer.example.test
	else
		tk_err "$name" "$want" client --connect "127.0.0.1:$TK_PORT" \
			--myname alice@example.test --sni peer.example.test
	fi
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
}
tk_conf soft "peer-ocsp-online=soft" "ocsp-timeout=1500" "workers=1"
tk_conf hard "peer-ocsp-online=hard" "ocsp-timeout=1500" "workers=1"
tk_conf off "peer-ocsp-online=off"

tk_log "off: no request, revoked or not"
client off-revoked off ok revoked
tk_no_log "OCSP: asked" || tk_fail "peer-ocsp-online = off asked the responder"

tk_log "soft: good, revoked"
client soft-good soft ok good
tk_wait_log "OCSP: asked $url: good" || tk_fail "soft-good: no request logged"
tk_wait_log "event=established .*myname=alice@example.test .*ocsp=good" || tk_fail "soft-good: no audit"
client soft-revoked soft EKEYREJECTED revoked
tk_expect_grep "$TK_TMP/soft-revoked.err" 'revoked'
tk_wait_log 'event=handshake-failed.*myname=alice@example.test.*result=EKEYREJECTED.*revoked' ||
	tk_fail "soft-revoked: no audit record"

tk_log "a valid staple: nobody is asked, even under hard"
openssl ocsp -issuer "$TK_FX/ca.pem" -cert "$O/good.pem" -url "$url" -respout "$O/good.der" \
	-CAfile "$TK_FX/ca.pem" >"$O/good.der.log" 2>&1 || { cat "$O/good.der.log" >&2; tk_fail "fetch good.der"; }
tk_daemon_start "$TK_TMP/hard.conf"
TK_CUR_CONF=hard
tk_start_openssl_serv stapled-srv -cert "$O/good.pem" -key "$TK_FX/peer-server.key" -status_file "$O/good.der"
tk_mark
tk_ok stapled client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni peer.example.test
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true
tk_no_log "OCSP: asked" || tk_fail "stapled: the responder was asked although a valid staple came"

tk_log "cache: a second connection asks nobody"
client hard-good hard ok other
tk_wait_log "OCSP: asked $url: good" || tk_fail "hard-good: no request logged"
responder_stop
client hard-cached hard ok other
tk_wait_log "event=established .*ocsp=good \\(cached\\)" || tk_fail "hard-cached: not from the cache"
tk_no_log "OCSP: asked" || tk_fail "hard-cached: the responder was asked again"
client hard-revoked-cached hard EKEYREJECTED revoked

tk_log "the responder stopped: hard refuses, soft accepts with a log line"
client hard-down hard EKEYREJECTED good
tk_expect_grep "$TK_TMP/hard-down.err" 'ocsp-unavailable'
tk_wait_log 'event=handshake-failed.*result=EKEYREJECTED.*ocsp-unavailable' || tk_fail "hard-down: no audit"
client soft-down soft ok good
tk_wait_log 'OCSP: .*accepted \(peer-ocsp-online = soft\)' || tk_fail "soft-down: no log line"
tk_wait_log 'event=established .*ocsp=unavailable' || tk_fail "soft-down: no audit"
client hard-noaia hard EKEYREJECTED noaia
tk_expect_grep "$TK_TMP/hard-noaia.err" 'names no http:// OCSP responder'

tk_log "a silent responder: bounded by ocsp-timeout; the only worker serves others meanwhile"
tk_ocsp_responder_start "$O" "$ocsp_port"
tk_bg "$TK_APP" sink --listen "127.0.0.1:$silent_port" --timeout 30 >"$O/silent.out" 2>&1
SINK_PID=$TK_BG_PID
tk_wait_listen "$silent_port" "$SINK_PID" || tk_fail "the silent responder did not start"
# A longer timer here: the other connection (a sanitizer build's tk-app
# start, a handshake, an OCSP question) must fit inside it on a busy machine.
tk_conf slow "peer-ocsp-online=hard" "ocsp-timeout=5000" "workers=1"
tk_daemon_start "$TK_TMP/slow.conf"
TK_CUR_CONF=slow
tk_start_openssl_serv silent-srv -cert "$O/silent.pem" -key "$TK_FX/peer-server.key"
SILENT_SRV=$TK_PEER_PID
SILENT_PORT=$TK_PORT
t0=$(date +%s%N)
tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$SILENT_PORT" --myname alice@example.test \
	--sni peer.example.test --expect-errno EKEYREJECTED >"$O/silent-app.out" 2>"$O/silent-app.err"
SILENT_APP=$TK_BG_PID
tk_wait_until 5 "" grep -q "POST" "$O/silent.out" 2>/dev/null || true
client meanwhile slow ok good
kill -0 "$SILENT_APP" 2>/dev/null || tk_fail "the silent case ended before the other connection was served"
tk_wait_ok "$SILENT_APP" 10 "silent case" "$O/silent-app.err"
took=$((($(date +%s%N) - t0) / 1000000))
tk_log "silent responder: refused after ${took} ms (ocsp-timeout 5000)"
[ "$took" -ge 4500 ] || tk_fail "silent: refused after ${took} ms, before ocsp-timeout = 5000"
[ "$took" -le 8000 ] || tk_fail "silent: took ${took} ms with ocsp-timeout = 5000"
tk_expect_grep "$O/silent-app.err" 'ocsp-unavailable'

tk_log "a caller that goes away while its OCSP question waits is noticed"
kill "$SILENT_SRV" 2>/dev/null || true
tk_wait_pid "$SILENT_SRV" 5 || true
kill "$SINK_PID" 2>/dev/null || true
tk_wait_pid "$SINK_PID" 5 || true
# The sink serves one connection: a new one.
tk_bg "$TK_APP" sink --listen "127.0.0.1:$silent_port" --timeout 30 >"$O/silent2.out" 2>&1
SINK_PID=$TK_BG_PID
tk_wait_listen "$silent_port" "$SINK_PID" || tk_fail "the second silent responder did not start"
tk_start_openssl_serv silent2-srv -cert "$O/silent.pem" -key "$TK_FX/peer-server.key"
SILENT_SRV=$TK_PEER_PID
tk_mark
tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test >"$O/gone-app.out" 2>"$O/gone-app.err"
GONE_APP=$TK_BG_PID
tk_wait_log "validation cache (miss|hit)" 5 || tk_fail "gone: the handshake did not run"
sleep 0.3
kill "$GONE_APP" 2>/dev/null || true
tk_wait_pid "$GONE_APP" 5 || true
tk_wait_log "caller went away" 3 || tk_fail "gone: the daemon did not notice the caller leave"
tk_wait_log "event=handshake-failed .*ECONNABORTED" 3 || tk_fail "gone: no audit record"
# The late answer finds nobody and is dropped; the daemon goes on.
tk_wait_log "OCSP: asked http://127.0.0.1:$silent_port/: failed" 5 || tk_fail "gone: the question did not end"
client after-gone slow ok good
tk_log "an https:// responder listed before the http:// one: the http:// one is asked"
tk_mark
client twourl slow ok twourl
tk_wait_log "OCSP: asked $url: good" || tk_fail "twourl: the http:// responder was not asked"
kill "$SILENT_SRV" "$SINK_PID" 2>/dev/null || true
tk_wait_pid "$SILENT_SRV" 5 || true
tk_wait_pid "$SINK_PID" 5 || true

# --- item 6: a status that turns to revoked ends a live session ---------------
tk_log "item 6: bob's status turns to revoked while his session lives"
index revoked
tk_conf live "peer-ocsp-online=hard" "ocsp-max-ttl=2" "reevaluate=end"
tk_daemon_start "$TK_TMP/live.conf"
tk_mark
tk_live_open bob "$O/bob.pem" "$O/bob.key"
tk_live_open dave "$O/dave.pem" "$O/dave.key"
tk_wait_log "event=established .*peer=bob@example.test.*ocsp=good" || tk_fail "bob: no ocsp=good"
tk_mark
# openssl ocsp reads its index again when the file changes.
index revoked bob
tk_wait_log "OCSP: .* now says REVOKED" 10 || tk_fail "the refresh did not see bob revoked"
tk_wait_log "audit: event=session-end .*peer=bob@example.test .*end=revoked .*reason=revoked" 5 ||
	tk_fail "no session-end end=revoked for bob"
rc=0
tk_wait_pid "$APP_bob" 10 || rc=$?
[ "$rc" != 0 ] || tk_fail "bob: the app exited 0, its session was not cut"
tk_live_relays dave "dave after bob's revocation"
tk_no_log "event=session-end .*peer=dave@example.test" || tk_fail "dave's session ended"
tk_live_close dave

tk_log "reevaluate = log: the turn is noted, the session kept"
index
tk_conf livelog "peer-ocsp-online=hard" "ocsp-max-ttl=2" "reevaluate=log"
tk_daemon_start "$TK_TMP/livelog.conf"
tk_mark
tk_live_open dave2 "$O/dave.pem" "$O/dave.key"
tk_mark
index dave
tk_wait_log "audit: event=reevaluate .*peer=dave@example.test .*reason=revoked .*kept \\(reevaluate = log\\)" 10 ||
	tk_fail "log mode: no reevaluate record"
tk_live_relays dave2 "dave still relays in log mode"
tk_no_log "end=revoked" || tk_fail "log mode ended a session"
tk_live_close dave2

tk_log "ocsp-cache-size = 1: a second certificate evicts the first"
index
tk_conf small "peer-ocsp-online=hard" "ocsp-cache-size=1"
client small-good small ok good
client small-other small ok other
tk_mark
client small-good-again small ok good
tk_wait_log "OCSP: asked $url: good" || tk_fail "small: the evicted entry was not asked for again"
tk_wait_log "event=established .*ocsp=good\"" || tk_fail "small: no fresh ocsp=good"
responder_stop

tk_log "expired: a failed refresh keeps the verdict for the live session, not for new connections"
tk_ocsp_responder_start "$O" "$ocsp_port"
tk_conf stale "peer-ocsp-online=hard" "ocsp-max-ttl=2" "reevaluate=end"
tk_daemon_start "$TK_TMP/stale.conf"
tk_mark
tk_live_open dave3 "$O/dave.pem" "$O/dave.key"
tk_wait_log "event=established .*peer=dave@example.test.*ocsp=good" || tk_fail "dave3: no ocsp=good"
responder_stop
tk_mark
tk_wait_log "OCSP: refresh from $url failed" 10 || tk_fail "expired: the refresh did not fail"
# The same certificate on a new connection: the verdict expired (ocsp-max-ttl
# = 2 stands for nextUpdate), the responder is down: hard refuses.
tk_app_server dave4 --myname server.example.test --echo
timeout 20 gnutls-cli --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" --x509certfile "$O/dave.pem" \
	--x509keyfile "$O/dave.key" --verify-hostname server.example.test \
	--sni-hostname server.example.test 127.0.0.1 </dev/null >"$O/dave4.cli.out" 2>&1 || true
tk_wait_log "event=handshake-failed .*peer=dave@example.test.*reason=ocsp-unavailable" 5 ||
	tk_fail "expired: a new connection took the expired verdict"
tk_no_log "ocsp=good \\(cached\\)" || tk_fail "expired: served from the cache after nextUpdate"
tk_wait_pid "$TK_SERVER_PID" 10 || true
tk_live_relays dave3 "dave3 relays on its verdict while the responder is down"
tk_live_close dave3
tk_done
