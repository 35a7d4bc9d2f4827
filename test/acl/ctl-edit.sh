#!/bin/bash
# tlskeyctl on ACL files, no daemon: acl list / check / add / remove round
# trips, invalid edits leave the file byte-identical (and exit 1), usage
# errors exit 2, mode and owner survive an edit, concurrent "acl add" from
# 10 processes all land (the lock), and "acl test" decisions with file:line.
. "${top_srcdir:-.}/test/lib/tk.sh"

TK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$TK_NAME.XXXXXX")
trap tk_cleanup EXIT
trap 'exit 130' INT TERM
ACL=$(cd "$TK_TMP" && pwd -P)/acl.conf
cp "$top_srcdir/test/unit/acl-example.conf" "$ACL"
chmod 644 "$ACL"
a() { tk_ctl_expect "$@"; }    # a WANT NAME tlskeyctl-ARGS...
A=(--acl "$ACL")

# unchanged TAG: the ACL is byte-identical to the copy saved as TAG.
save() { cp -p "$ACL" "$TK_TMP/saved-$1"; }
unchanged() { tk_same "$TK_TMP/saved-$1" "$ACL"; }

# ---- check and list ---------------------------------------------------------
a 0 check "${A[@]}" acl check
tk_expect_line "$TK_TMP/check.out" "OK: 6 rules, 3 map lines in $ACL"
a 0 check-arg acl check "$ACL"
tk_expect_line "$TK_TMP/check-arg.out" "OK: 6 rules, 3 map lines in $ACL"
a 0 list "${A[@]}" acl list
[ "$(wc -l <"$TK_TMP/list.out")" = 9 ] || { cat "$TK_TMP/list.out" >&2; tk_fail "acl list: want 9 lines"; }
tk_expect_line "$TK_TMP/list.out" "   1  $ACL:4: allow user:root server.example.test server # uid=0"
tk_expect_line "$TK_TMP/list.out" "   6  $ACL:9: deny user:nobody * client,server # uid=65534"
tk_expect_line "$TK_TMP/list.out" " map  $ACL:14: map *@example.test %u"

# The configuration names the ACL when --acl is not given.
printf 'acl = %s\n' "$ACL" >"$TK_TMP/tlskeyd.conf"
a 0 check-conf -c "$TK_TMP/tlskeyd.conf" acl check
tk_expect_line "$TK_TMP/check-conf.out" "OK: 6 rules, 3 map lines in $ACL"
a 1 no-conf -c "$TK_TMP/missing.conf" acl list
tk_expect_grep "$TK_TMP/no-conf.err" "missing.conf"
printf 'socket = /tmp/x.sock\n' >"$TK_TMP/noacl.conf"
a 1 no-acl-setting -c "$TK_TMP/noacl.conf" acl list
tk_expect_grep "$TK_TMP/no-acl-setting.err" "noacl.conf: no 'acl' setting"

# ---- add and remove: round trips ----------------------------------------------
save orig
a 0 add "${A[@]}" acl add allow uid:4242 one.example.test client
tk_expect_line "$TK_TMP/add.out" "added rule 7 at $ACL:15"
tk_expect_grep "$TK_TMP/add.err" "tlskeyctl reload"
[ "$(tail -n 1 "$ACL")" = "allow uid:4242 one.example.test client" ] || tk_fail "rule not appended"
a 0 list-2 "${A[@]}" acl list
tk_expect_line "$TK_TMP/list-2.out" "   7  $ACL:15: allow uid:4242 one.example.test client"
a 0 remove "${A[@]}" acl remove 7
tk_expect_line "$TK_TMP/remove.out" "removed $ACL:15: allow uid:4242 one.example.test client"
unchanged orig

# --before: the new rule takes that number; the old one moves down.
a 0 add-before "${A[@]}" acl add --before 2 deny uid:4243 '*' any
tk_expect_line "$TK_TMP/add-before.out" "added rule 2 at $ACL:5"
a 0 list-3 "${A[@]}" acl list
tk_expect_line "$TK_TMP/list-3.out" "   2  $ACL:5: deny uid:4243 * client,server"
tk_expect_line "$TK_TMP/list-3.out" "   3  $ACL:6: allow group:root *.example.test client,server # gid=0"
a 0 remove-line "${A[@]}" acl remove --line 5
unchanged orig

# Map lines, and removing one by its line.
a 0 add-map "${A[@]}" acl add map carol@example.test daemon
tk_expect_line "$TK_TMP/add-map.out" "added map line at $ACL:15"
a 0 remove-map "${A[@]}" acl remove --line 15
unchanged orig

