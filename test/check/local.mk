# test/check: the configuration check (tlskeyd -t and start-up), one test
# per mistake an operator can make, the library's bounded wait and its
# errno for local key failures.  See doc/config.md (troubleshooting).
check_PROGRAMS += test/check/tk-mute
test_check_tk_mute_SOURCES = test/check/tk-mute.c

CHECK_TESTS = test/check/wrong-pin.sh test/check/key-mismatch.sh test/check/uri-typo.sh \
	test/check/ca-file.sh test/check/cert-dates.sh test/check/cert-name.sh \
	test/check/file-trust.sh test/check/duplicate.sh test/check/lib-timeout.sh \
	test/check/key-errno.sh test/check/tunnel-precheck.sh test/check/acl-near-miss.sh

TESTS += $(CHECK_TESTS)
EXTRA_DIST += $(CHECK_TESTS)
