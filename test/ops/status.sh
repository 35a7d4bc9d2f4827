#!/bin/bash
# tlskeyctl status / status --json / metrics / metrics --http against the
# real daemon (doc/status.md):
#  - the text and JSON views (valid JSON) name the version, configuration,
#    ACL and every identity with its key URI, never a PIN;
#  - the counters move: a handshake bumps established, a denial bumps the
#    ACL denials (overall and for the identity), signatures are counted;
#  - the Prometheus exposition has HELP/TYPE lines, the tlskeyd_ prefix
#    and the certificate's notAfter as certificate_expiry_timestamp_seconds;
#  - metrics --http answers 200 / 404 / 405 / 400 / 408 (bounded wait);
#  - who may ask: another uid is refused with a clear error (EPERM, and an
#    audit record), a member of admin-group may, others still may not;
#    an unknown admin-group is a configuration error at file:line.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3 openssl
tk_setup
tk_make_test_user

st() { tk_ctl "$1" -s "$TLSKEYD_SOCKET" "${@:2}"; }
# jget NAME EXPR: a value from NAME.out (JSON) by a Python expression on d.
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TK_TMP/$1.out" "$2"; }
# mget NAME SERIES: the value of one series in NAME.out (exposition).
mget() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "missing" }' "$TK_TMP/$1.out"; }

# --- text and JSON ----------------------------------------------------------
st s0 status || { cat "$TK_TMP/s0.err" >&2; tk_fail "tlskeyctl status failed"; }
tk_expect_grep "$TK_TMP/s0.out" "^tlskeyd [0-9]"
tk_expect_line "$TK_TMP/s0.out" "configuration: $TK_FX/tlskeyd.conf"
tk_expect_line "$TK_TMP/s0.out" "acl: $TK_FX/acl.conf"
tk_expect_line "$TK_TMP/s0.out" "identity server.example.test"
tk_expect_line "$TK_TMP/s0.out" "  key: pkcs11:token=tlskeyd-test;object=server-ec;type=private"
tk_expect_grep "$TK_TMP/s0.out" "^  certificate expires: 20[0-9-]+T"
if grep -iE 'pin-(value|source)|pin=' "$TK_TMP/s0.out" >&2; then
	tk_fail "the status shows a PIN"
fi
st j0 status --json || tk_fail "tlskeyctl status --json failed"
python3 -m json.tool "$TK_TMP/j0.out" >/dev/null || tk_fail "status --json is not valid JSON"
est0=$(jget j0 'd["handshakes"]["established"]["total"]')
den0=$(jget j0 'd["acl_denials"]')

tk_legit_check one
st j1 status --json || tk_fail "status --json failed"
est1=$(jget j1 'd["handshakes"]["established"]["total"]')
[ "$est1" = $((est0 + 2)) ] || tk_fail "established went from $est0 to $est1 after one local session (two handshakes)"
signs=$(jget j1 '[i["signatures"] for i in d["identities"] if i["name"] == "server.example.test"][0]')
[ "$signs" -ge 1 ] || tk_fail "no signature counted for server.example.test"
[ "$(jget j1 '[i["logged_in"] for i in d["identities"] if i["name"] == "server.example.test"][0]')" = True ] ||
	tk_fail "server.example.test is not shown logged in after a handshake"
[ "$(jget j1 '[i["sign_latency_p99_us"] is not None for i in d["identities"] if i["name"] == "server.example.test"][0]')" = True ] ||
	tk_fail "no p99 sign latency after a signature"

# A denial: a uid the fixture's ACL does not know.
tk_app_server deny-s --myname server.example.test --expect-errno any --timeout 10
tk_app_user deny client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni server.example.test --expect-errno EACCES || tk_fail "the test user was not denied"
kill "$TK_SERVER_PID" 2>/dev/null || true
tk_wait_pid "$TK_SERVER_PID" 10 || true
st j2 status --json || tk_fail "status --json failed"
[ "$(jget j2 'd["acl_denials"]')" = $((den0 + 1)) ] || tk_fail "acl_denials did not move after a denial"
[ "$(jget j2 '[i["acl_denials"] for i in d["identities"] if i["name"] == "alice@example.test"][0]')" = 1 ] ||
	tk_fail "the denial was not counted for alice@example.test"

# --- Prometheus ---------------------------------------------------------------
st m metrics || tk_fail "tlskeyctl metrics failed"
tk_expect_line "$TK_TMP/m.out" "# TYPE tlskeyd_handshakes_total counter"
tk_expect_line "$TK_TMP/m.out" "# TYPE tlskeyd_sign_duration_seconds histogram"
tk_expect_grep "$TK_TMP/m.out" "^# HELP tlskeyd_certificate_expiry_timestamp_seconds "
if grep -vE '^(# (HELP|TYPE) tlskeyd_[a-z_]+ .+|tlskeyd_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? ([-+0-9.e]+|[-+]Inf|NaN))$' "$TK_TMP/m.out" >&2; then
	tk_fail "lines above are not valid text exposition with the tlskeyd_ prefix"
fi
[ "$(mget m 'tlskeyd_handshakes_total{outcome="established",cause="ok"}')" = "$est1" ] ||
	tk_fail "metrics and status disagree on established handshakes"
[ "$(mget m 'tlskeyd_handshakes_total{outcome="acl_denied",cause="EACCES"}')" = "$((den0 + 1))" ] ||
	tk_fail "no acl_denied/EACCES series after a denial"
want=$(date -d "$(openssl x509 -in "$TK_FX/server-ec.pem" -noout -enddate | cut -d= -f2)" +%s)
[ "$(mget m 'tlskeyd_certificate_expiry_timestamp_seconds{identity="server.example.test"}')" = "$want" ] ||
	tk_fail "certificate_expiry_timestamp_seconds is not the certificate's notAfter ($want)"
