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

# The same files with safe modes pass.
chmod 0644 "$TK_TMP/ww.conf" "$TK_TMP/ca-gw.pem" "$TK_TMP/ca-gw.conf"
chmod 0755 "$TK_TMP/module.so"
for c in ww ca-gw mod; do
	tk_check_t "$c-ok" "$TK_TMP/$c.conf" 0 "for $c.conf with safe modes"
done
tk_pass
