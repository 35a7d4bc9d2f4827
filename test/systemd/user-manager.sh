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
# Needs root (the manager applies namespaces) and the systemd binary.  A
# manager needs /run/systemd/system to start and PID 1's inaccessible
# nodes for ProtectHome= and friends; both are created if missing and
# removed again afterwards (as is the manager's /run/systemd/unit-root).  One instance of this test at a time (flock).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need systemctl gnutls-serv flock stat
SYSTEMD_BIN=
for c in /lib/systemd/systemd /usr/lib/systemd/systemd; do
	if [ -x "$c" ]; then
		SYSTEMD_BIN=$c
		break
	fi
done
[ -n "$SYSTEMD_BIN" ] || tk_skip "the systemd manager binary was not found"
[ "$(id -u)" = 0 ] || tk_skip "needs root: the manager must set up mount namespaces for the hardened unit"
UNIT_SVC=$top_builddir/systemd/tlskeyd.service
UNIT_SOCK=$top_srcdir/systemd/tlskeyd.socket
[ -r "$UNIT_SVC" ] || tk_skip "$UNIT_SVC was not generated (run make first)"
# LeakSanitizer stops the world with ptrace, which the unit's system call
# filter forbids, and sanitizer runtimes do not mix with the unit's
# MemoryDenyWriteExecute and friends: the units are tested with the normal
# build (the sanitizer build runs every other test, with leak checks).
if ldd "$TLSKEYD" 2>/dev/null | grep libasan >/dev/null; then
	tk_skip "sanitizer build: the hardened unit forbids what ASan/LSan need; run by the normal build"
fi
tk_setup --no-daemon

TK_TMP=$(cd -P -- "$TK_TMP" && pwd)
builddir=$(cd -P -- "$top_builddir" && pwd)
daemon=$(cd -P -- "$(dirname "$TLSKEYD")" && pwd)/$(basename "$TLSKEYD")
for p in "$TK_TMP" "$builddir"; do
	case $p in
	*[[:space:]%\\\"\']*) tk_skip "path '$p' cannot be written into a unit file unquoted" ;;
	esac
done
rt=$TK_TMP/rt
home=$TK_TMP/home
udir=$home/.config/systemd/user
log=$TK_TMP/tlskeyd.log
mlog=$TK_TMP/manager.log
conf=$TK_TMP/tlskeyd.conf
sock=$rt/tlskeyd.sock
MANAGER_PID=
CREATED=()

mkdir -m 0700 "$rt"
mkdir -p "$udir/tlskeyd.service.d" "$udir/tlskeyd.socket.d"
: >"$log"
cp "$TK_FX/tlskeyd.conf" "$conf"

# The units as shipped, and drop-ins that adapt them to a user manager and
# this fixture without touching any hardening option.
cp "$UNIT_SVC" "$UNIT_SOCK" "$udir/"
chmod u+w "$udir"/tlskeyd.*
cat >"$udir/tlskeyd.socket.d/test.conf" <<EOF
[Socket]
ListenSequentialPacket=
ListenSequentialPacket=%t/tlskeyd.sock
EOF
cat >"$udir/tlskeyd.service.d/test.conf" <<EOF
[Service]
User=
Group=
ExecStart=
ExecStart=$daemon -d -c $conf
ExecReload=
ExecReload=$builddir/tlskeyctl -s $sock reload
Environment=SOFTHSM2_CONF=$SOFTHSM2_CONF
StandardOutput=append:$log
StandardError=append:$log
WatchdogSec=4s
TimeoutStartSec=20s
TimeoutStopSec=10s
RestartSec=1s
# PrivateTmp= and ProtectHome= hide the build tree and the fixture; SoftHSM
# needs its token directory writable (ReadWritePaths= in production).
BindReadOnlyPaths=$builddir
BindPaths=$TK_TMP
EOF

# --- the manager ------------------------------------------------------------
# Always our manager, never a real one of the invoking user.
uctl() { env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$rt" timeout 20 systemctl --user --no-pager "$@"; }
um_show() { uctl show -p "$2" --value "$1"; }
um_state() { uctl is-active "$1" 2>/dev/null || true; }

um_stop_manager() {
	local main
	[ -n "$MANAGER_PID" ] || return 0
	main=$(um_show tlskeyd.service MainPID 2>/dev/null || true)
	tk_term "$MANAGER_PID" 10 "the manager" || true
	if [ -n "$main" ] && [ "$main" != 0 ] && kill -KILL "$main" 2>/dev/null; then
		tk_log "tlskeyd (pid $main) outlived its manager: killed"
	fi
	MANAGER_PID=
}

# Undo what this test added to /run, newest first.  Directories are removed
# only when empty, except our copy of the inaccessible nodes.
um_undo_run() {
	local p i
	for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
		p=${CREATED[i]}
		case $p in
		*/inaccessible) rm -rf -- "$p" ;;
		*) [ ! -d "$p" ] || rmdir -- "$p" 2>/dev/null || tk_log "left $p behind (not empty)" ;;
		esac
	done
	CREATED=()
}

