#!/bin/bash
# The shipped units under a real service manager: a private "systemd --user"
# instance runs tlskeyd.socket and tlskeyd.service exactly as built (every
# hardening option included), plus drop-ins that only point them at the
# test fixture: no User=, the socket in $XDG_RUNTIME_DIR, the built binary,
# SOFTHSM2_CONF, a short watchdog.
#
#  1. the socket listens (mode 0666) and the service is inactive;
#  2. a real handshake (tk-app client -> tlskeyd -> gnutls-serv) starts it;
#  3. StatusText shows the daemon's STATUS=, the watchdog is being pinged;
#  4. "systemctl reload" reloads everything in the same process (the
#     shipped ExecReload=, tlskeyctl reload); an invalid configuration
#     makes "systemctl reload" fail while the unit stays active with the
#     same PID and StatusText says so; "tlskeyctl upgrade" replaces the
#     process: MainPID changes, the unit stays active, the old process
#     exits, the new one pings the watchdog and serves; "stop" stops it
#     cleanly and the socket stays;
#  5. with the local-tokens drop-in of doc/systemd.md (PrivateNetwork=yes,
#     AF_UNIX only) and idle-exit, the next client starts it again, it
#     serves, then exits by itself with status 0, and the next client
#     starts it once more.
#
# Needs root (the manager applies namespaces) and the systemd binary; the
# manager comes from test/lib/tk-usermgr.sh.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need systemctl gnutls-serv flock stat
tk_um_need
UNIT_SVC=$top_builddir/systemd/tlskeyd.service
UNIT_SOCK=$top_srcdir/systemd/tlskeyd.socket
[ -r "$UNIT_SVC" ] || tk_skip "$UNIT_SVC was not generated (run make first)"
tk_setup --no-daemon

tk_um_paths
cp "$TK_FX/tlskeyd.conf" "$conf"

# The units as shipped, and drop-ins that adapt them to a user manager and
# this fixture without touching any hardening option.
cp "$UNIT_SVC" "$UNIT_SOCK" "$udir/"
chmod u+w "$udir"/tlskeyd.*
tk_um_dropins WatchdogSec=4s RestartSec=1s

# --- the manager ------------------------------------------------------------
tk_um_start


# um_handshake NAME MYNAME: one real handshake through the daemon against
# a fresh gnutls-serv, data both ways.
um_handshake() {
	local name=$1 myname=$2 rc=0
	tk_start_gnutls_serv "$name-srv" --x509certfile "$TK_FX/peer-server.pem" \
		--x509keyfile "$TK_FX/peer-server.key"
	tk_lines "$TK_TMP/$name.in" 100 "$name line " >/dev/null
	tk_app "$name" client --connect "127.0.0.1:$TK_PORT" --myname "$myname" \
		--sni peer.example.test --timeout 15 || rc=$?
	kill "$TK_PEER_PID" 2>/dev/null || true
	[ "$rc" = 0 ] || tk_fail "$name: handshake through the socket-activated daemon failed (tk-app exit $rc)"
	tk_expect_line "$TK_TMP/$name.err" "PEER=peer.example.test"
	tk_same "$TK_TMP/$name.in" "$TK_TMP/$name.out"
}

# um_log_count ERE: lines of the daemon log matching ERE.
um_log_count() { grep -cE -- "$1" "$log" || true; }

# --- 1. socket only ------------------------------------------------------------
uctl start tlskeyd.socket || tk_fail "systemctl --user start tlskeyd.socket failed"
um_wait tlskeyd.socket active 5
[ -S "$sock" ] || tk_fail "tlskeyd.socket did not create $sock"
[ "$(stat -c %a "$sock")" = 666 ] || tk_fail "socket mode is $(stat -c %a "$sock"), the unit says 0666"
[ "$(um_state tlskeyd.service)" = inactive ] || tk_fail "tlskeyd.service runs before any client connected"

# --- 2. the first client starts the service ----------------------------------------
um_handshake first alice@example.test
um_wait tlskeyd.service active 10
pid=$(um_show tlskeyd.service MainPID)
case $pid in '' | 0) tk_fail "no MainPID for tlskeyd.service" ;; esac
tk_expect_grep "$log" "using the socket passed by systemd"
[ "$(um_log_count 'using the socket passed by systemd')" = 1 ] || tk_fail "tlskeyd started more than once"
um_handshake second carol@example.test

