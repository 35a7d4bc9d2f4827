#!/bin/bash
# The daemon under an unprivileged account, as the shipped unit runs it
# (User=tlskeyd), serving callers under other uids: root and a second
# account.  A root caller takes that listener for the daemon only with
# TLSKEYD_SOCKET_USER naming the account (EPERM without).  Everything the daemon opens (token, PIN file, configuration)
# belongs to that account.
#
# Regression: the check against PID reuse signalled the caller's pidfd
# with signal 0, which fails with EPERM across uids, and every such caller
# was refused as if it had exited.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "runs the daemon under a second account"
tk_need gnutls-serv
tk_setup
tk_make_test_user
U=$TK_TEST_USER
tk_daemon_stop
tk_peer_serv

# The account owns the fixture (token files, PIN file, configuration).
chown -R "$U:" "$TK_FX"
chmod 600 "$TK_FX/pin"
printf '%s\n' "allow user:root alice@example.test client" \
	"allow user:$U alice@example.test client" >"$TK_FX/acl.conf"
printf '#!/bin/sh\nexec setpriv --reuid %s --regid %s --init-groups "%s" "$@"\n' \
	"$TK_TEST_UID" "$TK_TEST_GID" "$TLSKEYD" >"$TK_TMP/kd-as-user"
chmod 755 "$TK_TMP/kd-as-user"
setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups test -x "$TLSKEYD" ||
	tk_skip "user $U cannot run $TLSKEYD (build directory not readable by others?)"
real=$TLSKEYD
TLSKEYD=$TK_TMP/kd-as-user
tk_daemon_start "$TK_FX/tlskeyd.conf"
TLSKEYD=$real
[ "$(stat -c %u "/proc/$TK_DAEMON_PID")" = "$TK_TEST_UID" ] || tk_fail "the daemon does not run as $U"

# A root caller believes a listener of another uid only when told to
# (TLSKEYD_SOCKET_USER; the shipped units' account is "tlskeyd", absent here).
tk_err root-no-socket-user EPERM client --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
	--sni peer.example.test
tk_expect_grep "$TK_TMP/root-no-socket-user.err" "is not tlskeyd's: its listener runs as uid $TK_TEST_UID"
export TLSKEYD_SOCKET_USER=$U
tk_mark
tk_acl_client root-caller ok alice@example.test
tk_log_expect "audit: event=established uid=0 .*myname=alice@example.test role=client .*result=ok"
AS_USER=1 tk_acl_client same-uid-caller ok alice@example.test
tk_log_expect "audit: event=established uid=$TK_TEST_UID .*myname=alice@example.test role=client .*result=ok"
# The ACL still decides: root may not use another identity.
tk_acl_client root-denied EACCES carol@example.test
# (Since the mark: the refused caller above hung up unidentified.)
if tk_log_since | grep -q 'could not be identified'; then
	tk_fail "a running caller was taken for one that had exited"
fi
tk_pass
