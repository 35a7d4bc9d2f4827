# Helpers for test/hostile, on top of test/fault/lib.sh and test/acl/lib.sh
# (both sourced here): every wait is bounded, processes are signalled by pid.
. "${top_srcdir:-.}/test/fault/lib.sh"
. "$top_srcdir/test/acl/lib.sh"

# real_exe PROG: the ELF that runs when PROG (possibly a libtool wrapper
# script) is executed: what the daemon reads from /proc/PID/exe.
real_exe() {
	local prog=$1 lt
	lt=$(dirname "$prog")/.libs/$(basename "$prog")
	if [ -x "$lt" ]; then
		readlink -f "$lt"
	else
		readlink -f "$prog"
	fi
}

# as_uid NAME UID GID ARGS...: tk_app NAME ARGS as UID:GID (no
# supplementary groups), through setpriv; the caller made the temp dirs
# reachable (make_test_user does).
as_uid() {
	local name=$1 uid=$2 gid=$3
	shift 3
	cat >"$TK_TMP/as-$uid" <<EOS
#!/bin/sh
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups "$TK_APP" "\$@"
EOS
	chmod 755 "$TK_TMP/as-$uid"
	TK_APP=$TK_TMP/as-$uid tk_app "$name" "$@"
}
