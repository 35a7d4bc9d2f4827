#!/bin/bash
# The complete query and the exporter (issue 12, items 5 and 6):
#   - tlskey_query_session() in the server role against openssl s_client:
#     role, client-auth mode, SNI received, group, signature algorithms,
#     version and cipher as openssl saw them, the peer chain (DER, equal to
#     the client's certificate), every identity, the admitting ACL rule
#     (path:line), bytes each way so far (mid-session, through a held
#     client);
#   - the client role against openssl s_server: SNI sent, client-auth
#     "asked", the server's chain; the exporter equal to s_server's;
#   - a chain larger than the buffer: ENOBUFS with the size needed; a
#     certificate over 8192 bytes: whole through tlskey_query_session(),
#     ENOBUFS naming its size through the legacy tlskey_query() (which
#     used to report length 0, "no certificate");
#   - bad sizes and buffers: EINVAL; foreign descriptors: ENOENT,
#     ENOTSOCK, EBADF (for the query, the exporter and tlskey_control());
#   - tlskey_export_keying_material() equal to openssl -keymatexport in
#     both roles, TLS 1.3 and 1.2; in TLS 1.2 an empty context differs
#     from none; a context changes the bytes; bad label and length: EINVAL.
# The test runs in its own network namespace: nothing binds outside it.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl certtool unshare ip gnutls-serv
tk_netns_enter "$@"
tk_setup --no-daemon

me=$(id -un)
printf '%s\n' "# line 2 admits the server role, line 3 the client role" \
	"allow user:$me server.example.test server" \
	"allow user:$me alice@example.test client" >"$TK_TMP/info.acl"
chmod 600 "$TK_TMP/info.acl"
tk_conf info "acl=$TK_TMP/info.acl"
tk_daemon_start "$TK_TMP/info.conf" || tk_fail "daemon did not start"
# Not "EXPORTER-...": tk_start_peer replaces the word PORT in its arguments.
LABEL=EXPERIMENTAL-tlskeyd-test
hex_of() { sed -n 's/^ *Keying material: *//p' "$1" | tr a-f A-F | head -n 1; }
field() { sed -n "s/^QFULL .* $2=\([^ ]*\).*/\1/p" "$1"; }
export_of() { sed -n 's/^EXPORT=//p' "$1"; }

# srv_case NAME "APP-ARGS" S_CLIENT-ARGS...: the app serves (echo, and what
# APP-ARGS asks); openssl s_client as bob sends one line through a FIFO we
# hold, and we close it once the echo and the app's QBYTES line are in.
srv_case() {
	local name=$1 app=$2 cli
	shift 2
	tk_log "case $name: server role ($app) against openssl s_client $*"
	# shellcheck disable=SC2086
	tk_app_server "$name" --myname server.example.test --echo --bytes-after 13 $app
	# After the app started: it must not hold the FIFO's writing end.
	mkfifo "$TK_TMP/$name.fifo"
	exec 6<>"$TK_TMP/$name.fifo"
	tk_bg timeout 30 openssl s_client -connect "127.0.0.1:$TK_PORT" -servername server.example.test \
		-CAfile "$TK_FX/ca.pem" -cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" \
		-keymatexport "$LABEL" -keymatexportlen 32 "$@" \
		<"$TK_TMP/$name.fifo" >"$TK_TMP/$name-cli.out" 2>"$TK_TMP/$name-cli.err" 6>&-
	cli=$TK_BG_PID
	# The app queries the byte counts when the second line arrives, before
	# echoing it: 24 bytes in, 12 out (the first echo came back).
	printf 'hello world\n' >&6
	tk_wait_line "$TK_TMP/$name-cli.out" '^hello world$' 15 "$cli" ||
		{ cat "$TK_TMP/$name.err" "$TK_TMP/$name-cli.err" >&2; tk_fail "$name: no echo"; }
	printf 'second line\n' >&6
	tk_wait_line "$TK_TMP/$name.err" '^QBYTES ' 10 "$TK_SERVER_PID" ||
		{ cat "$TK_TMP/$name.err" >&2; tk_fail "$name: no QBYTES"; }
	tk_wait_line "$TK_TMP/$name-cli.out" '^second line$' 15 "$cli" ||
		{ cat "$TK_TMP/$name.err" "$TK_TMP/$name-cli.err" >&2; tk_fail "$name: no second echo"; }
	exec 6>&-
	tk_wait_ok "$cli" 15 "$name: openssl s_client" "$TK_TMP/$name-cli.err"
	tk_wait_ok "$TK_SERVER_PID" 15 "$name: tk-app server" "$TK_TMP/$name.err"
	grep -E '^(QFULL|QCHAIN|QID|EXPORT|QBYTES)' "$TK_TMP/$name.err" >&2 || true
}