# A last line without a newline gets one before the new rule.
printf 'allow uid:1 a.example.test client' >"$ACL"
a 0 add-nonl "${A[@]}" acl add allow uid:2 b.example.test server
printf 'allow uid:1 a.example.test client\nallow uid:2 b.example.test server\n' >"$TK_TMP/want-nonl"
tk_same "$TK_TMP/want-nonl" "$ACL"
cp -p "$TK_TMP/saved-orig" "$ACL"

# Mode and owner survive an edit; no temporary file is left behind.
chmod 640 "$ACL"
if [ "$(id -u)" = 0 ] && getent group daemon >/dev/null; then
	chgrp daemon "$ACL"
fi
before=$(stat -c '%a %u %g' "$ACL")
a 0 add-mode "${A[@]}" acl add allow uid:4244 m.example.test client
[ "$(stat -c '%a %u %g' "$ACL")" = "$before" ] ||
	tk_fail "mode/owner changed: $before -> $(stat -c '%a %u %g' "$ACL")"
a 0 remove-mode "${A[@]}" acl remove 7
[ -e "$ACL.lock" ] || tk_fail "no lock file $ACL.lock"
if ls -A "$TK_TMP" | grep 'tlskeyctl\.' >/dev/null; then
	ls -la "$TK_TMP" >&2
	tk_fail "temporary file left behind"
fi
chmod 644 "$ACL"
save orig

# ---- invalid edits: exit 1, every error printed, file byte-identical -------
bad_add() { # NAME ERE WORDS...
	local name=$1 ere=$2
	shift 2
	a 1 "bad-$name" "${A[@]}" acl add "$@"
	tk_expect_grep "$TK_TMP/bad-$name.err" "$ere"
	tk_expect_grep "$TK_TMP/bad-$name.err" "$ACL: not changed"
	unchanged orig
}
bad_add unknown-user "^tlskeyctl: $ACL:15: unknown user 'nosuch$$'" allow user:nosuch$$ x.example.test server
bad_add unknown-group "^tlskeyctl: $ACL:15: .*nosuch$$" allow group:nosuch$$ x.example.test server
bad_add pattern "^tlskeyctl: $ACL:15: " allow uid:1 'foo.*.example.test' server
bad_add flag "^tlskeyctl: $ACL:15: .*bogus" allow uid:1 x.example.test client flags=bogus
bad_add deny-options "^tlskeyctl: $ACL:15: " deny uid:1 x.example.test client map-user
bad_add role "^tlskeyctl: $ACL:15: " allow uid:1 x.example.test sideways
bad_add map-target "^tlskeyctl: $ACL:15: " map x@example.test nosuch$$
a 1 bad-before-range "${A[@]}" acl add --before 99 allow uid:1 x.example.test client
tk_expect_grep "$TK_TMP/bad-before-range.err" "no rule 99 in $ACL \\(it has 6\\)"
a 1 bad-remove-range "${A[@]}" acl remove 99
tk_expect_grep "$TK_TMP/bad-remove-range.err" "no rule 99 in $ACL \\(it has 6\\)"
a 1 bad-remove-comment "${A[@]}" acl remove --line 1
tk_expect_grep "$TK_TMP/bad-remove-comment.err" "$ACL:1 holds no rule or map line"
unchanged orig
# Removing the only map line while a map-user rule needs it is refused too.
a 0 rm-map-a "${A[@]}" acl remove --line 13
a 0 rm-map-b "${A[@]}" acl remove --line 12
a 1 bad-remove-last-map "${A[@]}" acl remove --line 12
tk_expect_grep "$TK_TMP/bad-remove-last-map.err" "map-user"
cp -p "$TK_TMP/saved-orig" "$ACL"

# Usage errors: exit 2, file untouched.
a 2 usage-none "${A[@]}"
a 2 usage-acl "${A[@]}" acl
a 2 usage-sub "${A[@]}" acl frobnicate
a 2 usage-cmd "${A[@]}" frobnicate
a 2 usage-add-empty "${A[@]}" acl add
a 2 usage-add-word "${A[@]}" acl add hello world
a 2 usage-add-newline "${A[@]}" acl add allow uid:1 "$(printf 'x.example.test\nallow')" any any
a 2 usage-remove "${A[@]}" acl remove
a 2 usage-remove-nan "${A[@]}" acl remove one
a 2 usage-test "${A[@]}" acl test --user root
a 2 usage-test-role "${A[@]}" acl test --user root --myname a.example.test --role both
a 2 usage-test-user "${A[@]}" acl test --user nosuch$$ --myname a.example.test --role client
a 2 usage-test-flags "${A[@]}" acl test --user root --myname a.example.test --role client --flags bogus
unchanged orig
for c in "acl list" "acl check" "acl add" "acl remove" "acl test" reload keys; do
	# shellcheck disable=SC2086
	a 0 "help-${c// /-}" $c --help
	tk_expect_grep "$TK_TMP/help-${c// /-}.out" "^Usage: tlskeyctl"
