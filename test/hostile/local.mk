# test/hostile: regression tests for attacks on the custody promise (issue 9):
# each reproduces one attack by a hostile local user, a hostile admitted
# caller or a hostile remote peer against the real daemon, and checks that
# the attack fails with a clear error while other callers keep being served.
HOSTILE_TESTS = \
	test/hostile/worker-freeze.sh \
	test/hostile/close-timer.sh \
	test/hostile/daemon-death.sh \
	test/hostile/protected-fallback.sh

# datapath: attacks on the data path (test/hostile/datapath.c).
check_PROGRAMS += test/hostile/datapath
test_hostile_datapath_SOURCES = test/hostile/datapath.c
test_hostile_datapath_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
test_hostile_datapath_LDADD = libtlskey.la $(GNUTLS_LIBS)

TESTS += $(HOSTILE_TESTS)
EXTRA_DIST += $(HOSTILE_TESTS) test/hostile/lib.sh
