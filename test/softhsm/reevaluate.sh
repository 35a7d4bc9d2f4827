#!/bin/bash
# Re-evaluation of live sessions (doc/config.md, "reevaluate"): two
# sessions relay through the daemon (app server <- gnutls-cli as bob,
# and as dave).  Bob's certificate is revoked in the CRL and the daemon
# reloaded: with reevaluate = end (the default) bob's session ends (the
# app reads ECONNRESET; audit records event=reevaluate reason=revoked and
# session-end end=revoked) while dave's keeps relaying.  With log, bob's
# session is noted and keeps relaying; with off nothing is written.  An
# ACL change that takes the caller's right away ends its session too
# (reason=acl), as does narrowing peers= (acl-peer) and removing the
# identity (identity-removed), and so does removing the [peer] pin that
# admitted a peer without a CA (reason=untrusted; a reload that keeps the
# pin keeps the session).  The first revocation comes from the CRL file
# changing, without a SIGHUP.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli certtool
tk_setup --no-daemon

tk_user_cert dave dave@example.test

# ended NAME: the app of session NAME saw its stream reset.
ended() {
	local pid rc=0
	eval "pid=\$APP_$1"
	tk_wait_pid "$pid" 10 || rc=$?
	[ "$rc" != 0 ] || tk_fail "session $1: the app exited 0, its session was not cut"
	tk_expect_grep "$TK_TMP/$1.err" "RELAY-ERROR .*ECONNRESET"
}
close_session() {
	local fd pid
	eval "fd=\$FD_$1"
	exec {fd}>&-
	eval "pid=\$APP_$1"
	tk_wait_ok "$pid" 20 "app of $1" "$TK_TMP/$1.err"
}
reload() {
	tk_mark
	kill -HUP "$TK_DAEMON_PID"
	tk_wait_log "ACL loaded from" 5 || tk_fail "no reload"
}
BOB=("$TK_FX/peer-user.pem" "$TK_FX/peer-user.key")
DAVE=("$TK_TMP/dave.pem" "$TK_TMP/dave.key")

# ---- reevaluate = end (default) ---------------------------------------------
tk_crl_make "$TK_TMP/crl.pem"
tk_conf end "crl-file=$TK_TMP/crl.pem"
tk_daemon_start "$TK_TMP/end.conf" || tk_fail "daemon did not start"
tk_live_open bob1 "${BOB[@]}"
tk_live_open dave1 "${DAVE[@]}"
# No SIGHUP: the new CRL file itself is noticed (inotify) and reloaded.
tk_mark
tk_crl_make "$TK_TMP/crl.pem" "$TK_FX/peer-user.pem"
tk_wait_log "a CRL file changed: reloading" 5 || tk_fail "the new CRL was not noticed"
tk_wait_log "audit: event=reevaluate .*peer=bob@example.test result=EKEYREVOKED .*reason=revoked" ||
	tk_fail "no reevaluate record for bob"
tk_wait_log "audit: event=session-end .*peer=bob@example.test .*end=revoked .*reason=revoked" ||
	tk_fail "no session-end end=revoked for bob"
ended bob1
tk_live_relays dave1 "dave after the reload"
tk_no_log "event=reevaluate .*peer=dave@example.test" || tk_fail "dave's session was re-evaluated as failed"
# A new handshake as bob is refused as well.
tk_srv_cli bob-new --expect-errno EKEYREJECTED -- --x509certfile "${BOB[0]}" --x509keyfile "${BOB[1]}"
close_session dave1

# ---- reevaluate = log -----------------------------------------------------------
tk_crl_make "$TK_TMP/crl.pem"
tk_conf log "crl-file=$TK_TMP/crl.pem" "reevaluate=log"
cp "$TK_TMP/log.conf" "$TK_TMP/cur.conf"
tk_daemon_start "$TK_TMP/cur.conf" || tk_fail "daemon (log) did not start"
tk_live_open bob2 "${BOB[@]}"
tk_crl_make "$TK_TMP/crl.pem" "$TK_FX/peer-user.pem"
reload
tk_wait_log "audit: event=reevaluate .*peer=bob@example.test result=EKEYREVOKED .*reason=revoked .*kept \\(reevaluate = log\\)" ||
	tk_fail "no reevaluate record in log mode"