done
a 0 help --help
tk_expect_grep "$TK_TMP/help.out" "Exit status"

# An invalid file: check reports every error with file:line and exits 1.
printf '%s\n' "allow user:nosuch$$ a.example.test client" "allow uid:1 b.example.test client" \
	"deny uid:2 *.*.test any" >"$TK_TMP/bad.conf"
a 1 check-bad acl check "$TK_TMP/bad.conf"
tk_expect_grep "$TK_TMP/check-bad.err" "^tlskeyctl: $TK_TMP/bad.conf:1: unknown user"
tk_expect_grep "$TK_TMP/check-bad.err" "^tlskeyctl: $TK_TMP/bad.conf:3: "
chmod 666 "$TK_TMP/bad.conf"
a 1 check-writable acl check "$TK_TMP/bad.conf"
tk_expect_grep "$TK_TMP/check-writable.err" "writable by group or others"
# Edits refuse to renumber an invalid file.
a 1 before-invalid --acl "$TK_TMP/bad.conf" acl add --before 1 allow uid:3 c.example.test client
a 1 remove-invalid --acl "$TK_TMP/bad.conf" acl remove 1

# ---- concurrency: 10 writers at once, no lost update --------------------------
tk_log "10 concurrent acl add"
pids=()
for i in $(seq 10); do
	(
		# Start together: each waits for the go file (bounded).
		for _ in $(seq 100); do [ -e "$TK_TMP/go" ] && break; sleep 0.02; done
		exec timeout 30 "$TLSKEYCTL" "${A[@]}" acl add allow "uid:$((5000 + i))" \
			"c$i.example.test" client >"$TK_TMP/conc-$i.out" 2>"$TK_TMP/conc-$i.err"
	) &
	pids+=($!)
	TK_PIDS+=($!)
done
touch "$TK_TMP/go"
for i in $(seq 10); do
	tk_wait_ok "${pids[$((i - 1))]}" 30 "concurrent add $i:" "$TK_TMP/conc-$i.err"
done
a 0 check-conc "${A[@]}" acl check
tk_expect_line "$TK_TMP/check-conc.out" "OK: 16 rules, 3 map lines in $ACL"
for i in $(seq 10); do
	[ "$(grep -c "^allow uid:$((5000 + i)) c$i.example.test client\$" "$ACL")" = 1 ] ||
		tk_fail "rule $i lost or duplicated"
done
# Each writer was told its own place.
cat "$TK_TMP"/conc-*.out | sed -n 's/^added rule \([0-9]*\) at .*/\1/p' | sort -n >"$TK_TMP/conc-nums"
seq 7 16 >"$TK_TMP/want-nums"
tk_same "$TK_TMP/want-nums" "$TK_TMP/conc-nums"
cp -p "$TK_TMP/saved-orig" "$ACL"

# ---- acl test ---------------------------------------------------------------
t() { # WANT NAME ARGS...
	local want=$1 name=$2
	shift 2
	a "$want" "test-$name" "${A[@]}" acl test "$@"
}
t 0 root --user root --myname server.example.test --role server
tk_expect_line "$TK_TMP/test-root.out" "allow"
tk_expect_line "$TK_TMP/test-root.out" "rule: 1 $ACL:4: allow user:root server.example.test server # uid=0"
# Groups come from the user database unless given.
t 0 root-group --user root --myname a.example.test --role client
tk_expect_line "$TK_TMP/test-root-group.out" "rule: 2 $ACL:5: allow group:root *.example.test client,server # gid=0"
t 1 other --user 4242 --group 4242 --myname a.example.test --role client
tk_expect_line "$TK_TMP/test-other.out" "deny"
tk_expect_line "$TK_TMP/test-other.out" "rule: default deny (no rule matched)"
t 0 other-in-root --user 4242 --group 4242 --group 0 --myname a.example.test --role client
tk_expect_grep "$TK_TMP/test-other-in-root.out" "^rule: 2 $ACL:5: "
t 1 nobody --user nobody --myname alice@example.test --role client
tk_expect_line "$TK_TMP/test-nobody.out" "rule: 6 $ACL:9: deny user:nobody * client,server # uid=65534"
# Privileged flags: granted, or the rule is skipped (and the note says so).
t 0 flags --user 1000 --group 1000 --myname bob@example.test --role client --flags skip-authorization,no-cache-read
tk_expect_grep "$TK_TMP/test-flags.out" "^rule: 3 $ACL:6: "
t 1 flags-denied --user 1000 --group 1000 --myname bob@example.test --role client --flags no-cache-write
tk_expect_line "$TK_TMP/test-flags-denied.out" "rule: default deny (no rule matched)"
tk_expect_grep "$TK_TMP/test-flags-denied.out" "^note: .*flags no-cache-write$"
t 0 flags-hex --user 1000 --group 1000 --myname bob@example.test --role client --flags 0x80
# Units and executables.
t 0 unit --user 4242 --group 4242 --unit nginx.service --myname www.example.test --role server
tk_expect_grep "$TK_TMP/test-unit.out" "^rule: 4 $ACL:7: "
t 1 unit-other --user 4242 --group 4242 --unit apache2.service --myname www.example.test --role server
# peers=
t 0 peer-ok --user 4242 --group 4242 --unit nginx.service --myname www.example.test --role server \
	--peer bob@example.test
