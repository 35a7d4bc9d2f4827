#!/bin/bash
# Finding 9: the daemon read only 64 supplementary groups, so a
# "deny group:G" rule failed open for a caller in more groups than that
# whose G was past the 64th (the kernel lists them sorted by gid).  A test
# account is made a member of 70 more groups (created here, removed on
# exit) and denied by its highest-gid group:
#   - the account is refused (EACCES, acl-denied naming the deny rule)
#   - without the deny rule it is served (the allow rule works)
#   - "tlskeyctl acl test" agrees
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "creates groups and a local account"
tk_need gnutls-serv groupadd groupdel usermod
tk_setup
tk_make_test_user
U=$TK_TEST_USER
MANY=()
many_cleanup() {
	local rc=$? g
	set +e
	tk_daemon_stop
	# The account goes first (tk_acl_cleanup), so no group is anyone's any more.
	for g in "${MANY[@]}"; do
		tk_retry groupdel "$g" || echo "WARNING: could not delete group $g" >&2
	done
	(exit "$rc")
	tk_acl_cleanup
}
trap many_cleanup EXIT
for i in $(seq 70); do
	g=tkg$$-$i
	tk_retry groupadd -r "$g" || tk_fail "groupadd $g failed"
	MANY+=("$g")
done
tk_retry usermod -a -G "$(IFS=,; echo "${MANY[*]}")" "$U" || tk_fail "usermod -G failed"
n=$(id -G "$U" | wc -w)
[ "$n" -gt 66 ] || tk_fail "$U is in only $n groups"
# The highest gid: last in the kernel's sorted list, so past the 64th.
top=$(for g in "${MANY[@]}"; do getent group "$g" | cut -d: -f3; done | sort -n | tail -n 1)
G=$(getent group "$top" | cut -d: -f1)
tk_log "$U is in $n groups; denying by $G (gid $top)"
tk_peer_serv

tk_acl_set "deny group:$G alice@example.test any" \
	"allow user:$U alice@example.test client" \
	"allow user:$TK_ME * client,server"
tk_mark
AS_USER=1 tk_acl_client denied EACCES alice@example.test
tk_log_expect "audit: event=acl-denied uid=$TK_TEST_UID .*myname=alice@example.test .*result=EACCES rule=$TK_FX/acl.conf:2"
tk_dctl 1 t-denied acl test --user "$U" --myname alice@example.test --role client
tk_expect_grep "$TK_TMP/t-denied.out" "^rule: 1 $TK_FX/acl.conf:2: deny group:$G "

# The same account without the deny rule: served, so the refusal above was the group.
tk_acl_set "allow user:$U alice@example.test client" \
	"allow user:$TK_ME * client,server"
AS_USER=1 tk_acl_client allowed ok alice@example.test

tk_legit_check after
tk_pass
