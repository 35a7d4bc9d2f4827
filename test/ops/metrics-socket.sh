#!/bin/bash
# The shipped tlskeyd-metrics.socket and tlskeyd-metrics@.service under a
# real service manager (a private "systemd --user", as in
# test/systemd/user-manager.sh), with tlskeyd.socket/.service:
#  - systemd-analyze verify accepts the metrics units;
#  - the metrics socket listens on loopback only (a free port chosen here,
#    set by a drop-in), Accept=yes;
#  - a curl scrape answers 200 with the exposition, and its counters move:
#    established after a handshake, ACL denials after a denial;
#  - other paths are 404, other methods 405;
#  - the daemon has no HTTP listener of its own.
# Drop-ins only point the units at this fixture (no User=/DynamicUser= in
# a user manager, the built binaries).  Needs root and the systemd binary.
# One instance at a time (the same lock as user-manager.sh).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need systemctl systemd-analyze curl flock ss
SYSTEMD_BIN=
for c in /lib/systemd/systemd /usr/lib/systemd/systemd; do
	if [ -x "$c" ]; then
		SYSTEMD_BIN=$c
		break
	fi
done
[ -n "$SYSTEMD_BIN" ] || tk_skip "the systemd manager binary was not found"
[ "$(id -u)" = 0 ] || tk_skip "needs root: the manager must set up namespaces for the hardened units"
UNIT_SVC=$top_builddir/systemd/tlskeyd.service
UNIT_MSVC=$top_builddir/systemd/tlskeyd-metrics@.service
# Built with the tree: a missing unit is a build failure, not a skip.
[ -r "$UNIT_SVC" ] && [ -r "$UNIT_MSVC" ] || tk_fail "$UNIT_SVC or $UNIT_MSVC was not generated"
if ldd "$TLSKEYD" 2>/dev/null | grep libasan >/dev/null; then
	tk_skip "sanitizer build: the hardened units forbid what ASan/LSan need; run by the normal build"
fi
tk_setup --no-daemon

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
acl=$TK_TMP/metrics.acl
MANAGER_PID=
CREATED=()

mkdir -m 0700 "$rt"
mkdir -p "$udir/tlskeyd.service.d" "$udir/tlskeyd.socket.d" "$udir/tlskeyd-metrics.socket.d" \
	"$udir/tlskeyd-metrics@.service.d"
: >"$log"
# The fixture's daemon, with an ACL that denies carol (for a denial).
printf '%s\n' "allow user:$(id -un) server.example.test server" \
	"allow user:$(id -un) alice@example.test client" >"$acl"
chmod 600 "$acl"
sed "s|^acl = .*|acl = $acl|" "$TK_FX/tlskeyd.conf" >"$conf"

cp "$UNIT_SVC" "$top_srcdir/systemd/tlskeyd.socket" "$UNIT_MSVC" \
	"$top_srcdir/systemd/tlskeyd-metrics.socket" "$udir/"
chmod u+w "$udir"/tlskeyd*

# Unit files as shipped must be valid (tlskeyctl where the unit says).
sed "s|^ExecStart=[^ ]*|ExecStart=$ctl|" "$UNIT_MSVC" >"$TK_TMP/tlskeyd-metrics@.service"
cp "$top_srcdir/systemd/tlskeyd-metrics.socket" "$TK_TMP/"
SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$TK_TMP/tlskeyd-metrics.socket" \
	"$TK_TMP/tlskeyd-metrics@.service" >"$TK_TMP/verify.out" 2>&1 ||
	{ cat "$TK_TMP/verify.out" >&2; tk_fail "systemd-analyze verify rejects the metrics units"; }
if grep -E 'tlskeyd-metrics' "$TK_TMP/verify.out" >&2; then
	tk_fail "systemd-analyze verify complains about the metrics units"
fi

