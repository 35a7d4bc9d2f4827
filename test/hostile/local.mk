# test/hostile: regression tests for attacks on the custody promise (issue 9):
# each reproduces one attack by a hostile local user, a hostile admitted
# caller or a hostile remote peer against the real daemon, and checks that
# the attack fails with a clear error while other callers keep being served.
HOSTILE_TESTS = \
	test/hostile/fairness.sh \
	test/hostile/refusals.sh \
	test/hostile/pin-fifo.sh \
	test/hostile/second-daemon.sh \
	test/hostile/port-file.sh

# attack: the fairness and admission attacks (test/hostile/attack.c).
check_PROGRAMS += test/hostile/attack
test_hostile_attack_SOURCES = test/hostile/attack.c
test_hostile_attack_LDADD = libtlskey-common.la

TESTS += $(HOSTILE_TESTS)
EXTRA_DIST += $(HOSTILE_TESTS) test/hostile/lib.sh
