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
tk_um_need
UNIT_SVC=$top_builddir/systemd/tlskeyd.service
UNIT_MSVC=$top_builddir/systemd/tlskeyd-metrics@.service
# Built with the tree: a missing unit is a build failure, not a skip.
[ -r "$UNIT_SVC" ] && [ -r "$UNIT_MSVC" ] || tk_fail "$UNIT_SVC or $UNIT_MSVC was not generated"
tk_setup --no-daemon

tk_um_paths
acl=$TK_TMP/metrics.acl

mkdir -p "$udir/tlskeyd-metrics.socket.d" "$udir/tlskeyd-metrics@.service.d"
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

tk_um_dropins
# metrics_port: point the metrics socket at a free port (the manager binds
# it; another process may take the port first, so the start below retries).
metrics_port() {
	port=$(tk_free_port) || tk_fail "no free port"
	cat >"$udir/tlskeyd-metrics.socket.d/test.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$port
EOF
}
metrics_port
cat >"$udir/tlskeyd-metrics@.service.d/test.conf" <<EOF
[Service]
DynamicUser=no
SupplementaryGroups=
ExecStart=
ExecStart=$ctl -s $sock metrics --http
BindReadOnlyPaths=$builddir
BindReadOnlyPaths=$rt
EOF

tk_um_start

uctl start tlskeyd.socket || tk_fail "cannot start tlskeyd.socket"
for try in 1 2 3 4 5; do
	uctl start tlskeyd-metrics.socket && break
	[ "$try" != 5 ] || tk_fail "cannot start tlskeyd-metrics.socket"
	tk_log "tlskeyd-metrics.socket did not start on port $port; another port"
	uctl reset-failed tlskeyd-metrics.socket || true
	metrics_port
	uctl daemon-reload || tk_fail "daemon-reload failed"
done
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
