# test/reload: reloading everything with the real daemon, the SoftHSM
# fixture of test/softhsm and real peers (issue 10).
RELOAD_TESTS = \
	test/reload/renew.sh \
	test/reload/identities.sh \
	test/reload/loop.sh \
	test/reload/upgrade.sh

TESTS += $(RELOAD_TESTS)
EXTRA_DIST += $(RELOAD_TESTS)
