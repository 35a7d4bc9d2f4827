#!/bin/bash
# The validation cache (doc/config.md): the first handshake with a peer
# chain logs "validation cache miss", the same one again "validation cache
# hit" (client role against gnutls-serv, server role against gnutls-cli).
# Another certificate for the same name, another myname, another SNI or
# other identity-kind flags miss; an ACL reload (SIGHUP) empties it, and a
# reloaded ACL that excludes the peer refuses it (no stale authorization),
# and a caller whose own ACL rule excludes the peer is not admitted through
# another caller's entry;
# cache-ttl expires entries; cache-size = 0 disables the cache.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv
tk_setup

me=$(id -un)
tk_start_gnutls_serv srv-peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER=$TK_PORT
tk_start_gnutls_serv srv-peer2 --x509certfile "$TK_FX/peer-server2.pem" --x509keyfile "$TK_FX/peer-server2.key"
PEER2=$TK_PORT

n=0
# hs EXPECT(hit|miss) PORT MYNAME [ARGS...]: one client handshake with data,
# and the cache verdict the daemon logged for it.
hs() {
	local want=$1 port=$2 myname=$3 name
	shift 3
	n=$((n + 1))
	name=hs$n-$want
	printf 'hello %s\n' "$name" >"$TK_TMP/$name.in"
	tk_mark
	tk_ok "$name" client --connect "127.0.0.1:$port" --myname "$myname" "$@"
	tk_same "$TK_TMP/$name.in" "$TK_TMP/$name.out"
	tk_expect_line "$TK_TMP/$name.err" "PEER=peer.example.test"
	tk_wait_log "validation cache $want: myname=$myname" ||
		tk_fail "$name: expected 'validation cache $want' for $myname ($*)"
	[ "$(tk_count_log 'validation cache (hit|miss)')" = 1 ] ||
		tk_fail "$name: more than one cache verdict for one handshake"
}
# srv EXPECT: the app as server, bob via gnutls-cli.
srv() {
	n=$((n + 1))
	tk_mark
	tk_srv_cli "srv$n-$1" -- --x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
	tk_expect_line "$TK_TMP/srv$n-$1.err" "PEER=bob@example.test"
	tk_wait_log "validation cache $1: myname=server.example.test" ||
		tk_fail "srv$n: expected 'validation cache $1'"
}
hup() {
	tk_mark
	kill -HUP "$TK_DAEMON_PID"
	tk_wait_log 'ACL loaded from' || tk_fail "no reload after SIGHUP"
}

hs miss "$PEER" alice@example.test --sni peer.example.test
hs hit "$PEER" alice@example.test --sni peer.example.test
tk_expect_grep "$TK_TMP/tlskeyd.log" 'validation cache hit: myname=alice@example.test peer=peer.example.test'
srv miss
srv hit

# Another certificate for the same name is another key.
hs miss "$PEER2" alice@example.test --sni peer.example.test
hs hit "$PEER2" alice@example.test --sni peer.example.test
hs hit "$PEER" alice@example.test --sni peer.example.test
# Other inputs of the result: myname, SNI, identity-kind flags.
hs miss "$PEER" carol@example.test --sni peer.example.test
hs miss "$PEER" alice@example.test
tk_mark
tk_err cached-nodomain EACCES client --connect "127.0.0.1:$PEER" --myname alice@example.test \
	--sni peer.example.test --flags 10
tk_no_log 'validation cache hit' || tk_fail "cached-nodomain: a cached result skipped the flags"
hs hit "$PEER" alice@example.test --sni peer.example.test

# SIGHUP reloads the ACL: every earlier result is void.
hup
hs miss "$PEER" alice@example.test --sni peer.example.test
srv miss
hs hit "$PEER" alice@example.test --sni peer.example.test
# A reloaded ACL that no longer admits the peer must not be bypassed by a
# cached authorization.
cp "$TK_FX/acl.conf" "$TK_TMP/acl-backup.conf"
printf 'allow user:%s alice@example.test client peers=other.example.test\nallow user:%s * client,server\n' \
	"$me" "$me" >"$TK_FX/acl.conf"
hup
tk_mark
tk_err reload-excluded EACCES client --connect "127.0.0.1:$PEER" --myname alice@example.test \
	--sni peer.example.test
tk_expect_grep "$TK_TMP/reload-excluded.err" 'not authorized'
tk_no_log 'validation cache hit' || tk_fail "reload-excluded: a stale cache entry was used"
cp "$TK_TMP/acl-backup.conf" "$TK_FX/acl.conf"
hup
hs miss "$PEER" alice@example.test --sni peer.example.test

# A cached authorization belongs to the ACL rule that granted it: another
# caller of the same identity whose rule excludes the peer (here: the same
# uid with a supplementary group that a stricter rule matches) must not be
# admitted by the first caller's cache entry.  Needs root for setpriv.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	printf 'allow group:4242 alice@example.test client peers=nobody.example.test\nallow user:%s * client,server\n' \
		"$me" >"$TK_TMP/rules.acl"
	chmod 600 "$TK_TMP/rules.acl"
	tk_conf rules "acl=$TK_TMP/rules.acl"
	tk_daemon_start "$TK_TMP/rules.conf" || tk_fail "daemon with rules.conf did not start"
	printf '#!/bin/sh\nexec setpriv --groups 4242 %q "$@"\n' "$TK_APP" >"$TK_TMP/grp-app"
	chmod 755 "$TK_TMP/grp-app"
	TK_APP=$TK_TMP/grp-app tk_err rule-strict-cold EACCES client --connect "127.0.0.1:$PEER" \
		--myname alice@example.test --sni peer.example.test
	hs miss "$PEER" alice@example.test --sni peer.example.test
	hs hit "$PEER" alice@example.test --sni peer.example.test
	tk_mark
	rc=0
	TK_APP=$TK_TMP/grp-app tk_app rule-strict-warm client --connect "127.0.0.1:$PEER" \
		--myname alice@example.test --sni peer.example.test --expect-errno EACCES || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/rule-strict-warm.err" >&2
		tk_log_since | grep 'validation cache' >&2 || true
		tk_soft_fail "rule-strict-warm: a caller whose ACL rule (peers=nobody.example.test) excludes peer.example.test was admitted through another caller's cache entry (tk-app exit $rc)"
	fi
	tk_daemon_alive
else
	tk_log "not root: skipping the per-rule cache case"
fi

# cache-ttl = 3: there for the next handshake, gone after 4 seconds.  (1 s
# was too short for the hit: a handshake, the greps and a sanitizer
# build's tk-app start and exit in between.)
tk_conf ttl cache-ttl=3
tk_daemon_start "$TK_TMP/ttl.conf" || tk_fail "daemon with cache-ttl = 3 did not start"
hs miss "$PEER" alice@example.test --sni peer.example.test
hs hit "$PEER" alice@example.test --sni peer.example.test
sleep 4
hs miss "$PEER" alice@example.test --sni peer.example.test

# cache-size = 0: no cache at all.
tk_conf nocache cache-size=0
tk_daemon_start "$TK_TMP/nocache.conf" || tk_fail "daemon with cache-size = 0 did not start"
hs miss "$PEER" alice@example.test --sni peer.example.test
hs miss "$PEER" alice@example.test --sni peer.example.test
tk_done
