#!/bin/bash
# The manual pages in doc/man: groff (-ww) has nothing to say about them,
# man(1) renders them, the .so links resolve, and they have not drifted
# from the code: every setting the configuration parser knows is in
# tlskeyd.conf(5), every long option of tlskeyd in tlskeyd(8), every
# tlskeyctl command in tlskeyctl(8).
set -euo pipefail
top_srcdir=${top_srcdir:-.}
NAME=manpages
skip() {
	echo "SKIP: $NAME: $*" >&2
	exit 77
}
fail() {
	echo "FAIL: $NAME: $*" >&2
	exit 1
}
command -v groff >/dev/null 2>&1 || skip "groff not found"
MAN=$top_srcdir/doc/man
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$NAME.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

pages=()
for page in "$MAN"/*.[0-9]; do
	[ -e "$page" ] || continue
	pages+=("$page")
	sec=${page##*.}
	mkdir -p "$TMP/man$sec"
	cp "$page" "$TMP/man$sec/"
done
[ "${#pages[@]}" -ge 4 ] || fail "expected at least 4 pages in $MAN, found ${#pages[@]}"

for page in "${pages[@]}"; do
	base=$(basename "$page")
	sec=${base##*.}
	# Run from the man root so that ".so manN/page" resolves.
	out=$(cd "$TMP" && groff -man -ww -z "man$sec/$base" 2>&1) || fail "groff failed on $base: $out"
	[ -z "$out" ] || fail "groff warnings for $base: $out"
	if command -v man >/dev/null 2>&1; then
		text=$(cd "$TMP" && MANWIDTH=80 MAN_KEEP_FORMATTING='' man --warnings=w -l "man$sec/$base" 2>"$TMP/man.err") ||
			fail "man -l $base failed: $(cat "$TMP/man.err")"
		[ ! -s "$TMP/man.err" ] || fail "man -l $base: $(cat "$TMP/man.err")"
		printf '%s\n' "$text" | grep NAME >/dev/null || fail "man -l $base rendered no NAME section"
	fi
done

# plain PAGE: the page as text, for the drift checks below.
plain() { groff -man -Tutf8 -P-c "$1" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g; s/‐/-/g'; }

# Settings: the literal keys in keyd/conf.c.
conf_c=$top_srcdir/keyd/conf.c
if [ -r "$conf_c" ]; then
	plain "$MAN/tlskeyd.conf.5" >"$TMP/conf.txt"
	keys=$(grep -oE 'strcmp\(key, "[a-z0-9-]+"\)' "$conf_c" | sed -E 's/.*"(.*)".*/\1/' | sort -u)
	[ -n "$keys" ] || fail "found no settings in $conf_c"
	for k in $keys; do
		grep -qE "(^|[^a-z-])$k( |$)" "$TMP/conf.txt" || fail "tlskeyd.conf(5) does not describe '$k'"
	done
fi
# Long options of tlskeyd.
main_c=$top_srcdir/keyd/main.c
if [ -r "$main_c" ]; then
	plain "$MAN/tlskeyd.8" >"$TMP/tlskeyd.txt"
	opts=$(grep -oE '\{ "[a-z-]+", (no|required|optional)_argument' "$main_c" | sed -E 's/\{ "([a-z-]+)".*/\1/')
	[ -n "$opts" ] || fail "found no options in $main_c"
	for o in $opts; do
		grep -q -- "--$o" "$TMP/tlskeyd.txt" || fail "tlskeyd(8) does not describe --$o"
	done
fi
# tlskeyctl commands, from its usage text.
ctl_c=$top_srcdir/tools/tlskeyctl.c
if [ -r "$ctl_c" ]; then
	plain "$MAN/tlskeyctl.8" >"$TMP/tlskeyctl.txt"
	cmds=$(sed -n '/^Commands:/,/^Options:/p; /"Commands:/,/"Options:/p' "$ctl_c" |
		grep -oE '^[[:space:]]*"  [a-z]+( [a-z]+)?' | sed -E 's/^[[:space:]]*"  //' | sort -u)
	[ -n "$cmds" ] || fail "found no commands in $ctl_c"
	for c in $cmds; do
		grep -q -- "$c" "$TMP/tlskeyctl.txt" || fail "tlskeyctl(8) does not describe '$c'"
	done
fi
echo "[$NAME] PASS (${#pages[@]} pages)" >&2
