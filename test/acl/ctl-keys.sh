#!/bin/bash
# tlskeyctl keys against the SoftHSM fixture (no daemon needed): every
# identity usable, with token, key type, subject and expiry; an identity
# whose key is missing, whose PIN is wrong or whose certificate expired
# makes it exit 1 and says which; a token that does not answer makes it
# give up at --timeout.  And tlskeyctl reload without a daemon.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "reads the token's PIN file as the daemon does"
tk_setup --no-daemon
CONF=$TK_FX/tlskeyd.conf

tk_dctl 0 keys keys
for id in server.example.test rsa.example.test alice@example.test carol@example.test; do
	tk_expect_grep "$TK_TMP/keys.out" "^$id \\($CONF:[0-9]+\\)\$"
done
[ "$(grep -c '^  status: *usable' "$TK_TMP/keys.out")" = 4 ] || {
	cat "$TK_TMP/keys.out" >&2
	tk_fail "keys: want 4 usable keys"
}
[ "$(grep -c '^  token: *tlskeyd-test$' "$TK_TMP/keys.out")" = 4 ] || tk_fail "keys: token label"
tk_expect_grep "$TK_TMP/keys.out" '^  type: *EC$'
tk_expect_grep "$TK_TMP/keys.out" '^  type: *RSA$'
tk_expect_grep "$TK_TMP/keys.out" '^  subject: *CN=alice@example.test$'
tk_expect_grep "$TK_TMP/keys.out" '^  expires: *20[0-9-]+ [0-9:]+ UTC \(in [0-9]+ days\)$'

# A key that is not on the token, a wrong PIN, an expired certificate.
printf '0000wrong' >"$TK_TMP/wrong-pin"
chmod 600 "$TK_TMP/wrong-pin"
# Sections are 5 lines: "[identity NAME]", key, cert, pin-file (and a blank).
sed -e 's/object=carol-rsa/object=no-such-key/' "$CONF" >"$TK_TMP/nokey.conf"
tk_ctl_expect 1 keys-nokey -c "$TK_TMP/nokey.conf" keys
tk_expect_grep "$TK_TMP/keys-nokey.out" '^  status: *NOT USABLE: .*no-such-key'
[ "$(grep -c '^  status: *usable' "$TK_TMP/keys-nokey.out")" = 3 ] || tk_fail "keys-nokey: the other 3 must stay usable"

sed -e "s#^pin-file = .*#pin-file = $TK_TMP/wrong-pin#" "$CONF" >"$TK_TMP/wrongpin.conf"
tk_ctl_expect 1 keys-wrongpin -c "$TK_TMP/wrongpin.conf" keys
tk_expect_grep "$TK_TMP/keys-wrongpin.out" '^  status: *NOT USABLE: .*(CKR_PIN_INCORRECT|PIN)'
if grep -F -e 0000wrong -e "$(cat "$TK_FX/pin")" "$TK_TMP/keys-wrongpin.out" "$TK_TMP/keys-wrongpin.err"; then
	tk_fail "a PIN appears in the output of tlskeyctl keys"
fi

sed -e "s#^cert = .*/carol-rsa.pem#cert = $TK_FX/expired-server.pem#" "$CONF" >"$TK_TMP/expired.conf"
tk_ctl_expect 1 keys-expired -c "$TK_TMP/expired.conf" keys
tk_expect_grep "$TK_TMP/keys-expired.out" '^  expires: *2020-12-31 23:59:59 UTC \(EXPIRED\)$'

tk_ctl_expect 1 keys-noconf -c "$TK_TMP/missing.conf" keys
tk_expect_grep "$TK_TMP/keys-noconf.err" "missing.conf"

# ---- a token that does not answer: --timeout ends the wait -----------------
# libfaultp11 in front of the token: first without faults (the control),
# then 20 s before each signature; tk_ctl gives up at 30 s (exit 124).
export FAULTP11_MODULE=$TK_MODULE FAULTP11_CONTROL=$TK_TMP/faultp11.ctl
tk_fault_conf "" >"$TK_TMP/hung.conf"
tk_fault_set "fail=none"
tk_ctl_expect 0 keys-fault -c "$TK_TMP/hung.conf" keys --timeout 10
[ "$(grep -c '^  status: *usable' "$TK_TMP/keys-fault.out")" = 4 ] || tk_fail "keys-fault: want 4 usable keys"
tk_log "case keys-hung: 20 s per signature, --timeout 2"
tk_fault_set "delay_ms=20000"
t0=$(date +%s)
tk_ctl_expect 1 keys-hung -c "$TK_TMP/hung.conf" keys --timeout 2
took=$(($(date +%s) - t0))
tk_expect_grep "$TK_TMP/keys-hung.err" '^tlskeyctl: keys: [a-z.@]+: not done within 2 s '
# What came before the deadline was printed (stdout line-buffered): the
# hung identity's name and its key line, printed before the signature.
tk_expect_grep "$TK_TMP/keys-hung.out" '^[a-z.@]+ \(.*/hung\.conf:[0-9]+\)$'
tk_expect_grep "$TK_TMP/keys-hung.out" '^  key: +pkcs11:'
[ "$took" -le 12 ] || tk_fail "keys --timeout 2 took $took s"
tk_ctl_expect 2 keys-badtimeout -c "$TK_TMP/hung.conf" keys --timeout 2x
tk_expect_grep "$TK_TMP/keys-badtimeout.err" 'timeout: expected whole seconds'
tk_fault_set "fail=none"

# ---- reload without a daemon: exit 1, naming the socket ------------------------
tk_ctl_expect 1 reload-nodaemon -s "$TK_TMP/none.sock" reload
tk_expect_grep "$TK_TMP/reload-nodaemon.err" "cannot reach tlskeyd at $TK_TMP/none.sock"
# The socket comes from the configuration unless -s says otherwise.
tk_ctl_expect 1 reload-conf -c "$CONF" reload
tk_expect_grep "$TK_TMP/reload-conf.err" "cannot reach tlskeyd at $TK_FX/tlskeyd.sock"
# An explicit configuration must exist...
TLSKEYD_SOCKET=$TK_TMP/env.sock tk_ctl_expect 1 reload-noconf -c "$TK_TMP/missing.conf" reload
tk_expect_grep "$TK_TMP/reload-noconf.err" "missing.conf"
# ...the default one need not: then $TLSKEYD_SOCKET.
tk_ctl_expect 0 help --help
default_conf=$(sed -n 's/.*(default \(\/.*\.conf\)).*/\1/p' "$TK_TMP/help.out")
[ -n "$default_conf" ] || tk_fail "tlskeyctl --help names no default configuration"
if [ -e "$default_conf" ]; then
	tk_log "$default_conf exists: \$TLSKEYD_SOCKET fallback not tested"
else
	TLSKEYD_SOCKET=$TK_TMP/env.sock tk_ctl_expect 1 reload-env reload
	tk_expect_grep "$TK_TMP/reload-env.err" "cannot reach tlskeyd at $TK_TMP/env.sock"
fi
tk_pass
