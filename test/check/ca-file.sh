#!/bin/bash
# A missing or empty ca-file, and a ca-dir with no certificate: -t used to
# say OK (the anchors were loaded only by the workers), and the daemon
# listened, failed to start its workers and exited, in a restart loop
# under systemd.  Now -t exits 1 naming the file, and start-up refuses
# before it binds its socket.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

: >"$TK_TMP/empty.pem"
mkdir "$TK_TMP/nocerts"
tk_check_swap "$TK_TMP/missing.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/missing.pem"
tk_check_swap "$TK_TMP/empty.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_TMP/empty.pem"
tk_check_swap "$TK_TMP/emptydir.conf" "ca-file = $TK_FX/ca.pem" "ca-dir = $TK_TMP/nocerts"
# A ca-dir that yields nothing is an error even next to a good ca-file.
tk_check_swap "$TK_TMP/both.conf" "ca-file = $TK_FX/ca.pem" "ca-file = $TK_FX/ca.pem
ca-dir = $TK_TMP/nocerts"

tk_check_t missing "$TK_TMP/missing.conf" 1 "with a missing ca-file"
tk_expect_grep "$TK_TMP/missing.t" "error: .*ca-file $TK_TMP/missing\.pem: No such file or directory"
tk_check_t empty "$TK_TMP/empty.conf" 1 "with an empty ca-file"
tk_expect_grep "$TK_TMP/empty.t" "error: .*no trust anchors loaded from ca-file $TK_TMP/empty\.pem: file holds no certificate"
tk_check_t emptydir "$TK_TMP/emptydir.conf" 1 "with an empty ca-dir"
tk_expect_grep "$TK_TMP/emptydir.t" "no trust anchors loaded from ca-dir $TK_TMP/nocerts: directory holds no certificate"
tk_check_t both "$TK_TMP/both.conf" 1 "with an empty ca-dir next to a ca-file"

for c in missing empty emptydir; do
	tk_check_refused "$c" "$TK_TMP/$c.conf"
	tk_expect_grep "$TK_TMP/$c.d" 'no trust anchors: not starting'
done

tk_daemon_start "$TK_FX/tlskeyd.conf"
tk_legit_check
tk_pass
