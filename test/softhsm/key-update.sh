#!/bin/bash
# Session controls (issue 12, item 7): tlskey_control() and the
# key-update-bytes setting, against real peers:
#   - TLSKEY_CTL_KEY_UPDATE mid-stream, server role (the app echoes 256 KiB)
#     against openssl s_client: every byte right, s_client's -msg trace
#     shows our KeyUpdate and its answer (and none without the call);
#   - the same against gnutls-cli (its debug log shows the KeyUpdate), and
#     in the client role against gnutls-serv --echo;
#   - the call made by a child of another uid with the inherited descriptor:
#     it works (holding the descriptor is the credential) and is audited;
#   - key-update-bytes = 1048576: KeyUpdates without any call, against
#     gnutls-serv --echo, 3 MiB through, hashes match; key-update-seconds
#     = 1: none before the period, one with the first data after it;
#   - TLSKEY_CTL_CLOSE_NOTIFY: what the app wrote goes out, then
#     close_notify (s_server ends the connection) while the app's own
#     side stays open; its answer still arrives; a second one and a
#     KeyUpdate after it are refused (EALREADY / ENOTCONN, or ENOENT once
#     the peer's own close ended the session);
#   - KeyUpdate on TLS 1.2: EOPNOTSUPP; an unknown operation: EINVAL;
#   - a bad key-update-bytes value is refused by tlskeyd -t.
# The test runs in its own network namespace (gnutls-serv binds all
# addresses).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl gnutls-cli gnutls-serv unshare ip base64
tk_netns_enter "$@"
tk_setup

# About 3 MiB of text; 256 KiB for openssl s_client, which does not read
# while it writes (a larger echo could fill both directions' buffers).
head -c 2359296 /dev/urandom | base64 -w 76 >"$TK_TMP/lines.in"
head -c 262144 "$TK_TMP/lines.in" >"$TK_TMP/small.in"
SIZE=$(stat -c %s "$TK_TMP/lines.in")

# ---- KeyUpdate on request, server role, openssl s_client --------------------
# ku_ossl NAME APP-ARGS...: the app echoes 3 MiB back to openssl s_client
# (-quiet: its stdout is the data only), whose -msg trace we keep.
ku_ossl() {
	local name=$1
	shift
	tk_log "case $name: server role against openssl s_client, the app echoes ($*)"
	tk_app_server "$name" --myname server.example.test --echo "$@"
	tk_fifo_client "$name-cli" "$TK_TMP/small.in" "$(stat -c %s "$TK_TMP/small.in")" openssl s_client \
		-connect "127.0.0.1:$TK_PORT" -servername server.example.test -CAfile "$TK_FX/ca.pem" \
		-cert "$TK_FX/peer-user.pem" -key "$TK_FX/peer-user.key" -quiet -no_ign_eof -nocommands \
		-msg -msgfile "$TK_TMP/$name.msg" || tk_fail "$name: openssl s_client failed"
	tk_wait_ok "$TK_SERVER_PID" 20 "$name: tk-app server" "$TK_TMP/$name.err"
	tk_same "$TK_TMP/small.in" "$TK_TMP/$name-cli.out"
}
ku_ossl ku-ossl --ctl key-update --ctl-after-down 65536
tk_expect_line "$TK_TMP/ku-ossl.err" "CTL key-update ok"
# Ours arrived (<<<).  (OpenSSL sends its own answer with its next write,
# which may never come once s_client has sent everything.)
tk_expect_grep "$TK_TMP/ku-ossl.msg" '^<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate'
# Without the call: no KeyUpdate (the check above can fail).
ku_ossl ku-none
! grep -q KeyUpdate "$TK_TMP/ku-none.msg" || tk_fail "a KeyUpdate without any call"

