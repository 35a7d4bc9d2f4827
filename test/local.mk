# Tests: Check unit tests and integration tests (SoftHSM, real daemon, real peers).
EXTRA_DIST += test/lsan.supp
# The one shell library of the integration tests: every test sources
# test/lib/tk.sh, which sources the other parts.
EXTRA_DIST += test/lib/tk.sh test/lib/tk-pki.sh test/lib/tk-ext.sh test/lib/tk-acl.sh \
	test/lib/tk-fault.sh test/lib/tk-hostile.sh test/lib/tk-tokens.sh test/lib/tk-tunnel.sh
include $(srcdir)/test/unit/local.mk
include $(srcdir)/test/softhsm/local.mk
include $(srcdir)/test/fault/local.mk
include $(srcdir)/test/acl/local.mk
include $(srcdir)/test/systemd/local.mk
include $(srcdir)/test/tokens/local.mk
include $(srcdir)/test/tunnel/local.mk
include $(srcdir)/test/hostile/local.mk
