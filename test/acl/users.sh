#!/bin/bash
# The ACL with the real daemon and a second local account (created here,
# deleted on exit):
#   - the account is refused a key root may use: EACCES in the app, an
#     acl-denied audit record with its uid (and a unit= field)
#   - a group: rule naming a group it is a supplementary member of admits
#     it after "tlskeyctl reload" (names are resolved at load time), and
#     "tlskeyctl acl test" agrees with the daemon
#   - a unit: rule admits it by the unit the daemon saw, where the daemon
#     sees one; systemd-run where systemd runs
#   - it may not reload the daemon (EPERM)
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "creates a local account"
tk_need gnutls-serv
tk_setup
tk_make_test_user
U=$TK_TEST_USER
G=$TK_TEST_GROUP
tk_log "test account $U (uid $TK_TEST_UID), group $G"
tk_peer_serv

tk_acl_set "allow user:$TK_ME alice@example.test client"

# ---- refused, while root may -------------------------------------------------
tk_acl_client root-ok ok alice@example.test
tk_mark
AS_USER=1 tk_acl_client user-denied EACCES alice@example.test
tk_log_expect "audit: event=acl-denied uid=$TK_TEST_UID gid=$TK_TEST_GID pid=[0-9]+ unit=[^ ]+ myname=alice@example.test role=client .*result=EACCES rule=\"default deny\""
unit=$(tk_log_since | sed -n "s/.*audit: event=acl-denied uid=$TK_TEST_UID .* unit=\\([^ ]*\\) .*/\\1/p" | head -n 1)
tk_log "the daemon saw the test account's process in unit '$unit'"
tk_dctl 1 test-denied acl test --user "$U" --myname alice@example.test --role client
tk_expect_line "$TK_TMP/test-denied.out" "deny"

# ---- group: rule, after a reload -----------------------------------------------
tk_dctl 0 add-group acl add allow "group:$G" alice@example.test client
tk_expect_grep "$TK_TMP/add-group.err" "tlskeyctl reload"
# Not in force before the reload.
AS_USER=1 tk_acl_client user-before-reload EACCES alice@example.test
tk_dctl 0 reload-group reload
tk_expect_grep "$TK_TMP/reload-group.out" "^ACL loaded from $TK_FX/acl.conf \\(2 rules\\)"
tk_mark
AS_USER=1 tk_acl_client user-group ok alice@example.test
tk_log_expect "audit: event=established uid=$TK_TEST_UID .*myname=alice@example.test role=client .*result=ok rule=$TK_FX/acl.conf:3"
# tlskeyctl finds the supplementary group in the user database, as the
# daemon found it in the process.
tk_dctl 0 test-group acl test --user "$U" --myname alice@example.test --role client
tk_expect_line "$TK_TMP/test-group.out" "rule: 2 $TK_FX/acl.conf:3: allow group:$G alice@example.test client # gid=$(getent group "$G" | cut -d: -f3)"
# Only where it applies: other identities and roles stay refused.
AS_USER=1 tk_acl_client user-group-other EACCES carol@example.test

tk_dctl 0 remove-group acl remove --reload 2
tk_expect_grep "$TK_TMP/remove-group.out" "^ACL loaded from "
AS_USER=1 tk_acl_client user-group-removed EACCES alice@example.test

# ---- unit: rule ---------------------------------------------------------------------
if [ -n "$unit" ] && [ "$unit" != - ]; then
	tk_dctl 0 add-unit acl add --reload allow "unit:$unit" alice@example.test client
	tk_mark
	AS_USER=1 tk_acl_client user-unit ok alice@example.test
	tk_log_expect "audit: event=established uid=$TK_TEST_UID .*unit=$unit .*rule=$TK_FX/acl.conf:3"
	tk_dctl 0 test-unit acl test --user "$U" --unit "$unit" --myname alice@example.test --role client
	tk_dctl 1 test-unit-other acl test --user "$U" --unit "x$unit" --myname alice@example.test --role client
	tk_dctl 0 remove-unit acl remove --reload 2
else
	tk_log "the daemon sees no unit for processes here: unit: rule case skipped"
fi
if [ "$(ps -o comm= -p 1 2>/dev/null)" = systemd ] && command -v systemd-run >/dev/null &&
	systemctl is-system-running >/dev/null 2>&1; then
	tunit=tlskeytest-$$.service
	tk_dctl 0 add-transient acl add --reload allow "unit:$tunit" alice@example.test client
	printf 'hello from a transient unit\n' >"$TK_TMP/transient.in"
	rc=0
	timeout 60 systemd-run --quiet --wait --pipe --collect --unit="$tunit" \
		-p User="$U" --setenv=TLSKEYD_SOCKET="$TLSKEYD_SOCKET" \
		"$TK_APP" client --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
		--sni peer.example.test <"$TK_TMP/transient.in" >"$TK_TMP/transient.out" \
		2>"$TK_TMP/transient.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$TK_TMP/transient.err" >&2; tk_fail "tk-app in $tunit: exit $rc"; }
	tk_same "$TK_TMP/transient.in" "$TK_TMP/transient.out"
	tk_expect_grep "$TK_TMP/tlskeyd.log" "audit: event=established uid=$TK_TEST_UID .*unit=$tunit "
	tk_dctl 0 remove-transient acl remove --reload 2
else
	tk_log "PID 1 is not a running systemd: systemd-run transient unit case skipped"
fi

# ---- only administrators reload --------------------------------------------------
rc=0
setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups \
	"$TLSKEYCTL" -s "$TLSKEYD_SOCKET" reload >"$TK_TMP/user-reload.out" 2>"$TK_TMP/user-reload.err" || rc=$?
[ "$rc" = 1 ] || { cat "$TK_TMP/user-reload.err" >&2; tk_fail "reload as $U: exit $rc, wanted 1"; }
tk_expect_grep "$TK_TMP/user-reload.err" "Operation not permitted"
tk_expect_grep "$TK_TMP/tlskeyd.log" "audit: event=acl-reload uid=$TK_TEST_UID .*result=EPERM"

tk_acl_client root-still-ok ok alice@example.test
tk_pass
