# libtlskey: the public client library.
lib_LTLIBRARIES += libtlskey.la
libtlskey_la_SOURCES = lib/starttls.c lib/alpn.c lib/alpn.h lib/client.c lib/client.h lib/ctlpool.c lib/session.c
libtlskey_la_LIBADD = libtlskey-common.la
libtlskey_la_LDFLAGS = $(HARDEN_LDFLAGS) -version-info $(LIBTLSKEY_LT_VERSION) \
	-Wl,--version-script=$(srcdir)/lib/libtlskey.sym -no-undefined
EXTRA_libtlskey_la_DEPENDENCIES = lib/libtlskey.sym
tlskeyincludedir = $(includedir)/tlskey
tlskeyinclude_HEADERS = lib/tlskey/starttls.h
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = lib/tlskey.pc
EXTRA_DIST += lib/libtlskey.sym lib/tlskey.pc.in
