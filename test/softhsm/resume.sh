#!/bin/bash
# TLS 1.3 session resumption, server role (resumption = on, doc/config.md):
# openssl s_client (-sess_out/-sess_in) and gnutls-cli --resume against an
# app server through tlskeyd.  A ticket resumes within its identity and
# key period; the resumed peer is reported (QUERYFLAGS resumed=yes, the
# audit record's resumed=yes) and authorized again.  Refused or full
# handshakes: resumption off for the identity (per identity or by default),
# TLS 1.2, a ticket for another identity, after a reload, from another
# daemon instance, after ticket-rotation; refused: an authorization the
# resumed peer no longer meets, a certificate that expired since.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl gnutls-cli
tk_setup --no-daemon

want=$(tk_lines "$TK_TMP/data" 50 "line from openssl ")
tk_conf on resumption=on -- "[identity extra.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "resumption = off"
tk_daemon_start "$TK_TMP/on.conf"

# ossl NAME MYNAME SESSION-FILE in|out [APP-ARGS...]: one s_client connection
# to an app server with MYNAME; "out" saves the session, "in" offers it.
# Sets TK_APP_RC (the app's exit status); s_client's output in NAME-cli.out.
ossl() {
	local name=$1 myname=$2 sess=$3 dir=$4 rc=0
	shift 4
	local quiet=()
	# Saving: -quiet, so that the wait is for the echo, which comes after
	# the ticket.  Offering: the output must say New or Reused.
	[ "$dir" = out ] && quiet=(-quiet)
	tk_app_server "$name" --myname "$myname" --echo --query "$@"
	tk_fifo_client "$name-cli" "$TK_TMP/data" "$want" openssl s_client "${quiet[@]}" -no_ign_eof "-${ver:-tls1_3}" \
		-connect "127.0.0.1:$TK_PORT" -servername "$myname" -CAfile "$TK_FX/ca.pem" \
		-cert "${peer_cert:-$TK_FX/peer-user.pem}" -key "$TK_FX/peer-user.key" "-sess_$dir" "$sess" \
		${SCLIENT_EXTRA:-} || true
	tk_wait_pid "$TK_SERVER_PID" 20 || rc=$?
	TK_APP_RC=$rc
}
# ticket NAME MYNAME: a full handshake that leaves a ticket in NAME.sess.
ticket() {
	ossl "$1" "$2" "$TK_TMP/$1.sess" out
	[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/$1.err" >&2; tk_fail "$1: app exit $TK_APP_RC"; }
	tk_expect_line "$TK_TMP/$1.err" "QUERYFLAGS resumed=no flags=0x0"
	openssl sess_id -in "$TK_TMP/$1.sess" -noout -text >"$TK_TMP/$1.txt" 2>&1 ||
		tk_fail "$1: unreadable session file"
	grep -q 'TLS session ticket:' "$TK_TMP/$1.txt" || tk_fail "$1: no session ticket from $2"
}
# full NAME MYNAME TICKET [APP-ARGS...]: offering TICKET gets a full handshake.
full() {
	local name=$1 myname=$2 t=$3
	shift 3
	ossl "$name" "$myname" "$TK_TMP/$t.sess" in "$@"
	tk_expect_grep "$TK_TMP/$name-cli.out" '^New, TLSv1.3'
	if grep -q '^Reused, ' "$TK_TMP/$name-cli.out"; then
		tk_fail "$name: resumed with the ticket of $t"
	fi
}

# Resumption on: the second connection resumes, the peer is bob again.
ticket t1 server.example.test
tk_mark
ossl r1 server.example.test "$TK_TMP/t1.sess" in
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/r1.err" >&2; tk_fail "r1: app exit $TK_APP_RC"; }
tk_expect_grep "$TK_TMP/r1-cli.out" '^Reused, TLSv1.3'
tk_expect_line "$TK_TMP/r1.err" "PEER=bob@example.test"
tk_expect_line "$TK_TMP/r1.err" "QUERYFLAGS resumed=yes flags=0x4"
tk_expect_grep "$TK_TMP/r1.err" '^QUERY state=secure version=TLS1.3 .* peer=bob@example.test .*certlen=[1-9]'
tk_wait_log 'established.*resumed=yes' || tk_fail "r1: no resumed=yes in the audit record"
# (s_client's own lines share its output with the echo and it may quit
# before the echo is back: resume-client.sh checks data on resumed
# sessions.)

# resumed() WANT: the daemon's count of resumed handshakes (metrics, and
# the JSON status document) is WANT.
resumed() {
	tk_ctl m -s "$TLSKEYD_SOCKET" metrics || tk_fail "tlskeyctl metrics failed"
	tk_expect_line "$TK_TMP/m.out" "tlskeyd_handshakes_resumed_total $1"
	tk_ctl j -s "$TLSKEYD_SOCKET" status --json || tk_fail "tlskeyctl status --json failed"
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if repr(d).count("handshakes_resumed\x27: " + sys.argv[2]) else 1)' \
		"$TK_TMP/j.out" "$1" || tk_fail "status --json: handshakes_resumed is not $1"
}
resumed 1

