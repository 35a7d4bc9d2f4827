# test/hostile: regression tests for attacks on the custody promise (issue 9):
# each reproduces one attack by a hostile local user, a hostile admitted
# caller or a hostile remote peer against the real daemon, and checks that
# the attack fails with a clear error while other callers keep being served.
HOSTILE_TESTS = \
	test/hostile/acl-case.sh \
	test/hostile/anon-peers.sh \
	test/hostile/exe-combined.sh \
	test/hostile/many-groups.sh \
	test/hostile/no-pidfd.sh

TESTS += $(HOSTILE_TESTS)

# A launcher that hides SO_PEERPIDFD and pidfd_send_signal (no-pidfd.sh).
check_PROGRAMS += test/hostile/no-pidfd
test_hostile_no_pidfd_SOURCES = test/hostile/no-pidfd.c
EXTRA_DIST += $(HOSTILE_TESTS) test/hostile/lib.sh