# ---- KeyUpdate on request, server role, gnutls-cli --------------------------
tk_log "case ku-gnutls: KeyUpdate after 1 MiB, server role, the app echoes"
tk_app_server ku-gcli --myname server.example.test --echo --ctl key-update --ctl-after-down 1048576
tk_fifo_client ku-gcli-cli "$TK_TMP/lines.in" "$SIZE" gnutls-cli -d 4 --logfile="$TK_TMP/ku-gcli-cli.log" --port "$TK_PORT" \
	--x509cafile "$TK_FX/ca.pem" --x509certfile "$TK_FX/peer-user.pem" \
	--x509keyfile "$TK_FX/peer-user.key" --verify-hostname server.example.test \
	--sni-hostname server.example.test 127.0.0.1 || tk_fail "gnutls-cli failed"
tk_wait_ok "$TK_SERVER_PID" 20 "ku-gcli: tk-app server" "$TK_TMP/ku-gcli.err"
tk_expect_line "$TK_TMP/ku-gcli.err" "CTL key-update ok"
tk_same "$TK_TMP/lines.in" "$TK_TMP/ku-gcli-cli.out"
# GnuTLS's debug log: our KeyUpdate, with update_requested, arrived (its
# answer goes out with gnutls-cli's next write, which may not come).
tk_expect_grep "$TK_TMP/ku-gcli-cli.err" 'received TLS 1.3 key update \(1\)'

# ---- KeyUpdate on request, client role, gnutls-serv -------------------------
tk_log "case ku-gserv: KeyUpdate after 1 MiB, client role, gnutls-serv --echo"
tk_start_gnutls_serv ku-gserv-srv -d 4 --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
cp "$TK_TMP/lines.in" "$TK_TMP/ku-gserv.in"
tk_ok ku-gserv client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --ctl key-update --ctl-after 1048576
tk_expect_line "$TK_TMP/ku-gserv.err" "CTL key-update ok"
tk_same "$TK_TMP/lines.in" "$TK_TMP/ku-gserv.out"
n=$(cat "$TK_TMP/ku-gserv-srv.err" "$TK_TMP/ku-gserv-srv.out" | grep -c 'received TLS 1.3 key update (1)' || true)
[ "$n" = 1 ] || tk_fail "ku-gserv: gnutls-serv saw $n KeyUpdates with update_requested, wanted 1"
# The session's own uid: no record of a passed-on descriptor.
! grep -E 'event=session-control' "$TK_TMP/tlskeyd.log" >&2 || tk_fail "ku-gserv: a session-control record"

# ---- the descriptor passed on to another uid ---------------------------------
# Holding the protected descriptor is the credential: a child that drops to
# nobody may make the call, and the daemon puts it on the record.
if [ "$(id -u)" = 0 ]; then
	tk_log "case ku-foreign: the KeyUpdate asked by a child of another uid"
	chmod 755 "$TK_TMP" "$TK_FX" # nobody may reach the socket
	cp "$TK_TMP/lines.in" "$TK_TMP/ku-foreign.in"
	tk_mark
	tk_ok ku-foreign client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
		--sni peer.example.test --ctl key-update --ctl-after 1048576 --ctl-as 65534:65534
	tk_expect_line "$TK_TMP/ku-foreign.err" "CTL key-update ok"
	tk_same "$TK_TMP/lines.in" "$TK_TMP/ku-foreign.out"
	tk_log_expect 'audit: event=session-control uid=65534 gid=65534 .* myname=alice@example.test .*detail="key-update on a session uid 0 started \(pid [0-9]+\): its protected descriptor was passed on"'
fi
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true

