#!/bin/bash
# Identity by SNI (virtual hosting, keyd/vhost.c): one tk-app server whose
# myname is a list ("server.example.test,rsa.example.test") or a pattern
# ("*.example.test"); openssl s_client -servername picks the identity:
#  - each name gets its own certificate (verified by s_client; TLS 1.3
#    and 1.2) and the
#    result and query report the identity used (QUERY local=);
#  - no SNI: the first exact name of the list; a pattern alone has no
#    default (EHOSTUNREACH, alert unrecognized_name), nor has a name the
#    list does not cover;
#  - the caller may use only one of the names: the other is refused with
#    EACCES and alert access_denied, an acl-denied record naming it, and
#    no signature by its key (status counters); the allowed one works;
#    allowed none: refused at admission (EACCES), nothing signed;
#  - the picked identity's handshake share is its own: full, EAGAIN;
#  - an unconfigured name in the list is ENOKEY, a list in the client
#    role or with a bad entry is EINVAL (library and daemon).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl python3
tk_setup

signs() {
	tk_ctl sig -s "$TLSKEYD_SOCKET" status --json || tk_fail "tlskeyctl status failed"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([i["signatures"] for i in d["identities"] if i["name"] == sys.argv[2]][0])' \
		"$TK_TMP/sig.out" "$1"
}

# ok CASE MYNAME SNI WANT-LOCAL [S_CLIENT-ARGS]: a handshake that must work.
ok() {
	local case=$1 myname=$2 sni=$3 want=$4 rc=0 snarg=(-noservername)
	shift 4
	[ -z "$sni" ] || snarg=(-servername "$sni")
	tk_app_server "$case" --myname "$myname" --query
	printf 'hello %s\n' "$case" >"$TK_TMP/$case.data"
	tk_fifo_client "$case-c" "$TK_TMP/$case.data" "$(wc -c <"$TK_TMP/$case.data")" \
		openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$TK_PORT" "${snarg[@]}" \
		-verify_hostname "$want" -CAfile "$TK_FX/ca.pem" -verify_return_error \
		-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" "$@" || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/$case-c.err" >&2; tk_fail "$case: s_client exit $rc"; }
	tk_wait_ok "$TK_SERVER_PID" 20 "$case: tk-app server" "$TK_TMP/$case.err"
	tk_expect_line "$TK_TMP/$case.err" "PEER=bob@example.test"
	tk_expect_grep "$TK_TMP/$case.err" "^QUERY .* local=$want "
}

# refused CASE MYNAME SNI ERRNO ALERT-ERE [S_CLIENT-ARGS]: the daemon refuses by SNI.
refused() {
	local case=$1 myname=$2 sni=$3 err=$4 alert=$5 snarg=(-noservername)
	shift 5
	[ -z "$sni" ] || snarg=(-servername "$sni")
	tk_app_server "$case" --myname "$myname" --expect-errno "$err"
	timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" "${snarg[@]}" \
		-CAfile "$TK_FX/ca.pem" -cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" "$@" \
		</dev/null >"$TK_TMP/$case-c.out" 2>&1 || true
	tk_wait_ok "$TK_SERVER_PID" 20 "$case: tk-app server" "$TK_TMP/$case.err"
	tk_expect_grep "$TK_TMP/$case-c.out" "$alert"
}

