#!/bin/bash
# Re-evaluation of a handshake under way at the reload (keyd/reeval.c,
# reeval_late_check): a reload's re-evaluation checks established
# sessions only.  A peer that holds its last flight (hs-hold.py) across
# the reload that revokes its certificate would otherwise be validated
# against the old generation's CRL and relay for as long as it likes.
# Here it is refused before anything is delivered (the app gets
# EKEYREVOKED, audit event=reevaluate ... handshake under way), with
# reevaluate = log it is noted and kept, and a handshake that begins
# after the reload is judged as usual (EKEYREJECTED).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli certtool python3
tk_setup --no-daemon

BOB=("$TK_FX/peer-user.pem" "$TK_FX/peer-user.key")

# held NAME APP-ARGS...: app server NAME, and hs-hold.py as bob stopped
# before its last flight (its stdin a FIFO on FD_HOLD).
held() {
	local n=$1
	shift
	tk_app_server "$n" --myname server.example.test "$@"
	APP=$TK_SERVER_PID
	rm -f "$TK_TMP/$n.fifo"
	mkfifo "$TK_TMP/$n.fifo"
	exec {FD_HOLD}<>"$TK_TMP/$n.fifo"
	tk_bg timeout 60 python3 "$top_srcdir/test/softhsm/hs-hold.py" "$TK_PORT" --ca "$TK_FX/ca.pem" \
		--cert "${BOB[0]}" --key "${BOB[1]}" --sni server.example.test \
		<"$TK_TMP/$n.fifo" >"$TK_TMP/$n.peer" 2>"$TK_TMP/$n.perr" {FD_HOLD}>&-
	PEER=$TK_BG_PID
	tk_wait_line "$TK_TMP/$n.peer" "^HELD\$" 10 ||
		{ cat "$TK_TMP/$n.perr" >&2; tk_fail "$n: the peer did not reach its last flight"; }
}
# revoke_and_go NAME: revoke bob (the new CRL file is noticed: one
# reload), wait for the worker's re-evaluation (its record for the
# established session), then let the held peer send its last flight.
revoke_and_go() {
	tk_mark
	tk_crl_make "$TK_TMP/crl.pem" "${BOB[0]}"
	tk_wait_log "a CRL file changed: reloading" 5 || tk_fail "$1: the new CRL was not noticed"
	tk_wait_log "audit: event=reevaluate .*peer=bob@example.test .*reason=revoked" 10 ||
		tk_fail "$1: the reload's re-evaluation did not run"
	echo go >&"$FD_HOLD"
}
# established NAME: a relayed session as bob (gnutls-cli), for the
# re-evaluation to act on; its stdin a FIFO held on FD_EST.
established() {
	tk_app_server "$1" --myname server.example.test --echo
	EST_APP=$TK_SERVER_PID
	mkfifo "$TK_TMP/$1.fifo"
	exec {FD_EST}<>"$TK_TMP/$1.fifo"
	tk_bg timeout 60 gnutls-cli --port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
		--x509certfile "${BOB[0]}" --x509keyfile "${BOB[1]}" \
		--verify-hostname server.example.test --sni-hostname server.example.test 127.0.0.1 \
		<"$TK_TMP/$1.fifo" >"$TK_TMP/$1.out" 2>"$TK_TMP/$1.cerr" {FD_EST}>&-
	echo "line of $1" >&"$FD_EST"
	tk_wait_line "$TK_TMP/$1.out" "^line of $1\$" 10 || tk_fail "$1 did not relay"
}

# ---- reevaluate = end: the held handshake is refused --------------------------
tk_crl_make "$TK_TMP/crl.pem"
# One worker: the held handshake and the established session share it,
# so the re-evaluation record for the latter shows the worker has run it.
tk_conf end "crl-file=$TK_TMP/crl.pem" "workers=1"
tk_daemon_start "$TK_TMP/end.conf" || tk_fail "daemon did not start"
established est1
held hold1 --echo --expect-errno EKEYREVOKED
revoke_and_go hold1
tk_wait_ok "$APP" 20 "app of hold1 (EKEYREVOKED)" "$TK_TMP/hold1.err"
tk_wait_pid "$PEER" 20 || { cat "$TK_TMP/hold1.perr" >&2; tk_fail "hold1: the peer did not finish"; }
exec {FD_HOLD}>&-
tk_expect_grep "$TK_TMP/hold1.peer" "^ENDED"
! grep -q "^REPLY" "$TK_TMP/hold1.peer" || tk_fail "the held peer relayed after its revocation"
tk_wait_log "audit: event=reevaluate .*peer=bob@example.test .*result=EKEYREVOKED .*handshake under way at the reload\\): refused" ||
	tk_fail "no reevaluate record for the held handshake"
# A handshake begun after the reload is refused by the new CRL as ever.
tk_srv_cli bob-new --expect-errno EKEYREJECTED -- --x509certfile "${BOB[0]}" --x509keyfile "${BOB[1]}"
exec {FD_EST}>&-

# ---- reevaluate = log: noted, kept -------------------------------------------
tk_crl_make "$TK_TMP/crl.pem"
tk_conf log "crl-file=$TK_TMP/crl.pem" "workers=1" "reevaluate=log"
tk_daemon_start "$TK_TMP/log.conf" || tk_fail "daemon (log) did not start"
established est2
held hold2 --echo
revoke_and_go hold2
tk_wait_pid "$PEER" 20 || { cat "$TK_TMP/hold2.perr" >&2; tk_fail "hold2: the peer did not finish"; }
exec {FD_HOLD}>&-
tk_expect_grep "$TK_TMP/hold2.peer" "^REPLY hello after the hold\$"
tk_wait_log "audit: event=reevaluate .*peer=bob@example.test .*handshake under way at the reload\\): kept" ||
	tk_fail "no reevaluate record in log mode"
exec {FD_EST}>&-
tk_pass
