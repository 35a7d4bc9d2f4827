#!/bin/bash
# A FIFO planted where the daemon reads a file (audit finding 11): a PIN
# file, the ca-file, the configuration itself.  "tlskeyd -t" and start-up
# must fail at once with a message naming the path, not hang on open().
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon
mkfifo -m 600 "$TK_TMP/pin.fifo" "$TK_TMP/ca.fifo" "$TK_TMP/conf.fifo"
sed "s|^pin-file = .*|pin-file = $TK_TMP/pin.fifo|" "$TK_FX/tlskeyd.conf" >"$TK_TMP/pin.conf"
sed "s|^ca-file = .*|ca-file = $TK_TMP/ca.fifo|" "$TK_FX/tlskeyd.conf" >"$TK_TMP/ca.conf"

# expect_fast NAME WANT-ERE ARGS...: tlskeyd ARGS exits non-zero within 10 s
# and says WANT-ERE.
expect_fast() {
	local name=$1 want=$2 rc=0
	shift 2
	timeout -k 2 10 "$TLSKEYD" "$@" </dev/null >"$TK_TMP/$name.log" 2>&1 || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || tk_fail "$name: tlskeyd $* hangs on a FIFO (and ignores SIGTERM)"
	[ "$rc" != 0 ] || tk_fail "$name: tlskeyd $* succeeded"
	tk_expect_grep "$TK_TMP/$name.log" "$want"
	tk_log "$name: $(grep -E -- "$want" "$TK_TMP/$name.log" | head -n 1)"
}

expect_fast pin-test "PIN file $TK_TMP/pin.fifo is not a regular file \(a FIFO\): refused" \
	-t -c "$TK_TMP/pin.conf"
expect_fast pin-start "PIN file $TK_TMP/pin.fifo is not a regular file" \
	-c "$TK_TMP/pin.conf" -s "$TK_TMP/pin.sock"
expect_fast ca-start "ca-file $TK_TMP/ca.fifo is not a regular file" \
	-c "$TK_TMP/ca.conf" -s "$TK_TMP/ca.sock"
expect_fast conf-test "configuration file $TK_TMP/conf.fifo is not a regular file" \
	-t -c "$TK_TMP/conf.fifo"
# Nothing was left behind, and the fixture still works.
[ ! -e "$TK_TMP/pin.sock" ] && [ ! -e "$TK_TMP/ca.sock" ] || tk_fail "a failed start left its socket"
[ -p "$TK_TMP/pin.fifo" ] || tk_fail "the FIFO was replaced"
tk_daemon_start "$TK_FX/tlskeyd.conf"
tk_legit_check after
tk_pass
