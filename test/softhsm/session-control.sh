#!/bin/bash
# AT-TLS style session control through tlskey_starttls():
#   - handshake timer (--hs-timeout): a silent remote peer in either role
#     gives ETIMEDOUT in about the time asked, and the peer sees a reset;
#   - allow_handshake_timeout: a silent remote client gets the connection
#     in cleartext (STATE=cleartext, greeting and answer in plaintext); a
#     real TLS client gets TLS (STATE=secure); client role or no timer is
#     EINVAL;
#   - non-blocking start: the pending descriptor becomes readable only when
#     the handshake ended, tlskey_finish() gives the result; with checksni
#     EINVAL;
#   - tlskey_query(): version, cipher, peer, local, mapped user, the peer's
#     certificate (DER compared with the file); a plain socket is ENOENT, a
#     pipe ENOTSOCK;
#   - roles independent of connect/accept (--role-swap): the accepting side
#     as TLS client (against gnutls-serv, spliced, and against a connecting
#     tk-app as TLS server), flags checked against the TLS role.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv openssl
tk_setup

me=$(id -un)
BOB=(--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key")
# rsa.example.test serves only peers that map to a local account.
cat >"$TK_TMP/session.acl" <<EOF
allow user:$me rsa.example.test server map-user
allow user:$me * client,server
map bob@example.test $me
EOF
chmod 600 "$TK_TMP/session.acl"
tk_conf session "acl=$TK_TMP/session.acl"
tk_daemon_start "$TK_TMP/session.conf" || tk_fail "daemon with session.conf did not start"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- handshake timer ------------------------------------------------------
tk_log "case timer-server: silent remote client, --hs-timeout 500"
tk_app_server timer-server --myname server.example.test --hs-timeout 500 --expect-errno ETIMEDOUT
t0=$(now_ms)
timeout 10 "$TK_APP" sink --connect "127.0.0.1:$TK_PORT" >"$TK_TMP/timer-sink.out" 2>"$TK_TMP/timer-sink.err" ||
	tk_fail "timer-server: the silent client failed"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/timer-server.err" >&2; tk_fail "timer-server: app exit $?"; }
t=$(($(now_ms) - t0))
tk_expect_grep "$TK_TMP/timer-server.err" '^EXPECTED errno=ETIMEDOUT'
tk_expect_line "$TK_TMP/timer-sink.err" "SINK end=reset"
ms=$(sed -n 's/^SINK ms=//p' "$TK_TMP/timer-sink.err")
[ "$ms" -ge 400 ] && [ "$ms" -le 1500 ] || tk_fail "timer-server: reset after ${ms}ms, wanted ~500"
# t includes two tk-app starts and exits (slow in a sanitizer build).
[ "$t" -le 4000 ] || tk_fail "timer-server: took ${t}ms"

tk_log "case timer-client: silent remote server, --hs-timeout 700"
tk_app_listen timer-srv-sink sink
t0=$(now_ms)
tk_err timer-client ETIMEDOUT client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --hs-timeout 700
t=$(($(now_ms) - t0))
[ "$t" -ge 600 ] && [ "$t" -le 3000 ] || tk_fail "timer-client: ETIMEDOUT after ${t}ms, wanted ~700"
tk_wait_pid "$TK_SERVER_PID" 5 || tk_fail "timer-client: the silent server did not end"
tk_expect_line "$TK_TMP/timer-srv-sink.err" "SINK end=reset"

# A timer that does not fire changes nothing.
tk_start_gnutls_serv srv-peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER=$TK_PORT
printf 'data through a timed handshake\n' >"$TK_TMP/timer-ok.in"
tk_ok timer-ok client --connect "127.0.0.1:$PEER" --myname alice@example.test \
	--sni peer.example.test --hs-timeout 5000
tk_same "$TK_TMP/timer-ok.in" "$TK_TMP/timer-ok.out"

# ---- allow_handshake_timeout ----------------------------------------------
tk_log "case cleartext: a remote client waiting for the server to speak"
printf '220 server.example.test ready, cleartext\n' >"$TK_TMP/cleartext.in"
tk_app_server cleartext --myname server.example.test --hs-timeout 500 --allow-hs-timeout --query
timeout 10 "$TK_APP" sink --connect "127.0.0.1:$TK_PORT" --reply 'EHLO remote.example.test' \
	>"$TK_TMP/cleartext-remote.out" 2>"$TK_TMP/cleartext-remote.err" ||
	tk_fail "cleartext: the remote client failed"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/cleartext.err" >&2; tk_fail "cleartext: app exit $?"; }
tk_expect_line "$TK_TMP/cleartext.err" "STATE=cleartext"
tk_expect_line "$TK_TMP/cleartext.err" "PEER="
tk_expect_grep "$TK_TMP/cleartext.err" '^QUERY state=cleartext version= cipher= peer= local=server.example.test .*certlen=0$'
# The greeting went out as plain bytes, the answer came back as such.
tk_same "$TK_TMP/cleartext.in" "$TK_TMP/cleartext-remote.out"
tk_expect_line "$TK_TMP/cleartext.out" "EHLO remote.example.test"
tk_expect_line "$TK_TMP/cleartext-remote.err" "SINK end=eof"

tk_srv_cli fallback-tls --hs-timeout 3000 --allow-hs-timeout --query -- "${BOB[@]}"
tk_expect_line "$TK_TMP/fallback-tls.err" "STATE=secure"
tk_expect_line "$TK_TMP/fallback-tls.err" "PEER=bob@example.test"
tk_expect_grep "$TK_TMP/fallback-tls.err" '^QUERY state=secure version=TLS1.3 '

tk_err fallback-client-role EINVAL client --connect "127.0.0.1:$PEER" --myname alice@example.test \
	--sni peer.example.test --hs-timeout 500 --allow-hs-timeout
tk_log "case fallback-no-timer"
tk_app_server fallback-no-timer --myname server.example.test --allow-hs-timeout --expect-errno EINVAL
exec 8<>"/dev/tcp/127.0.0.1/$TK_PORT"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/fallback-no-timer.err" >&2; tk_fail "fallback-no-timer: exit $?"; }
exec 8<&-
tk_expect_grep "$TK_TMP/fallback-no-timer.err" '^EXPECTED errno=EINVAL'

# ---- non-blocking start -----------------------------------------------------
printf 'non-blocking data\n' >"$TK_TMP/nb.in"
tk_ok nb client --connect "127.0.0.1:$PEER" --myname alice@example.test --sni peer.example.test \
	--nonblocking
tk_expect_line "$TK_TMP/nb.err" "NONBLOCK=ok"
tk_expect_line "$TK_TMP/nb.err" "PEER=peer.example.test"
tk_same "$TK_TMP/nb.in" "$TK_TMP/nb.out"
# Against a silent server the pending descriptor stays unreadable until the
# handshake ends (here: the 1000 ms timer), then finish reports ETIMEDOUT.
tk_app_listen nb-sink sink
tk_err nb-timeout ETIMEDOUT client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --nonblocking --hs-timeout 1000
tk_expect_line "$TK_TMP/nb-timeout.err" "PENDING=notready"
ms=$(sed -n 's/^NONBLOCK-MS=//p' "$TK_TMP/nb-timeout.err")
[ "$ms" -ge 800 ] || tk_fail "nb-timeout: the pending descriptor was readable after ${ms}ms, before the handshake ended"
tk_wait_pid "$TK_SERVER_PID" 5 || true
tk_srv_cli nb-server --nonblocking -- "${BOB[@]}"
tk_expect_line "$TK_TMP/nb-server.err" "NONBLOCK=ok"
tk_expect_line "$TK_TMP/nb-server.err" "PEER=bob@example.test"
# Non-blocking with a checksni callback: tlskey_finish_sni() answers the
# daemon's question (EINPROGRESS), then completes; a refused name fails
# with EHOSTUNREACH and the client gets unrecognized_name.
tk_srv_cli nb-checksni --nonblocking --sni-allow server.example.test -- "${BOB[@]}"
tk_expect_line "$TK_TMP/nb-checksni.err" "NONBLOCK-SNI=answered"
tk_expect_line "$TK_TMP/nb-checksni.err" "SNI=server.example.test"
tk_expect_line "$TK_TMP/nb-checksni.err" "PEER=bob@example.test"
tk_srv_cli nb-checksni-deny --nonblocking --sni-deny --expect-errno EHOSTUNREACH -- "${BOB[@]}"
tk_expect_line "$TK_TMP/nb-checksni-deny.err" "NONBLOCK-SNI=answered"
tk_expect_grep "$TK_TMP/nb-checksni-deny-cli.log" 'alert \[112\]|not recognized'
# tlskey_finish() on such a start says what to use instead.
tk_srv_cli nb-checksni-plain --nonblocking --sni-allow server.example.test --finish-plain \
	--expect-errno EINVAL -- "${BOB[@]}"
tk_expect_grep "$TK_TMP/nb-checksni-plain.err" 'tlskey_finish_sni'''

# ---- tlskey_query() ---------------------------------------------------------
tk_der "$TK_FX/peer-server.pem" "$TK_TMP/peer-server.der"
tk_der "$TK_FX/peer-user.pem" "$TK_TMP/peer-user.der"
q=0
# query_client PRIORITY VERSION CIPHER MYNAME
query_client() {
	q=$((q + 1))
	tk_start_gnutls_serv "srv-q$q" --priority "$1" \
		--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
	printf 'query %s\n' "$q" >"$TK_TMP/q$q.in"
	tk_ok "q$q" client --connect "127.0.0.1:$TK_PORT" --myname "$4" --sni peer.example.test \
		--query --cert-out "$TK_TMP/q$q.der"
	tk_same "$TK_TMP/q$q.in" "$TK_TMP/q$q.out"
	tk_expect_grep "$TK_TMP/q$q.err" "^QUERY state=secure version=$2 cipher=$3 peer=peer.example.test local=$4 mapped= hs_ms=[0-9]+ certlen=[1-9][0-9]*\$"
	tk_same "$TK_TMP/peer-server.der" "$TK_TMP/q$q.der"
	kill "$TK_PEER_PID" 2>/dev/null || true
}
query_client NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM TLS1.3 TLS_AES_128_GCM_SHA256 \
	alice@example.test
query_client NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305 TLS1.2 \
	TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 carol@example.test
# The DER matches what openssl makes of the certificate file, too.
openssl x509 -inform DER -in "$TK_TMP/q1.der" -noout -subject | grep 'peer.example.test' >/dev/null ||
	tk_fail "query: the reported certificate is not peer.example.test's"

# Server role with map-user: the mapped account is reported.
tk_log "case q-server: map-user, gnutls-cli as bob"
tk_app_server q-server --myname rsa.example.test --echo --query --cert-out "$TK_TMP/q-server.der"
printf 'query server\n' >"$TK_TMP/q-server-cli.in"
tk_fifo_client q-server-cli "$TK_TMP/q-server-cli.in" 13 gnutls-cli --logfile="$TK_TMP/q-server-cli.log" \
	--port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" --verify-hostname rsa.example.test \
	--sni-hostname rsa.example.test --priority NORMAL:-VERS-ALL:+VERS-TLS1.3 "${BOB[@]}" 127.0.0.1 ||
	tk_fail "q-server: gnutls-cli failed"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/q-server.err" >&2; tk_fail "q-server: app exit $?"; }
tk_same "$TK_TMP/q-server-cli.in" "$TK_TMP/q-server-cli.out"
tk_expect_grep "$TK_TMP/q-server.err" "^QUERY state=secure version=TLS1.3 cipher=TLS_[A-Z0-9_]+ peer=bob@example.test local=rsa.example.test mapped=$me hs_ms=[0-9]+ certlen=[1-9]"
tk_same "$TK_TMP/peer-user.der" "$TK_TMP/q-server.der"
# ... and a peer that maps to nobody is refused.
tk_srv_cli q-server-nomap --myname rsa.example.test --expect-errno EACCES -- \
	--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key" --no-ca-verification

tk_err query-plain ENOENT query --kind plain
tk_err query-tcp ENOENT query --kind tcp
tk_err query-pipe ENOTSOCK query --kind pipe
tk_err query-closed EBADF query --kind closed

# ---- roles independent of connect/accept -------------------------------------
# The accepting tk-app runs the TLS client role against gnutls-serv; a
# splice connects the two servers.
tk_log "case swap-gnutls: accepting side as TLS client, gnutls-serv as TLS server"
printf 'the acceptor speaks first\n' >"$TK_TMP/swap-gnutls.in"
tk_app_server swap-gnutls --myname alice@example.test --sni peer.example.test --role-swap --query
timeout 20 "$TK_APP" splice --connect "127.0.0.1:$TK_PORT" --to "127.0.0.1:$PEER" \
	2>"$TK_TMP/swap-splice.err" || tk_fail "swap-gnutls: splice failed"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/swap-gnutls.err" >&2; tk_fail "swap-gnutls: app exit $?"; }
tk_expect_line "$TK_TMP/swap-gnutls.err" "PEER=peer.example.test"
tk_expect_grep "$TK_TMP/swap-gnutls.err" '^QUERY state=secure .* peer=peer.example.test local=alice@example.test '
tk_same "$TK_TMP/swap-gnutls.in" "$TK_TMP/swap-gnutls.out"
sleep 0.2
tk_expect_grep "$TK_TMP/srv-peer.out" 'alice@example.test'

# Two tk-apps: the acceptor is the TLS client, the connector the TLS server
# (with a checksni callback).
tk_log "case swap-apps"
tk_mark
printf 'from the acceptor (TLS client)\n' >"$TK_TMP/swap-acc.in"
printf 'from the connector (TLS server)\n' >"$TK_TMP/swap-con.in"
tk_app_server swap-acc --myname alice@example.test --sni server.example.test --role-swap --query
rc=0
tk_app swap-con client --connect "127.0.0.1:$TK_PORT" --myname server.example.test --role-swap \
	--sni-allow server.example.test --query || rc=$?
tk_wait_pid "$TK_SERVER_PID" 10 || rc=$((rc ? rc : $?))
[ "$rc" = 0 ] || { cat "$TK_TMP/swap-acc.err" "$TK_TMP/swap-con.err" >&2; tk_fail "swap-apps: exit $rc"; }
tk_expect_line "$TK_TMP/swap-acc.err" "PEER=server.example.test"
tk_expect_line "$TK_TMP/swap-con.err" "PEER=alice@example.test"
tk_expect_line "$TK_TMP/swap-con.err" "SNI=server.example.test"
tk_expect_grep "$TK_TMP/swap-acc.err" '^QUERY state=secure .* peer=server.example.test local=alice@example.test '
tk_expect_grep "$TK_TMP/swap-con.err" '^QUERY state=secure .* peer=alice@example.test local=server.example.test '
tk_same "$TK_TMP/swap-acc.in" "$TK_TMP/swap-con.out"
tk_same "$TK_TMP/swap-con.in" "$TK_TMP/swap-acc.out"
tk_wait_log 'role=client .*myname=alice@example.test|myname=alice@example.test role=client' ||
	tk_fail "swap-apps: the daemon did not run alice in the client role"

# Flags and names are judged by the TLS role, not by connect/accept.
tk_log "case swap-flags: server-only flag on the accepting TLS client"
tk_app_server swap-flag-acc --myname alice@example.test --sni server.example.test --role-swap \
	--flags 1 --expect-errno EINVAL
exec 8<>"/dev/tcp/127.0.0.1/$TK_PORT"
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/swap-flag-acc.err" >&2; tk_fail "swap-flag-acc: exit $?"; }
exec 8<&-
tk_app_listen swap-flag-sink sink
tk_err swap-flag-con EINVAL client --connect "127.0.0.1:$TK_PORT" --myname server.example.test \
	--role-swap --flags 4
tk_wait_pid "$TK_SERVER_PID" 5 || true
tk_log "case swap-wrong-name: the accepting TLS client checks the server's name"
tk_app_server swap-wrong --myname alice@example.test --sni other.example.test --role-swap \
	--expect-errno EKEYREJECTED
tk_app swap-wrong-con client --connect "127.0.0.1:$TK_PORT" --myname server.example.test --role-swap \
	--expect-errno any || true
tk_wait_pid "$TK_SERVER_PID" 10 || { cat "$TK_TMP/swap-wrong.err" >&2; tk_fail "swap-wrong: exit $?"; }
tk_expect_grep "$TK_TMP/swap-wrong.err" 'does not match'
tk_done