# The resumed peer is authorized again: a request that admits no user
# identities (TLSKEY_FLAG_NO_REMOTE_USER_ID) refuses bob, resumed or not.
ossl r2 server.example.test "$TK_TMP/t1.sess" in --flags 8 --expect-errno EACCES
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/r2.err" >&2; tk_fail "r2: resumed bob was not refused"; }
tk_expect_grep "$TK_TMP/r2-cli.out" '^Reused, TLSv1.3'
resumed 1 # refused: not established

# ... and to the certificate request: a ticket from a session that asked
# for no client certificate gets a full handshake where one is required
# (which asks for it), not a refusal.
ossl nc1 server.example.test "$TK_TMP/nc1.sess" out --flags 2
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/nc1.err" >&2; tk_fail "nc1: app exit $TK_APP_RC"; }
tk_expect_line "$TK_TMP/nc1.err" "PEER="
full nc2 server.example.test nc1
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/nc2.err" >&2; tk_fail "nc2: app exit $TK_APP_RC"; }
tk_expect_line "$TK_TMP/nc2.err" "PEER=bob@example.test"
ossl nc3 server.example.test "$TK_TMP/nc1.sess" in --flags 2
tk_expect_grep "$TK_TMP/nc3-cli.out" '^Reused, TLSv1.3'

# A ticket is bound to its identity: rsa.example.test cannot decrypt it.
full x1 rsa.example.test t1
tk_expect_line "$TK_TMP/x1.err" "QUERYFLAGS resumed=no flags=0x0"

# resumption = off in an identity's section: no ticket, whatever the global.
ossl off1 extra.example.test "$TK_TMP/off1.sess" out
[ "$TK_APP_RC" = 0 ] || tk_fail "off1: app exit $TK_APP_RC"
if [ -s "$TK_TMP/off1.sess" ] && openssl sess_id -in "$TK_TMP/off1.sess" -noout -text |
	grep -q 'TLS session ticket:'; then
	tk_fail "off1: a ticket from an identity with resumption = off"
fi

# Only TLS 1.3 resumes: a TLS 1.2 client gets neither a ticket nor a
# session ID it could resume with.
ver=tls1_2
ossl v1 server.example.test "$TK_TMP/v1.sess" out
[ "$TK_APP_RC" = 0 ] || tk_fail "v1: app exit $TK_APP_RC"
if openssl sess_id -in "$TK_TMP/v1.sess" -noout -text | grep -q 'TLS session ticket:'; then
	tk_fail "v1: a TLS 1.2 session ticket"
fi
ossl v2 server.example.test "$TK_TMP/v1.sess" in
tk_expect_grep "$TK_TMP/v2-cli.out" '^New, TLSv1.2'
if grep -q '^Reused, ' "$TK_TMP/v2-cli.out"; then
	tk_fail "v2: a TLS 1.2 session was resumed"
fi
tk_expect_line "$TK_TMP/v2.err" "QUERYFLAGS resumed=no flags=0x0"
ver=

# gnutls-cli --resume: its second connection resumes.
tk_app_server gc --myname server.example.test --echo --query --accept-count 2
printf 'hello from gnutls-cli\n' >"$TK_TMP/gc.in"
rc=0
timeout 60 gnutls-cli --resume --waitresumption --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
	--verify-hostname server.example.test --sni-hostname server.example.test \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
	--priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' 127.0.0.1 <"$TK_TMP/gc.in" \
	>"$TK_TMP/gc-cli.out" 2>&1 || rc=$?
tk_wait_pid "$TK_SERVER_PID" 20 || { cat "$TK_TMP/gc.err" >&2; tk_fail "gc: app failed"; }
tk_expect_grep "$TK_TMP/gc-cli.out" 'This is a resumed session'
tk_expect_line "$TK_TMP/gc.err" "QUERYFLAGS resumed=yes flags=0x4"

# A reload makes new ticket keys: the old ticket gets a full handshake.
ticket t2 server.example.test
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_wait_log 'ACL loaded from' || tk_fail "no reload after SIGHUP"
full h1 server.example.test t2
[ "$TK_APP_RC" = 0 ] || tk_fail "h1: app exit $TK_APP_RC"

# A client that would also accept resumption without (EC)DHE (psk_ke)
# still gets a fresh key exchange (psk_ke alone is refused: no client here
# offers only that).
ticket t6 server.example.test
tk_mark
SCLIENT_EXTRA=-allow_no_dhe_kex ossl k1 server.example.test "$TK_TMP/t6.sess" in
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/k1.err" >&2; tk_fail "k1: app exit $TK_APP_RC"; }
tk_expect_grep "$TK_TMP/k1-cli.out" '^Reused, TLSv1.3'
tk_wait_log 'resumed with \(EC\)DHE group (SECP|X25519|X448|FFDHE)' || tk_fail "k1: resumed without (EC)DHE"

