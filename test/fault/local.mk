# test/fault: fault injection.  libfaultp11 wraps a real PKCS#11 module and
# fails or slows it on demand (test/fault/faultp11.c); hostile is a helper
# that misbehaves towards the daemon and its peers; the tests drive both.
# libfaultp11 is built for "make check" only, never installed.
check_LTLIBRARIES += test/fault/libfaultp11.la
test_fault_libfaultp11_la_SOURCES = test/fault/faultp11.c
test_fault_libfaultp11_la_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS) -pthread
test_fault_libfaultp11_la_LDFLAGS = -module -avoid-version -rpath /nowhere -no-undefined
test_fault_libfaultp11_la_LIBADD = -ldl -lpthread

check_PROGRAMS += test/fault/hostile
test_fault_hostile_SOURCES = test/fault/hostile.c
test_fault_hostile_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
test_fault_hostile_LDADD = test/lib/libtkt.la libtlskey.la libtlskey-common.la $(GNUTLS_LIBS)

FAULT_TESTS = test/fault/fd-limit.sh test/fault/fd-short.sh test/fault/token-loss.sh test/fault/hostile-clients.sh \
	test/fault/hostile-peers.sh test/fault/no-data-loss.sh

TESTS += $(FAULT_TESTS)
EXTRA_DIST += $(FAULT_TESTS)
