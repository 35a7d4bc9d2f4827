#!/bin/bash
# Upgrading (or restarting) the daemon without dropping sessions (issue
# 10), standalone (systemd: test/systemd/user-manager.sh):
#   1. a session (tk-app server.example.test <- tk-app alice, both through
#      tlskeyd) has relayed 8 MiB each way; "tlskeyctl upgrade" starts the
#      binary again: the new process holds the listener alone (ss), serves
#      a new handshake, and the old one relays the session's other 8 MiB
#      each way (hashes match); the old process exits once it ended
#   2. upgrade-drain = 2 (by reload): an idle session is open, another
#      upgrade: at the limit the draining process ends it (audit record
#      session-end, end=shutdown, result=ESHUTDOWN) and exits; the peer sees it end
#   3. the new binary cannot start (its configuration is broken): tlskeyctl
#      upgrade exits 1 and says why, the running daemon serves on
#   4. SIGUSR2 upgrades as well
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need sha256sum head ss gnutls-cli
tk_setup
CONF=$TK_FX/tlskeyd.conf

# exited PID: gone, or a zombie (a draining process after the first is no
# child of ours: whoever inherited it reaps it).
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# holders: the pids holding the daemon's listening socket.
holders() {
	ss -Hxlp 2>/dev/null | grep -F " $TLSKEYD_SOCKET " | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' '
}
# only_new: the listener is held by $NEW alone.  The old process answers
# the upgrade before its workers close their duplicates of the listener
# (each at its next wake-up), so this is waited for, bounded.
only_new() { [ "$(holders)" = "pid=$NEW " ]; }

# upgrade NAME: tlskeyctl upgrade; sets NEW (the new pid, remembered for cleanup).
upgrade() {
	tk_dctl 0 "$1" upgrade
	NEW=$(sed -n 's/^new tlskeyd pid \([0-9]*\) serves; pid \([0-9]*\) drains its sessions$/\1/p' "$TK_TMP/$1.out")
	[ -n "$NEW" ] || tk_fail "unexpected answer: $(cat "$TK_TMP/$1.out")"
	TK_PIDS+=("$NEW")
}

# ---- 1. an upgrade under a relaying session ------------------------------------
OLD=$TK_DAEMON_PID
tk_session_start 8

[ "$(holders)" = "pid=$OLD " ] || tk_fail "before: listener held by '$(holders)', want pid=$OLD"
tk_mark
upgrade up1
tk_log "upgraded: old pid $OLD, new pid $NEW"
tk_wait_until 5 "" only_new || tk_fail "after: listener held by '$(holders)', want only the new pid $NEW"
tk_log_expect "upgrade: draining 2 sessions for up to 3600 s"
kill -0 "$OLD" 2>/dev/null || tk_fail "the old process exited with a session open"
TK_DAEMON_PID=$NEW
tk_legit_check new
# The old process relays the rest of its session.
tk_session_finish "session across the upgrade"
tk_wait_pid "$OLD" 10 || tk_fail "the old process did not exit after its last session"
tk_log_expect "upgrade: the last session ended: exiting"
[ -S "$TLSKEYD_SOCKET" ] || tk_fail "the old process removed the socket at its exit"

# ---- 2. the drain limit ----------------------------------------------------------
sed -i 's/^handshake-timeout = .*/&\nupgrade-drain = 2/' "$CONF"
tk_dctl 0 reload-drain reload
OLD=$NEW
tk_start_gnutls_serv idle-peer --x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
mkfifo "$TK_TMP/i.fifo"
exec 5<>"$TK_TMP/i.fifo"
tk_bg timeout 60 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --timeout 60 <"$TK_TMP/i.fifo" >"$TK_TMP/i.out" 2>"$TK_TMP/i.err" 5>&-
I_PID=$TK_BG_PID
echo "idle session line" >&5
tk_wait_until 10 "$I_PID" grep -qx "idle session line" "$TK_TMP/i.out" || tk_fail "the idle session did not start"
tk_mark
upgrade up2
TK_DAEMON_PID=$NEW
tk_wait_log "upgrade: drain limit \\(2 s\\) reached: ending 1 sessions" 10 || tk_fail "no drain limit"
tk_wait_log "audit: event=session-end .*myname=alice@example.test .*result=ESHUTDOWN .*end=shutdown .*detail=\"the upgrade's drain limit passed" 5 ||
	tk_fail "no audit record for the session ended at the drain limit"
tk_wait_until 10 "" exited "$OLD" || tk_fail "the draining process did not exit at its drain limit"
exec 5>&-
tk_wait_pid "$I_PID" 10 || true # the app saw its session end (reset): any status
tk_legit_check after-drain

# ---- 3. a new binary that cannot start ------------------------------------------
cp "$CONF" "$TK_TMP/good.conf"
printf '\n[identity broken.example.test]\nkey = pkcs11:token=x;object=y;type=private\ncert = %s\n' \
	"$TK_TMP/no-such.pem" >>"$CONF"
tk_mark
tk_dctl 1 up3 upgrade
tk_log "failed upgrade: $(tr '\n' ' ' <"$TK_TMP/up3.err")"
tk_expect_grep "$TK_TMP/up3.err" "upgrade failed: "
tk_expect_grep "$TK_TMP/up3.err" "the new tlskeyd \\(pid [0-9]+\\) exited before it was ready \\(its log says why\\); this one \\(pid $NEW\\) keeps serving"
tk_log_expect "no-such.pem"
tk_wait_until 5 "" only_new || tk_fail "after the failed upgrade: listener held by '$(holders)'"
cp "$TK_TMP/good.conf" "$CONF"
tk_legit_check after-failure
# ---- 4. SIGUSR2 upgrades too (systemctl kill -s USR2) -------------------------
OLD=$NEW
tk_mark
kill -USR2 "$OLD"
tk_wait_log "upgrade: new tlskeyd pid [0-9]+ serves; pid $OLD drains its sessions" 30 || tk_fail "SIGUSR2 did not upgrade"
NEW=$(tk_log_since | sed -n "s/.*upgrade: new tlskeyd pid \([0-9]*\) serves; pid $OLD drains.*/\1/p" | head -1)
TK_PIDS+=("$NEW")
tk_wait_until 10 "" exited "$OLD" || tk_fail "the process upgraded by SIGUSR2 did not exit"
tk_wait_until 5 "" only_new || tk_fail "after SIGUSR2: listener held by '$(holders)'"
TK_DAEMON_PID=$NEW
tk_legit_check after-usr2
# The daemon now running is no child of this shell: stop it by pid here.
kill -TERM "$NEW"
tk_wait_until 10 "" exited "$NEW" || tk_fail "the upgraded daemon did not stop on SIGTERM"
TK_DAEMON_PID=
tk_pass