# Its sandbox (measured 0.6 with systemd 252): a regression is a failure.
if systemd-analyze security --help 2>&1 | grep -- '--offline' >/dev/null; then
	SYSTEMD_LOG_COLOR=0 systemd-analyze security --no-pager --offline=true \
		"$TK_TMP/tlskeyd-metrics@.service" >"$TK_TMP/security.out" 2>&1 || true
	score=$(sed -nE 's/.*Overall exposure level.*: ([0-9]+\.[0-9]+) .*/\1/p' "$TK_TMP/security.out")
	[ -n "$score" ] || { cat "$TK_TMP/security.out" >&2; tk_fail "no exposure level for tlskeyd-metrics@.service"; }
	tk_log "tlskeyd-metrics@.service exposure: $score"
	awk -v s="$score" 'BEGIN { exit !(s + 0 <= 1.0) }' || tk_fail "tlskeyd-metrics@.service exposure $score is above 1.0"
fi

port=$(tk_free_port) || tk_fail "no free port"
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
Environment=SOFTHSM2_CONF=$SOFTHSM2_CONF
StandardOutput=append:$log
StandardError=append:$log
TimeoutStartSec=20s
TimeoutStopSec=10s
BindReadOnlyPaths=$builddir
BindPaths=$TK_TMP
EOF
cat >"$udir/tlskeyd-metrics.socket.d/test.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$port
EOF
cat >"$udir/tlskeyd-metrics@.service.d/test.conf" <<EOF
[Service]
DynamicUser=no
SupplementaryGroups=
ExecStart=
ExecStart=$ctl -s $sock metrics --http
BindReadOnlyPaths=$builddir
BindReadOnlyPaths=$rt
EOF

uctl() { env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$rt" timeout 20 systemctl --user --no-pager "$@"; }
um_state() { uctl is-active "$1" 2>/dev/null || true; }
um_stop_manager() {
	local main
	[ -n "$MANAGER_PID" ] || return 0
	main=$(uctl show -p MainPID --value tlskeyd.service 2>/dev/null || true)
	kill -TERM "$MANAGER_PID" 2>/dev/null || true
	tk_wait_pid "$MANAGER_PID" 10 || kill -KILL "$MANAGER_PID" 2>/dev/null || true
	if [ -n "$main" ] && [ "$main" != 0 ] && kill -KILL "$main" 2>/dev/null; then
		tk_log "tlskeyd (pid $main) outlived its manager: killed"
	fi
	MANAGER_PID=
}
um_cleanup() {
	local rc=$? p i
	trap - EXIT
	set +e
	um_stop_manager
	for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
		p=${CREATED[i]}
		case $p in
		*/inaccessible) rm -rf -- "$p" ;;
		*) [ ! -d "$p" ] || rmdir -- "$p" 2>/dev/null || tk_log "left $p behind (not empty)" ;;
		esac
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$mlog" ]; then
		tail -n 20 "$mlog" >&2
	fi
	(exit "$rc")
	tk_cleanup
}
trap um_cleanup EXIT

exec 9>"${TMPDIR:-/tmp}/tlskeyd-test-systemd-user.lock"
flock -w 60 9 || tk_skip "another run of a user-manager test holds the lock for more than 60s"
if [ ! -d /run/systemd/system ]; then
	mkdir -p /run/systemd/system || tk_skip "cannot create /run/systemd/system"
	CREATED+=(/run/systemd/system)
fi
[ -e /run/systemd/unit-root ] || CREATED+=(/run/systemd/unit-root)
tk_bg env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME="$home" XDG_RUNTIME_DIR="$rt" XDG_CONFIG_HOME="$home/.config" \
	XDG_DATA_HOME="$home/.local/share" XDG_STATE_HOME="$home/.local/state" \
	XDG_CACHE_HOME="$home/.cache" SYSTEMD_LOG_TARGET=console \
	"$SYSTEMD_BIN" --user </dev/null >"$mlog" 2>&1
MANAGER_PID=$TK_BG_PID
tk_wait_until 10 "$MANAGER_PID" test -S "$rt/systemd/private" ||
	tk_skip "systemd --user did not start (see $mlog)"
if [ ! -e /run/systemd/inaccessible ]; then
	if [ -d "$rt/systemd/inaccessible" ] && cp -a "$rt/systemd/inaccessible" /run/systemd/; then
		CREATED+=(/run/systemd/inaccessible)
	else
		tk_skip "cannot provide /run/systemd/inaccessible for the sandboxing options"
	fi
fi
export XDG_RUNTIME_DIR=$rt TLSKEYD_SOCKET=$sock
unset DBUS_SESSION_BUS_ADDRESS