list=server.example.test,rsa.example.test
ok l-ec "$list" server.example.test server.example.test
before=$(signs rsa.example.test)
ok l-rsa "$list" rsa.example.test rsa.example.test
# The counter the refusals below rely on does count this identity's signatures.
[ "$(signs rsa.example.test)" -gt "$before" ] || tk_fail "no signature counted for rsa.example.test"
ok l-case "$list" RSA.Example.TEST rsa.example.test
ok l-rsa12 "$list" rsa.example.test rsa.example.test -tls1_2
ok l-none "$list" "" server.example.test
ok l-rev "rsa.example.test,server.example.test" "" rsa.example.test
ok p-rsa '*.example.test' rsa.example.test rsa.example.test
ok p-mix 'server.example.test,*.example.test' rsa.example.test rsa.example.test
tk_mark
refused l-other "$list" other.example.test EHOSTUNREACH 'unrecognized name'
tk_log_expect 'no identity of server.example.test,rsa.example.test for server name other.example.test'
refused p-none '*.example.test' "" EHOSTUNREACH 'unrecognized name'
# A name of 255 bytes (the most DNS allows) is that name, not "no name":
# before, it did not fit the buffer, the list picked its default and the
# app's checksni callback was asked about "".
l63=$(printf 'a%.0s' $(seq 63))
L255=$l63.$l63.$l63.${l63//a/b}
[ ${#L255} = 255 ] || tk_fail "L255 is ${#L255} bytes"
tk_mark
refused l-255 "$list" "$L255" EHOSTUNREACH 'unrecognized name'
tk_log_expect "no identity of server.example.test,rsa.example.test for server name $l63"
tk_app_server c-255 --myname server.example.test --sni-allow server.example.test --expect-errno EHOSTUNREACH
timeout 20 openssl s_client -connect "127.0.0.1:$TK_PORT" -servername "$L255" -CAfile "$TK_FX/ca.pem" \
	</dev/null >"$TK_TMP/c-255-c.out" 2>&1 || true
tk_wait_ok "$TK_SERVER_PID" 20 "c-255: tk-app server" "$TK_TMP/c-255.err"
tk_expect_line "$TK_TMP/c-255.err" "SNI=$L255"
tk_app_server_bare p-below --myname '*.server.example.test' --expect-errno ENOKEY
# "*.example.test" must not cover a name that only ends in the same text.
tk_app_server_bare p-evil --myname '*.ample.test' --expect-errno ENOKEY

# --- the caller may use server.example.test only ---------------------------
rsa0=$(signs rsa.example.test)
tk_acl_set "allow user:$(id -un) server.example.test server" \
	"allow user:$(id -un) alice@example.test client"
tk_mark
refused a-rsa "$list" rsa.example.test EACCES 'access denied'
tk_log_expect 'acl-denied.*myname=rsa\.example\.test'
tk_expect_grep "$TK_TMP/a-rsa.err" 'access to rsa.example.test as server denied'
ok a-ec "$list" server.example.test server.example.test
refused a-prsa '*.example.test' rsa.example.test EACCES 'access denied'
refused a-rsa12 "$list" rsa.example.test EACCES 'access denied' -tls1_2
[ "$(signs rsa.example.test)" = "$rsa0" ] || tk_fail "rsa.example.test signed although refused"
# Allowed neither: refused before the handshake, as a single name is.
tk_acl_set "allow user:$(id -un) alice@example.test client"
tk_mark
tk_app_server_bare a-none --myname "$list" --expect-errno EACCES
tk_log_expect 'acl-denied.*myname=server\.example\.test,rsa\.example\.test'
[ "$(signs rsa.example.test)" = "$rsa0" ] || tk_fail "rsa.example.test signed although refused"
tk_acl_set "allow user:$(id -un) * client,server"

# --- the picked identity's handshake share ----------------------------------
# max-handshakes-per-identity = 1 and a silent client holding the one
# rsa.example.test handshake: the list's pick of rsa is refused (EAGAIN,
# the share is not borrowed from the stand-in), server.example.test works.
{ echo "max-handshakes-per-identity = 1"; cat "$TK_FX/tlskeyd.conf"; } >"$TK_TMP/share.conf"
tk_daemon_start "$TK_TMP/share.conf"
inflight() {
	tk_ctl fl -s "$TLSKEYD_SOCKET" status --json &&
		python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["handshakes_in_flight"] < 1)' \
			"$TK_TMP/fl.out"
}
tk_app_server hold --myname rsa.example.test --hs-timeout 4000 --expect-errno ETIMEDOUT
HOLD_PID=$TK_SERVER_PID
exec 8<>"/dev/tcp/127.0.0.1/$TK_PORT"
tk_wait_until 10 "" inflight || tk_fail "the silent client's handshake did not start"
refused s-rsa "$list" rsa.example.test EAGAIN 'internal error'
tk_expect_grep "$TK_TMP/s-rsa.err" 'too many handshakes with rsa.example.test'
ok s-ec "$list" server.example.test server.example.test
tk_wait_ok "$HOLD_PID" 20 "hold: tk-app server" "$TK_TMP/hold.err"
exec 8<&-
tk_daemon_start "$TK_FX/tlskeyd.conf"

# --- malformed lists --------------------------------------------------------
tk_app_server_bare bad-unknown --myname "server.example.test,nokey.example.test" --expect-errno ENOKEY
for bad in 'a.example.test,,b.example.test' 'server.example.test, rsa.example.test' \
	'*example.test' 'x.*.example.test' 'alice@example.test,server.example.test' '*'; do
	tk_app_server_bare bad --myname "$bad" --expect-errno EINVAL
done
tk_app_listen sink sink
tk_app bad-client client --connect "127.0.0.1:$TK_PORT" --myname "$list" --expect-errno EINVAL ||
	{ cat "$TK_TMP/bad-client.err" >&2; tk_fail "a list in the client role was not EINVAL"; }
tk_wait_pid "$TK_SERVER_PID" 10 || tk_fail "sink did not end"
tk_legit_check
tk_pass
