# test/hostile: regression tests for attacks on the custody promise (issue 9):
# each reproduces one attack by a hostile local user, a hostile admitted
# caller or a hostile remote peer against the real daemon, and checks that
# the attack fails with a clear error while other callers keep being served.
HOSTILE_TESTS = \
	test/hostile/acl-case.sh \
	test/hostile/anon-peers.sh \
	test/hostile/exe-combined.sh \
	test/hostile/many-groups.sh

TESTS += $(HOSTILE_TESTS)
EXTRA_DIST += $(HOSTILE_TESTS) test/hostile/lib.sh