# --- 3. status and watchdog ------------------------------------------------------
status=
for _ in $(seq 30); do
	status=$(um_show tlskeyd.service StatusText)
	[ -n "$status" ] && break
	sleep 0.1
done
tk_log "StatusText=$status"
case $status in
*sessions* | *"accepting requests"*) ;;
*) tk_fail "StatusText '$status' is not the daemon's STATUS=" ;;
esac
[ "$(um_show tlskeyd.service WatchdogUSec)" = 4s ] || tk_fail "WatchdogUSec is $(um_show tlskeyd.service WatchdogUSec)"
wd1=$(um_show tlskeyd.service WatchdogTimestampMonotonic)
wd2=$wd1
for _ in $(seq 60); do
	wd2=$(um_show tlskeyd.service WatchdogTimestampMonotonic)
	[ "$wd2" != "$wd1" ] && break
	sleep 0.1
done
[ "$wd2" != "$wd1" ] || tk_fail "no WATCHDOG=1 from tlskeyd within 6s (WatchdogSec=4s)"

# --- 4. reload and stop --------------------------------------------------------------
n=$(um_log_count 'ACL loaded from')
uctl reload tlskeyd.service || tk_fail "systemctl --user reload tlskeyd.service failed"
for _ in $(seq 50); do
	[ "$(um_log_count 'ACL loaded from')" -gt "$n" ] && break
	sleep 0.1
done
[ "$(um_log_count 'ACL loaded from')" -gt "$n" ] || tk_fail "no 'ACL loaded from' in the daemon log after reload"
um_wait tlskeyd.service active 5
[ "$(um_show tlskeyd.service MainPID)" = "$pid" ] || tk_fail "reload replaced the process"
um_handshake after-reload alice@example.test
# An invalid configuration: "systemctl reload" fails, nothing changes.
cp "$conf" "$TK_TMP/good.conf"
printf '\n[identity broken.example.test]\nkey = pkcs11:token=x;object=y;type=private\ncert = %s\n' \
	"$TK_TMP/no-such.pem" >>"$conf"
if uctl reload tlskeyd.service 2>"$TK_TMP/bad-reload.err"; then
	tk_fail "systemctl reload succeeded with an invalid configuration"
fi
um_wait tlskeyd.service active 5
[ "$(um_show tlskeyd.service MainPID)" = "$pid" ] || tk_fail "the failed reload replaced the process"
status=$(um_show tlskeyd.service StatusText)
tk_log "after the failed reload: StatusText=$status"
case $status in *"reload failed (1 error)"*) ;; *) tk_fail "StatusText '$status' does not report the failed reload" ;; esac
tk_expect_grep "$log" "reload error: $conf:[0-9]+: identity broken.example.test: certificate file"
um_handshake after-bad-reload alice@example.test
cp "$TK_TMP/good.conf" "$conf"
uctl reload tlskeyd.service || tk_fail "systemctl --user reload failed with the good configuration again"
case $(um_show tlskeyd.service StatusText) in
*"reloaded (generation 3)"*) ;;
*) tk_fail "StatusText '$(um_show tlskeyd.service StatusText)' after the good reload" ;;
esac
# An upgrade: the new process becomes the main PID, the unit stays active
# throughout, the old process (no sessions) exits, the watchdog goes on.
timeout 90 "$builddir/tlskeyctl" -s "$sock" upgrade >"$TK_TMP/up.out" 2>"$TK_TMP/up.err" ||
	tk_fail "tlskeyctl upgrade failed: $(cat "$TK_TMP/up.out" "$TK_TMP/up.err")"
newpid=$(sed -n 's/^new tlskeyd pid \([0-9]*\) serves.*/\1/p' "$TK_TMP/up.out")
[ -n "$newpid" ] && [ "$newpid" != "$pid" ] || tk_fail "upgrade answer: $(cat "$TK_TMP/up.out")"
[ "$(um_state tlskeyd.service)" = active ] || tk_fail "tlskeyd.service is $(um_state tlskeyd.service) during the upgrade"
for _ in $(seq 50); do
	[ "$(um_show tlskeyd.service MainPID)" = "$newpid" ] && break
	sleep 0.1
