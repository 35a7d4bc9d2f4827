# libFuzzer harnesses, one per parser: built by "./configure --enable-fuzzing"
# (clang) from the same convenience libraries as the programs; fuzz/run.sh
# configures such a build, builds them and runs each for a bounded time.
EXTRA_DIST += fuzz/run.sh fuzz/fuzz_wire.c fuzz/fuzz_conf.c fuzz/fuzz_acl.c \
	fuzz/fuzz_tunnel_conf.c fuzz/fuzz_p11_uri.c fuzz/fuzz_dane.c fuzz/fuzz_sessdoc.c
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_wire fuzz/fuzz_conf fuzz/fuzz_acl fuzz/fuzz_tunnel_conf \
	fuzz/fuzz_p11_uri fuzz/fuzz_dane fuzz/fuzz_sessdoc
fuzz_cflags = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(P11KIT_CFLAGS)
fuzz_ldflags = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

fuzz_fuzz_wire_SOURCES = fuzz/fuzz_wire.c
fuzz_fuzz_wire_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_wire_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_wire_LDADD = libtlskey-common.la

fuzz_fuzz_sessdoc_SOURCES = fuzz/fuzz_sessdoc.c
fuzz_fuzz_sessdoc_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_sessdoc_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_sessdoc_LDADD = libtlskey-common.la

fuzz_fuzz_conf_SOURCES = fuzz/fuzz_conf.c
fuzz_fuzz_conf_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_conf_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_conf_LDADD = libtlskey-keyd.la

fuzz_fuzz_acl_SOURCES = fuzz/fuzz_acl.c
fuzz_fuzz_acl_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_acl_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_acl_LDADD = libtlskey-policy.la libtlskey-common.la

fuzz_fuzz_tunnel_conf_SOURCES = fuzz/fuzz_tunnel_conf.c
fuzz_fuzz_tunnel_conf_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_tunnel_conf_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_tunnel_conf_LDADD = libtlskey-tunnel-conf.la libtlskey-common.la

fuzz_fuzz_p11_uri_SOURCES = fuzz/fuzz_p11_uri.c
fuzz_fuzz_p11_uri_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_p11_uri_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_p11_uri_LDADD = libtlskey-pkcs11.la libtlskey-common.la

fuzz_fuzz_dane_SOURCES = fuzz/fuzz_dane.c
fuzz_fuzz_dane_CFLAGS = $(fuzz_cflags)
fuzz_fuzz_dane_LDFLAGS = $(fuzz_ldflags)
fuzz_fuzz_dane_LDADD = libtlskey-keyd.la
endif
