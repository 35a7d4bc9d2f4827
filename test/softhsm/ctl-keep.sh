#!/bin/bash
# Control connections kept between starts (keyd/ctlconn.c, lib/ctlpool.c):
#  1. three starts in one process: the second and third come on the
#     connection the first one opened (STATUS counts them), all as that
#     process;
#  2. a child of fork() does not use its parent's connection: the daemon
#     sees the child (its pid in the audit record);
#  3. a process that drops to another uid does not either: the daemon
#     judges the new uid (nobody: denied), not the one that connected;
#     Nor may it use the connection the library kept from before the
#     drop, found among its descriptors: EPERM, and closed;
#  4. the daemon restarts between two starts: the kept connection is gone,
#     the second start goes on a new one and succeeds;
#  5. a kept connection passed to another process once the one that
#     connected has exited speaks for nobody: ESRCH;
#  6. a caller that sends two STARTs at once on its kept connection (the
#     second while the first handshake runs) loses that handshake
#     (ECONNABORTED, audited) and the connection, and nothing else;
#  7. another request type on a kept connection is answered like on a new
#     one (CHECK: a RESULT), and the connection is closed after it;
#  8. a caller that hangs up its kept connection while the handshake it
#     asked for waits on a silent peer: the daemon notices at once (not
#     at the handshake timer), ends that handshake (ECONNABORTED, audited)
#     and lets the peer connection go.
#  9. the effective uid changes between the library's look at the
#     process's credentials and its connect (another thread's seteuid():
#     tk-keep's connect-as-root makes it deterministic): the connection
#     made as root is not kept under the nobody the library saw, so after
#     the process is back at euid nobody its next start is judged as
#     nobody (EACCES), not as root.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
tk_setup
KEEP=$top_builddir/test/softhsm/tk-keep
tk_built "$KEEP"
tk_start_gnutls_serv peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
PEER_PORT=$TK_PORT
keep() { # keep NAME STEP...: tk-keep against the peer, output in NAME.out
	local name=$1
	shift
	timeout 60 "$KEEP" "$PEER_PORT" alice@example.test peer.example.test "$@" \
		>"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || { cat "$TK_TMP/$name.err" >&2; tk_fail "tk-keep $name failed"; }
}
reused() {
	"$TLSKEYCTL" status 2>/dev/null | awk -F': ' '$1 == "starts on kept control connections" { print $2 }'
}

# 1. Three starts, one connection.
tk_mark
r0=$(reused)
[ -n "$r0" ] || tk_fail "no \"starts on kept control connections\" in tlskeyctl status"
keep three start start start
[ "$(grep -c '^START ok ' "$TK_TMP/three.out")" = 3 ] || tk_fail "three starts: $(cat "$TK_TMP/three.out")"
r1=$(reused)
[ "$r1" -eq $((r0 + 2)) ] || tk_fail "starts on kept connections: $r0 before, $r1 after three starts (want +2)"
pid=$(sed -n '1s/.* pid=\([0-9]*\) .*/\1/p' "$TK_TMP/three.out")
[ "$(tk_log_since | grep -c "audit: event=established uid=0 gid=0 pid=$pid .*myname=alice@example.test")" -ge 3 ] ||
	tk_fail "not all three sessions were audited as pid $pid"

# 2. fork(): the child connects afresh, as itself.
tk_mark
keep fork start fork start
parent=$(sed -n '1s/.* pid=\([0-9]*\) .*/\1/p' "$TK_TMP/fork.out")
child=$(sed -n '2s/.* pid=\([0-9]*\) .*/\1/p' "$TK_TMP/fork.out")
[ -n "$child" ] && [ "$child" != "$parent" ] || tk_fail "fork: $(cat "$TK_TMP/fork.out")"
tk_expect_grep "$TK_TMP/fork.out" "^START ok pid=$child "
tk_log_expect "audit: event=established uid=0 gid=0 pid=$child .*myname=alice@example.test"

# 3. Dropping privileges: the daemon sees nobody, which the ACL denies.
chmod 755 "$TK_TMP" "$TK_FX" # nobody may reach the socket
tk_mark
keep drop start drop:65534:65534 start
tk_expect_grep "$TK_TMP/drop.out" '^START ok '
tk_expect_grep "$TK_TMP/drop.out" '^START errno=EACCES '
tk_log_expect "audit: event=acl-denied uid=65534 "
# 3b. ... nor through the connection the library kept from before the
# drop, which the process did not know of and could not close: code
# running after the drop finds it and sends a request itself.  Refused
# (EPERM) and closed; before, it was judged as root (CHECK: errno 0).
tk_mark
keep stray start drop:65534:65534 stray
tk_expect_line "$TK_TMP/stray.out" "STRAY"
tk_expect_line "$TK_TMP/stray.out" "ANSWER errno=EPERM type=4"
tk_expect_line "$TK_TMP/stray.out" "END eof"
tk_log_expect "audit: event=refused uid=0 .* detail=\"this connection to tlskeyd was opened as uid 0 gid 0; a request for uid 65534 gid 65534 on it is not taken"
# Without the drop the same request on it is answered (case 7 below):
# the refusal is the drop's.
keep stray-root start stray
tk_expect_line "$TK_TMP/stray-root.out" "ANSWER errno=0 type=4"

