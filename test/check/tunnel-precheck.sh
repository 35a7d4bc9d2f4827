#!/bin/bash
# tlskey-tunnel used to start and listen with an identity the daemon does
# not have, or one the ACL does not let it use, and fail every connection
# later.  Now it asks the daemon at start (a CHECK request) and exits 2
# with the reason before it listens; an allowed identity starts as before.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup
tk_built "$TT_TUNNEL"

# run_tunnel NAME ARGS...: the tunnel must exit 2 within 15 s, not listen.
refused() {
	local name=$1 rc=0
	shift
	timeout 15 "$TT_TUNNEL" --listen 127.0.0.1:0 --port-file "$TK_TMP/$name.port" "$@" \
		</dev/null >"$TK_TMP/$name.stdout" 2>"$TK_TMP/$name.log" || rc=$?
	[ "$rc" = 2 ] || { cat "$TK_TMP/$name.log" >&2; tk_fail "$name: tunnel exit $rc, wanted 2"; }
	[ ! -s "$TK_TMP/$name.port" ] || tk_fail "$name: the tunnel listened before it gave up"
}

refused nokey --mode server --myname nobody.example.test --backend 127.0.0.1:9
tk_expect_grep "$TK_TMP/nokey.log" \
	'tlskeyd refuses nobody\.example\.test as server for this process: no key configured for nobody\.example\.test \(errno=ENOKEY\)'

# The ACL lets this user use server.example.test as a client only.
tk_acl_set "allow user:$TK_ME server.example.test client" "allow user:$TK_ME * client,server"
tk_acl_set "allow user:$TK_ME server.example.test client" "allow user:$TK_ME alice@example.test client"
refused denied --mode server --myname server.example.test --backend 127.0.0.1:9
tk_expect_grep "$TK_TMP/denied.log" \
	'tlskeyd refuses server\.example\.test as server for this process: access to server\.example\.test as server denied by tlskeyd policy \(errno=EACCES\)'

# A --myname list: refused when the ACL allows none of its identities or a
# listed name has no key, accepted when it allows one of them (the SNI
# decides per connection, test/tunnel/server.sh).
refused list-denied --mode server --myname server.example.test,rsa.example.test --backend 127.0.0.1:9
tk_expect_grep "$TK_TMP/list-denied.log" \
	'tlskeyd refuses server\.example\.test,rsa\.example\.test as server for this process: access to server\.example\.test,rsa\.example\.test as server denied by tlskeyd policy \(errno=EACCES\)'
refused list-nokey --mode server --myname server.example.test,nobody.example.test --backend 127.0.0.1:9
tk_expect_grep "$TK_TMP/list-nokey.log" 'no key configured for nobody\.example\.test \(errno=ENOKEY\)'
refused list-client --mode client --myname server.example.test,rsa.example.test --connect 127.0.0.1:9
tk_expect_grep "$TK_TMP/list-client.log" 'errno=EINVAL'
tk_acl_set "allow user:$TK_ME rsa.example.test server" "allow user:$TK_ME alice@example.test client"
tk_tt_backend be0
tk_tunnel list-ok --mode server --myname server.example.test,rsa.example.test \
	--backend "127.0.0.1:$TT_BACKEND_PORT"
[ -n "$TT_PORT" ] || tk_fail "the tunnel with a partly allowed list did not listen"
tk_tunnel_stop list-ok "$TT_PID"
kill "$TT_BACKEND_PID" 2>/dev/null || true

# Allowed: starts and listens.
tk_acl_set "allow user:$TK_ME * client,server"
tk_tt_backend be
tk_tunnel ok --mode server --myname server.example.test --backend "127.0.0.1:$TT_BACKEND_PORT"
[ -n "$TT_PORT" ] || tk_fail "the allowed tunnel did not listen"
tk_tunnel_stop ok "$TT_PID"
tk_legit_check
tk_pass
