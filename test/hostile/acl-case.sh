#!/bin/bash
# Finding 1: a deny rule on a user identity must not be bypassed by
# spelling the identity in another case.  With
#     deny  user:U alice@example.test any
#     allow user:U @example.test      client
# the account U (another uid) asks for alice's key as ALICE@example.test,
# Alice@EXAMPLE.TEST, alice@EXAMPLE.TEST ...  The daemon must resolve the
# spelling to a configured identity first, with the same case rule as the
# ACL (domain case-insensitive, local part exact: doc/acl.md), and judge
# and report only the configured name:
#   - a spelling whose local part differs is no configured identity: ENOKEY
#     (it used to pass the ACL as "another user" and get alice's key)
#   - a spelling that is alice's (domain case only) is alice: EACCES, and the
#     acl-denied record names alice@example.test
#   - other users at example.test are still served, in any domain case, and
#     tlskey_query() reports the configured name
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "runs the attacker under another uid"
tk_need gnutls-serv
tk_setup
tk_make_test_user
U=$TK_TEST_USER
tk_peer_serv

tk_acl_set "deny user:$U alice@example.test any" \
	"allow user:$U @example.test client" \
	"allow user:$TK_ME * client,server"

# The straightforward request is denied, as the rule says.
tk_mark
AS_USER=1 tk_acl_client plain EACCES alice@example.test
tk_log_expect "audit: event=acl-denied uid=$TK_TEST_UID .*myname=alice@example.test role=client .*result=EACCES rule=$TK_FX/acl.conf:2"

# Other case in the local part: not alice, and no key of that name.
for name in ALICE@example.test Alice@example.test aLiCe@example.test Alice@EXAMPLE.TEST ALICE@Example.Test; do
	tk_mark
	AS_USER=1 tk_acl_client "case-$name" ENOKEY "$name"
	tk_expect_grep "$TK_TMP/case-$name.err" "no key configured for $name"
	if tk_log_since | grep -E "event=established uid=$TK_TEST_UID " >/dev/null; then
		tk_fail "$name: the attacker got a session"
	fi
done

# Other case in the domain only: that is alice, and alice is denied; the
# audit record names the configured identity, not the caller's spelling.
for name in alice@EXAMPLE.TEST alice@Example.test alice@example.TEST; do
	tk_mark
	AS_USER=1 tk_acl_client "dom-$name" EACCES "$name"
	tk_log_expect "audit: event=acl-denied uid=$TK_TEST_UID .*myname=alice@example.test role=client .*result=EACCES rule=$TK_FX/acl.conf:2"
done
tk_dctl 1 test-alice acl test --user "$U" --myname alice@example.test --role client
tk_expect_line "$TK_TMP/test-alice.out" "deny"

# The allow rule still works, whatever the domain's case; the session is
# recorded and reported under the configured name.
tk_mark
AS_USER=1 tk_acl_client carol ok carol@example.test
AS_USER=1 tk_acl_client carol-case ok carol@EXAMPLE.Test --query
tk_log_expect "audit: event=established uid=$TK_TEST_UID .*myname=carol@example.test role=client .*rule=$TK_FX/acl.conf:3"
tk_expect_grep "$TK_TMP/carol-case.err" "^QUERY .* local=carol@example.test( |$)"
if tk_log_since | grep -F "carol@EXAMPLE.Test" | grep -E "event=(established|acl-denied)" >/dev/null; then
	tk_fail "an audit record carries the caller's spelling carol@EXAMPLE.Test"
fi
tk_legit_check after
tk_pass
