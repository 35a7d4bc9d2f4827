# tlskeyd: the daemon.
sbin_PROGRAMS += tlskeyd
noinst_LTLIBRARIES += libtlskey-keyd.la
# Everything but main() lives in a convenience library so that the unit
# tests and fuzzers link exactly the objects the daemon runs.
libtlskey_keyd_la_SOURCES = \
	keyd/conf.c keyd/conf.h \
	keyd/control.c keyd/control.h \
	keyd/handshake.c \
	keyd/identity.c keyd/identity.h \
	keyd/keyd.h \
	keyd/log.c keyd/log.h \
	keyd/quota.c keyd/quota.h \
	keyd/registry.c keyd/registry.h \
	keyd/relay.c \
	keyd/appsock.c \
	keyd/signer.c \
	keyd/vcache.c keyd/vcache.h \
	keyd/worker.c
libtlskey_keyd_la_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(SYSTEMD_CFLAGS) -pthread
libtlskey_keyd_la_LIBADD = libtlskey-policy.la libtlskey-pkcs11.la libtlskey-common.la \
	$(GNUTLS_LIBS) $(SYSTEMD_LIBS)
tlskeyd_SOURCES = keyd/main.c
tlskeyd_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(SYSTEMD_CFLAGS) -pthread
tlskeyd_LDADD = libtlskey-keyd.la -lpthread
