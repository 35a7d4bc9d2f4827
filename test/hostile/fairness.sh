#!/bin/bash
# Fairness (audit finding 5): one caller may not starve the others.
#  1. An admitted uid starts 64 silent handshakes with one-hour timers
#     (max-handshakes is 64): its timers are capped at handshake-timeout
#     and it gets max-handshakes-per-uid slots, not all of them.
#  2. A uid with no ACL rights keeps 1,024 idle connections (max-pending
#     is 1,024): it gets max-pending-per-uid of them, the rest EAGAIN.
#  3. A remote peer holds 64 silent connections to one public app server:
#     that app's uid and identity get their share, not every slot.
# Meanwhile another uid's sessions complete within a few seconds.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need setpriv
tk_fault_setup "max-pending = 1024
max-handshakes = 64
handshake-timeout = 10000"
tk_make_test_user
SOCK=$TLSKEYD_SOCKET
# The victim (tk_legit_check) runs as root; the attacker as the test user.
tk_acl_set "allow user:$TK_ME * client,server" \
	"allow user:$TK_TEST_USER alice@example.test client" \
	"allow user:$TK_TEST_USER rsa.example.test server"
tk_legit_check warm-up
# In a subshell only (tk_bg): it becomes the attack process (tk_as_exec).
as_attacker() { tk_as_exec "$TK_TEST_UID" "$TK_TEST_GID" "$HOSTILE_ATTACK" "$@"; }
# end_attack PID: the attack process ends, and with it its requests.
end_attack() {
	kill "$1"
	tk_wait_pid "$1" 10 || true
	tk_gone "$1" || tk_fail "attack process $1 still runs after kill"
}
# FAIRNESS_ATTACKS="2 3" runs only those (to see each fail on its own).
want() { case " ${FAIRNESS_ATTACKS:-1 2 3} " in *" $1 "*) return 0 ;; esac; return 1; }

# 1. 64 silent handshakes with one-hour timers.
if want 1; then
tk_mark
tk_bg as_attacker handshakes "$SOCK" 64 3600000 40 alice@example.test >"$TK_TMP/a1.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/a1.out" '^READY n=64 up=64 ' "$apid"
tk_legit_within attack-1 6
tk_legit_within attack-1b 6
# Every request admitted had its timer capped (debug log, one per request).
tk_log_expect "uid=$TK_TEST_UID pid=[0-9]+: handshake timer 3600000 ms capped at handshake-timeout 10000 ms"
end_attack "$apid"
fi

# 2. 1,024 idle connections from a uid that may use no key (nobody).
if want 2; then
tk_mark
tk_bg tk_as_exec 65534 65534 "$HOSTILE_ATTACK" idle "$SOCK" 1024 40 >"$TK_TMP/a2.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/a2.out" '^READY n=1024 ' "$apid" 30
tk_legit_within attack-2 6
tk_legit_within attack-2b 6
# The excess was refused, with a reason and an audit record.
tk_log_expect "audit: event=refused uid=65534 .*result=EAGAIN .*too many waiting requests from uid 65534 \(max-pending-per-uid 64\)"
end_attack "$apid"
fi

# 3. A public app server (the test user, rsa.example.test) whose remote
# peer opens 64 connections and never sends a ClientHello.
if want 3; then
tk_mark
tk_bg as_attacker public "$SOCK" 64 40 rsa.example.test >"$TK_TMP/a3.out" 2>&1
apid=$TK_BG_PID
# Every slot tried.  Attack 1 has ended, but the daemon may not have
# seen all its requests go yet: a few slots may still be refused at
# connect (the uid's pending share) before their request is sent.
tk_wait_line_pid "$TK_TMP/a3.out" '^READY n=64 ' "$apid"
tk_legit_within attack-3 6
tk_legit_within attack-3b 6
end_attack "$apid"
fi

tk_legit_check after
tk_pass
