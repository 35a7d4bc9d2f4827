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

# Every file of a ca-dir is read by the daemon, not by GnuTLS: owned and
# moded like the ca-file (before: anyone the file's owner or mode let write
# it could add a trust anchor), and never opened with a blocking open (a
# link to a FIFO hung -t: it is skipped, as a FIFO is).  A link to a good
# file and a file with no certificate are fine.
mkdir "$TK_TMP/linkdir" "$TK_TMP/gwdir" "$TK_TMP/uiddir" "$TK_TMP/fifodir"
ln -s "$TK_FX/ca.pem" "$TK_TMP/linkdir/anchor.pem"
echo "not a certificate" >"$TK_TMP/linkdir/README"
mkfifo "$TK_TMP/linkdir/plain.fifo"
for d in gwdir uiddir fifodir; do cp "$TK_FX/ca.pem" "$TK_TMP/$d/ca.pem"; done
cp "$TK_FX/ca.pem" "$TK_TMP/gwdir/other.pem"
chmod 664 "$TK_TMP/gwdir/other.pem"
cp "$TK_FX/ca.pem" "$TK_TMP/uiddir/other.pem"
chown 65534 "$TK_TMP/uiddir/other.pem"
mkfifo "$TK_TMP/fifo"
ln -s "$TK_TMP/fifo" "$TK_TMP/fifodir/linked.pem"
for d in linkdir gwdir uiddir fifodir; do
	tk_check_swap "$TK_TMP/$d.conf" "ca-file = $TK_FX/ca.pem" "ca-dir = $TK_TMP/$d"
done
tk_check_t linkdir "$TK_TMP/linkdir.conf" 0 "with a ca-dir of a link, a FIFO and a README"
tk_check_t gwdir "$TK_TMP/gwdir.conf" 1 "with a group-writable file in the ca-dir"
tk_expect_grep "$TK_TMP/gwdir.t" "ca-dir file $TK_TMP/gwdir/other\.pem: writable by group or others"
tk_check_t uiddir "$TK_TMP/uiddir.conf" 1 "with a file of uid 65534 in the ca-dir"
tk_expect_grep "$TK_TMP/uiddir.t" "ca-dir file $TK_TMP/uiddir/other\.pem: owned by uid 65534"
TK_RC=0
timeout 20 "$TLSKEYD" -t -c "$TK_TMP/fifodir.conf" </dev/null >"$TK_TMP/fifodir.t" 2>&1 || TK_RC=$?
[ "$TK_RC" = 124 ] && tk_fail "tlskeyd -t hung on a ca-dir link to a FIFO"
[ "$TK_RC" = 0 ] || tk_fail "tlskeyd -t exited $TK_RC with a ca-dir link to a FIFO: $(cat "$TK_TMP/fifodir.t")"

for c in missing empty emptydir; do
	tk_check_refused "$c" "$TK_TMP/$c.conf"
	tk_expect_grep "$TK_TMP/$c.d" 'no trust anchors: not starting'
done

tk_daemon_start "$TK_FX/tlskeyd.conf"
tk_legit_check
tk_pass
