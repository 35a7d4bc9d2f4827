#!/bin/bash
# Reloading identities and trust (issue 10), each case checked with a real
# handshake through the daemon against gnutls-serv peers:
#   - an identity added by reload serves at once (ENOKEY before)
#   - an identity removed by reload is gone (ENOKEY after)
#   - a new CA (ca-file) by reload: the peer of the old CA is refused
#     (EKEYREJECTED, no stale validation cache hit), the peer of the new
#     one accepted
#   - SIGHUP reloads as well and logs the outcome
#   - a setting that needs a restart (workers) is named in the answer
#   - an invalid configuration (two missing certificates, a bad priority,
#     an ACL error) changes nothing: tlskeyctl reload exits 1 and lists
#     all four errors with file:line, and every handshake still follows
#     the last good configuration
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
tk_setup
CONF=$TK_FX/tlskeyd.conf
ACL=$TK_FX/acl.conf

tk_start_gnutls_serv good --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
GOOD=$TK_PORT
tk_start_gnutls_serv rogue --x509certfile "$TK_FX/rogue-server.pem" --x509keyfile "$TK_FX/rogue-server.key"
ROGUE=$TK_PORT

# cl NAME WANT MYNAME PORT: one client handshake through the daemon;
# WANT is ok (data echoed, peer named) or the errno it must fail with.
cl() {
	local name=$1 want=$2 myname=$3 port=$4 rc=0
	printf 'hello from %s\n' "$name" >"$TK_TMP/$name.in"
	if [ "$want" = ok ]; then
		tk_app "$name" client --connect "127.0.0.1:$port" --myname "$myname" \
			--sni peer.example.test || rc=$?
		[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: tk-app exit $rc, wanted success"; }
		tk_expect_line "$TK_TMP/$name.err" "PEER=peer.example.test"
		tk_same "$TK_TMP/$name.in" "$TK_TMP/$name.out"
	else
		tk_app "$name" client --connect "127.0.0.1:$port" --myname "$myname" \
			--sni peer.example.test --expect-errno "$want" || rc=$?
		[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: wanted $want, tk-app exit $rc"; }
	fi
	tk_daemon_alive
}

# reload_ok NAME GEN: tlskeyctl reload succeeds with generation GEN.
reload_ok() {
	tk_dctl 0 "$1" reload
	tk_expect_grep "$TK_TMP/$1.out" "^ACL loaded from $ACL .*; configuration $CONF \\(generation $2, "
}

# ---- before: the fixture's configuration ------------------------------------
cl c0-new ENOKEY new@example.test "$GOOD"
cl c0-carol ok carol@example.test "$GOOD"
cl c0-rogue EKEYREJECTED alice@example.test "$ROGUE"
cl c0-good ok alice@example.test "$GOOD"

# ---- add an identity, remove one ---------------------------------------------
cat >>"$CONF" <<CONF

[identity new@example.test]
key = pkcs11:token=tlskeyd-test;object=alice-ec;type=private
cert = $TK_FX/alice-ec.pem
pin-file = $TK_FX/pin
CONF
# carol's section: from its header to the blank line after it.
sed -i '/^\[identity carol@example.test\]/,/^$/d' "$CONF"
reload_ok r1 2
tk_expect_grep "$TK_TMP/r1.out" "generation 2, 4 identities"
cl c1-new ok new@example.test "$GOOD"
cl c1-carol ENOKEY carol@example.test "$GOOD"

# ---- change the CA: by SIGHUP this time -------------------------------------
sed -i "s#^ca-file = .*#ca-file = $TK_FX/rogue-ca.pem#" "$CONF"
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_log_expect "ACL loaded from $ACL .*generation 3, 4 identities"
tk_log_expect "audit: event=acl-reload .*result=ok"
cl c2-good EKEYREJECTED alice@example.test "$GOOD"
tk_expect_grep "$TK_TMP/c2-good.err" 'issuer is unknown'
cl c2-rogue ok alice@example.test "$ROGUE"

# ---- a setting only a restart can change is named ------------------------------
sed -i 's/^workers = .*/workers = 3/' "$CONF"
reload_ok r3 4
tk_expect_grep "$TK_TMP/r3.out" "needs a restart: workers$"

# ---- an invalid configuration changes nothing, and every error is listed --------
cp "$CONF" "$TK_TMP/good.conf"
cp "$ACL" "$TK_TMP/good.acl"
cat >>"$CONF" <<CONF

[identity gone1.example.test]
key = pkcs11:token=tlskeyd-test;object=server-ec;type=private
cert = $TK_FX/no-such-cert-1.pem

[identity gone2.example.test]
key = pkcs11:token=tlskeyd-test;object=server-ec;type=private
cert = $TK_FX/no-such-cert-2.pem
CONF
sed -i 's/^handshake-timeout = .*/&\npriority = NORMAL:+NO-SUCH-THING/' "$CONF"
printf 'allow user:nosuch%s * any\n' "$$" >>"$ACL"
l1=$(grep -n '^\[identity gone1.example.test\]' "$CONF" | cut -d: -f1)
l2=$(grep -n '^\[identity gone2.example.test\]' "$CONF" | cut -d: -f1)
la=$(wc -l <"$ACL")
tk_mark
tk_dctl 1 bad reload
tk_log "answer: $(cat "$TK_TMP/bad.out" "$TK_TMP/bad.err")"
# Whole paths would not fit in the answer: they are relative to the
# configuration's directory.
tk_expect_grep "$TK_TMP/bad.err" "keeping the previous configuration: 4 errors \\(in $TK_FX/\\): "
tk_expect_grep "$TK_TMP/bad.err" "[:;] tlskeyd.conf:$l1: identity gone1.example.test: certificate file no-such-cert-1.pem: "
tk_expect_grep "$TK_TMP/bad.err" "; tlskeyd.conf:$l2: identity gone2.example.test: certificate file no-such-cert-2.pem: "
tk_expect_grep "$TK_TMP/bad.err" "; tlskeyd.conf: priority 'NORMAL:\\+NO-SUCH-THING': "
tk_expect_grep "$TK_TMP/bad.err" "; acl.conf:$la: unknown user 'nosuch$$'"
# The log has each in full.
tk_log_expect "reload: keeping the previous configuration: 4 errors"
tk_log_expect "reload error: $CONF:$l1: identity gone1.example.test: certificate file $TK_FX/no-such-cert-1.pem"
tk_log_expect "reload error: $CONF:$l2: identity gone2.example.test: "
tk_log_expect "reload error: $CONF: priority "
tk_log_expect "reload error: $ACL:$la: unknown user"
tk_log_expect "audit: event=acl-reload .*result=EINVAL"
# Everything as the last good configuration says.
cl c4-new ok new@example.test "$ROGUE"
cl c4-carol ENOKEY carol@example.test "$ROGUE"
cl c4-gone ENOKEY gone1.example.test "$ROGUE"
cl c4-good EKEYREJECTED alice@example.test "$GOOD"
cl c4-rogue ok alice@example.test "$ROGUE"

# ---- back to the good configuration and the first CA ------------------------------
cp "$TK_TMP/good.acl" "$ACL"
sed "s#^ca-file = .*#ca-file = $TK_FX/ca.pem#" "$TK_TMP/good.conf" >"$CONF"
reload_ok r5 5
cl c5-good ok alice@example.test "$GOOD"
cl c5-rogue EKEYREJECTED alice@example.test "$ROGUE"
tk_legit_check after
tk_pass