# ---- key-update-bytes: automatic -------------------------------------------
tk_log "case ku-auto: key-update-bytes = 1048576, gnutls-serv --echo"
tk_conf auto "key-update-bytes=1048576"
tk_daemon_start "$TK_TMP/auto.conf" || tk_fail "daemon with key-update-bytes did not start"
tk_start_gnutls_serv ku-auto-srv -d 4 --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
# In two halves, the second sent once the first is back and more than
# 500 ms have passed (the least gap between two of our KeyUpdates): at
# least one KeyUpdate in each.
HALF=$(((SIZE / 2 + 75) / 77 * 77))
head -c "$HALF" "$TK_TMP/lines.in" >"$TK_TMP/ku-auto.1"
tail -c +"$((HALF + 1))" "$TK_TMP/lines.in" >"$TK_TMP/ku-auto.2"
mkfifo "$TK_TMP/auto.fifo"
exec 4<>"$TK_TMP/auto.fifo"
tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test <"$TK_TMP/auto.fifo" >"$TK_TMP/ku-auto.out" 2>"$TK_TMP/ku-auto.err" 4>&-
app=$TK_BG_PID
cat "$TK_TMP/ku-auto.1" >&4
t0=$(date +%s%N)
half_back() { [ "$(stat -c %s "$TK_TMP/ku-auto.out")" -ge "$HALF" ]; }
tk_wait_until 20 "$app" half_back || tk_fail "ku-auto: the first half did not come back"
later() { [ $((($(date +%s%N) - t0) / 1000000)) -ge 700 ]; }
tk_wait_until 5 "$app" later || tk_fail "ku-auto: the app died"
cat "$TK_TMP/ku-auto.2" >&4
exec 4>&-
tk_wait_ok "$app" 20 "ku-auto: tk-app" "$TK_TMP/ku-auto.err"
tk_same "$TK_TMP/lines.in" "$TK_TMP/ku-auto.out"
n=$(cat "$TK_TMP/ku-auto-srv.err" "$TK_TMP/ku-auto-srv.out" | grep -c 'received TLS 1.3 key update' || true)
tk_log "ku-auto: gnutls-serv logged $n received KeyUpdates for $((2 * SIZE)) bytes"
[ "$n" -ge 2 ] || { grep -iE 'key.?update' "$TK_TMP/ku-auto-srv.err" | head >&2; tk_fail "ku-auto: $n KeyUpdates, wanted >= 2"; }
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true

# key-update-bytes at its minimum: a KeyUpdate would be due every 16 KiB,
# but GnuTLS ends a session that receives more than 8 in a second (before:
# gnutls-serv broke off with "too many handshake packets" and the echo was
# cut).  Ours are at least 500 ms apart: every byte comes back, and the
# peer saw at most one per 500 ms of the transfer (plus the first).
tk_log "case ku-min: key-update-bytes = 16384, gnutls-serv --echo"
tk_conf kumin "key-update-bytes=16384"
tk_daemon_start "$TK_TMP/kumin.conf" || tk_fail "daemon with key-update-bytes = 16384 did not start"
tk_start_gnutls_serv ku-min-srv -d 4 --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
cp "$TK_TMP/lines.in" "$TK_TMP/ku-min.in"
t0=$(tk_ms)
tk_ok ku-min client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test --sni peer.example.test
t1=$(tk_ms)
tk_same "$TK_TMP/lines.in" "$TK_TMP/ku-min.out"
n=$(cat "$TK_TMP/ku-min-srv.err" "$TK_TMP/ku-min-srv.out" | grep -c 'received TLS 1.3 key update' || true)
tk_log "ku-min: gnutls-serv logged $n received KeyUpdates in $((t1 - t0)) ms for $((2 * SIZE)) bytes"
[ "$n" -ge 1 ] || tk_fail "ku-min: no KeyUpdate"
[ "$n" -le $(((t1 - t0) / 500 + 1)) ] || tk_fail "ku-min: $n KeyUpdates in $((t1 - t0)) ms: closer than 500 ms apart"
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true

