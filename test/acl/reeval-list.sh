#!/bin/bash
# Re-evaluation judges a session's caller as it was at admission, also
# when its myname was a list or pattern (virtual hosting by SNI): such a
# session used to be recorded as uid 0 (a review of the ACL, 2026-12-03),
# so it outlived an ACL change that took its caller's right away while
# root kept one, and was ended when the ACL had no rule for root.  The
# caller is another uid (app servers run through setpriv), the peer
# gnutls-cli with the fixture's user certificate.
#  A. uid U loses its rule, root keeps one: the single-name session and
#     the list session both end (reason=acl, uid=U).
#  B. uid U keeps its rule, none for root; the ACL is reloaded: both
#     sessions keep relaying.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli setpriv
[ "$(id -u)" = 0 ] || tk_skip "needs root to run the app servers as another uid"
tk_setup --no-daemon
U=4242
chmod 1777 "$TK_TMP" # the app servers (uid U) write their port files here
chmod 755 "$TK_FX"
printf '#!/bin/sh\nexec setpriv --reuid %s --regid %s --clear-groups "%s" "$@"\n' "$U" "$U" "$TK_APP" \
	>"$TK_TMP/as-u"
chmod 755 "$TK_TMP/as-u"

reload() {
	tk_mark
	kill -HUP "$TK_DAEMON_PID"
	tk_wait_log "ACL loaded from" 5 || tk_fail "no reload"
}
# open NAME MYNAME: an app server as uid U <- gnutls-cli (bob), one line relayed.
open() {
	local n=$1 fd
	TK_APP=$TK_TMP/as-u tk_app_server "$n" --myname "$2" --echo
	eval "APP_$n=\$TK_SERVER_PID"
	mkfifo "$TK_TMP/$n.fifo"
	exec {fd}<>"$TK_TMP/$n.fifo"
	eval "FD_$n=\$fd"
	tk_bg timeout 60 gnutls-cli --logfile="$TK_TMP/$n.cli.log" --port "$TK_PORT" \
		--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
		--x509keyfile "$TK_FX/peer-user.key" --verify-hostname server.example.test \
		--sni-hostname server.example.test 127.0.0.1 \
		<"$TK_TMP/$n.fifo" >"$TK_TMP/$n.out" 2>"$TK_TMP/$n.cerr" {fd}>&-
	tk_live_relays "$n" "first line of $n"
}
ended() { # ended NAME: its app read a reset
	local pid rc=0
	eval "pid=\$APP_$1"
	tk_wait_pid "$pid" 10 || rc=$?
	[ "$rc" != 0 ] || tk_fail "session $1: the app exited 0, its session was not cut"
	tk_expect_grep "$TK_TMP/$1.err" "RELAY-ERROR .*ECONNRESET"
}

printf 'allow uid:%s * server\nallow user:root * client,server\n' "$U" >"$TK_FX/acl.conf"
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "tlskeyd did not start"

# A.
open single server.example.test
open list server.example.test,rsa.example.test
tk_expect_grep "$TK_TMP/tlskeyd.log" "audit: event=established uid=$U .*myname=server.example.test"
echo 'allow user:root * client,server' >"$TK_FX/acl.conf"
reload
ended single
ended list
[ "$(tk_log_since | grep -cE "audit: event=reevaluate uid=$U .*reason=acl")" = 2 ] ||
	tk_fail "not both sessions were ended as uid $U: $(tk_log_since | grep reevaluate)"
tk_no_log "no longer lets uid 0 " || tk_fail "a session was judged as uid 0"

# B.
printf 'allow uid:%s * server\n' "$U" >"$TK_FX/acl.conf"
reload
open single2 server.example.test
open list2 server.example.test,rsa.example.test
touch "$TK_FX/acl.conf"
reload
tk_live_relays single2 "single2 after the reload"
tk_live_relays list2 "list2 after the reload"
tk_no_log "event=reevaluate" || tk_fail "a session whose caller is still allowed was re-evaluated as failed"
tk_live_close single2
tk_live_close list2
tk_pass