tk_expect_line "$TK_TMP/test-peer-ok.out" "peer: bob@example.test allowed"
t 1 peer-refused --user 4242 --group 4242 --unit nginx.service --myname www.example.test \
	--role server --peer mallory@evil.test
tk_expect_grep "$TK_TMP/test-peer-refused.out" "^peer: mallory@evil.test refused: .*$ACL:7"
# map-user
t 0 map --user 4242 --group 4242 --exe /usr/bin/myapp --myname alice@example.test --role client \
	--peer alice@example.test
tk_expect_line "$TK_TMP/test-map.out" "mapped-user: daemon"
t 1 map-dash --user 4242 --group 4242 --exe /usr/bin/myapp --myname alice@example.test \
	--role client --peer root@example.test
t 1 map-nouser --user 4242 --group 4242 --exe /usr/bin/myapp --myname alice@example.test \
	--role client --peer "nosuch$$@example.test"
tk_expect_grep "$TK_TMP/test-map-nouser.out" "^mapped-user: nosuch$$ \\(refused: no such local account\\)"

# ---- edits through a path others may redirect ----------------------------------
# An ACL that is a link in a directory others may write: whoever may write
# it could point the link at any file, and a root "acl add" would rewrite
# that file (a review of tlskeyctl).  Refused, the target untouched, no
# lock file next to it; the same for a new ACL in such a directory.
mkdir "$TK_TMP/open" "$TK_TMP/safe"
chmod 777 "$TK_TMP/open"
printf '# not an ACL: a file an attacker wants rewritten\n' >"$TK_TMP/safe/victim"
chmod 440 "$TK_TMP/safe/victim"
cp -p "$TK_TMP/safe/victim" "$TK_TMP/victim.orig"
ln -s "$TK_TMP/safe/victim" "$TK_TMP/open/acl.conf"
a 1 redirect --acl "$TK_TMP/open/acl.conf" acl add allow user:root '*' any
tk_expect_grep "$TK_TMP/redirect.err" "refusing to edit $TK_TMP/open/acl.conf: .*writable by group or others"
tk_same "$TK_TMP/victim.orig" "$TK_TMP/safe/victim"
[ ! -e "$TK_TMP/safe/victim.lock" ] || tk_fail "redirect: a lock file was made next to the link's target"
a 1 redirect-remove --acl "$TK_TMP/open/acl.conf" acl remove 1
tk_same "$TK_TMP/victim.orig" "$TK_TMP/safe/victim"
a 1 new-in-open --acl "$TK_TMP/open/new.conf" acl add allow user:root '*' any
tk_expect_grep "$TK_TMP/new-in-open.err" "refusing to edit $TK_TMP/open/new.conf: "
[ ! -e "$TK_TMP/open/new.conf" ] || tk_fail "new-in-open: the ACL was created"
# Control: a link in a directory only we may write is edited at its target.
cp "$top_srcdir/test/unit/acl-example.conf" "$TK_TMP/safe/real.conf"
chmod 644 "$TK_TMP/safe/real.conf"
mkdir "$TK_TMP/links"
ln -s "$TK_TMP/safe/real.conf" "$TK_TMP/links/acl.conf"
a 0 via-link --acl "$TK_TMP/links/acl.conf" acl add allow uid:4244 link.example.test client
tk_expect_grep "$TK_TMP/safe/real.conf" '^allow uid:4244 link.example.test client$'
[ -L "$TK_TMP/links/acl.conf" ] || tk_fail "via-link: the link was replaced by a file"
tk_pass