# ---- server role, TLS 1.3 ---------------------------------------------------
srv_case srv13 "--query-full --chain-out $TK_TMP/srv13.chain --export $LABEL"
E=$TK_TMP/srv13.err C=$TK_TMP/srv13-cli.out
tk_expect_grep "$E" '^QFULL state=secure role=server auth=2 resumed=0 version=TLS1.3 '
tk_expect_grep "$E" " sni=server.example.test alpn= "
tk_expect_grep "$E" " local=server.example.test peer=bob@example.test mapped= acl=$TK_TMP/info.acl:2$"
tk_expect_line "$E" "QID bob@example.test"
# What openssl saw.
cipher=$(sed -n 's/^New, [^,]*, Cipher is //p' "$C" | head -n 1)
[ -n "$cipher" ] && [ "$(field "$E" cipher)" = "$cipher" ] ||
	tk_fail "cipher $(field "$E" cipher), openssl saw '$cipher'"
group=$(sed -n 's/^Server Temp Key: \([^,]*\),.*/\1/p' "$C")
[ -n "$group" ] && [ "$(field "$E" group)" = "$group" ] ||
	tk_fail "group $(field "$E" group), openssl saw '$group'"
sigtype=$(sed -n 's/^Peer signature type: //p' "$C") digest=$(sed -n 's/^Peer signing digest: //p' "$C")
case $(field "$E" sign) in
"$sigtype"-*"$digest") ;;
*) tk_fail "server signature $(field "$E" sign), openssl saw '$sigtype' with '$digest'" ;;
esac
# bob's key is ECDSA P-256 (fixture.sh file_key); TLS 1.3 binds the curve.
[ "$(field "$E" csign)" = ECDSA-SECP256R1-SHA256 ] || tk_fail "client signature $(field "$E" csign)"
# openssl sends its certificate and the CA's (it completes the chain from
# -CAfile): both, in that order.
tk_der "$TK_FX/peer-user.pem" "$TK_TMP/bob.der"
tk_der "$TK_FX/ca.pem" "$TK_TMP/ca.der"
cat "$TK_TMP/bob.der" "$TK_TMP/ca.der" >"$TK_TMP/bob-chain.der"
tk_expect_line "$E" "QCHAIN len=$(stat -c %s "$TK_TMP/bob-chain.der") count=2 ids_len=17 ids_count=1"
tk_same "$TK_TMP/bob-chain.der" "$TK_TMP/srv13.chain"
tk_expect_line "$E" "QBYTES in=24 out=12"
want=$(hex_of "$C")
[ -n "$want" ] || tk_fail "openssl printed no keying material"
tk_expect_line "$E" "EXPORT=$want"

# The client-auth mode follows the flags.
srv_case srv-req "--query-full --flags 1"
tk_expect_grep "$TK_TMP/srv-req.err" '^QFULL state=secure role=server auth=1 '

# ---- server role, TLS 1.2: none vs empty context ----------------------------
srv_case srv12 "--query-full --export $LABEL" -tls1_2
E=$TK_TMP/srv12.err
tk_expect_grep "$E" '^QFULL state=secure role=server auth=2 resumed=0 version=TLS1.2 '
want=$(hex_of "$TK_TMP/srv12-cli.out")
[ -n "$want" ] || tk_fail "openssl printed no keying material (TLS 1.2)"
tk_expect_line "$E" "EXPORT=$want"
srv_case srv12-empty "--export $LABEL --export-empty-context" -tls1_2
got=$(export_of "$TK_TMP/srv12-empty.err")
[ -n "$got" ] && [ "$got" != "$(hex_of "$TK_TMP/srv12-empty-cli.out")" ] ||
	tk_fail "TLS 1.2: an empty context gave the bytes of no context ($got)"