tk_live_relays bob2 "bob after the reload, log mode"
tk_no_log "end=revoked" || tk_fail "log mode ended a session"

# ---- reevaluate = off: the same reload writes nothing -------------------------------
tk_conf off "crl-file=$TK_TMP/crl.pem" "reevaluate=off"
cp "$TK_TMP/off.conf" "$TK_TMP/cur.conf"
reload
tk_live_relays bob2 "bob after the reload, off"
reload
tk_live_relays bob2 "bob after the second reload, off"
tk_no_log "event=reevaluate" || tk_fail "reevaluate = off wrote a record"
close_session bob2

# ---- a peer admitted by a [peer] pin: checked against the new pins ------------------
MAL=("$TK_FX/rogue-user.pem" "$TK_FX/rogue-user.key")
tk_crl_make "$TK_TMP/crl.pem"
tk_conf pinned "crl-file=$TK_TMP/crl.pem" -- "[peer mallory@example.test]" \
	"pin-sha256 = $(tk_spki_pin "$TK_FX/rogue-user.pem")"
tk_conf unpinned "crl-file=$TK_TMP/crl.pem"
cp "$TK_TMP/pinned.conf" "$TK_TMP/cur.conf"
tk_daemon_start "$TK_TMP/cur.conf" || tk_fail "daemon (pins) did not start"
tk_live_open mal1 "${MAL[@]}"
reload
tk_live_relays mal1 "mallory after a reload that keeps her pin"
tk_no_log "event=reevaluate .*peer=mallory@example.test" || tk_fail "a kept pin failed the re-evaluation"
cp "$TK_TMP/unpinned.conf" "$TK_TMP/cur.conf"
reload
tk_wait_log "audit: event=reevaluate .*peer=mallory@example.test result=EKEYREVOKED .*reason=untrusted" ||
	tk_fail "no reevaluate record for the peer whose pin was removed"
ended mal1

# ---- an ACL change ends the caller's session (reason=acl) ----------------------------
tk_crl_make "$TK_TMP/crl.pem"
tk_daemon_start "$TK_TMP/end.conf" || tk_fail "daemon did not start"
tk_live_open bob3 "${BOB[@]}"
cp "$TK_FX/acl.conf" "$TK_TMP/acl.saved"
printf 'allow user:%s alice@example.test client\n' "$(id -un)" >"$TK_FX/acl.conf"
reload
tk_wait_log "audit: event=reevaluate .*myname=server.example.test .*result=EACCES .*reason=acl" ||
	tk_fail "no reevaluate record for the ACL change"
ended bob3
cp "$TK_TMP/acl.saved" "$TK_FX/acl.conf"
reload
# ... and peers= narrowed to someone else ends it too (reason=acl-peer).
tk_live_open bob4 "${BOB[@]}"
printf 'allow user:%s * client,server peers=dave@example.test\n' "$(id -un)" >"$TK_FX/acl.conf"
reload
tk_wait_log "audit: event=reevaluate .*peer=bob@example.test .*reason=acl-peer" ||
	tk_fail "no reevaluate record for peers="
ended bob4
cp "$TK_TMP/acl.saved" "$TK_FX/acl.conf"
reload
# ... and so does the identity leaving the configuration.
tk_live_open bob5 "${BOB[@]}"
awk '/^\[identity server.example.test\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' \
	"$TK_TMP/end.conf" >"$TK_TMP/end.new" && mv "$TK_TMP/end.new" "$TK_TMP/end.conf"
reload
tk_wait_log "audit: event=reevaluate .*myname=server.example.test .*reason=identity-removed" ||
	tk_fail "no reevaluate record for the removed identity"
ended bob5
tk_done
