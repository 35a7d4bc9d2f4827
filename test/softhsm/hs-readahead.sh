#!/bin/bash
# The handshake reads ahead (keyd/transport.c: one recv() per flight into
# the worker's rx buffer): what the peer sent after its Finished in the
# same segment is the session's (c->from_net), and the relay must hand it
# on at once (relay_begin), with no further event on the socket.  A
# client (hs-hold.py --together) sends its last flight and its first
# line in one send() and waits for the echo: without the hand-over the
# line would sit in the daemon until the peer spoke again, which it never
# does.  The same for a ClientHello cut into 1-byte records.  Negative: a forged record behind the line ends that session
# (bad_record_mac to the peer, the app's line still relayed first), and
# the daemon goes on serving.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need python3
tk_setup

HOLD=$top_srcdir/test/softhsm/hs-hold.py
peer() { # peer NAME ARGS...: hs-hold.py as bob, its last flight let go at once
	local n=$1
	shift
	echo go | timeout 30 python3 "$HOLD" "$TK_PORT" --ca "$TK_FX/ca.pem" \
		--cert "$TK_FX/peer-user.pem" --key "$TK_FX/peer-user.key" \
		--sni server.example.test --timeout 10 --together "$@" \
		>"$TK_TMP/$n.peer" 2>"$TK_TMP/$n.perr" || true
}

for i in 1 2 3; do
	tk_app_server "ok$i" --myname server.example.test --echo
	peer "ok$i" --send "line $i with the Finished"
	tk_expect_line "$TK_TMP/ok$i.peer" "REPLY line $i with the Finished"
	tk_wait_ok "$TK_SERVER_PID" 20 "ok$i: tk-app server" "$TK_TMP/ok$i.err"
	tk_expect_line "$TK_TMP/ok$i.err" "PEER=bob@example.test"
done

# A ClientHello cut into 1-byte records, all in one segment: GnuTLS says
# AGAIN after each record of an unfinished message, and the rest is
# already read ahead (handshake_step goes on with it).  Without that the
# handshake would wait for an event that never comes, until its timer.
tk_app_server frag --myname server.example.test --echo
peer frag --send "line after a cut ClientHello" --fragment 1
tk_expect_line "$TK_TMP/frag.peer" "REPLY line after a cut ClientHello"
tk_wait_ok "$TK_SERVER_PID" 20 "frag: tk-app server" "$TK_TMP/frag.err"

# A forged record behind the line: the peer is told, the session ends.
tk_mark
tk_app_server junk --myname server.example.test --echo
JUNK_APP=$TK_SERVER_PID
peer junk --send "line before the junk" --junk
tk_expect_grep "$TK_TMP/junk.peer" '^ENDED '
tk_wait_pid "$JUNK_APP" 20 || true
# The line (21 bytes) reached the app before the forged record ended it.
tk_wait_log "event=session-end .*result=EPROTO .*end=error bytes_in=21 " 10 ||
	tk_fail "junk: no session-end record with EPROTO after the relayed line"
tk_log_has "relay closed: .*Decryption has failed" || tk_fail "junk: the reason was not logged"

# ... and everyone else goes on.
tk_app_server after --myname server.example.test --echo
peer after --send "line after the junk"
tk_expect_line "$TK_TMP/after.peer" "REPLY line after the junk"
tk_daemon_alive
tk_pass
