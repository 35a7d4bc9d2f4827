#!/bin/bash
# Finding 7: a local user holding the ephemeral ports (here: a network
# namespace whose lo is down, where no loopback TCP connection can be
# made) silently downgraded protected descriptors to UNIX pairs, on which
# a truncated stream reads as a clean EOF.  Now, by default
# (protected-socket-fallback = refuse), the start fails with EAGAIN and
# says why; with protected-socket-fallback = unix it succeeds and the
# application is told (TLSKEY_INFO_TRUNCATION_UNREPORTED |
# TLSKEY_INFO_UNIX_FALLBACK in tlskey_query()).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv
unshare -n true 2>/dev/null || tk_skip "unshare -n is not permitted here"
tk_fault_setup
tk_peer_serv
# With loopback TCP: no flag.
timeout 30 "$DATAPATH" start --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
	--sni peer.example.test --query >"$TK_TMP/tcp.out" 2>&1 || true
tk_expect_line "$TK_TMP/tcp.out" "START ok"
tk_expect_line "$TK_TMP/tcp.out" "QUERY flags=0x0"

printf '#!/bin/sh\nexec unshare -n "$(dirname "$0")/kd" "$@"\n' >"$TK_TMP/kd-nonet"
chmod +x "$TK_TMP/kd-nonet"
saved=$TLSKEYD
TLSKEYD=$TK_TMP/kd-nonet

# start_with TAG CONF-LINE: the daemon with CONF-LINE added; one datapath
# start --query, its output in TAG.out.
start_with() {
	tk_fault_conf "$2" >"$TK_TMP/kd.conf"
	tk_daemon_start kd.conf
	tk_mark
	timeout 30 "$DATAPATH" start --connect "127.0.0.1:$PEER_PORT" --myname alice@example.test \
		--sni peer.example.test --query >"$TK_TMP/$1.out" 2>&1 || true
	tk_log "$1: $(tr '\n' ' ' <"$TK_TMP/$1.out")"
}

# ---- default: refuse ---------------------------------------------------------
start_with refuse ""
tk_expect_grep "$TK_TMP/refuse.out" '^START errno=EAGAIN: cannot make a loopback TCP protected descriptor: .+, refusing; set protected-socket-fallback = unix to accept UNIX pairs that cannot report truncation$'
tk_expect_grep "$TK_TMP/tlskeyd.log" 'cannot make a loopback TCP protected descriptor: .+, refusing'
# The refused start is one handshake-failed record, never also "established".
n_est=$(tk_count_log 'event=established')
[ "$n_est" = 0 ] || tk_fail "a refused start (EAGAIN) was also audited as established"
tk_daemon_alive

# ---- protected-socket-fallback = unix: accepted, and said -------------------
start_with unix "protected-socket-fallback = unix"
tk_expect_line "$TK_TMP/unix.out" "START ok"
tk_expect_line "$TK_TMP/unix.out" "QUERY flags=0x3"
tk_legit_check nonet-unix

# protected-socket = unix as configured: no fallback, but no truncation
# report either.
TLSKEYD=$saved
start_with cfg "protected-socket = unix"
tk_expect_line "$TK_TMP/cfg.out" "QUERY flags=0x1"

# An invalid value is refused at start with file:line.
tk_fault_conf "protected-socket-fallback = tcp" >"$TK_TMP/bad.conf"
if "$TLSKEYD" -t -c "$TK_TMP/bad.conf" >"$TK_TMP/bad.out" 2>&1; then
	tk_fail "protected-socket-fallback = tcp was accepted"
fi
tk_expect_grep "$TK_TMP/bad.out" "bad.conf:[0-9]+: 'protected-socket-fallback' must be refuse or unix"
tk_pass
