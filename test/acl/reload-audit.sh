#!/bin/bash
# Every ACL reload leaves an audit record saying who asked and how it
# ended, like the records of requests (keyd_audit): a RELOAD request from
# tlskeyctl (uid and pid of the caller), one refused for a non-root caller,
# an invalid file, and SIGHUP (the sender's uid and pid from signalfd).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup
ACL=$TK_FX/acl.conf

tk_mark
tk_dctl 0 reload-ok reload
tk_log_expect "audit: event=acl-reload uid=$(id -u) gid=[0-9]+ pid=[0-9]+ .*result=ok"

printf 'allow user:nosuch%s * any\n' "$$" >>"$ACL"
bad_line=$(wc -l <"$ACL")
tk_mark
tk_dctl 1 reload-bad reload
tk_log_expect "audit: event=acl-reload uid=$(id -u) .*result=EINVAL .*$ACL:$bad_line: unknown user"

tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_log_expect "audit: event=acl-reload uid=$(id -u) gid=[0-9]+ pid=$$ .*result=EINVAL"

if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null && command -v setpriv >/dev/null; then
	chmod 755 "$TK_TMP" "$TK_FX"
	tk_mark
	setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" reload \
		>/dev/null 2>&1 || true
	tk_log_expect "audit: event=acl-reload uid=$(id -u nobody) .*result=EPERM"
fi
tk_pass