um_cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	um_stop_manager
	um_undo_run
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$mlog" ]; then
		echo "----- tail of $mlog -----" >&2
		tail -n 20 "$mlog" >&2
	fi
	(exit "$rc")
	tk_cleanup
}
trap um_cleanup EXIT

# Several runs (make check and distcheck in parallel) would share /run.
exec 9>"${TMPDIR:-/tmp}/tlskeyd-test-systemd-user.lock"
flock -w 60 9 || tk_skip "another run of this test holds the lock for more than 60s"

if [ ! -d /run/systemd/system ]; then
	mkdir -p /run/systemd/system || tk_skip "cannot create /run/systemd/system"
	CREATED+=(/run/systemd/system)
fi
# The manager's mount point for namespaced units.
[ -e /run/systemd/unit-root ] || CREATED+=(/run/systemd/unit-root)

# A clean environment: a user manager hands its own to every unit, and the
# unit must bring everything the daemon needs.
tk_bg env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME="$home" XDG_RUNTIME_DIR="$rt" XDG_CONFIG_HOME="$home/.config" \
	XDG_DATA_HOME="$home/.local/share" XDG_STATE_HOME="$home/.local/state" \
	XDG_CACHE_HOME="$home/.cache" SYSTEMD_LOG_TARGET=console \
	"$SYSTEMD_BIN" --user </dev/null >"$mlog" 2>&1
MANAGER_PID=$TK_BG_PID
for _ in $(seq 100); do
	[ -S "$rt/systemd/private" ] && break
	kill -0 "$MANAGER_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -S "$rt/systemd/private" ]; then
	tail -n 20 "$mlog" >&2
	if kill -0 "$MANAGER_PID" 2>/dev/null; then
		tk_skip "systemd --user did not create $rt/systemd/private within 10s"
	fi
	tk_skip "systemd --user exited at startup (see its log above)"
fi
# PID 1 creates these; units with ProtectHome=, ProtectKernelTunables= or
# ProtectKernelLogs= fail with 226/NAMESPACE without them.
if [ ! -e /run/systemd/inaccessible ]; then
	if [ -d "$rt/systemd/inaccessible" ] && cp -a "$rt/systemd/inaccessible" /run/systemd/; then
		CREATED+=(/run/systemd/inaccessible)
	else
		tk_skip "cannot provide /run/systemd/inaccessible for the sandboxing options"
	fi
fi

export XDG_RUNTIME_DIR=$rt
unset DBUS_SESSION_BUS_ADDRESS
export TLSKEYD_SOCKET=$sock


# um_wait UNIT STATE SECONDS: wait (bounded) until UNIT is in STATE.
um_wait() {
	local i
	for i in $(seq $(($3 * 10))); do
		[ "$(um_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	uctl status "$1" >&2 || true
	tk_fail "$1 is $(um_state "$1"), expected $2 within $3s"
}

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
