#!/bin/bash
# No gap at a reload or an upgrade (issue 10): two clients make handshakes
# in a loop (alice -> a tk-app server for
# server.example.test, both ends through tlskeyd, so every iteration is two
# handshakes with the token keys) while the certificate of
# server.example.test is renewed and reloaded every 0.3 s, alternating
# between two renewals, and once, at the 15th, the daemon is upgraded
# ("tlskeyctl upgrade": a new process takes the listener, the old one
# drains and exits).  The reloads go on (30 at least) until each loop has
# made 10 handshakes, then the loops are told to stop: counts, not the
# clock, end it (a sanitizer build on a loaded machine is slow).  Every handshake
# must succeed: the client loops count their failures, and the daemon log
# must show no handshake-failed or refused record.  The counts are
# printed.  At the end a new handshake gets the certificate of the last
# reload.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need certtool cmp
tk_setup
CONF=$TK_FX/tlskeyd.conf

# Two renewals of server.example.test's certificate (same token key).
for s in 5001 5002; do
	printf 'serial = %s\ncn = server.example.test\ndns_name = server.example.test\nsigning_key\ntls_www_server\ntls_www_client\nexpiration_days = 90\n' \
		"$s" >"$TK_TMP/$s.tmpl"
	tk_cert_issue "$TK_TMP/$s.pem" "$TK_TMP/$s.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
		--load-pubkey "$TK_FX/server-ec.pub" 2>"$TK_TMP/certtool.err" || tk_fail "certtool failed"
	certtool -i --infile "$TK_TMP/$s.pem" --outder --outfile "$TK_TMP/$s.der" 2>/dev/null
done

# client_loop TAG PORT: handshakes until $TK_TMP/stop exists (at most
# 5000, and 120 s); writes "ok failed" to TAG.count after each.
client_loop() {
	local tag=$1 port=$2 end ok=0 bad=0 i=0
	end=$(($(date +%s) + 120))
	while [ ! -e "$TK_TMP/stop" ] && [ "$(date +%s)" -lt "$end" ] && [ "$i" -lt 5000 ]; do
		i=$((i + 1))
		if printf 'ping %s %d\n' "$tag" "$i" | timeout 20 "$TK_APP" client --connect "127.0.0.1:$port" \
			--myname alice@example.test --sni server.example.test --timeout 15 \
			>"$TK_TMP/$tag.last" 2>>"$TK_TMP/$tag.errs" &&
			[ "$(cat "$TK_TMP/$tag.last")" = "ping $tag $i" ]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
		fi
		echo "$ok $bad" >"$TK_TMP/$tag.count.new"
		mv "$TK_TMP/$tag.count.new" "$TK_TMP/$tag.count"
	done
}
# oks TAG: the handshakes TAG's loop has made so far.
oks() { local ok=0 bad; [ -s "$TK_TMP/$1.count" ] && read -r ok bad <"$TK_TMP/$1.count"; echo "$ok"; }

tk_app_server s1 --myname server.example.test --echo --accept-count 1000 --timeout 60
P1=$TK_PORT S1=$TK_SERVER_PID
tk_app_server s2 --myname server.example.test --echo --accept-count 1000 --timeout 60
P2=$TK_PORT S2=$TK_SERVER_PID
tk_mark
tk_bg client_loop c1 "$P1"
L1=$TK_BG_PID
tk_bg client_loop c2 "$P2"
L2=$TK_BG_PID

# Reloads while the loops run: alternate the two renewals.
reloads=0 last= OLD=$TK_DAEMON_PID NEW=
for i in $(seq 300); do
	kill -0 "$L1" 2>/dev/null || kill -0 "$L2" 2>/dev/null || break
	[ "$i" -gt 30 ] && [ "$(oks c1)" -ge 10 ] && [ "$(oks c2)" -ge 10 ] && break
	last=$((i % 2 ? 5001 : 5002))
	cp "$TK_TMP/$last.pem" "$TK_FX/server-ec.pem.new"
	mv "$TK_FX/server-ec.pem.new" "$TK_FX/server-ec.pem"
	if [ "$i" = 15 ]; then
		# The new process reads the renewed file at its start.
		tk_dctl 0 "upgrade-$i" upgrade
		NEW=$(sed -n 's/^new tlskeyd pid \([0-9]*\) serves.*/\1/p' "$TK_TMP/upgrade-$i.out")
		[ -n "$NEW" ] || tk_fail "upgrade: $(cat "$TK_TMP/upgrade-$i.out")"
		TK_PIDS+=("$NEW")
	else
		tk_dctl 0 "reload-$i" reload
		reloads=$((reloads + 1))
	fi
	sleep 0.3 # pacing of the reloads, not a synchronisation
done
touch "$TK_TMP/stop"
tk_wait_pid "$L1" 40 || tk_fail "client loop 1 did not end"
tk_wait_pid "$L2" 40 || tk_fail "client loop 2 did not end"
read -r ok1 bad1 <"$TK_TMP/c1.count"
read -r ok2 bad2 <"$TK_TMP/c2.count"
failed_log=$(tk_log_since | grep -cE 'audit: event=(handshake-failed|refused)' || true)
tk_log "handshakes: loop 1 $ok1 ok / $bad1 failed, loop 2 $ok2 ok / $bad2 failed;" \
	"$reloads reloads and 1 upgrade (pid $OLD -> $NEW); failure records in the daemon log: $failed_log"
if [ "$bad1" != 0 ] || [ "$bad2" != 0 ] || [ "$failed_log" != 0 ]; then
	tail -n 5 "$TK_TMP/c1.errs" "$TK_TMP/c2.errs" >&2
	tk_log_since | grep -E 'audit: event=(handshake-failed|refused)' | head -5 >&2
	tk_fail "handshakes failed around reloads"
fi
[ "$reloads" -ge 10 ] || tk_fail "only $reloads reloads happened"
[ -n "$NEW" ] || tk_fail "the upgrade did not happen"
[ "$ok1" -ge 10 ] && [ "$ok2" -ge 10 ] || tk_fail "too few handshakes ($ok1, $ok2) to tell"
tk_term "$S1" 5 "tk-app server s1" || true
tk_term "$S2" 5 "tk-app server s2" || true

# The last reload's certificate is the one served.
tk_app_server n-s --myname server.example.test
tk_app n-c client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
	--sni server.example.test --cert-out "$TK_TMP/got.der" || tk_fail "final handshake failed"
tk_wait_ok "$TK_SERVER_PID" 20 "tk-app server n-s" "$TK_TMP/n-s.err"
cmp -s "$TK_TMP/got.der" "$TK_TMP/$last.der" || tk_fail "the served certificate is not the last one reloaded ($last)"
# The old process drained its short sessions and exited; the new one is
# no child of this shell: stop it by pid.
tk_wait_pid "$OLD" 10 || tk_fail "the old daemon (pid $OLD) did not exit after the upgrade"
kill -TERM "$NEW"
tk_wait_until 10 "" test ! -e "/proc/$NEW/cmdline" -o "$(awk '{print $3}' "/proc/$NEW/stat" 2>/dev/null)" = Z ||
	tk_fail "the upgraded daemon did not stop"
TK_DAEMON_PID=
tk_pass
