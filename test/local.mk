# Tests: Check unit tests and integration tests (SoftHSM, real daemon, real peers).
EXTRA_DIST += test/lsan.supp
include $(srcdir)/test/unit/local.mk
include $(srcdir)/test/softhsm/local.mk
include $(srcdir)/test/fault/local.mk
include $(srcdir)/test/acl/local.mk
include $(srcdir)/test/systemd/local.mk
include $(srcdir)/test/tokens/local.mk
include $(srcdir)/test/tunnel/local.mk
include $(srcdir)/test/hostile/local.mk