[ "$(mget m 'tlskeyd_sign_duration_seconds_count{identity="server.example.test"}')" = "$signs" ] ||
	tk_fail "the histogram count is not the signature count"
# The descriptor budget: the limit is the daemon's soft RLIMIT_NOFILE, the
# count near what /proc shows, and the three views agree.
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$TK_DAEMON_PID/limits")
[ "$(mget m tlskeyd_descriptor_limit)" = "$soft" ] ||
	tk_fail "tlskeyd_descriptor_limit $(mget m tlskeyd_descriptor_limit), the daemon's limit is $soft"
[ "$(jget j2 'd["descriptor_limit"]')" = "$soft" ] || tk_fail "descriptor_limit in the JSON is not $soft"
open=$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)
used=$(mget m tlskeyd_descriptors_in_use)
[ "$used" -ge $((open - 8)) ] && [ "$used" -le $((open + 8)) ] ||
	tk_fail "tlskeyd_descriptors_in_use $used, /proc shows $open open"
[ "$(mget m tlskeyd_descriptor_limit_pauses_total)" = 0 ] || tk_fail "a pause at the descriptor limit was counted"
tk_expect_grep "$TK_TMP/s0.out" "^descriptors in use: about [0-9]+ of $soft\$"

# --- metrics --http (what tlskeyd-metrics@.service runs) ------------------------
http() {
	local name=$1
	shift
	printf "$@" | timeout 20 "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" metrics --http >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" || true
	head -n 1 "$TK_TMP/$name.out" | tr -d '\r'
}
[ "$(http h200 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n')" = "HTTP/1.1 200 OK" ] || tk_fail "GET /metrics: $(head -1 "$TK_TMP/h200.out")"
tk_expect_grep "$TK_TMP/h200.out" '^tlskeyd_handshakes_total\{outcome="established",cause="ok"\} [0-9]+'
[ "$(http h404 'GET /other HTTP/1.1\r\n\r\n')" = "HTTP/1.1 404 Not Found" ] || tk_fail "GET /other is not 404"
[ "$(http h405 'POST /metrics HTTP/1.1\r\n\r\n')" = "HTTP/1.1 405 Method Not Allowed" ] || tk_fail "POST is not 405"
[ "$(http h400 'hello\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || tk_fail "garbage is not 400"
t0=$(date +%s)
# stdin stays open (and silent) for 8 s; bash does not wait for it.
timeout 20 "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" metrics --http < <(sleep 8) >"$TK_TMP/h408.out" 2>&1 || true
[ "$(head -n 1 "$TK_TMP/h408.out" | tr -d '\r')" = "HTTP/1.1 408 Request Timeout" ] || tk_fail "a silent client does not get 408"
[ $(($(date +%s) - t0)) -le 7 ] || tk_fail "metrics --http waited more than its 5 s for a request"

# --- who may ask ---------------------------------------------------------------
as_user() { setpriv --reuid "$TK_TEST_UID" --regid "$TK_TEST_GID" --init-groups "$@"; }
# refused NAME SUBCOMMAND ERR-ERE DETAIL-ERE: another uid's tlskeyctl
# SUBCOMMAND exits 1 saying ERR-ERE, and the refusal is audited.
refused() {
	local rc=0
	tk_mark
	as_user "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" "$2" >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.err" || rc=$?
	[ "$rc" = 1 ] || tk_fail "another uid: tlskeyctl $2 exit $rc, wanted 1"
	tk_expect_grep "$TK_TMP/$1.err" "$3"
	tk_log_expect "audit: event=refused uid=$TK_TEST_UID .*result=EPERM .*detail=\"$4"
}
refused u1 status "status refused: permission denied: only root and the daemon's user \(uid $(id -u)\) may ask for tlskeyd's status \(no admin-group is configured\)" \
	"permission denied"
# An admin request is refused on the record too (KEYS and UPGRADE were
# answered without an audit record).
refused u1u upgrade "only root and the daemon's user \(uid $(id -u)\) may upgrade tlskeyd" \
	"only root and the daemon's user"
tk_legit_check after-refusal

tk_conf admin "admin-group=$TK_TEST_GROUP"
tk_daemon_start "$TK_TMP/admin.conf"
as_user "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" status --json >"$TK_TMP/u2.out" 2>"$TK_TMP/u2.err" ||
	{ cat "$TK_TMP/u2.err" >&2; tk_fail "a member of admin-group $TK_TEST_GROUP was refused"; }
python3 -m json.tool "$TK_TMP/u2.out" >/dev/null || tk_fail "status --json as admin-group member is not JSON"
rc=0
setpriv --reuid 65534 --regid 65534 --clear-groups "$TLSKEYCTL" -s "$TLSKEYD_SOCKET" metrics \
	>"$TK_TMP/u3.out" 2>"$TK_TMP/u3.err" || rc=$?
[ "$rc" = 1 ] || tk_fail "uid 65534 (not in admin-group): tlskeyctl metrics exit $rc, wanted 1"
tk_expect_grep "$TK_TMP/u3.err" "members of admin-group $TK_TEST_GROUP may ask"
tk_legit_check admin-group

# A group that does not exist: an error at file:line, and no daemon.
tk_conf badgroup "admin-group=no-such-group-$$"
rc=0
"$TLSKEYD" -t -c "$TK_TMP/badgroup.conf" >"$TK_TMP/bg.out" 2>"$TK_TMP/bg.err" || rc=$?
[ "$rc" != 0 ] || tk_fail "tlskeyd -t accepted an unknown admin-group"
tk_expect_grep "$TK_TMP/bg.err" "badgroup\.conf:[0-9]+: 'admin-group': unknown group 'no-such-group-$$'"
tk_pass
