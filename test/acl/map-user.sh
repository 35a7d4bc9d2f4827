#!/bin/bash
# map-user rules with the real daemon: the remote peer (gnutls-cli with
# bob@example.test) must map to an existing local account.
#   - "map bob@example.test <existing user>": the handshake succeeds
#   - no map line matching bob: EACCES
#   - "%u" giving a name with no local account: EACCES
#   - "-" stops the search before a later line would map bob: EACCES
. "${top_srcdir:-.}/test/softhsm/lib.sh"
. "$top_srcdir/test/acl/lib.sh"
tk_need gnutls-cli getent
tk_setup
ACL=$TK_FX/acl.conf
# An account that exists everywhere, that a name would never collide with.
LOCAL=
for u in daemon nobody "$TK_ME"; do
	if getent passwd "$u" >/dev/null; then LOCAL=$u; break; fi
done
[ -n "$LOCAL" ] || tk_skip "no local account to map to"

acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map bob@example.test $LOCAL"
app_server mapped ok server.example.test peer-user
tk_expect_line "$TK_TMP/mapped.err" "PEER=bob@example.test"
dctl 0 t-mapped acl test --user "$TK_ME" --myname server.example.test --role server \
	--peer bob@example.test
tk_expect_line "$TK_TMP/t-mapped.out" "mapped-user: $LOCAL"

# No map line for bob.
acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map alice@example.test $LOCAL"
log_mark
app_server unmapped EACCES server.example.test peer-user
log_expect "audit: event=handshake-failed uid=$(id -u) .*peer=bob@example.test result=EACCES .*maps to no local user"
dctl 1 t-unmapped acl test --user "$TK_ME" --myname server.example.test --role server \
	--peer bob@example.test

# %u: bob -> "bob", which must exist as a local account.
if getent passwd bob >/dev/null; then
	tk_log "a local account 'bob' exists: %u case skipped"
else
	acl_set "allow user:$TK_ME server.example.test server map-user" "map *@example.test %u"
	log_mark
	app_server percent-u EACCES server.example.test peer-user
	log_expect "audit: event=handshake-failed .*peer=bob@example.test result=EACCES .*maps to bob, which is not a local account"
	dctl 1 t-percent-u acl test --user "$TK_ME" --myname server.example.test --role server \
		--peer bob@example.test
	tk_expect_line "$TK_TMP/t-percent-u.out" "mapped-user: bob (refused: no such local account)"
fi

# "-" ends the search: the catch-all after it is never reached for bob.
acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map bob@example.test -" "map *@example.test $LOCAL"
app_server dash EACCES server.example.test peer-user
# Edit the map with tlskeyctl: drop the "-" line, and bob maps again.
dctl 0 rm-dash acl remove --reload --line 3
tk_expect_line "$TK_TMP/rm-dash.out" "removed $ACL:3: map bob@example.test -"
app_server dash-removed ok server.example.test peer-user
tk_expect_line "$TK_TMP/dash-removed.err" "PEER=bob@example.test"
tk_pass
