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
as_attacker() { tk_as "$TK_TEST_UID" "$TK_TEST_GID" "$HOSTILE_ATTACK" "$@"; }
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
kill "$apid"
tk_wait_pid "$apid" 10 || true
fi

# 2. 1,024 idle connections from a uid that may use no key (nobody).
if want 2; then
tk_mark
tk_bg tk_as 65534 65534 "$HOSTILE_ATTACK" idle "$SOCK" 1024 40 >"$TK_TMP/a2.out" 2>&1
apid=$TK_BG_PID
tk_wait_line_pid "$TK_TMP/a2.out" '^READY n=1024 ' "$apid" 30
tk_legit_within attack-2 6
tk_legit_within attack-2b 6
# The excess was refused, with a reason and an audit record.
tk_log_expect "audit: event=refused uid=65534 .*result=EAGAIN .*too many waiting requests from uid 65534 \(max-pending-per-uid 64\)"
kill "$apid"
tk_wait_pid "$apid" 10 || true
fi

# 3. A public app server (the test user, rsa.example.test) whose remote
# peer opens 64 connections and never sends a ClientHello.
if want 3; then
tk_mark
tk_bg as_attacker public "$SOCK" 64 40 rsa.example.test >"$TK_TMP/a3.out" 2>&1
apid=$TK_BG_PID
# Every slot tried: some may be refused at connect (the uid's pending
# share, which attack 1's requests still hold), before their request is
# sent; the rest are up.
tk_wait_line_pid "$TK_TMP/a3.out" '^READY n=64 ' "$apid"
tk_legit_within attack-3 6
tk_legit_within attack-3b 6
kill "$apid"
tk_wait_pid "$apid" 10 || true
fi

tk_legit_check after
tk_pass
