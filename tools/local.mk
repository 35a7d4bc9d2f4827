# tools: tlskeyctl, the administrator's tool (doc/tlskeyctl.md), and the
# package installer used by quickstart.sh and run-tests.sh.
EXTRA_DIST += tools/install-deps.sh

sbin_PROGRAMS += tlskeyctl
tlskeyctl_SOURCES = \
	tools/tlskeyctl.c tools/tlskeyctl.h \
	tools/tlskeyctl_acl.c \
	tools/tlskeyctl_daemon.c \
	tools/tlskeyctl_edit.c \
	tools/tlskeyctl_ocsp.c \
	tools/tlskeyctl_status.c
tlskeyctl_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(P11KIT_CFLAGS) $(SYSTEMD_CFLAGS)
tlskeyctl_LDADD = libtlskey-policy.la libtlskey-keyd.la libtlskey-common.la $(GNUTLS_LIBS)

dist_doc_DATA += doc/tlskeyctl.md
dist_man_MANS += doc/man/tlskeyctl.8
