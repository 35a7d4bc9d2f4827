#!/bin/bash
# Files whose writer controls the daemon: a world-writable tlskeyd.conf
# (it names the PKCS#11 module to load) used to pass -t.  Now
# tlskeyd.conf, the ca-file and the PKCS#11 module get the ACL's own check
# (owned by root or the daemon's uid, not writable by group or others):
# an error naming the file and its mode, exit 1, and start-up refuses.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

cp "$TK_FX/tlskeyd.conf" "$TK_TMP/ww.conf"
chmod 0666 "$TK_TMP/ww.conf"
tk_check_t ww "$TK_TMP/ww.conf" 1 "with a world-writable tlskeyd.conf"
tk_expect_grep "$TK_TMP/ww.t" "configuration: $TK_TMP/ww\.conf: writable by group or others \(mode 0666\)"
tk_check_refused ww "$TK_TMP/ww.conf"

cp "$TK_FX/ca.pem" "$TK_TMP/ca-gw.pem"
chmod 0664 "$TK_TMP/ca-gw.pem"
tk_check_swap "$TK_TMP/ca-gw.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/ca-gw.pem"
tk_check_t ca-gw "$TK_TMP/ca-gw.conf" 1 "with a group-writable ca-file"
tk_expect_grep "$TK_TMP/ca-gw.t" "ca-file $TK_TMP/ca-gw\.pem: writable by group or others \(mode 0664\)"

cp "$TK_MODULE" "$TK_TMP/module.so"
chmod 0757 "$TK_TMP/module.so"
tk_check_swap "$TK_TMP/mod.conf" "pkcs11-module = $TK_MODULE" "pkcs11-module = $TK_TMP/module.so"
tk_check_t mod "$TK_TMP/mod.conf" 1 "with a world-writable PKCS#11 module"
tk_expect_grep "$TK_TMP/mod.t" "pkcs11-module $TK_TMP/module\.so: writable by group or others \(mode 0757\)"
tk_check_refused mod "$TK_TMP/mod.conf"

# And every directory above them: whoever may write one may rename
# another file over a trusted one (an older CRL, the ACL of yesterday),
# also where a symbolic link lies (it may be pointed elsewhere) and where
# it leads.  Before, only the file itself was judged.  Sticky directories
# (/tmp) are fine: others may not rename over what is not theirs.
mkdir -p "$TK_TMP/gwdir" "$TK_TMP/uiddir" "$TK_TMP/safe/deeper"
cp "$TK_FX/ca.pem" "$TK_TMP/gwdir/ca.pem"
cp "$TK_FX/ca.pem" "$TK_TMP/uiddir/ca.pem"
cp "$TK_FX/ca.pem" "$TK_TMP/safe/deeper/ca.pem"
chmod 0775 "$TK_TMP/gwdir"
chown 65534 "$TK_TMP/uiddir"
ln -s "$TK_TMP/gwdir/ca.pem" "$TK_TMP/safe/to-gw.pem"
ln -s "$TK_TMP/safe/deeper/ca.pem" "$TK_TMP/gwdir/to-safe.pem"
ln -s "$TK_TMP/safe/deeper/ca.pem" "$TK_TMP/safe/to-safe.pem"
for c in gwdir/ca uiddir/ca safe/to-gw gwdir/to-safe safe/to-safe; do
	tk_check_swap "$TK_TMP/${c//\//-}.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/$c.pem"
