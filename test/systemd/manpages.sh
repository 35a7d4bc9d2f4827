#!/bin/bash
# The manual pages in doc/man: groff (-ww) has nothing to say about them,
# man(1) renders them, the .so links resolve, and they have not drifted
# from the code: every setting the configuration parser knows is in
# tlskeyd.conf(5), every long option of tlskeyd in tlskeyd(8), every
# tlskeyctl command in tlskeyctl(8).
. "${top_srcdir:-.}/test/lib/tk.sh"
command -v groff >/dev/null 2>&1 || tk_skip "groff not found"
MAN=$top_srcdir/doc/man
tk_tmpdir

pages=()
for page in "$MAN"/*.[0-9]; do
	[ -e "$page" ] || continue
	pages+=("$page")
	sec=${page##*.}
	mkdir -p "$TK_TMP/man$sec"
	cp "$page" "$TK_TMP/man$sec/"
done
[ "${#pages[@]}" -ge 4 ] || tk_fail "expected at least 4 pages in $MAN, found ${#pages[@]}"

for page in "${pages[@]}"; do
	base=$(basename "$page")
	sec=${base##*.}
	# Run from the man root so that ".so manN/page" resolves.
	out=$(cd "$TK_TMP" && groff -man -ww -z "man$sec/$base" 2>&1) || tk_fail "groff failed on $base: $out"
	[ -z "$out" ] || tk_fail "groff warnings for $base: $out"
	if command -v man >/dev/null 2>&1; then
		text=$(cd "$TK_TMP" && MANWIDTH=80 MAN_KEEP_FORMATTING='' man --warnings=w -l "man$sec/$base" 2>"$TK_TMP/man.err") ||
			tk_fail "man -l $base failed: $(cat "$TK_TMP/man.err")"
		[ ! -s "$TK_TMP/man.err" ] || tk_fail "man -l $base: $(cat "$TK_TMP/man.err")"
		printf '%s\n' "$text" | grep NAME >/dev/null || tk_fail "man -l $base rendered no NAME section"
	fi
done

# plain PAGE: the page as text, for the drift checks below.
plain() { groff -man -Tutf8 -P-c "$1" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g; s/‐/-/g'; }

# Settings: the literal keys in keyd/conf.c.
conf_c=$top_srcdir/keyd/conf.c
if [ -r "$conf_c" ]; then
	plain "$MAN/tlskeyd.conf.5" >"$TK_TMP/conf.txt"
	keys=$(grep -oE 'strcmp\(key, "[a-z0-9-]+"\)' "$conf_c" | sed -E 's/.*"(.*)".*/\1/' | sort -u)
	[ -n "$keys" ] || tk_fail "found no settings in $conf_c"
	for k in $keys; do
		grep -qE "(^|[^a-z-])$k( |$)" "$TK_TMP/conf.txt" || tk_fail "tlskeyd.conf(5) does not describe '$k'"
	done
fi
# Long options of tlskeyd.
main_c=$top_srcdir/keyd/main.c
if [ -r "$main_c" ]; then
	plain "$MAN/tlskeyd.8" >"$TK_TMP/tlskeyd.txt"
	opts=$(grep -oE '\{ "[a-z-]+", (no|required|optional)_argument' "$main_c" | sed -E 's/\{ "([a-z-]+)".*/\1/')
	[ -n "$opts" ] || tk_fail "found no options in $main_c"
	for o in $opts; do
		grep -q -- "--$o" "$TK_TMP/tlskeyd.txt" || tk_fail "tlskeyd(8) does not describe --$o"
	done
fi
# tlskeyctl commands, from its usage text.
ctl_c=$top_srcdir/tools/tlskeyctl.c
if [ -r "$ctl_c" ]; then
	plain "$MAN/tlskeyctl.8" >"$TK_TMP/tlskeyctl.txt"
	cmds=$(sed -n '/^Commands:/,/^Options:/p; /"Commands:/,/"Options:/p' "$ctl_c" |
		grep -oE '^[[:space:]]*"  [a-z]+( [a-z]+)?' | sed -E 's/^[[:space:]]*"  //' | sort -u)
	[ -n "$cmds" ] || tk_fail "found no commands in $ctl_c"
	for c in $cmds; do
		grep -q -- "$c" "$TK_TMP/tlskeyctl.txt" || tk_fail "tlskeyctl(8) does not describe '$c'"
	done
fi
echo "[$TK_NAME] PASS (${#pages[@]} pages)" >&2
