# Helpers for test/hostile, on top of test/fault/lib.sh and test/acl/lib.sh
# (both sourced here): every wait is bounded, processes are signalled by pid.
. "${top_srcdir:-.}/test/fault/lib.sh"
. "$top_srcdir/test/acl/lib.sh"