# 4. The daemon restarts between two starts.
rm -f "$TK_TMP/restarted"
tk_bg "$KEEP" "$PEER_PORT" alice@example.test peer.example.test start "wait:$TK_TMP/restarted" start \
	>"$TK_TMP/restart.out" 2>"$TK_TMP/restart.err"
kpid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/restart.out" '^START ok ' "$kpid"
tk_daemon_start "$TK_FX/tlskeyd.conf"
touch "$TK_TMP/restarted"
tk_wait_pid "$kpid" 30 || tk_fail "tk-keep did not finish after the restart"
[ "$(grep -c '^START ok ' "$TK_TMP/restart.out")" = 2 ] ||
	tk_fail "after a daemon restart: $(cat "$TK_TMP/restart.out" "$TK_TMP/restart.err")"
# 5. Passed on after its process exited.
keep handoff handoff
tk_expect_grep "$TK_TMP/handoff.out" '^HANDOFF keep=1 errno=ESRCH$'
tk_log_expect "audit: event=refused uid=0 .*result=ESRCH .*detail=\"the process that opened this connection to tlskeyd has exited"
# 6. Two STARTs at once on a kept connection.
tk_mark
keep pipeline pipeline
tk_expect_line "$TK_TMP/pipeline.out" "PIPELINE keep=1"
tk_expect_line "$TK_TMP/pipeline.out" "END eof"
if ! grep -q '^ANSWER ' "$TK_TMP/pipeline.out"; then
	# The usual order: the second START is read during the first handshake.
	tk_wait_log "audit: event=handshake-failed uid=0 .*myname=alice@example.test .*result=ECONNABORTED" 5 ||
		tk_fail "pipelined STARTs: no answer and no ECONNABORTED record"
elif [ "$(grep -c '^ANSWER errno=0 type=4$' "$TK_TMP/pipeline.out")" != 2 ]; then
	# The first handshake ended before the second START was read.
	tk_fail "pipelined STARTs: $(cat "$TK_TMP/pipeline.out")"
fi
# 7. A CHECK on a kept connection.
keep other other
tk_expect_line "$TK_TMP/other.out" "OTHER keep=1"
tk_expect_line "$TK_TMP/other.out" "ANSWER errno=0 type=4"
tk_expect_line "$TK_TMP/other.out" "END eof"
# 8. Hang-up during a handshake on a kept connection (handshake-timeout
# is 10 s in the fixture: the daemon must see the hang-up itself).
tk_mark
keep hangup hangup
tk_expect_line "$TK_TMP/hangup.out" "HANGUP keep=1"
tk_expect_grep "$TK_TMP/hangup.out" '^PEER closed [0-9]+$'
ms=$(awk '$1 == "PEER" { print $3 }' "$TK_TMP/hangup.out")
[ "$ms" -lt 3000 ] || tk_fail "hang-up on a kept connection noticed only after $ms ms"
tk_wait_log "audit: event=handshake-failed uid=0 .*myname=alice@example.test .*result=ECONNABORTED .*caller closed its request" 5 ||
	tk_fail "hang-up on a kept connection: no ECONNABORTED record"
# ... and the next caller is served as usual.
keep after start
tk_expect_grep "$TK_TMP/after.out" '^START ok '

# 9. Credentials that changed under the library's feet.
tk_mark
# (Back to root at the end: LeakSanitizer cannot inspect a process whose
# effective uid is not its real one.)
keep race seteuid:65534:65534 connect-as-root start seteuid:65534:65534 start seteuid:0:0
[ "$(sed -n 1p "$TK_TMP/race.out" | cut -d' ' -f1-2)" = "START ok" ] ||
	tk_fail "race: the start on the connection made as root: $(cat "$TK_TMP/race.out")"
[ "$(sed -n 2p "$TK_TMP/race.out" | cut -d' ' -f1-2)" = "START errno=EACCES" ] ||
	tk_fail "race: the next start at euid nobody was not judged as nobody: $(cat "$TK_TMP/race.out")"
tk_log_expect "audit: event=acl-denied uid=65534 "
tk_daemon_alive
tk_pass
