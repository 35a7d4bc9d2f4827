# test/softhsm: integration tests (SoftHSM token, real daemon, real peers).
# See doc/testing.md.
check_PROGRAMS += test/softhsm/tk-app test/softhsm/tk-threads test/softhsm/tk-keep
test_softhsm_tk_keep_SOURCES = test/softhsm/tk-keep.c
test_softhsm_tk_keep_LDADD = test/lib/libtkt.la libtlskey.la libtlskey-common.la
# tk-keep's connect() must stand in for libc's inside libtlskey too.
test_softhsm_tk_keep_LDFLAGS = -Wl,--export-dynamic-symbol=connect
test_softhsm_tk_threads_SOURCES = test/softhsm/tk-threads.c
test_softhsm_tk_threads_CFLAGS = $(AM_CFLAGS) -pthread
test_softhsm_tk_threads_LDADD = libtlskey.la -lpthread
test_softhsm_tk_app_SOURCES = test/softhsm/tk-app.h test/softhsm/tk-app.c \
	test/softhsm/tk-app-tls.c test/softhsm/tk-app-io.c test/softhsm/tk-app-hostile.c \
	test/softhsm/tk-app-sess.c
test_softhsm_tk_app_LDADD = test/lib/libtkt.la libtlskey.la libtlskey-common.la

SOFTHSM_TESTS = test/softhsm/fixture-check.sh test/softhsm/server-gnutls.sh \
	test/softhsm/server-openssl.sh test/softhsm/client-gnutls.sh \
	test/softhsm/client-openssl.sh test/softhsm/bulk.sh test/softhsm/threads.sh \
	test/softhsm/negative.sh test/softhsm/flags.sh test/softhsm/validation.sh \
	test/softhsm/cache.sh test/softhsm/session-control.sh test/softhsm/dtls.sh \
	test/softhsm/rsa-kx.sh \
	test/softhsm/alpn.sh \
	test/softhsm/ocsp.sh \
	test/softhsm/ocsp-online.sh \
	test/softhsm/ocsp-dns.sh \
	test/softhsm/ocsp-issuer.sh \
	test/softhsm/ocsp-busy.sh \
	test/softhsm/relay-syscalls.sh \
	test/softhsm/crl.sh \
	test/softhsm/trust-identity.sh \
	test/softhsm/reevaluate.sh test/softhsm/reeval-inflight.sh test/softhsm/crl-storm.sh \
	test/softhsm/crl-watch-names.sh \
	test/softhsm/vhost.sh test/softhsm/peer-forms.sh \
	test/softhsm/resume.sh test/softhsm/resume-client.sh \
	test/softhsm/session-info.sh test/softhsm/key-update.sh \
	test/softhsm/ctl-keep.sh test/softhsm/hs-readahead.sh

TESTS += $(SOFTHSM_TESTS)
EXTRA_DIST += $(SOFTHSM_TESTS) test/softhsm/hs-hold.py \
	test/softhsm/fixture.sh