# TLS 1.3 (RFC 8446 7.5): no context and an empty one are the same; a
# context changes the bytes.
srv_case srv13-empty "--export $LABEL --export-empty-context"
tk_expect_line "$TK_TMP/srv13-empty.err" "EXPORT=$(hex_of "$TK_TMP/srv13-empty-cli.out")"
srv_case srv13-ctx "--export $LABEL --export-context abc --export-len 64"
got=$(export_of "$TK_TMP/srv13-ctx.err")
[ ${#got} = 128 ] || tk_fail "64 bytes of keying material wanted, got '$got'"
[ "${got:0:64}" != "$(hex_of "$TK_TMP/srv13-ctx-cli.out")" ] || tk_fail "a context changed nothing"

# ---- client role against openssl s_server -----------------------------------
# cli_case NAME CERT KEY APP-ARGS...: the app as alice against s_server
# (reversing lines) serving CERT/KEY for peer.example.test.
cli_case() {
	local name=$1 cert=$2 key=$3
	shift 3
	tk_log "case $name: client role against openssl s_server ($(basename "$cert"))"
	# Not -rev: only s_server's plain mode prints the keying material.
	# Its stdin is a FIFO we hold, so that it does not end at EOF.
	mkfifo "$TK_TMP/$name-srv.fifo"
	exec 5<>"$TK_TMP/$name-srv.fifo"
	TK_PEER_STDIN=$TK_TMP/$name-srv.fifo tk_start_peer "$name-srv" openssl s_server \
		-accept 127.0.0.1:PORT -naccept 1 -CAfile "$TK_FX/ca.pem" -Verify 2 -verify_return_error \
		-cert "$cert" -key "$key" -keymatexport "$LABEL" -keymatexportlen 32
	exec 5>&-
	printf 'abc\n' >"$TK_TMP/$name.in"
	TK_RC=0
	tk_app "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test "$@" || TK_RC=$?
	tk_wait_pid "$TK_PEER_PID" 15 || true
	grep -E '^(QFULL|QCHAIN|QID|EXPORT|QUERY|ERROR|QFULL-ERROR)' "$TK_TMP/$name.err" >&2 || true
}
cli_case cli13 "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --query-full \
	--chain-out "$TK_TMP/cli13.chain" --export "$LABEL"
[ "$TK_RC" = 0 ] || { cat "$TK_TMP/cli13.err" >&2; tk_fail "cli13: exit $TK_RC"; }
E=$TK_TMP/cli13.err
tk_expect_grep "$E" '^QFULL state=secure role=client auth=1 resumed=0 version=TLS1.3 '
tk_expect_grep "$E" " sni=peer.example.test alpn= "
tk_expect_grep "$E" " sign=ECDSA-SECP256R1-SHA256 csign=ECDSA-SECP256R1-SHA256 "
tk_expect_grep "$E" " local=alice@example.test peer=peer.example.test mapped= acl=$TK_TMP/info.acl:3$"
tk_der "$TK_FX/peer-server.pem" "$TK_TMP/peer-server.der"
cat "$TK_TMP/peer-server.der" "$TK_TMP/ca.der" >"$TK_TMP/peer-chain.der"
tk_expect_line "$E" "QCHAIN len=$(stat -c %s "$TK_TMP/peer-chain.der") count=2 ids_len=18 ids_count=1"
tk_same "$TK_TMP/peer-chain.der" "$TK_TMP/cli13.chain"
want=$(hex_of "$TK_TMP/cli13-srv.out")
[ -n "$want" ] || tk_fail "openssl s_server printed no keying material"
tk_expect_line "$E" "EXPORT=$want"
tk_expect_line "$TK_TMP/cli13-srv.out" "abc"

# A chain larger than the buffer: ENOBUFS, and the size needed.
cli_case cli-small "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --query-full --chain-cap 100
[ "$TK_RC" = 2 ] || tk_fail "cli-small: exit $TK_RC, wanted 2 (the query failed)"
tk_expect_grep "$TK_TMP/cli-small.err" '^QFULL-ERROR errno=ENOBUFS .*needs [0-9]+ bytes \(buffer 100\)'
tk_expect_line "$TK_TMP/cli-small.err" \
	"QCHAIN len=$(stat -c %s "$TK_TMP/peer-chain.der") count=2 ids_len=18"

# A certificate over 8192 bytes (600 names).
{
	printf 'serial = 4242\ncn = peer.example.test\ndns_name = peer.example.test\n'
	for i in $(seq 600); do printf 'dns_name = host%04d.%s.example.test\n' "$i" "$(printf 'x%.0s' $(seq 70))"; done
	printf 'signing_key\ntls_www_server\nexpiration_days = 30\n'
} >"$TK_TMP/big.tmpl"
tk_cert_issue "$TK_TMP/big.pem" "$TK_TMP/big.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
	--load-privkey "$TK_FX/peer-server.key" >"$TK_TMP/big.log" 2>&1 ||
	{ cat "$TK_TMP/big.log" >&2; tk_fail "cannot issue the big certificate"; }
tk_der "$TK_TMP/big.pem" "$TK_TMP/big.der"
big=$(stat -c %s "$TK_TMP/big.der")
[ "$big" -gt 8192 ] || tk_fail "the big certificate is only $big bytes"
cli_case cli-big "$TK_TMP/big.pem" "$TK_FX/peer-server.key" --query-full --chain-out "$TK_TMP/big.chain"
[ "$TK_RC" = 0 ] || { cat "$TK_TMP/cli-big.err" >&2; tk_fail "cli-big: exit $TK_RC"; }
cat "$TK_TMP/big.der" "$TK_TMP/ca.der" >"$TK_TMP/big-chain.der"
tk_same "$TK_TMP/big-chain.der" "$TK_TMP/big.chain"
tk_expect_line "$TK_TMP/cli-big.err" \
	"QCHAIN len=$(stat -c %s "$TK_TMP/big-chain.der") count=2 ids_len=18 ids_count=1"
# The legacy struct cannot hold it: ENOBUFS, never length 0.
cli_case cli-big-legacy "$TK_TMP/big.pem" "$TK_FX/peer-server.key" --query
[ "$TK_RC" = 2 ] || tk_fail "cli-big-legacy: exit $TK_RC, wanted 2"
tk_expect_grep "$TK_TMP/cli-big-legacy.err" \
	"^QUERY-ERROR errno=ENOBUFS .*certificate is $big bytes, more than struct tlskey_info holds \(8192\)"

# ---- bad arguments, foreign descriptors ---------------------------------------
cli_case cli-size "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --query-full --info-size 16
[ "$TK_RC" = 2 ] || tk_fail "cli-size: exit $TK_RC"
tk_expect_grep "$TK_TMP/cli-size.err" '^QFULL-ERROR errno=EINVAL '
cli_case cli-label "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --export ""
tk_expect_grep "$TK_TMP/cli-label.err" '^EXPORT-ERROR errno=EINVAL '
cli_case cli-len "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --export "$LABEL" --export-len 1025
tk_expect_grep "$TK_TMP/cli-len.err" '^EXPORT-ERROR errno=EINVAL '
# A label the TLS 1.2 PRF uses itself (with a server echoing the client's
# random, "key expansion" would give the session's own traffic keys).
cli_case cli-reserved "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --export "key expansion"
tk_expect_grep "$TK_TMP/cli-reserved.err" '^EXPORT-ERROR errno=EINVAL .*one TLS itself uses'
# TLS 1.3: GnuTLS 3.7 takes labels of at most 63 bytes there: 63 works, 64
# is EINVAL saying so (it was EIO).  (TLS 1.2 takes 255: cli-ems below.)
L63=$(head -c 63 /dev/zero | tr '\0' L)
cli_case cli-63 "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --export "$L63"
tk_expect_grep "$TK_TMP/cli-63.err" '^EXPORT=[0-9A-F]{64}$'
cli_case cli-64 "$TK_FX/peer-server.pem" "$TK_FX/peer-server.key" --export "${L63}L"
tk_expect_grep "$TK_TMP/cli-64.err" '^EXPORT-ERROR errno=EINVAL .*at most 63 bytes in TLS 1.3'
# TLS 1.2 without Extended Master Secret (gnutls-serv %NO_SESSION_HASH):
# a man in the middle could give two connections the same keying material
# (the triple handshake), so no exporter: EOPNOTSUPP.  The same server
# with EMS: the exporter works.
for ems in noems ems; do
	prio=NORMAL:-VERS-ALL:+VERS-TLS1.2
	[ "$ems" = ems ] || prio=$prio:%NO_SESSION_HASH
	tk_log "case cli-$ems: client role, TLS 1.2, gnutls-serv --priority $prio"
	tk_start_gnutls_serv "cli-$ems-srv" --priority "$prio" --x509certfile "$TK_FX/peer-server.pem" \
		--x509keyfile "$TK_FX/peer-server.key"
	printf 'abc\n' >"$TK_TMP/cli-$ems.in"
	tk_app "cli-$ems" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test --export "$(head -c 255 /dev/zero | tr '\0' L)" || true
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
done
tk_expect_grep "$TK_TMP/cli-noems.err" '^EXPORT-ERROR errno=EOPNOTSUPP .*Extended Master Secret'
tk_expect_grep "$TK_TMP/cli-ems.err" '^EXPORT=[0-9A-F]{64}$'
for k in plain:ENOENT pipe:ENOTSOCK closed:EBADF; do
	for what in "--query-full" "--export $LABEL" "--ctl key-update" "--ctl close-notify"; do
		# shellcheck disable=SC2086
		tk_app "foreign-${k%%:*}" sessctl --kind "${k%%:*}" $what || true
		tk_expect_grep "$TK_TMP/foreign-${k%%:*}.err" "^[A-Z]+-ERROR errno=${k#*:} "
	done
done
tk_daemon_alive
tk_pass
