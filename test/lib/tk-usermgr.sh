# Part of the test library (test/lib/tk.sh): a private "systemd --user"
# manager for the tests of the shipped units (test/systemd/user-manager.sh,
# test/ops/metrics-socket.sh).  A test does:
#   tk_um_need                 # skip without the manager binary, root, or
#                              # under sanitizers
#   tk_setup --no-daemon
#   tk_um_paths                # rt, home, udir, log, mlog, conf, sock, ...
#   ... copy units into $udir, tk_um_dropins for the tlskeyd units ...
#   tk_um_start                # the manager, cleaned up at exit
#   uctl start tlskeyd.socket; um_wait tlskeyd.socket active 5
# A manager needs /run/systemd/system to start and PID 1's inaccessible
# nodes for ProtectHome= and friends; both are created if missing and
# removed again afterwards (as is the manager's /run/systemd/unit-root).
# One such test at a time (flock): they share /run.

# tk_um_need: the systemd manager binary (SYSTEMD_BIN), root, a normal build.
tk_um_need() {
	SYSTEMD_BIN=
	for c in /lib/systemd/systemd /usr/lib/systemd/systemd; do
		if [ -x "$c" ]; then
			SYSTEMD_BIN=$c
			break
		fi
	done
	[ -n "$SYSTEMD_BIN" ] || tk_skip "the systemd manager binary was not found"
	[ "$(id -u)" = 0 ] || tk_skip "needs root: the manager must set up mount namespaces for the hardened unit"
	# LeakSanitizer stops the world with ptrace, which the unit's system call
	# filter forbids, and sanitizer runtimes do not mix with the unit's
	# MemoryDenyWriteExecute and friends: the units are tested with the normal
	# build (the sanitizer build runs every other test, with leak checks).
	if ldd "$TLSKEYD" 2>/dev/null | grep libasan >/dev/null; then
		tk_skip "sanitizer build: the hardened unit forbids what ASan/LSan need; run by the normal build"
	fi
}

# tk_um_paths: the test's manager layout under TK_TMP (after tk_setup):
# rt (XDG_RUNTIME_DIR), home, udir (unit directory with drop-in
# directories for tlskeyd.service and tlskeyd.socket), log (the daemon's),
# mlog (the manager's), conf, sock; builddir, daemon and ctl as absolute
# paths for unit files.
tk_um_paths() {
	TK_TMP=$(cd -P -- "$TK_TMP" && pwd)
	builddir=$(cd -P -- "$top_builddir" && pwd)
	daemon=$(cd -P -- "$(dirname "$TLSKEYD")" && pwd)/$(basename "$TLSKEYD")
	ctl=$(cd -P -- "$(dirname "$TLSKEYCTL")" && pwd)/$(basename "$TLSKEYCTL")
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
}

# tk_um_dropins [SERVICE-LINES...]: drop-ins that adapt the shipped
# tlskeyd units to a user manager and this fixture without touching any
# hardening option: the socket in $XDG_RUNTIME_DIR, no User=, the built
# binary, SOFTHSM2_CONF, the log; SERVICE-LINES are added to [Service].
tk_um_dropins() {
	cat >"$udir/tlskeyd.socket.d/test.conf" <<EOF
[Socket]
ListenSequentialPacket=
ListenSequentialPacket=%t/tlskeyd.sock
EOF
	{
		cat <<EOF
[Service]
User=
Group=
ExecStart=
ExecStart=$daemon -d -c $conf
ExecReload=
ExecReload=$ctl -s $sock reload
Environment=SOFTHSM2_CONF=$SOFTHSM2_CONF
StandardOutput=append:$log
StandardError=append:$log
TimeoutStartSec=20s
TimeoutStopSec=10s
# PrivateTmp= and ProtectHome= hide the build tree and the fixture; SoftHSM
# needs its token directory writable (ReadWritePaths= in production).
BindReadOnlyPaths=$builddir
BindPaths=$TK_TMP
EOF
		printf '%s\n' "$@"
	} >"$udir/tlskeyd.service.d/test.conf"
}

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

# tk_um_start: start the manager (cleaned up at exit with what it needed
# in /run), and point systemctl, the daemon's clients and TLSKEYD_SOCKET
# at it.
tk_um_start() {
	trap um_cleanup EXIT

	# Several runs (make check and distcheck in parallel) would share /run.
	exec 9>"${TMPDIR:-/tmp}/tlskeyd-test-systemd-user.lock"
	flock -w 60 9 || tk_skip "another run of a user-manager test holds the lock for more than 60s"

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
}

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
