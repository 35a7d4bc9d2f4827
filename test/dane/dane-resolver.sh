#!/bin/bash
# DANE's resolver side: its failures fail closed, in bounded time, without
# stalling anyone else, and its settings are checked.
#   silent      dns-resolver where nothing answers, dane = opportunistic,
#               one worker: the TLSA lookup ends with the handshake timer
#               (ETIMEDOUT, in about --hs-timeout), not with PKIX
#   meanwhile   while it waits, the same single worker serves a PKIX
#               connection (dane = off for that peer): nobody resolves on it
#   reload      a reload that turns dane on says dns-resolver needs a restart,
#               and require then refuses (no resolver), never skips DANE
#   gone        a caller that goes away during the lookup is noticed at once
#   cloexec     no socket of the daemon (libunbound's included) lacks
#               close-on-exec
#   settings    tlskeyd -t and start-up refuse: dane without dns-resolver,
#               an unknown dane value, a host name as dns-resolver, a
#               dns-trust-anchor others may write, a missing one; start-up
#               refuses an anchor file libunbound cannot read
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl
tk_dns_need
tk_setup --no-daemon

tk_start_peer s-pkix openssl s_server -accept 127.0.0.1:PORT -rev \
	-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
P=$TK_PORT
# s_server serves one connection at a time: "meanwhile" needs its own.
tk_start_peer s-pkix2 openssl s_server -accept 127.0.0.1:PORT -rev \
	-cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
P2=$TK_PORT
tk_dns_zone
tk_dns_sign

# --- a resolver that never answers -------------------------------------------
QUIET=$(tk_free_port) || tk_fail "no free port"
tk_conf silent dane=opportunistic dns-resolver="127.0.0.1@$QUIET" \
	dns-trust-anchor="$TK_DNS/anchor" workers=1 -- "[peer peer.example.test]" "dane = off"
