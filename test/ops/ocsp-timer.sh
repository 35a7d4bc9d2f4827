#!/bin/bash
# The shipped tlskeyd-ocsp.timer and tlskeyd-ocsp.service under a real
# service manager (a private "systemd --user", as in metrics-socket.sh),
# with tlskeyd.socket/.service:
#  - the timer loads and is scheduled (a next elapse time);
#  - the service (what the timer starts) runs "tlskeyctl ocsp-fetch
#    --reload" in its sandbox: it asks the responder at the certificate's
#    AIA URL, writes the response file and reloads the daemon, which then
#    staples it (openssl s_client -status: "Cert Status: good");
#  - with the responder gone the service fails and the old file stays.
# The responder is a one-shot HTTP server on 127.0.0.1 answering with a
# response that `openssl ocsp` signed from its index (openssl's own
# responder binds every interface, and this test shares the host's
# network with the manager).  Drop-ins only point the units at this
# fixture (no User=, the built binaries).  Needs root and systemd.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need systemctl openssl flock ss
tk_um_need
TLSKEYCTL=${TLSKEYCTL:-$top_builddir/tlskeyctl}
PY=/usr/bin/python3
UNIT_SVC=$top_builddir/systemd/tlskeyd.service
UNIT_OSVC=$top_builddir/systemd/tlskeyd-ocsp.service
[ -r "$UNIT_SVC" ] && [ -r "$UNIT_OSVC" ] || tk_fail "$UNIT_SVC or $UNIT_OSVC was not generated"
tk_setup --no-daemon
tk_um_paths

# The responder: answers one POST with the response file (signed below,
# once the certificate naming the responder's port exists).  It binds a
# port of the kernel's choosing before anything names it, so no other
# process can take the port in between.
tk_bg "$PY" - "$TK_TMP/signed.der" "$TK_TMP/responder.port" >"$TK_TMP/responder.log" 2>&1 <<'EOF'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(1)
with open(sys.argv[2] + ".new", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[2] + ".new", sys.argv[2])
c, _ = s.accept()
req = c.recv(65536)
print(req.split(b"\r\n")[0].decode(), flush=True)
body = open(sys.argv[1], "rb").read()
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body)
c.close()
EOF
RESP_PID=$TK_BG_PID
tk_wait_until 10 "$RESP_PID" test -s "$TK_TMP/responder.port" || tk_fail "the responder did not start"
port=$(cat "$TK_TMP/responder.port")
tk_check_cert "$TK_TMP/server.pem" "$TK_FX/server-ec.pub" 30 "cn = server.example.test
dns_name = server.example.test
signing_key
tls_www_server
ocsp_uri = http://127.0.0.1:$port/"
printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=a\n' \
	"$(openssl x509 -in "$TK_TMP/server.pem" -noout -serial | cut -d= -f2)" >"$TK_TMP/index.txt"
openssl ocsp -index "$TK_TMP/index.txt" -rsigner "$TK_FX/ca.pem" -rkey "$TK_FX/ca.key" \
	-CA "$TK_FX/ca.pem" -issuer "$TK_FX/ca.pem" -cert "$TK_TMP/server.pem" -ndays 1 \
	-respout "$TK_TMP/signed.der" >"$TK_TMP/sign.log" 2>&1 || { cat "$TK_TMP/sign.log" >&2; tk_fail "openssl ocsp"; }
mkdir "$TK_TMP/state"
sed -e "s#^cert = $TK_FX/server-ec.pem\$#cert = $TK_TMP/server.pem\nocsp-response = $TK_TMP/state/server.der#" \
	-e "s#^socket = .*#socket = $sock#" "$TK_FX/tlskeyd.conf" >"$conf"
grep -q "^ocsp-response = " "$conf" || tk_fail "no ocsp-response in $conf"

cp "$UNIT_SVC" "$top_srcdir/systemd/tlskeyd.socket" "$UNIT_OSVC" \
	"$top_srcdir/systemd/tlskeyd-ocsp.timer" "$udir/"
chmod u+w "$udir"/tlskeyd*
tk_um_dropins
mkdir -p "$udir/tlskeyd-ocsp.service.d"
cat >"$udir/tlskeyd-ocsp.service.d/test.conf" <<EOF
[Service]
User=
Group=
ExecStart=
ExecStart=$ctl -c $conf -s $sock ocsp-fetch --timeout 5 --reload
Environment=SOFTHSM2_CONF=$SOFTHSM2_CONF
BindReadOnlyPaths=$builddir
BindPaths=$TK_TMP
EOF

tk_um_start
uctl start tlskeyd.socket || tk_fail "cannot start tlskeyd.socket"
uctl start tlskeyd.service || tk_fail "cannot start tlskeyd.service"
tk_wait_until 10 "" test -S "$sock" || tk_fail "no daemon socket"

uctl start tlskeyd-ocsp.timer || tk_fail "cannot start tlskeyd-ocsp.timer"
next=$(um_show tlskeyd-ocsp.timer NextElapseUSecMonotonic)
tk_log "tlskeyd-ocsp.timer: next elapse (monotonic) $next"
[ -n "$next" ] && [ "$next" != infinity ] && [ "$next" != 0 ] || tk_fail "the timer is not scheduled"
[ "$(um_show tlskeyd-ocsp.timer Unit)" = tlskeyd-ocsp.service ] || tk_fail "the timer starts another unit"

lines=$(wc -l <"$log")
uctl start tlskeyd-ocsp.service || { uctl status tlskeyd-ocsp.service >&2 || true; tk_fail "tlskeyd-ocsp.service failed"; }
tk_wait_pid "$RESP_PID" 10 || tk_fail "the responder did not answer"
tk_expect_grep "$TK_TMP/responder.log" '^POST / HTTP/1.0$'
cmp -s "$TK_TMP/signed.der" "$TK_TMP/state/server.der" || tk_fail "the service did not write the response"
reloaded() { tail -n "+$((lines + 1))" "$log" | grep -E 'reload' >/dev/null; }
tk_wait_until 10 "" reloaded || { tail "$log" >&2; tk_fail "the service did not reload the daemon"; }

tk_app_server s --myname server.example.test --echo --flags no-request-peer-cert
echo hello >"$TK_TMP/c.in"
tk_fifo_client c "$TK_TMP/c.in" 1 openssl s_client -status -no_ign_eof -connect "127.0.0.1:$TK_PORT" \
	-servername server.example.test -CAfile "$TK_FX/ca.pem" -verify_return_error ||
	tk_fail "s_client failed"
tk_wait_ok "$TK_SERVER_PID" 20 "tk-app server" "$TK_TMP/s.err"
tk_expect_grep "$TK_TMP/c.out" 'Cert Status: good'

tk_log "responder gone: the service fails, the file stays"
cp "$TK_TMP/state/server.der" "$TK_TMP/before.der"
rc=0
uctl start tlskeyd-ocsp.service || rc=$?
[ "$rc" != 0 ] || tk_fail "tlskeyd-ocsp.service succeeded without a responder"
[ "$(um_show tlskeyd-ocsp.service Result)" = exit-code ] || tk_fail "unexpected result $(um_show tlskeyd-ocsp.service Result)"
cmp -s "$TK_TMP/before.der" "$TK_TMP/state/server.der" || tk_fail "the failed run changed the file"

uctl stop tlskeyd-ocsp.timer tlskeyd.socket tlskeyd.service || tk_fail "stopping the units failed"
um_stop_manager
tk_pass
