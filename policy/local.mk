# policy: the ACL gate (pure decisions, no network or token I/O).
# See doc/acl.md for the file format.
noinst_LTLIBRARIES += libtlskey-policy.la
libtlskey_policy_la_SOURCES = \
	policy/acl.c policy/acl.h \
	policy/acl_internal.h \
	policy/acl_load.c \
	policy/acl_parse.c policy/acl_parser.h \
	policy/acl_pattern.c \
	policy/acl_subject.c
libtlskey_policy_la_LIBADD = libtlskey-common.la

EXTRA_DIST += doc/acl.md fuzz/fuzz_acl.c test/unit/acl-example.conf

if HAVE_CHECK
check_PROGRAMS += test/unit/test_acl
TESTS += test/unit/test_acl
test_unit_test_acl_SOURCES = test/unit/test_acl.c
test_unit_test_acl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_acl_LDADD = libtlskey-policy.la libtlskey-common.la $(CHECK_LIBS)
endif