tk_daemon_start "$TK_TMP/silent.conf" || tk_fail "tlskeyd refused silent.conf"
# libunbound's own sockets are marked close-on-exec (an upgrade execs).
leak=
for f in /proc/"$TK_DAEMON_PID"/fd/*; do
	n=${f##*/}
	fl=$(awk '/^flags:/ { print $2 }' "/proc/$TK_DAEMON_PID/fdinfo/$n" 2>/dev/null) || continue
	case $(readlink "$f") in socket:*) ;; *) continue ;; esac
	[ $((8#$fl & 8#2000000)) != 0 ] || leak="$leak $n"
done
[ -z "$leak" ] || tk_fail "sockets without close-on-exec:$leak"
tk_log "case silent: must fail with ETIMEDOUT after the handshake timer"
t0=$(date +%s%N)
tk_bg "$TK_APP" client --connect "127.0.0.1:$P" --myname alice@example.test \
	--sni www.example.test --hs-timeout 3000 --expect-errno ETIMEDOUT \
	>"$TK_TMP/silent.out" 2>"$TK_TMP/silent.err"
SLOW=$TK_BG_PID
tk_wait_until 5 "$SLOW" grep -q "TLSA query _$P._tcp.www.example.test" "$TK_TMP/tlskeyd.log" ||
	tk_fail "silent: the daemon did not start the lookup"
echo hello >"$TK_TMP/meanwhile.in"
tk_ok meanwhile client --connect "127.0.0.1:$P2" --myname alice@example.test --sni peer.example.test
kill -0 "$SLOW" 2>/dev/null || tk_fail "meanwhile: the DANE connection ended before the PKIX one"
tk_log "meanwhile: served after $((($(date +%s%N) - t0) / 1000000)) ms, the DANE lookup still waiting"
tk_wait_ok "$SLOW" 10 "silent" "$TK_TMP/silent.err"
ms=$((($(date +%s%N) - t0) / 1000000))
tk_log "silent: ETIMEDOUT after $ms ms (hs-timeout 3000)"
[ "$ms" -ge 2500 ] && [ "$ms" -le 8000 ] || tk_fail "silent: ended after $ms ms, not about 3000"
grep -q "did not finish before the handshake timer" "$TK_TMP/silent.err" ||
	tk_fail "silent: $(cat "$TK_TMP/silent.err")"

# --- the caller goes away during the lookup ------------------------------------
tk_mark
tk_bg "$TK_APP" client --connect "127.0.0.1:$P" --myname alice@example.test \
	--sni gone.example.test --hs-timeout 9000 >"$TK_TMP/gone.out" 2>"$TK_TMP/gone.err"
GONE=$TK_BG_PID
tk_wait_until 5 "$GONE" tk_log_has "TLSA query _$P._tcp.gone.example.test" ||
	tk_fail "gone: the daemon did not start the lookup"
kill "$GONE"
tk_wait_pid "$GONE" 5 || true
tk_wait_log "myname=alice@example.test: caller went away" 3 ||
	tk_fail "gone: the daemon kept waiting for DNS for a caller that left"
tk_daemon_stop

# --- DANE turned on by a reload: the resolver starts only with the daemon ------
cp "$TK_FX/tlskeyd.conf" "$TK_TMP/live.conf"
tk_daemon_start "$TK_TMP/live.conf" || tk_fail "tlskeyd refused live.conf"
tk_conf live2 dane=require dns-resolver="127.0.0.1@$QUIET" dns-trust-anchor="$TK_DNS/anchor"
cp "$TK_TMP/live2.conf" "$TK_TMP/live.conf"
tk_dctl 0 reload-dane reload
tk_expect_grep "$TK_TMP/reload-dane.out" "needs a restart: dns-resolver, dns-trust-anchor"
tk_mark
tk_err reloaded EKEYREJECTED client --connect "127.0.0.1:$P" --myname alice@example.test \
	--sni peer.example.test
tk_expect_grep "$TK_TMP/reloaded.err" "DANE: no resolver running"
tk_daemon_stop

# --- settings ------------------------------------------------------------------
refused() { # NAME ERE SETTINGS...: -t says ERE, start-up refuses
	local name=$1 ere=$2
	shift 2
	tk_conf "$name" "$@"
	tk_check_t "$name" "$TK_TMP/$name.conf"
	[ "$TK_RC" != 0 ] || tk_fail "$name: tlskeyd -t accepted it"
	grep -qE -- "$ere" "$TK_TMP/$name.t" || tk_fail "$name: -t does not say /$ere/: $(cat "$TK_TMP/$name.t")"
	tk_check_refused "$name" "$TK_TMP/$name.conf"
}
refused no-resolver "'dane' needs both 'dns-resolver' and 'dns-trust-anchor'" dane=require
refused bad-mode "'dane' must be require, opportunistic or off, not 'sometimes'" dane=sometimes
refused name-resolver "'dns-resolver' must be an IP address" dane=require \
	dns-resolver=resolver.example.test dns-trust-anchor="$TK_DNS/anchor"
refused bad-port "'dns-resolver' must be an IP address" dns-resolver=127.0.0.1@70000 \
	dns-trust-anchor="$TK_DNS/anchor"
cp "$TK_DNS/anchor" "$TK_TMP/anchor-gw"
chmod 0664 "$TK_TMP/anchor-gw"
refused anchor-writable "writable by group or others" dane=opportunistic \
	dns-resolver=127.0.0.1@53 dns-trust-anchor="$TK_TMP/anchor-gw"
refused anchor-missing "dns-trust-anchor.*No such file" dane=opportunistic \
	dns-resolver=127.0.0.1@53 dns-trust-anchor="$TK_TMP/no-such-anchor"
# An anchor file libunbound cannot read: start-up refuses (-t checks only the file).
echo "not a DS record" >"$TK_TMP/anchor-garbage"
tk_conf anchor-garbage dane=opportunistic dns-resolver=127.0.0.1@53 \
	dns-trust-anchor="$TK_TMP/anchor-garbage"
tk_check_refused anchor-garbage "$TK_TMP/anchor-garbage.conf"
tk_expect_grep "$TK_TMP/anchor-garbage.d" "DANE: dns-resolver 127.0.0.1@53 / dns-trust-anchor .*: initialization failure"
tk_pass
