#!/bin/bash
# A token operation that fails while the daemon is out of descriptors is
# not a token failure.  libfaultp11's exhaust_fds takes every descriptor
# the daemon has left (for 1.5 s) and fails the call as a module that
# cannot open its own files does:
#  - during a signature: the handshake fails with EMFILE "at its open file
#    limit ... the key is kept", and the next handshake signs with the same
#    key object (no "re-opening it", no module reset);
#  - during the re-import of a key after a real signature failure: EMFILE
#    again, and no PKCS#11 re-initialisation while the descriptors are
#    taken (a reset fails the handshakes under way on every worker; without
#    the check one came at once).  SoftHSM
#    itself loses sight of its token when its file opens fail, so once
#    descriptors are free the import says "no such token present" and the
#    daemon re-initialises the module then: handshakes succeed again within
#    a few seconds;
#  - four signatures in a row during a shortage: the fourth is taken for
#    a token failure all the same (the key is opened again), so that a
#    shortage that lasts cannot hide a token that died;
#  - the daemon stays up and serves again once descriptors are free.
# One worker, so that every handshake meets the same key object.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-serv prlimit
tk_fault_setup "workers = 1
handshake-timeout = 8000"
# A low limit, so that taking what is left is quick.
prlimit --pid "$TK_DAEMON_PID" --nofile=512: || tk_skip "prlimit cannot lower the limit here"

tk_start_gnutls_serv echo-serv --x509certfile "$TK_FX/peer-server.pem" \
	--x509keyfile "$TK_FX/peer-server.key"
SERV_PORT=$TK_PORT

# hs NAME: one app-client handshake (client certificate: a signature on
# the token), data both ways; returns tk-app's status.
hs() {
	printf 'hello %s\n' "$1" >"$TK_TMP/$1.in"
	tk_app "$1" client --connect "127.0.0.1:$SERV_PORT" --myname alice@example.test \
		--sni peer.example.test --timeout 20
}
# hs_fails NAME ERE: the handshake fails cleanly with a first line matching ERE.
hs_fails() {
	local rc=0
	hs "$1" || rc=$?
	[ "$rc" = 2 ] || tk_fail "$1: exit $rc, wanted a refused handshake: $(cat "$TK_TMP/$1.err")"
	tk_expect_grep "$TK_TMP/$1.err" "$2"
	tk_log "$1: $(head -n 1 "$TK_TMP/$1.err")"
}
# released: the descriptors libfaultp11 took are free again.
released() { [ "$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)" -lt 400 ]; }
hs_ok() {
	hs "$1" || tk_fail "$1 failed: $(cat "$TK_TMP/$1.err")"
	tk_expect_line "$TK_TMP/$1.out" "hello $1"
}

hs_ok warm

tk_log "descriptors run out during a signature"
tk_mark
tk_fault_set "exhaust_fds=sign" "exhaust_ms=1500"
hs_fails sign-short '^ERROR errno=EMFILE .*open file limit \(about [0-9]+ of 512 descriptors open\), so the key is kept: '
tk_fault_set "exhaust_fds=none"
tk_wait_until 10 "$TK_DAEMON_PID" released || tk_fail "the descriptors were not given back"
hs_ok sign-after
tk_log_expect 'audit: event=handshake-failed .*result=EMFILE'
tk_no_log 're-opening it|re-initialising|failed a signature' || tk_fail "a signature without descriptors was taken for a token failure"

tk_log "descriptors run out while a failed key is opened again"
tk_fault_set "fail=CKR_DEVICE_ERROR"
hs_fails dev-error '^ERROR errno=ENOTRECOVERABLE '
tk_mark
tk_fault_set "exhaust_fds=open" "exhaust_ms=1500"
hs_fails open-short '^ERROR errno=EMFILE .*cannot use key for alice@example.test: tlskeyd is at its open file limit \(about [0-9]+ of 512 descriptors open\)'
tk_fault_set "exhaust_fds=none"
tk_wait_until 10 "$TK_DAEMON_PID" released || tk_fail "the descriptors were not given back"
tk_no_log 're-initialising' || tk_fail "PKCS#11 was re-initialised while the daemon had no descriptors"
t0=$(tk_ms)
ok=
for i in $(seq 40); do
	hs "open-after-$i" && ok=1 && break
	tk_log "open-after-$i: $(head -n 1 "$TK_TMP/open-after-$i.err")"
	sleep 0.25
done
[ -n "$ok" ] || tk_fail "no handshake succeeded within $(($(tk_ms) - t0)) ms after the descriptors were free"
tk_expect_line "$TK_TMP/open-after-$i.out" "hello open-after-$i"
tk_log "served again after $(($(tk_ms) - t0)) ms ($i attempts)"

tk_log "four signatures in a row without descriptors: the fourth is a token failure"
# A shortage that lasts must not hide a token that died: after three
# failures in a row put down to it, the next one counts (FDS_SHORT_RUN_MAX).
tk_mark
tk_fault_set "exhaust_fds=sign" "exhaust_ms=200"
# Each handshake after the last one's descriptors came back, so that
# only its signature meets the shortage.
for i in 1 2 3; do
	hs_fails "run-$i" '^ERROR errno=EMFILE .*so the key is kept: '
	tk_wait_until 10 "$TK_DAEMON_PID" released || tk_fail "run-$i: the descriptors were not given back"
done
hs_fails run-4 '^ERROR errno=ENOTRECOVERABLE '
tk_fault_set "exhaust_fds=none"
tk_wait_until 10 "$TK_DAEMON_PID" released || tk_fail "the descriptors were not given back"
hs_ok run-after
tk_log_expect 'failed a signature .*re-opening it'

tk_daemon_alive
tk_legit_check after
tk_pass
