#!/bin/bash
# Finding 4: an exe: rule alone is satisfied by any local user who runs
# the named binary (or LD_PRELOADs into it, or connects and then execs it).
# A rule can now combine subjects, all of which must match:
#     allow user:U+exe:TK-APP alice@example.test client
#   - U running tk-app gets alice's key
#   - another uid (nobody) running the very same binary is refused (EACCES)
#   - U running another binary (a copy of tk-app elsewhere) is refused
#   - an allow rule on exe: alone loads, with a warning in the daemon log
#     and from "tlskeyctl acl check"; "acl list" and "acl test" handle the
#     combined subject
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need_root "runs callers under other uids"
tk_need gnutls-serv
tk_setup
tk_make_test_user
U=$TK_TEST_USER
EXE=$(tk_real_exe "$TK_APP")
[ -x "$EXE" ] || tk_fail "cannot find the tk-app binary behind $TK_APP"
tk_log "tk-app runs as $EXE"
case $EXE in *' '*) tk_skip "build path has a space: cannot be written in an exe: rule" ;; esac
tk_peer_serv
NOBODY_UID=$(id -u nobody 2>/dev/null) || tk_skip "no user nobody"
NOBODY_GID=$(id -g nobody)

tk_mark
tk_acl_set "allow user:$U+exe:$EXE alice@example.test client" \
	"allow exe:$EXE carol@example.test client" \
	"allow user:$TK_ME * client,server"
tk_log_expect "warning: ACL: $TK_FX/acl.conf:3: warning: allow rule on exe:/unit: alone"
if tk_log_since | grep -E "acl.conf:2: warning" >/dev/null; then
	tk_fail "the combined rule drew a warning"
fi
tk_dctl 0 check acl check
tk_expect_grep "$TK_TMP/check.err" "acl.conf:3: warning: allow rule on exe:/unit: alone"
tk_dctl 0 list acl list
tk_expect_grep "$TK_TMP/list.out" "acl.conf:2: allow user:$U\\+exe:$EXE alice@example.test client # uid=$TK_TEST_UID\$"

# The uid and the binary: admitted.
tk_mark
AS_USER=1 tk_acl_client user-exe ok alice@example.test
tk_log_expect "audit: event=established uid=$TK_TEST_UID .*myname=alice@example.test .*rule=$TK_FX/acl.conf:2"

# The binary under another uid: refused.
printf 'x\n' >"$TK_TMP/nobody.in"
tk_app_as_uid nobody "$NOBODY_UID" "$NOBODY_GID" client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --expect-errno EACCES ||
	{ cat "$TK_TMP/nobody.err" >&2; tk_fail "nobody running $EXE was not refused alice's key"; }
# ...while the exe:-only rule admits it (what the warning is about).
tk_app_as_uid nobody-carol "$NOBODY_UID" "$NOBODY_GID" client --connect "127.0.0.1:$PEER_PORT" \
	--myname carol@example.test --sni peer.example.test ||
	{ cat "$TK_TMP/nobody-carol.err" >&2; tk_fail "nobody via the exe:-only rule: refused"; }

# The uid with another binary: refused.
mkdir -p "$TK_TMP/other"
cp "$EXE" "$TK_TMP/other/tk-app"
chmod 755 "$TK_TMP/other" "$TK_TMP/other/tk-app"
cat >"$TK_TMP/other/run" <<EOS
#!/bin/sh
LD_LIBRARY_PATH="$top_builddir/.libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups "$TK_TMP/other/tk-app" "\$@"
EOS
chmod 755 "$TK_TMP/other/run"
TK_APP=$TK_TMP/other/run tk_app user-other client --connect "127.0.0.1:$PEER_PORT" \
	--myname alice@example.test --sni peer.example.test --expect-errno EACCES ||
	{ cat "$TK_TMP/user-other.err" >&2; tk_fail "$U running a copy of tk-app was not refused"; }

# tlskeyctl acl test evaluates the combination the same way.
tk_dctl 0 t-both acl test --user "$U" --exe "$EXE" --myname alice@example.test --role client
tk_expect_grep "$TK_TMP/t-both.out" "^rule: 1 $TK_FX/acl.conf:2: allow user:$U\\+exe:"
tk_dctl 1 t-uid-only acl test --user "$U" --myname alice@example.test --role client
tk_dctl 1 t-exe-only acl test --user nobody --exe "$EXE" --myname alice@example.test --role client

tk_legit_check after
tk_pass
