#!/bin/bash
# A local key or token failure reached the application as EKEYREJECTED
# (or EIO/ENODEV), which the man page keeps for the peer's certificate.
# Now it is ENOTRECOVERABLE with the token's reason in tlskey_last_error():
# here the token (libfaultp11) fails every C_Sign with CKR_DEVICE_ERROR,
# first for a key the worker imports now, then for keys imported before.
# The daemon keeps serving once the token works again.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli
tk_fault_setup
CLI=(--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key")
# Both workers hold imported keys after two good handshakes.
tk_srv_cli good-1 -- "${CLI[@]}"
tk_srv_cli good-2 -- "${CLI[@]}"
tk_fault_set "fail=CKR_DEVICE_ERROR"
for i in 1 2 3; do
	tk_srv_cli "bad-$i" --expect-errno ENOTRECOVERABLE -- "${CLI[@]}"
	tk_expect_grep "$TK_TMP/bad-$i.err" '^ERROR errno=ENOTRECOVERABLE .*(token|CKR_|signature)'
done
tk_fault_set "fail=none"
# Failed keys back off for 2 s (keys.c): retry, bounded.
ok=
for i in $(seq 30); do
	rc=0
	TK_SOFT_CASE=1 tk_srv_cli "again-$i" -- "${CLI[@]}" >/dev/null 2>&1 || rc=$?
	if [ "$rc" = 0 ] && [ "$TK_APP_RC" = 0 ] && [ "$TK_CLI_RC" = 0 ]; then
		ok=1
		break
	fi
	sleep 0.2
done
[ -n "$ok" ] || tk_fail "the daemon did not serve again after the token recovered"
TK_SOFT=()
tk_pass
