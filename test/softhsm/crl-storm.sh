#!/bin/bash
# A changed CRL is not held back by a stream of changes (keyd/watch.c,
# WATCH_MAX_DEFER_MS): whoever keeps touching files in a watched crl-dir
# used to push the reload out for as long as it kept writing, each change
# restarting the 200 ms quiet period, so a revocation did not take
# effect.  Here the CRL file is touched every 50 ms for 15 s; a new CRL
# that revokes bob must still be loaded within 5 s (and bob refused).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli certtool
tk_setup --no-daemon

BOB=("$TK_FX/peer-user.pem" "$TK_FX/peer-user.key")

mkdir -m 755 "$TK_TMP/crls"
tk_crl_make "$TK_TMP/crls/ca.crl"
tk_conf storm "crl-dir=$TK_TMP/crls"
tk_daemon_start "$TK_TMP/storm.conf" || tk_fail "daemon did not start"
tk_srv_cli bob-before -- --x509certfile "${BOB[0]}" --x509keyfile "${BOB[1]}"

# The storm: the CRL's own attributes (IN_ATTRIB), every 50 ms.
tk_bg timeout 15 bash -c 'while :; do touch "$1"; sleep 0.05; done' storm "$TK_TMP/crls/ca.crl"
STORM=$TK_BG_PID
tk_mark
tk_crl_make "$TK_TMP/crls/ca.crl" "${BOB[0]}"
tk_wait_log "a CRL file changed: reloading" 5 || tk_fail "the new CRL waited for the storm to end"
tk_wait_log "ACL loaded from" 3 || tk_fail "the reload did not complete"
kill "$STORM" 2>/dev/null || true
tk_srv_cli bob-after --expect-errno EKEYREJECTED -- --x509certfile "${BOB[0]}" --x509keyfile "${BOB[1]}"
tk_pass
