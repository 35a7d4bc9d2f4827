#!/bin/bash
# tlskeyctl acl test used to print an unnamed rule and hex flags for a
# denial (doc/acl.md promised "rule x:3 would have allowed this").  Now it
# lists near misses: allow rules that fail the request on exactly one of
# role, subject, myname or flags, by number and line, with flag names.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon
TLSKEYCTL=${TLSKEYCTL:-$top_builddir/tlskeyctl}
tk_built "$TLSKEYCTL"
me=$(id -un)

# A user that does not exist is an error: use uid 4242 for "another user".
cat >"$TK_TMP/near.acl" <<ACL
allow uid:4242 server.example.test server
allow user:$me server.example.test client
allow user:$me *.other.test server
allow user:$me server.example.test server
deny any * any
ACL
chmod 644 "$TK_TMP/near.acl"
rc=0
timeout 30 "$TLSKEYCTL" --acl "$TK_TMP/near.acl" acl test --user "$me" --myname server.example.test \
	--role server --flags skip-authorization >"$TK_TMP/near.out" 2>&1 || rc=$?
cat "$TK_TMP/near.out" >&2
[ "$rc" != 0 ] || tk_fail "acl test allowed a request every rule denies"
tk_expect_grep "$TK_TMP/near.out" '^deny$'
tk_expect_grep "$TK_TMP/near.out" '^note: an allow rule matched but does not grant the requested flags skip-authorization$'
tk_expect_grep "$TK_TMP/near.out" '^near miss: rule 4 matched but for the flags \(it does not grant skip-authorization\): .*near\.acl:4: allow '
# Rules 1-3 each miss on more than flags (flags were asked): no near miss.
if grep -E '^near miss: rule [123] ' "$TK_TMP/near.out" >/dev/null; then
	tk_fail "rules missing on two counts were reported as near misses"
fi

rc=0
timeout 30 "$TLSKEYCTL" --acl "$TK_TMP/near.acl" acl test --user "$me" --myname server.example.test \
	--role client >"$TK_TMP/near2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || tk_fail "acl test denied what rule 2 allows: $(cat "$TK_TMP/near2.out")"
if grep '^near miss' "$TK_TMP/near2.out" >/dev/null; then
	tk_fail "near misses printed for an allowed request"
fi

# Without flags: rule 1 (subject), rule 2 (role), rule 3 (myname) are
# near misses before rule 4 decides.
sed -i '4d' "$TK_TMP/near.acl"
rc=0
timeout 30 "$TLSKEYCTL" --acl "$TK_TMP/near.acl" acl test --user "$me" --myname server.example.test \
	--role server >"$TK_TMP/near3.out" 2>&1 || rc=$?
cat "$TK_TMP/near3.out" >&2
[ "$rc" != 0 ] || tk_fail "acl test allowed a request only the deny rule matches"
tk_expect_grep "$TK_TMP/near3.out" '^near miss: rule 1 matched but for the subject: .*near\.acl:1: allow uid:4242 '
tk_expect_grep "$TK_TMP/near3.out" '^near miss: rule 2 matched but for the role: .*near\.acl:2: allow user:'
tk_expect_grep "$TK_TMP/near3.out" '^near miss: rule 3 matched but for the myname: .*near\.acl:3: allow user:'
tk_pass
