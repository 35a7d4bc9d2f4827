# Tests: Check unit tests and integration tests (SoftHSM, real daemon, real peers).
EXTRA_DIST += test/lsan.supp
# The one shell library of the integration tests: every test sources
# test/lib/tk.sh, which sources the other parts.
EXTRA_DIST += test/lib/tk.sh test/lib/tk-pki.sh test/lib/tk-ext.sh test/lib/tk-acl.sh \
	test/lib/tk-fault.sh test/lib/tk-hostile.sh test/lib/tk-tokens.sh test/lib/tk-tunnel.sh \
	test/lib/tk-tlsfuzzer.sh test/lib/tk-usermgr.sh test/lib/tk-dns.sh test/lib/tk-revoke.sh
# libtkt: the helpers the C test programs share (test/lib/tkt.h).
check_LTLIBRARIES += test/lib/libtkt.la
test_lib_libtkt_la_SOURCES = test/lib/tkt.h test/lib/tkt-util.c test/lib/tkt-net.c \
	test/lib/tkt-wire.c
test_lib_libtkt_la_LIBADD = libtlskey-common.la
include $(srcdir)/test/unit/local.mk
include $(srcdir)/test/softhsm/local.mk
include $(srcdir)/test/fault/local.mk
include $(srcdir)/test/acl/local.mk
include $(srcdir)/test/systemd/local.mk
include $(srcdir)/test/tokens/local.mk
include $(srcdir)/test/tunnel/local.mk
include $(srcdir)/test/hostile/local.mk
include $(srcdir)/test/ops/local.mk
include $(srcdir)/test/check/local.mk
include $(srcdir)/test/conformance/local.mk
include $(srcdir)/test/reload/local.mk
include $(srcdir)/test/dane/local.mk
