#!/bin/bash
# Finding 13: on kernels without SO_PEERPIDFD (< 6.5) or a usable
# pidfd_send_signal, the daemon cannot tie a caller's /proc attributes to
# the process that connected (PID reuse).  Run for real here by starting
# the daemon under no-pidfd (a seccomp filter: getsockopt SO_PEERPIDFD ->
# ENOPROTOOPT, pidfd_send_signal -> ENOSYS):
#   - with the normal daemon, "allow user:ME+exe:TK-APP" admits tk-app
#   - under the filter the daemon warns at start-up that identification is
#     racy, that allow rule no longer admits (EACCES), a deny rule on exe:
#     applies to everyone it could be (fail closed), and uid rules still work
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
NO_PIDFD=$top_builddir/test/hostile/no-pidfd
[ -x "$NO_PIDFD" ] || tk_fail "$NO_PIDFD not built"
tk_setup
EXE=$(tk_real_exe "$TK_APP")
case $EXE in *' '*) tk_skip "build path has a space: cannot be written in an exe: rule" ;; esac
tk_peer_serv

RULES=("allow user:$TK_ME+exe:$EXE carol@example.test client"
	"deny exe:/nonexistent/tlskey-test-x rsa.example.test any"
	"allow user:$TK_ME rsa.example.test client"
	"allow user:$TK_ME server.example.test server"
	"allow user:$TK_ME alice@example.test client")
tk_acl_set "${RULES[@]}"
tk_acl_client exe-pidfd ok carol@example.test
if grep -E "caller identification is racy" "$TK_TMP/tlskeyd.log" >/dev/null; then
	tk_fail "the daemon warned about a missing SO_PEERPIDFD on a kernel that has it"
fi

# The same daemon and ACL under the filter.
cat >"$TK_TMP/tlskeyd-no-pidfd" <<EOS
#!/bin/sh
exec "$NO_PIDFD" "$TLSKEYD" "\$@"
EOS
chmod 755 "$TK_TMP/tlskeyd-no-pidfd"
tk_mark
TLSKEYD=$TK_TMP/tlskeyd-no-pidfd tk_daemon_start "$TK_FX/tlskeyd.conf" ||
	tk_fail "tlskeyd under no-pidfd did not start"
tk_log_expect "warning: .*no usable SO_PEERPIDFD/pidfd_send_signal.*caller identification is racy.*exe: subjects admit nobody"

tk_mark
tk_acl_client exe-no-pidfd EACCES carol@example.test
tk_log_expect "audit: event=acl-denied uid=$(id -u) .*myname=carol@example.test .*result=EACCES rule=\"default deny\""
# The deny on an exe: the caller is not running applies: its exe is unknown.
tk_acl_client deny-no-pidfd EACCES rsa.example.test
tk_log_expect "audit: event=acl-denied uid=$(id -u) .*myname=rsa.example.test .*result=EACCES rule=$TK_FX/acl.conf:3"
# uid rules are unaffected.
tk_legit_check after
tk_pass