# Another daemon instance (a restart) has other keys.  This one's ACL
# grants no-cache-read: a request with it asks for a full check, and so
# neither resumes nor issues tickets.
ticket t3 server.example.test
me=$(id -un)
printf '%s\n' "allow user:$me server.example.test server flags=no-cache-read" \
	"allow user:$me * client,server" >"$TK_TMP/acl-ncr.conf"
sed "s|^acl = .*|acl = $TK_TMP/acl-ncr.conf|" "$TK_TMP/on.conf" >"$TK_TMP/ncr.conf"
tk_daemon_start "$TK_TMP/ncr.conf"
full d1 server.example.test t3
ticket t5 server.example.test
full n1 server.example.test t5 --flags 20
tk_expect_line "$TK_TMP/n1.err" "QUERYFLAGS resumed=no flags=0x0"
ossl n2 server.example.test "$TK_TMP/n2.sess" out --flags 20
if [ -s "$TK_TMP/n2.sess" ] && openssl sess_id -in "$TK_TMP/n2.sess" -noout -text |
	grep -q 'TLS session ticket:'; then
	tk_fail "n2: a ticket for a no-cache-read request"
fi
ossl n3 server.example.test "$TK_TMP/t5.sess" in
tk_expect_grep "$TK_TMP/n3-cli.out" '^Reused, TLSv1.3'

# Global off, one identity on: only that one resumes.
tk_conf one -- "[identity extra.example.test]" \
	"key = $TK_TOKEN_URI;object=server-ec;type=private" "cert = $TK_FX/server-ec.pem" \
	"pin-file = $TK_FX/pin" "resumption = on"
tk_daemon_start "$TK_TMP/one.conf"
ticket o1 extra.example.test
ossl o2 extra.example.test "$TK_TMP/o1.sess" in
[ "$TK_APP_RC" = 0 ] || tk_fail "o2: app exit $TK_APP_RC"
tk_expect_grep "$TK_TMP/o2-cli.out" '^Reused, TLSv1.3'
ossl o3 server.example.test "$TK_TMP/o3.sess" out
if [ -s "$TK_TMP/o3.sess" ] && openssl sess_id -in "$TK_TMP/o3.sess" -noout -text |
	grep -q 'TLS session ticket:'; then
	tk_fail "o3: a ticket from server.example.test (resumption off by default)"
fi

# ticket-rotation: a ticket older than the period is not accepted.
tk_conf rot resumption=on ticket-rotation=1
tk_daemon_start "$TK_TMP/rot.conf"
ticket t4 server.example.test
# The key period is a timer; nothing to wait on but the clock.
sleep 1.5
full p1 server.example.test t4
# The ticket keeps the peer's certificate, not its validity: a resumed
# session is validated again (cache-size = 0: no cached verdict either),
# so a certificate that expired since the ticket was issued is refused.
# It is issued after the daemon started (the peer reads it at connect),
# so its 6 s are the ticket handshake's alone.
tk_conf exp resumption=on cache-size=0
tk_daemon_start "$TK_TMP/exp.conf"
end=$(( $(date +%s) + 6 ))
printf '%s\n' "serial = $((RANDOM + 1000))" 'cn = "bob"' 'email = bob@example.test' signing_key \
	tls_www_client "expiration_date = \"$(date -u -d "@$end" '+%Y-%m-%d %H:%M:%S') UTC\"" \
	>"$TK_TMP/short.tmpl"
tk_cert_issue "$TK_TMP/short.pem" "$TK_TMP/short.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
	--load-privkey "$TK_FX/peer-user.key" >"$TK_TMP/short.log" 2>&1 ||
	{ cat "$TK_TMP/short.log" >&2; tk_fail "cannot issue short.pem"; }
peer_cert=$TK_TMP/short.pem
ticket e1 server.example.test
past() { [ "$(date +%s)" -gt "$1" ]; }
tk_wait_until 10 "" past "$((end + 1))" || tk_fail "the clock did not move"
tk_mark
ossl e2 server.example.test "$TK_TMP/e1.sess" in --expect-errno EKEYREJECTED
[ "$TK_APP_RC" = 0 ] || { cat "$TK_TMP/e2.err" >&2; tk_fail "e2: an expired peer resumed"; }
tk_expect_grep "$TK_TMP/e2-cli.out" '^Reused, TLSv1.3'
tk_wait_log 'resumed session refused: peer certificate no longer valid' ||
	tk_fail "e2: no reason in the log"
tk_daemon_alive
tk_pass
