# pkcs11: the only code that talks to tokens (see doc/pkcs11.md).
noinst_LTLIBRARIES += libtlskey-pkcs11.la
libtlskey_pkcs11_la_SOURCES = \
	pkcs11/p11.h pkcs11/p11_internal.h \
	pkcs11/p11_ckr.c \
	pkcs11/p11_key.c \
	pkcs11/p11_pin.c \
	pkcs11/p11_uri.c \
	pkcs11/p11_probe.c
libtlskey_pkcs11_la_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(P11KIT_CFLAGS)
libtlskey_pkcs11_la_LIBADD = libtlskey-common.la $(GNUTLS_LIBS) $(P11KIT_LIBS) -lpthread

# Unit tests against a throwaway SoftHSM token (test/softhsm/fixture.sh),
# run through a wrapper that builds the token and sets the environment.
EXTRA_DIST += test/unit/test_p11.sh
if HAVE_CHECK
check_PROGRAMS += test/unit/test_p11
TESTS += test/unit/test_p11.sh
test_unit_test_p11_SOURCES = test/unit/test_p11.c
test_unit_test_p11_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(P11KIT_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_p11_LDADD = libtlskey-pkcs11.la libtlskey-common.la \
	$(GNUTLS_LIBS) $(P11KIT_LIBS) $(CHECK_LIBS) -lpthread
endif
