#!/bin/bash
# map-user rules with the real daemon: the remote peer (gnutls-cli with
# bob@example.test) must map to an existing local account.
#   - "map bob@example.test <existing user>": the handshake succeeds
#   - no map line matching bob: EACCES
#   - "%u" giving a name with no local account: EACCES
#   - "-" stops the search before a later line would map bob: EACCES
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli getent
tk_setup
ACL=$TK_FX/acl.conf
# An account that exists everywhere, that a name would never collide with.
LOCAL=
for u in daemon nobody "$TK_ME"; do
	if getent passwd "$u" >/dev/null; then LOCAL=$u; break; fi
done
[ -n "$LOCAL" ] || tk_skip "no local account to map to"

tk_acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map bob@example.test $LOCAL"
tk_acl_server mapped ok server.example.test peer-user
tk_expect_line "$TK_TMP/mapped.err" "PEER=bob@example.test"
tk_dctl 0 t-mapped acl test --user "$TK_ME" --myname server.example.test --role server \
	--peer bob@example.test
tk_expect_line "$TK_TMP/t-mapped.out" "mapped-user: $LOCAL"

# No map line for bob.
tk_acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map alice@example.test $LOCAL"
tk_mark
tk_acl_server unmapped EACCES server.example.test peer-user
tk_log_expect "audit: event=handshake-failed uid=$(id -u) .*peer=bob@example.test result=EACCES .*maps to no local user"
tk_dctl 1 t-unmapped acl test --user "$TK_ME" --myname server.example.test --role server \
	--peer bob@example.test

# %u: bob -> "bob", which must exist as a local account.
if getent passwd bob >/dev/null; then
	tk_log "a local account 'bob' exists: %u case skipped"
else
	tk_acl_set "allow user:$TK_ME server.example.test server map-user" "map *@example.test %u"
	tk_mark
	tk_acl_server percent-u EACCES server.example.test peer-user
	tk_log_expect "audit: event=handshake-failed .*peer=bob@example.test result=EACCES .*maps to bob, which is not a local account"
	tk_dctl 1 t-percent-u acl test --user "$TK_ME" --myname server.example.test --role server \
		--peer bob@example.test
	tk_expect_line "$TK_TMP/t-percent-u.out" "mapped-user: bob (refused: no such local account)"
fi

# "-" ends the search: the catch-all after it is never reached for bob.
tk_acl_set "allow user:$TK_ME server.example.test server map-user" \
	"map bob@example.test -" "map *@example.test $LOCAL"
tk_acl_server dash EACCES server.example.test peer-user
# Edit the map with tlskeyctl: drop the "-" line, and bob maps again.
tk_dctl 0 rm-dash acl remove --reload --line 3
tk_expect_line "$TK_TMP/rm-dash.out" "removed $ACL:3: map bob@example.test -"
tk_acl_server dash-removed ok server.example.test peer-user
tk_expect_line "$TK_TMP/dash-removed.err" "PEER=bob@example.test"
tk_pass
