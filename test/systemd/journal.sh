#!/bin/bash
# Under systemd (stderr connected to the journal, JOURNAL_STREAM set) the
# daemon logs natively to journald, and audit records carry structured
# TLSKEY_* fields.  journald's socket is played by journal-sink; the test
# runs only where no journald listens (it never touches a real one).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need stat flock
JSOCK=/run/systemd/journal/socket
[ "$(id -u)" = 0 ] || tk_skip "needs root to stand in for journald at $JSOCK"
exec 9>/run/tlskeyd-journal-test.lock
flock -w 60 9 || tk_skip "another journal test holds the lock"
[ -e "$JSOCK" ] && tk_skip "a journald socket exists at $JSOCK: not touching it"
made_dir=
if [ ! -d /run/systemd/journal ]; then
	mkdir -p /run/systemd/journal
	made_dir=1
fi
cleanup_journal() {
	rm -f "$JSOCK"
	[ -n "$made_dir" ] && rmdir /run/systemd/journal 2>/dev/null
	rm -f /run/tlskeyd-journal-test.lock
}
trap 'cleanup_journal' EXIT
tk_setup --no-daemon

"$top_builddir/test/systemd/journal-sink" "$JSOCK" 8 >"$TK_TMP/journal.out" 2>&1 &
SINK=$!
for _ in $(seq 50); do grep -q READY "$TK_TMP/journal.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$TK_TMP/journal.out" || tk_fail "journal-sink did not start"

# What systemd does for a service: stderr is a stream whose device and
# inode are in JOURNAL_STREAM.  Here the stream is the daemon's log file.
: >>"$TK_TMP/tlskeyd.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TK_TMP/tlskeyd.log")
export JOURNAL_STREAM
tk_daemon_start
unset JOURNAL_STREAM
tk_legit_check journal
# A refused request is audited too.
tk_app denied badfd --kind pipe --myname server.example.test || true
tk_daemon_stop
wait "$SINK" || true

tk_expect_grep "$TK_TMP/journal.out" '^MESSAGE=ready: '
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_EVENT=established$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_MYNAME=server.example.test$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_PEER=alice@example.test$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_KEY_URI=pkcs11:token=tlskeyd-test;object=server-ec;type=private$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_SIGN_MS=[0-9]+\.[0-9]{3}$'
tk_expect_grep "$TK_TMP/journal.out" "^TLSKEY_UID=$(id -u)$"
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_EVENT=(acl-denied|refused)$'
tk_expect_grep "$TK_TMP/journal.out" '^PRIORITY=6$'
# The session-end record and the remote address (doc/config.md "Audit records").
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_EVENT=session-end$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_END=(close_notify|app_close)$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_BYTES_IN=[0-9]+$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_REMOTE=127\.0\.0\.1:[0-9]+$'
tk_expect_grep "$TK_TMP/journal.out" '^TLSKEY_FLAGS=none$'
# journald stamps records itself: no timestamp in MESSAGE=.
if grep -E '^MESSAGE=20[0-9]{2}-' "$TK_TMP/journal.out" >&2; then
	tk_fail "a timestamp in MESSAGE= under journald"
fi
# Nothing but the start banner may reach the plain stream.
if grep -q 'audit:' "$TK_TMP/tlskeyd.log"; then
	tk_fail "audit records went to stderr instead of the journal"
fi
# No PIN in any record.
pin=$(head -n1 "$TK_FX/pin")
grep -qF -- "$pin" "$TK_TMP/journal.out" && tk_fail "the PIN appears in the journal"
tk_log "journal records: $(grep -c '^--$' "$TK_TMP/journal.out")"
tk_pass