uctl start tlskeyd.socket tlskeyd-metrics.socket || tk_fail "cannot start the sockets"
tk_wait_until 5 "" test -S "$sock" || tk_fail "tlskeyd.socket did not create $sock"
tk_wait_listen "$port" "" || tk_fail "tlskeyd-metrics.socket does not listen on $port"
# Loopback only.
ss -Hltn "sport = :$port" >"$TK_TMP/ss.out"
if grep -vE '127\.0\.0\.1:' "$TK_TMP/ss.out" >&2; then
	tk_fail "the metrics socket listens beyond 127.0.0.1"
fi

# scrape NAME: GET /metrics with curl (bounded), status line and body.
scrape() {
	curl -sS --max-time 15 -o "$TK_TMP/$1.out" -w '%{http_code}' "http://127.0.0.1:$port/metrics" \
		>"$TK_TMP/$1.code" 2>"$TK_TMP/$1.err" || true
	[ "$(cat "$TK_TMP/$1.code")" = 200 ] || {
		cat "$TK_TMP/$1.err" "$TK_TMP/$1.out" >&2
		uctl status 'tlskeyd-metrics@*' >&2 || true
		tk_fail "scrape $1: HTTP $(cat "$TK_TMP/$1.code"), wanted 200"
	}
}
mget() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "missing" }' "$TK_TMP/$1.out"; }
est='tlskeyd_handshakes_total{outcome="established",cause="ok"}'

scrape s0
svc_active() { [ "$(um_state tlskeyd.service)" = active ]; }
tk_wait_until 10 "" svc_active || tk_fail "the scrape did not start tlskeyd.service through its socket"
e0=$(mget s0 "$est")
d0=$(mget s0 tlskeyd_acl_denials_total)
case "$e0$d0" in *missing*) cat "$TK_TMP/s0.out" >&2; tk_fail "scrape without the handshake or denial counters" ;; esac
tk_expect_grep "$TK_TMP/s0.out" '^tlskeyd_certificate_expiry_timestamp_seconds\{identity="server.example.test"\} [0-9]+$'

# A handshake (app server <-> app client, both through the daemon).
printf 'ping\n' >"$TK_TMP/c.in"
tk_app_server s --myname server.example.test --echo
tk_app c client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni server.example.test || { cat "$TK_TMP/c.err" >&2; tk_fail "handshake through the activated daemon failed"; }
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "the app server failed"
scrape s1
[ "$(mget s1 "$est")" = $((e0 + 2)) ] || tk_fail "established went from $e0 to $(mget s1 "$est"), wanted +2"
[ "$(mget s1 tlskeyd_acl_denials_total)" = "$d0" ] || tk_fail "a denial was counted without one"

# A denial.
tk_app_server s2 --myname server.example.test --expect-errno any --timeout 10
tk_app d client --connect "127.0.0.1:$TK_PORT" --myname carol@example.test \
	--sni server.example.test --expect-errno EACCES || { cat "$TK_TMP/d.err" >&2; tk_fail "carol was not denied"; }
kill "$TK_SERVER_PID" 2>/dev/null || true
tk_wait_pid "$TK_SERVER_PID" 10 || true
scrape s2
[ "$(mget s2 tlskeyd_acl_denials_total)" = $((d0 + 1)) ] || tk_fail "acl_denials went from $d0 to $(mget s2 tlskeyd_acl_denials_total), wanted +1"
[ "$(mget s2 "$est")" = $((e0 + 2)) ] || tk_fail "established moved without a handshake"

# Not /metrics, not GET.
code=$(curl -sS --max-time 15 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other" || true)
[ "$code" = 404 ] || tk_fail "GET /other: HTTP $code, wanted 404"
code=$(curl -sS --max-time 15 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics" || true)
[ "$code" = 405 ] || tk_fail "POST /metrics: HTTP $code, wanted 405"

# The daemon itself listens on no TCP port.
main=$(uctl show -p MainPID --value tlskeyd.service)
if ss -Hltnp 2>/dev/null | grep -E "pid=$main," >&2; then
	tk_fail "tlskeyd (pid $main) has a TCP listener of its own"
fi
uctl stop tlskeyd-metrics.socket tlskeyd.socket tlskeyd.service || tk_fail "stopping the units failed"
um_stop_manager
tk_pass
