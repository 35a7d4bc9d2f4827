#!/bin/bash
# The eight validation flags of <tlskey/starttls.h>, each with a case where
# it changes the outcome and one where it does not, against real peers
# (gnutls-cli and openssl s_client as remote clients, gnutls-serv as remote
# server).  The privileged flags (no-cache-read, no-cache-write,
# skip-authorization) are refused at admission (EACCES) unless the ACL
# grants them.  Flags in the wrong role and unknown bits are EINVAL.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv openssl
tk_setup

me=$(id -un)
BOB=(--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key")
# peer-server's certificate is also good for TLS clients: a domain client.
DOMAIN=(--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key")
ROGUE=(--x509certfile "$TK_FX/rogue-user.pem" --x509keyfile "$TK_FX/rogue-user.key")

tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
printf 'data from the app client\n' >"$TK_TMP/line"
# cli NAME ARGS...: tk-app client to the requiring gnutls-serv, sending one line.
cli_ok() {
	local name=$1
	shift
	cp "$TK_TMP/line" "$TK_TMP/$name.in"
	tk_ok "$name" client --connect "127.0.0.1:$PEER_PORT" --sni peer.example.test "$@"
	tk_same "$TK_TMP/line" "$TK_TMP/$name.out"
}

# ---- 0x0001 NO_REQUIRE_PEER_CERT (server) ---------------------------------
tk_srv_cli req-none --flags 1 --
tk_expect_line "$TK_TMP/req-none.err" "PEER="
tk_srv_cli req-none-bob --flags 1 -- "${BOB[@]}"
tk_expect_line "$TK_TMP/req-none-bob.err" "PEER=bob@example.test"
# Without the flag a client without certificate is refused, EKEYREJECTED
# ("or it sent none", starttls.h) in TLS 1.2 and TLS 1.3 alike.
tk_srv_cli req-none-noflag-12 --expect-errno EKEYREJECTED -- --priority NORMAL:-VERS-ALL:+VERS-TLS1.2
tk_expect_grep "$TK_TMP/req-none-noflag-12.err" 'EKEYREJECTED.*peer sent no certificate'
TK_SOFT_CASE=1 tk_srv_cli req-none-noflag-13 --expect-errno EKEYREJECTED -- --priority NORMAL:-VERS-ALL:+VERS-TLS1.3
# A certificate that is sent is still validated.
tk_srv_cli req-none-rogue --flags 1 --expect-errno EKEYREJECTED -- "${ROGUE[@]}"
tk_expect_grep "$TK_TMP/req-none-rogue.err" 'EKEYREJECTED.*issuer'
tk_err req-none-client-role EINVAL client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 1

# ---- 0x0002 NO_REQUEST_PEER_CERT (server) ---------------------------------
tk_srv_cli noreq --flags 2 -- "${BOB[@]}"
tk_expect_line "$TK_TMP/noreq.err" "PEER="
if grep -q 'Server has requested a certificate' "$TK_TMP/noreq-cli.log"; then
	tk_fail "noreq: the server sent a CertificateRequest"
fi
tk_expect_grep "$TK_TMP/noreq-cli.log" 'No certificate was sent to peer'
# Not asked, so not even a rogue certificate is sent or judged.
tk_srv_cli noreq-rogue --flags 2 -- "${ROGUE[@]}"
tk_expect_line "$TK_TMP/noreq-rogue.err" "PEER="
tk_srv_cli noreq-noflag --flags 1 -- "${BOB[@]}"
tk_expect_grep "$TK_TMP/noreq-noflag-cli.log" 'Server has requested a certificate'
tk_expect_line "$TK_TMP/noreq-noflag.err" "PEER=bob@example.test"
# The same seen by openssl s_client (TLS 1.2: the request is visible in
# the state trace and lists the acceptable CAs).
for fl in 2 1; do
	tk_log "case noreq-openssl-$fl"
	tk_app_server "noreq-ossl-$fl" --myname server.example.test --echo --flags "$fl"
	printf 'hello openssl\n' >"$TK_TMP/noreq-ossl-$fl-cli.in"
	tk_fifo_client "noreq-ossl-$fl-cli" "$TK_TMP/noreq-ossl-$fl-cli.in" 14 \
		openssl s_client -connect "127.0.0.1:$TK_PORT" -tls1_2 -state -quiet -no_ign_eof \
		-CAfile "$TK_FX/ca.pem" -verify_return_error -servername server.example.test \
		-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" || true
	tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "noreq-openssl-$fl: app exit $?"
	tk_same "$TK_TMP/noreq-ossl-$fl-cli.in" "$TK_TMP/noreq-ossl-$fl-cli.out"
done
if grep -qi 'certificate request' "$TK_TMP/noreq-ossl-2-cli.err"; then
	tk_fail "noreq-openssl: openssl saw a certificate request with NO_REQUEST_PEER_CERT"
fi
tk_expect_line "$TK_TMP/noreq-ossl-2.err" "PEER="
tk_expect_grep "$TK_TMP/noreq-ossl-1-cli.err" 'read server certificate request'
tk_expect_line "$TK_TMP/noreq-ossl-1.err" "PEER=bob@example.test"
tk_err noreq-client-role EINVAL client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 2

# ---- 0x0004 NO_LOCAL_CERT (client) ----------------------------------------
# TLS 1.2: the requiring server refuses the handshake with an alert.
tk_start_gnutls_serv req12 --priority NORMAL:-VERS-ALL:+VERS-TLS1.2 \
	--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
tk_err nolocal-required ECONNABORTED client --connect "127.0.0.1:$TK_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 4
kill "$TK_PEER_PID" 2>/dev/null || true
# TLS 1.3: the client's handshake ends before the server judged the empty
# Certificate; the server then aborts and no data comes back.
printf 'nothing comes back\n' >"$TK_TMP/nolocal-13.in"
tk_app nolocal-13 client --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
	--sni peer.example.test --flags 4 || true
[ ! -s "$TK_TMP/nolocal-13.out" ] || tk_fail "nolocal-13: the requiring server echoed data"
# A server that only asks (no --require-client-cert) accepts without one.
tk_start_peer optional gnutls-serv --port PORT --echo --x509cafile "$TK_FX/ca.pem" \
	--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
cp "$TK_TMP/line" "$TK_TMP/nolocal.in"
tk_ok nolocal client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --flags 4
tk_same "$TK_TMP/line" "$TK_TMP/nolocal.out"
tk_expect_line "$TK_TMP/nolocal.err" "PEER=peer.example.test"
sleep 0.3
if grep -q 'alice@example.test' "$TK_TMP/optional.out"; then
	tk_fail "nolocal: the app sent its certificate despite NO_LOCAL_CERT"
fi
cp "$TK_TMP/line" "$TK_TMP/local.in"
tk_ok local client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni peer.example.test
sleep 0.3
tk_expect_grep "$TK_TMP/optional.out" 'alice@example.test'
kill "$TK_PEER_PID" 2>/dev/null || true
tk_log "case nolocal-server-role"
tk_app_server nolocal-server-role --myname server.example.test --flags 4 --expect-errno EINVAL
exec 8<>"/dev/tcp/127.0.0.1/$TK_PORT"
tk_wait_pid "$TK_SERVER_PID" 10 || tk_fail "nolocal-server-role: exit $?"
exec 8<&-
tk_expect_grep "$TK_TMP/nolocal-server-role.err" '^EXPECTED errno=EINVAL'

# ---- 0x0008 NO_REMOTE_USER_ID / 0x0010 NO_REMOTE_DOMAIN_ID -----------------
tk_srv_cli nouser --flags 8 --expect-errno EACCES -- "${BOB[@]}"
tk_expect_grep "$TK_TMP/nouser.err" 'EACCES.*bob@example.test is a user identity'
tk_srv_cli nouser-domain --flags 8 -- "${DOMAIN[@]}"
tk_expect_line "$TK_TMP/nouser-domain.err" "PEER=peer.example.test"
cli_ok nouser-client --myname alice@example.test --flags 8
tk_expect_line "$TK_TMP/nouser-client.err" "PEER=peer.example.test"

tk_err nodomain-client EACCES client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 10
tk_expect_grep "$TK_TMP/nodomain-client.err" 'peer.example.test is a domain identity'
tk_srv_cli nodomain --flags 10 --expect-errno EACCES -- "${DOMAIN[@]}"
tk_srv_cli nodomain-user --flags 10 -- "${BOB[@]}"
tk_expect_line "$TK_TMP/nodomain-user.err" "PEER=bob@example.test"
# Both kinds refused: nobody gets in.
tk_srv_cli nokind --flags 18 --expect-errno EACCES -- "${BOB[@]}"

# ---- unknown bits ---------------------------------------------------------
tk_err unknown-100 EINVAL client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 100
tk_err unknown-high EINVAL client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 40000000
tk_err unknown-ext EINVAL client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 1ff --query

# ---- privileged flags: 0x0020 NO_CACHE_READ, 0x0040 NO_CACHE_WRITE,
#      0x0080 SKIP_AUTHORIZATION --------------------------------------------
cat >"$TK_TMP/flags.acl" <<EOF
# flags.sh: alice may skip authorization (and needs to: peers= excludes
# everyone); carol may bypass the cache; everything else is plain.
allow user:$me alice@example.test client peers=nobody.example.test flags=skip-authorization
allow user:$me carol@example.test client flags=no-cache-read,no-cache-write
allow user:$me * client,server
EOF
chmod 600 "$TK_TMP/flags.acl"
tk_conf flags "acl=$TK_TMP/flags.acl"
tk_daemon_start "$TK_TMP/flags.conf" || tk_fail "daemon with flags.conf did not start"

# Not granted -> EACCES at admission, before any handshake.
for c in "carol@example.test 80 skip-authorization" "alice@example.test 20 no-cache-read" \
	"alice@example.test 40 no-cache-write" "server.example.test 20 no-cache-read" \
	"carol@example.test a0 no-cache-read,skip-authorization"; do
	set -- $c
	tk_mark
	tk_err "notgranted-${1%%@*}-$2" EACCES client --connect "127.0.0.1:$PEER_PORT" \
		--myname "$1" --sni peer.example.test --flags "$2"
	tk_wait_log "event=acl-denied .*myname=$1 .*flags=$3 .*detail=\"privileged flags not granted\"" ||
		tk_fail "notgranted $1 $2: no acl-denied audit record naming the flags"
	tk_no_log "validation cache" || tk_fail "notgranted $1 $2: a handshake ran"
done

# NO_CACHE_READ: a full check even though the chain is cached.
tk_mark
cli_ok cache-1 --myname carol@example.test
tk_wait_log 'validation cache miss: myname=carol@example.test' || tk_fail "cache-1: no miss"
tk_mark
cli_ok cache-2 --myname carol@example.test
tk_wait_log 'validation cache hit: myname=carol@example.test' || tk_fail "cache-2: no hit"
tk_mark
cli_ok nocacheread --myname carol@example.test --flags 20
tk_expect_line "$TK_TMP/nocacheread.err" "PEER=peer.example.test"
tk_wait_log 'established .*myname=carol@example.test' || tk_fail "nocacheread: not established"
tk_no_log 'validation cache hit' || tk_soft_fail "nocacheread: NO_CACHE_READ used the cache"
tk_log_since | grep 'validation cache miss: myname=carol@example.test' >/dev/null ||
	tk_soft_fail "nocacheread: the daemon logged no 'validation cache miss' for a NO_CACHE_READ handshake (doc/config.md: it logs hit or miss)"

# NO_CACHE_WRITE: a fresh chain (peer-server2) is never remembered.
tk_start_gnutls_serv peer2 --x509certfile "$TK_FX/peer-server2.pem" --x509keyfile "$TK_FX/peer-server2.key"
PEER2_PORT=$TK_PORT
for i in 1 2; do
	tk_mark
	cp "$TK_TMP/line" "$TK_TMP/nocachewrite-$i.in"
	tk_ok "nocachewrite-$i" client --connect "127.0.0.1:$PEER2_PORT" --sni peer.example.test \
		--myname carol@example.test --flags 40
	tk_same "$TK_TMP/line" "$TK_TMP/nocachewrite-$i.out"
	tk_wait_log 'validation cache miss: myname=carol@example.test' ||
		tk_fail "nocachewrite-$i: the chain came from the cache"
done
tk_mark
cp "$TK_TMP/line" "$TK_TMP/cachewrite-1.in"
tk_ok cachewrite-1 client --connect "127.0.0.1:$PEER2_PORT" --sni peer.example.test --myname carol@example.test
tk_wait_log 'validation cache miss: myname=carol@example.test' ||
	tk_fail "cachewrite-1: NO_CACHE_WRITE had written the cache"
tk_mark
cp "$TK_TMP/line" "$TK_TMP/cachewrite-2.in"
tk_ok cachewrite-2 client --connect "127.0.0.1:$PEER2_PORT" --sni peer.example.test --myname carol@example.test
tk_wait_log 'validation cache hit: myname=carol@example.test' || tk_fail "cachewrite-2: no hit"

# SKIP_AUTHORIZATION: passes a peer that peers= excludes ...
tk_mark
tk_err skipauth-without EACCES client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test
tk_expect_grep "$TK_TMP/skipauth-without.err" 'peer.example.test not authorized'
cli_ok skipauth --myname alice@example.test --flags 80
tk_expect_line "$TK_TMP/skipauth.err" "PEER=peer.example.test"
# ... but still authenticates it.
tk_start_gnutls_serv rogue --x509certfile "$TK_FX/rogue-server.pem" --x509keyfile "$TK_FX/rogue-server.key"
tk_err skipauth-rogue EKEYREJECTED client --connect "127.0.0.1:$TK_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 80
# ... and the identity-kind flags still apply.
tk_err skipauth-nodomain EACCES client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --flags 90
tk_expect_grep "$TK_TMP/skipauth-nodomain.err" 'is a domain identity'

# tk-app's --flags takes the names of common/flags.h as well as hex: the
# same two cases by name ...
cli_ok skipauth-name --myname alice@example.test --flags skip-authorization
tk_expect_line "$TK_TMP/skipauth-name.err" "PEER=peer.example.test"
tk_err skipauth-nodomain-name EACCES client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test \
	--flags skip-authorization,no-remote-domain-id
tk_expect_grep "$TK_TMP/skipauth-nodomain-name.err" 'is a domain identity'
# ... and a name that is no flag is a usage error (exit 1), not flags 0.
rc=0
tk_app badflag client --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
	--sni peer.example.test --flags skip-authorisation || rc=$?
[ "$rc" = 1 ] || tk_fail "tk-app --flags skip-authorisation: exit $rc, wanted 1 (usage)"
tk_expect_grep "$TK_TMP/badflag.err" 'bad --flags: skip-authorisation'
tk_daemon_alive
tk_done
