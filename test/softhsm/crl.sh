#!/bin/bash
# CRLs (doc/config.md, "Revocation"): with crl-file, a revoked client
# certificate (bob) is refused with EKEYREJECTED and an audit record
# reason=revoked, another one of the same CA (dave) is accepted; without
# the CRL bob is accepted (the test would see a missing feature).  A CRL
# past its nextUpdate is refused (reason=crl-expired) unless
# crl-expired = accept, and it is still used then.  A reload with a
# malformed CRL, or one not signed by a trust anchor, keeps the old
# generation (bob still refused), and so does a file changed while the
# daemon runs, which is picked up without SIGHUP (inotify).  crl-dir works
# the same way; an untrusted (group-writable) file or a FIFO is refused.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli certtool
tk_setup

# dave@example.test: a client certificate of the CA that no CRL lists.
tk_user_cert dave dave@example.test

# crl OUT CA DATES [CERT]: a CRL of CA (ca or rogue-ca) revoking CERT.
crl() {
	local out=$1 ca=$2 dates=$3 revoked=${4:-}
	printf 'crl_number = %d\n%s\n' "$RANDOM" "$dates" >"$out.tmpl"
	certtool --generate-crl --load-ca-privkey "$TK_FX/$ca.key" --load-ca-certificate "$TK_FX/$ca.pem" \
		${revoked:+--load-certificate "$revoked"} --template "$out.tmpl" --no-text \
		--outfile "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; tk_fail "cannot make $out"; }
}
FRESH='crl_next_update = 30'
OLD='crl_this_update_date = "2020-01-01 00:00:00 UTC"
crl_next_update_date = "2020-02-01 00:00:00 UTC"'

bob() { # NAME [--expect-errno E]
	local n=$1
	shift
	tk_srv_cli "$n" "$@" -- --x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key"
}
dave() {
	local n=$1
	shift
	tk_srv_cli "$n" "$@" -- --x509certfile "$TK_TMP/dave.pem" --x509keyfile "$TK_TMP/dave.key"
}
hup() { # what must appear in the log
	tk_mark
	kill -HUP "$TK_DAEMON_PID"
	tk_wait_log "$1" 5 || tk_fail "reload: no '$1'"
}

# Without a CRL bob is a valid peer.
bob no-crl
tk_expect_line "$TK_TMP/no-crl.err" "PEER=bob@example.test"

# ---- crl-file: bob revoked, dave accepted -----------------------------------
crl "$TK_TMP/crl.pem" ca "$FRESH" "$TK_FX/peer-user.pem"
tk_conf crl "crl-file=$TK_TMP/crl.pem"
tk_daemon_start "$TK_TMP/crl.conf" || tk_fail "daemon with crl-file did not start"
tk_mark
bob revoked --expect-errno EKEYREJECTED
tk_wait_log "audit: event=handshake-failed .*myname=server.example.test role=server .*result=EKEYREJECTED .*reason=revoked" ||
	tk_fail "no audit record with reason=revoked"
dave dave-ok
tk_expect_line "$TK_TMP/dave-ok.err" "PEER=dave@example.test"

# ---- a malformed CRL on reload: the old generation stays ------------------
cp "$TK_TMP/crl.pem" "$TK_TMP/crl.good"
printf -- '-----BEGIN X509 CRL-----\nnot a CRL\n-----END X509 CRL-----\n' >"$TK_TMP/crl.pem"
hup "keeping the previous configuration: .*crl-file $TK_TMP/crl.pem"
bob revoked-after-bad --expect-errno EKEYREJECTED
# A CRL of another CA (not an anchor here) cannot revoke anything.
crl "$TK_TMP/crl.pem" rogue-ca "$FRESH" "$TK_FX/peer-user.pem"
hup "keeping the previous configuration: .*not signed by a trust anchor"
bob revoked-after-rogue --expect-errno EKEYREJECTED
cp "$TK_TMP/crl.good" "$TK_TMP/crl.pem"