done
[ "$(um_show tlskeyd.service MainPID)" = "$newpid" ] ||
	tk_fail "MainPID is $(um_show tlskeyd.service MainPID) after the upgrade, want $newpid"
for _ in $(seq 100); do
	[ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
	sleep 0.1
done
[ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
	tk_fail "the old process $pid did not exit after the upgrade"
um_wait tlskeyd.service active 5
tk_log "upgrade: MainPID $pid -> $newpid"
wd1=$(um_show tlskeyd.service WatchdogTimestampMonotonic)
um_handshake after-upgrade alice@example.test
for _ in $(seq 60); do
	[ "$(um_show tlskeyd.service WatchdogTimestampMonotonic)" != "$wd1" ] && break
	sleep 0.1
done
[ "$(um_show tlskeyd.service WatchdogTimestampMonotonic)" != "$wd1" ] ||
	tk_fail "no WATCHDOG=1 from the new main process within 6s"
[ "$(um_show tlskeyd.service NRestarts)" = 0 ] || tk_fail "the upgrade restarted the unit"
pid=$newpid

uctl stop tlskeyd.service || tk_fail "systemctl --user stop tlskeyd.service failed"
[ "$(um_state tlskeyd.service)" = inactive ] || tk_fail "tlskeyd.service is $(um_state tlskeyd.service) after stop" \
	"(Result=$(um_show tlskeyd.service Result) ExecMainCode=$(um_show tlskeyd.service ExecMainCode)" \
	"ExecMainStatus=$(um_show tlskeyd.service ExecMainStatus))"
[ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] ||
	tk_fail "the upgraded tlskeyd (pid $pid) survived systemctl stop"
[ "$(um_show tlskeyd.service Result)" = success ] || tk_fail "stop: Result=$(um_show tlskeyd.service Result)"
[ "$(um_state tlskeyd.socket)" = active ] || tk_fail "stopping the service stopped the socket"
[ -S "$sock" ] || tk_fail "the socket file went away with the service"

# --- 5. local-tokens profile and idle exit ---------------------------------------------
cat >"$udir/tlskeyd.service.d/local-tokens.conf" <<'EOF'
[Service]
PrivateNetwork=yes
IPAddressDeny=any
IPAddressAllow=localhost
RestrictAddressFamilies=
RestrictAddressFamilies=AF_UNIX AF_INET
EOF
{
	echo "idle-exit = 2"
	cat "$TK_FX/tlskeyd.conf"
} >"$conf"
uctl daemon-reload || tk_fail "daemon-reload failed"
um_handshake isolated carol@example.test
# The private namespace still has a loopback for the protected descriptors.
if grep -q 'cannot make a loopback TCP connection' "$log"; then
	tk_fail "no loopback TCP in the local-tokens profile: $(grep 'loopback TCP' "$log" | head -1)"
fi
um_wait tlskeyd.service inactive 15
[ "$(um_show tlskeyd.service Result)" = success ] || tk_fail "idle exit: Result=$(um_show tlskeyd.service Result)"
[ "$(um_show tlskeyd.service ExecMainStatus)" = 0 ] || tk_fail "idle exit: status $(um_show tlskeyd.service ExecMainStatus)"
tk_expect_grep "$log" "idle for"
[ "$(um_state tlskeyd.socket)" = active ] || tk_fail "the socket did not survive the idle exit"
um_handshake reactivated alice@example.test
# Three activations and the upgraded process, which got it the same way.
[ "$(um_log_count 'using the socket passed by systemd')" = 4 ] ||
	tk_fail "expected 3 activations and 1 upgrade, the log shows $(um_log_count 'using the socket passed by systemd')"
[ "$(um_show tlskeyd.service NRestarts)" = 0 ] || tk_fail "the service was restarted (NRestarts=$(um_show tlskeyd.service NRestarts))"

uctl stop tlskeyd.socket tlskeyd.service || tk_fail "stopping the units failed"
[ "$(um_state tlskeyd.service)" = inactive ] || tk_fail "tlskeyd.service still $(um_state tlskeyd.service)"
um_stop_manager
tk_pass
