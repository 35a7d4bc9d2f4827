#!/bin/bash
# Every crl-file is watched (keyd/watch.c), from the start: the watches
# used to be set up only at the main loop's first wake-up, up to a second
# after "ready", so a CRL written at once went unnoticed until a reload by
# hand.  Nine crl-files share a directory (the global one and eight
# identities'); the global one changing right after start reloads, and
# so does the 9th: a directory's watch kept at most 8 crl-file names and
# dropped the rest without a word (now it watches the whole directory).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need certtool
tk_setup --no-daemon

mkdir -m 755 "$TK_TMP/crls"
printf 'crl_number = %d\ncrl_next_update = 30\n' "$RANDOM" >"$TK_TMP/crl.tmpl"
certtool --generate-crl --load-ca-privkey "$TK_FX/ca.key" --load-ca-certificate "$TK_FX/ca.pem" \
	--template "$TK_TMP/crl.tmpl" --no-text --outfile "$TK_TMP/empty.crl" >"$TK_TMP/crl.log" 2>&1 ||
	{ cat "$TK_TMP/crl.log" >&2; tk_fail "cannot make a CRL"; }
extra=()
for i in 0 1 2 3 4 5 6 7 8; do
	cp "$TK_TMP/empty.crl" "$TK_TMP/crls/crl-$i.pem"
	[ "$i" = 0 ] && continue
	extra+=("[identity v$i.example.test]"
		"key = $(sed -n 's/^key = //p' "$TK_FX/tlskeyd.conf" | head -1)"
		"cert = $TK_FX/server-ec.pem" "pin-file = $TK_FX/pin" "optional = yes"
		"crl-file = $TK_TMP/crls/crl-$i.pem" "")
done
tk_conf names "crl-file=$TK_TMP/crls/crl-0.pem" -- "${extra[@]}"
tk_daemon_start "$TK_TMP/names.conf" || tk_fail "daemon did not start"
# changed N WHAT: crl-N.pem replaced by rename (as tools do) reloads.
changed() {
	tk_mark
	cp "$TK_TMP/empty.crl" "$TK_TMP/crl.new"
	mv "$TK_TMP/crl.new" "$TK_TMP/crls/crl-$1.pem"
	tk_wait_log "a CRL file changed: reloading" 5 || tk_fail "$2 is not watched"
	tk_wait_log "ACL loaded from" 3 || tk_fail "the reload did not complete"
}
# At once after "ready": the watches exist from then on.
changed 0 "the global crl-file, right after start,"
# The 9th name in the directory: a watch kept 8 names and dropped the
# rest without a word; now a full list watches the whole directory.
changed 8 "the 9th crl-file of a directory"
tk_pass