done
tk_check_t gwdir-ca "$TK_TMP/gwdir-ca.conf" 1 "with the ca-file in a group-writable directory"
tk_expect_grep "$TK_TMP/gwdir-ca.t" "ca-file $TK_TMP/gwdir/ca\.pem: its directory $TK_TMP/gwdir is writable by group or others \(mode 0775\)"
tk_check_t uiddir-ca "$TK_TMP/uiddir-ca.conf" 1 "with the ca-file in a directory of uid 65534"
tk_expect_grep "$TK_TMP/uiddir-ca.t" "its directory $TK_TMP/uiddir is owned by uid 65534"
tk_check_t safe-to-gw "$TK_TMP/safe-to-gw.conf" 1 "with a link to a ca-file in a group-writable directory"
tk_expect_grep "$TK_TMP/safe-to-gw.t" "its directory $TK_TMP/gwdir is writable"
tk_check_t gwdir-to-safe "$TK_TMP/gwdir-to-safe.conf" 1 "with a ca-file link in a group-writable directory"
tk_expect_grep "$TK_TMP/gwdir-to-safe.t" "ca-file $TK_TMP/gwdir/to-safe\.pem: its directory $TK_TMP/gwdir is writable"
tk_check_t safe-to-safe "$TK_TMP/safe-to-safe.conf" 0 "with a link between safe directories"
# Links part of the way are followed name by name: a linked directory
# under a writable one, a link to a link that lies in one, a link of
# another uid in a sticky directory (it may replace it there).
mkdir -p "$TK_TMP/gwdir2" "$TK_TMP/sticky"
chmod 0775 "$TK_TMP/gwdir2"
chmod 1777 "$TK_TMP/sticky"
ln -s "$TK_TMP/safe/deeper" "$TK_TMP/gwdir2/d"
ln -s "$TK_TMP/safe/deeper/ca.pem" "$TK_TMP/gwdir2/l2"
ln -s "$TK_TMP/gwdir2/l2" "$TK_TMP/safe/l1"
ln -s "$TK_TMP/safe/deeper/ca.pem" "$TK_TMP/sticky/theirs.pem"
chown -h 65534 "$TK_TMP/sticky/theirs.pem"
ln -s "$TK_TMP/safe/deeper/ca.pem" "$TK_TMP/sticky/ours.pem"
tk_check_swap "$TK_TMP/middle.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/gwdir2/d/ca.pem"
tk_check_swap "$TK_TMP/chain.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/safe/l1"
tk_check_swap "$TK_TMP/theirs.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/sticky/theirs.pem"
tk_check_swap "$TK_TMP/ours.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/sticky/ours.pem"
tk_check_t middle "$TK_TMP/middle.conf" 1 "with a ca-file under a linked directory in a writable one"
tk_expect_grep "$TK_TMP/middle.t" "its directory $TK_TMP/gwdir2 is writable"
tk_check_t chain "$TK_TMP/chain.conf" 1 "with a ca-file link to a link in a writable directory"
tk_expect_grep "$TK_TMP/chain.t" "its directory $TK_TMP/gwdir2 is writable"
tk_check_t theirs "$TK_TMP/theirs.conf" 1 "with a ca-file link of uid 65534 in a sticky directory"
tk_expect_grep "$TK_TMP/theirs.t" "the symbolic link $TK_TMP/sticky/theirs\.pem in the sticky directory $TK_TMP/sticky is owned by uid 65534"
tk_check_t ours "$TK_TMP/ours.conf" 0 "with a ca-file link of ours in a sticky directory"

# The ACL, through the same check.
sed "s|^acl = .*|acl = $TK_TMP/gwdir/acl.conf|" "$TK_FX/tlskeyd.conf" >"$TK_TMP/acl-gw.conf"
grep -q "^acl = $TK_TMP/gwdir/acl.conf" "$TK_TMP/acl-gw.conf" || tk_fail "no acl line in tlskeyd.conf"
cp "$TK_FX/acl.conf" "$TK_TMP/gwdir/acl.conf"
tk_check_t acl-gw "$TK_TMP/acl-gw.conf" 1 "with the ACL in a group-writable directory"
tk_expect_grep "$TK_TMP/acl-gw.t" "$TK_TMP/gwdir/acl\.conf: its directory $TK_TMP/gwdir is writable"
tk_check_refused acl-gw "$TK_TMP/acl-gw.conf"

# The same files with safe modes pass.
chmod 0644 "$TK_TMP/ww.conf" "$TK_TMP/ca-gw.pem" "$TK_TMP/ca-gw.conf"
chmod 0755 "$TK_TMP/module.so" "$TK_TMP/gwdir" "$TK_TMP/gwdir2"
chown -h 0 "$TK_TMP/sticky/theirs.pem"
chown 0 "$TK_TMP/uiddir"
for c in ww ca-gw mod gwdir-ca uiddir-ca safe-to-gw gwdir-to-safe acl-gw middle chain theirs; do
	tk_check_t "$c-ok" "$TK_TMP/$c.conf" 0 "for $c.conf with safe modes"
done
tk_pass