# ---- an expired CRL: refused, unless crl-expired = accept -----------------
crl "$TK_TMP/old.pem" ca "$OLD"
tk_conf old "crl-file=$TK_TMP/old.pem"
tk_daemon_start "$TK_TMP/old.conf" || tk_fail "daemon with an expired CRL did not start"
tk_mark
dave expired --expect-errno EKEYREJECTED
tk_wait_log "audit: event=handshake-failed .*result=EKEYREJECTED .*reason=crl-expired" ||
	tk_fail "no audit record with reason=crl-expired"
crl "$TK_TMP/old-bob.pem" ca "$OLD" "$TK_FX/peer-user.pem"
tk_conf oldok "crl-file=$TK_TMP/old-bob.pem" "crl-expired=accept"
tk_daemon_start "$TK_TMP/oldok.conf" || tk_fail "daemon with crl-expired = accept did not start"
dave expired-accepted
tk_expect_line "$TK_TMP/expired-accepted.err" "PEER=dave@example.test"
tk_mark
bob expired-still-revokes --expect-errno EKEYREJECTED
tk_wait_log "reason=revoked" || tk_fail "an accepted expired CRL did not revoke bob"

# ---- the CRL file changes while the daemon runs: no SIGHUP needed ----------
mkdir -m 755 "$TK_TMP/w"
crl "$TK_TMP/w/crl.pem" ca "$FRESH"
tk_conf watch "crl-file=$TK_TMP/w/crl.pem"
tk_daemon_start "$TK_TMP/watch.conf" || tk_fail "daemon (watch) did not start"
bob watch-before
# Another file in the same directory is none of our business.
tk_mark
echo x >"$TK_TMP/w/other.txt"
tk_no_log "a CRL file changed" || tk_fail "an unrelated file triggered a reload"
# Replaced by rename, as tools write files.
tk_mark
crl "$TK_TMP/w/new.pem" ca "$FRESH" "$TK_FX/peer-user.pem"
mv "$TK_TMP/w/new.pem" "$TK_TMP/w/crl.pem"
tk_wait_log "a CRL file changed: reloading" 5 || tk_fail "the replaced CRL was not noticed"
tk_wait_log "ACL loaded from .*generation 2" 5 || tk_fail "no reload after the CRL changed"
bob watch-revoked --expect-errno EKEYREJECTED
# Overwritten in place with garbage: logged, the old CRL stays.
tk_mark
printf 'garbage\n' >"$TK_TMP/w/crl.pem"
tk_wait_log "reload: keeping the previous configuration: .*crl-file $TK_TMP/w/crl.pem" 5 ||
	tk_fail "a malformed CRL was not reported"
bob watch-still-revoked --expect-errno EKEYREJECTED
dave watch-dave

# ---- crl-dir -----------------------------------------------------------------
mkdir -m 755 "$TK_TMP/crls"
cp "$TK_TMP/crl.good" "$TK_TMP/crls/ca.crl"
tk_conf dir "crl-dir=$TK_TMP/crls"
tk_daemon_start "$TK_TMP/dir.conf" || tk_fail "daemon with crl-dir did not start"
bob dir-revoked --expect-errno EKEYREJECTED
dave dir-dave
# A group-writable CRL is not trusted: the reload fails.
chmod 664 "$TK_TMP/crls/ca.crl"
hup "keeping the previous configuration"
chmod 644 "$TK_TMP/crls/ca.crl"
# A FIFO as crl-file is refused at once, not read (it would block).
mkfifo "$TK_TMP/fifo.crl"
tk_conf fifo "crl-file=$TK_TMP/fifo.crl"
tk_check_t fifo "$TK_TMP/fifo.conf"
[ "$TK_RC" != 0 ] && [ "$TK_RC" != 124 ] || tk_fail "tlskeyd -t with a FIFO crl-file: exit $TK_RC"
tk_expect_grep "$TK_TMP/fifo.t" "crl-file $TK_TMP/fifo.crl is not a regular file \\(a FIFO\\)"
tk_done
