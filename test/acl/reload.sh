#!/bin/bash
# Reloading the ACL while sessions are open:
#   - with reevaluate = log, an established session keeps relaying after
#     the rule that admitted it is removed ("tlskeyctl acl remove
#     --reload"), and the re-evaluation says so (event=reevaluate
#     reason=acl; the default, end, would end it: test/softhsm/reevaluate.sh);
#     new requests follow the new rules (EACCES, acl-denied audit record)
#   - an invalid file on reload changes nothing: "tlskeyctl reload" exits 1
#     and prints the file:line error, the daemon says it keeps the previous
#     configuration, new requests are still judged by the old rules, the session
#     still relays
#   - SIGHUP reloads as well
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv
tk_setup
tk_peer_serv
ACL=$TK_FX/acl.conf
tk_acl_set "allow user:$TK_ME server.example.test server" "allow user:$TK_ME alice@example.test client"
sed -i '0,/^\[/s//reevaluate = log\n[/' "$TK_FX/tlskeyd.conf"
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon with reevaluate = log did not start"

# wait_for FILE TEXT: FILE gets the line TEXT (bounded: 10s).
wait_for() {
	local i
	for i in $(seq 100); do
		grep -qxF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" "$TK_TMP/s1.err" "$TK_TMP/s1c.err" >&2
	tk_fail "'$2' did not come back through the session"
}

# ---- one long-lived session: app server (echo) <- gnutls-cli (bob) ----------
tk_mark
tk_app_server s1 --myname server.example.test --echo
S1_PID=$TK_SERVER_PID
S1_PORT=$TK_PORT
tk_held_cli s1c "$S1_PORT"
CLI_PID=$TK_CLI_PID
echo "line 1, before the reload" >&6
wait_for "$TK_TMP/s1c.out" "line 1, before the reload"
tk_log_expect "audit: event=established uid=$(id -u) .*myname=server.example.test role=server .*peer=bob@example.test result=ok rule=$ACL:2"

# ---- remove the rule that admitted it --------------------------------------------
tk_dctl 0 remove acl remove --reload 1
tk_expect_line "$TK_TMP/remove.out" "removed $ACL:2: allow user:$TK_ME server.example.test server"
tk_expect_grep "$TK_TMP/remove.out" "^ACL loaded from $ACL \\(1 rules\\)"

tk_log_expect "audit: event=reevaluate .*myname=server.example.test role=server .*peer=bob@example.test result=EACCES .*reason=acl .*kept \\(reevaluate = log\\)"

# New requests follow the new rules.
tk_mark
tk_app_server_bare s2 --myname server.example.test --expect-errno EACCES
tk_log_expect "audit: event=acl-denied uid=$(id -u) .*myname=server.example.test role=server .*result=EACCES rule=\"default deny\""
tk_acl_client c1 ok alice@example.test

# The old session relays on.
echo "line 2, after the reload" >&6
wait_for "$TK_TMP/s1c.out" "line 2, after the reload"

# ---- an invalid file on reload changes nothing --------------------------------------
printf 'allow user:nosuch%s * any\n' "$$" >>"$ACL"
tk_mark
tk_dctl 1 bad-reload reload
tk_expect_grep "$TK_TMP/bad-reload.err" "^tlskeyctl: reload failed"
tk_expect_grep "$TK_TMP/bad-reload.err" "$ACL:3: unknown user 'nosuch$$'"
tk_log_expect "reload: keeping the previous configuration: 1 error: $ACL:3: unknown user"
tk_dctl 1 bad-check acl check
tk_expect_grep "$TK_TMP/bad-check.err" "^tlskeyctl: $ACL:3: unknown user 'nosuch$$'"
# Still the rules of the last good load: alice may, server.example.test may not.
tk_acl_client c2 ok alice@example.test
tk_app_server_bare s3 --myname server.example.test --expect-errno EACCES
# The same failure by signal: the daemon logs it and stays up.
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_log_expect "reload: keeping the previous configuration: 1 error: $ACL:3: unknown user"
tk_daemon_alive
echo "line 3, after the failed reload" >&6
wait_for "$TK_TMP/s1c.out" "line 3, after the failed reload"

# ---- SIGHUP with a good file --------------------------------------------------------
# Remove the bad line (tlskeyctl refuses to edit an invalid file by rule
# number, but a line number is fine as long as the result is valid).
tk_dctl 0 fix acl remove --line 3
tk_mark
kill -HUP "$TK_DAEMON_PID"
tk_log_expect "ACL loaded from $ACL \\(1 rules\\)"
tk_acl_client c3 ok alice@example.test

# ---- end the session: EOF from the remote client, clean exits --------------------
exec 6>&-
tk_wait_ok "$CLI_PID" 20 "gnutls-cli" "$TK_TMP/s1c.cli.log"
tk_wait_ok "$S1_PID" 20 "tk-app server s1" "$TK_TMP/s1.err"
tk_expect_line "$TK_TMP/s1.err" "PEER=bob@example.test"
printf '%s\n' "line 1, before the reload" "line 2, after the reload" \
	"line 3, after the failed reload" >"$TK_TMP/s1.want"
tk_same "$TK_TMP/s1.want" "$TK_TMP/s1c.out"
tk_pass