# key-update-seconds: checked as data moves.  One line, then another
# once more than the period passed: one KeyUpdate, with the second line.
tk_log "case ku-secs: key-update-seconds = 1"
tk_conf secs "key-update-seconds=1"
tk_daemon_start "$TK_TMP/secs.conf" || tk_fail "daemon with key-update-seconds did not start"
tk_start_gnutls_serv ku-secs-srv -d 4 --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
mkfifo "$TK_TMP/secs.fifo"
exec 4<>"$TK_TMP/secs.fifo"
tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test <"$TK_TMP/secs.fifo" >"$TK_TMP/secs.out" 2>"$TK_TMP/secs.err" 4>&-
app=$TK_BG_PID
printf 'first\n' >&4
tk_wait_line "$TK_TMP/secs.out" '^first$' 10 "$app" || tk_fail "ku-secs: no first echo"
t0=$(date +%s%N)
ku_count() { cat "$TK_TMP/ku-secs-srv.err" "$TK_TMP/ku-secs-srv.out" | grep -c 'received TLS 1.3 key update' || true; }
[ "$(ku_count)" = 0 ] || tk_fail "ku-secs: a KeyUpdate before the period"
# The period is the feature: let the clock pass it (bounded, not a sleep).
later() { [ $((($(date +%s%N) - t0) / 1000000)) -ge 1200 ]; }
tk_wait_until 5 "$app" later || tk_fail "ku-secs: the app died"
printf 'second\n' >&4
tk_wait_line "$TK_TMP/secs.out" '^second$' 10 "$app" || tk_fail "ku-secs: no second echo"
ku_seen() { [ "$(ku_count)" -ge 1 ]; }
tk_wait_until 5 "$app" ku_seen || tk_fail "ku-secs: no KeyUpdate after the period"
exec 4>&-
tk_wait_ok "$app" 15 "ku-secs: tk-app" "$TK_TMP/secs.err"
kill "$TK_PEER_PID" 2>/dev/null || true
tk_wait_pid "$TK_PEER_PID" 5 || true

tk_conf badku "key-update-bytes=100"
tk_check_t badku "$TK_TMP/badku.conf" 1 "with key-update-bytes = 100"
tk_expect_grep "$TK_TMP/badku.t" "key-update-bytes' must be 0 or from 16384"

# ---- close_notify on request -------------------------------------------------
tk_daemon_start "$TK_FX/tlskeyd.conf" || tk_fail "daemon did not restart"
tk_log "case stop: close_notify after the request, the app's side held open"
tk_start_openssl_serv stop-srv -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key" \
	-msg -msgfile "$TK_TMP/stop.msg"
mkfifo "$TK_TMP/stop.fifo"
exec 4<>"$TK_TMP/stop.fifo"
tk_bg timeout 30 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --ctl close-notify,close-notify,key-update --ctl-after 8 \
	<"$TK_TMP/stop.fifo" >"$TK_TMP/stop.out" 2>"$TK_TMP/stop.err" 4>&-
app=$TK_BG_PID
printf 'request\n' >&4
# s_server answers the line, sees our close_notify and ends, while the
# app's input is still open.
tk_wait_pid "$TK_PEER_PID" 15 || { cat "$TK_TMP/stop.err" >&2; tk_fail "stop: s_server did not end"; }
tk_wait_line "$TK_TMP/stop.out" '^tseuqer$' 10 "$app" || tk_fail "stop: the answer did not arrive"
kill -0 "$app" 2>/dev/null || tk_fail "stop: the app ended before its input did"
exec 4>&-
tk_wait_ok "$app" 15 "stop: tk-app" "$TK_TMP/stop.err"
tk_expect_line "$TK_TMP/stop.err" "CTL close-notify ok"
# The calls after it are refused: EALREADY (ENOTCONN for a KeyUpdate)
# while the session lasts, ENOENT once s_server's own close ended it.
[ "$(grep -cE '^CTL-ERROR errno=(EALREADY|ENOTCONN|ENOENT) ' "$TK_TMP/stop.err")" = 2 ] ||
	tk_fail "stop: the calls after close_notify were not both refused"
! grep -q '^CTL key-update ok' "$TK_TMP/stop.err" || tk_fail "stop: a KeyUpdate after close_notify"

tk_expect_grep "$TK_TMP/stop.msg" '^<<< TLS 1.3, Alert \[length 0002\], warning close_notify'

# ---- refusals ----------------------------------------------------------------
tk_log "case ku-tls12: KeyUpdate on TLS 1.2"
tk_start_openssl_serv ku12-srv -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key" -tls1_2
printf 'x\n' >"$TK_TMP/ku12.in"
tk_app ku12 client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni peer.example.test --ctl key-update,bad || true
tk_wait_pid "$TK_PEER_PID" 15 || true
tk_expect_grep "$TK_TMP/ku12.err" '^CTL-ERROR errno=EOPNOTSUPP .*TLS 1.3'
tk_expect_grep "$TK_TMP/ku12.err" '^CTL-ERROR errno=EINVAL .*unknown tlskey_control'
tk_legit_check ku
tk_pass
