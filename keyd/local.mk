# tlskeyd: the daemon.
sbin_PROGRAMS += tlskeyd
noinst_LTLIBRARIES += libtlskey-keyd.la
# Everything but main() lives in a convenience library so that the unit
# tests and fuzzers link exactly the objects the daemon runs.
libtlskey_keyd_la_SOURCES = \
	keyd/alpn.c keyd/alpn.h \
	keyd/conf.c keyd/conf.h keyd/conf_trust.c \
	keyd/conf_parse.h keyd/conf_settings.c \
	keyd/crl.c keyd/crl.h \
	keyd/conn.c keyd/conn.h \
	keyd/dane.c keyd/dane.h \
	keyd/dane_conn.c keyd/dane_conn.h \
	keyd/dane_match.c keyd/dane_match.h \
	keyd/dtls_cookie.c keyd/dtls_cookie.h \
	keyd/fdcount.c keyd/fdcount.h \
	keyd/aclstore.c keyd/aclstore.h \
	keyd/admission.c keyd/admission.h \
	keyd/admission_worker.c keyd/ctlconn.c keyd/ctlconn.h \
	keyd/caller.c keyd/caller.h \
	keyd/check.c keyd/check.h \
	keyd/control.c keyd/control.h keyd/control_info.c \
	keyd/start_check.c keyd/start_check.h \
	keyd/gen.c keyd/gen.h \
	keyd/listener.c keyd/listener.h \
	keyd/handshake.c keyd/handshake.h \
	keyd/identity.c keyd/identity.h \
	keyd/vhost.c keyd/vhost.h \
	keyd/keyd.h \
	keyd/keylist.c keyd/keylist.h \
	keyd/keys.c keyd/keys.h \
	keyd/log.c keyd/log.h \
	keyd/notify.c keyd/notify.h \
	keyd/ocsp.c keyd/ocsp.h \
	keyd/ocsp_fetch.c keyd/ocsp_fetch.h \
	keyd/ocsp_http.c keyd/ocsp_http.h \
	keyd/ocsp_online.c keyd/ocsp_online.h \
	keyd/ocsp_conn.c keyd/ocsp_conn.h \
	keyd/outcome.c keyd/outcome.h \
	keyd/p11reset.c keyd/p11reset.h \
	keyd/prio.c keyd/prio.h \
	keyd/passclose.c keyd/passclose.h \
	keyd/process.c keyd/process.h \
	keyd/quota.c keyd/quota.h \
	keyd/registry.c keyd/registry.h \
	keyd/resolve.c keyd/resolve.h \
	keyd/sessctl.c keyd/sessctl.h \
	keyd/wcmd.c keyd/wcmd.h \
	keyd/keyupdate.c keyd/keyupdate.h \
	keyd/reload.c keyd/reload.h \
	keyd/reeval.c keyd/reeval.h \
	keyd/watch.c keyd/watch.h \
	keyd/relay.c keyd/relay.h keyd/relay_end.c keyd/relay_end.h \
	keyd/relay_io.c keyd/relay_io.h \
	keyd/appsock.c keyd/appsock.h \
	keyd/authz.c keyd/authz.h \
	keyd/signer.c keyd/signer.h \
	keyd/stats.c keyd/stats.h \
	keyd/status.c keyd/status.h \
	keyd/scache.c keyd/scache.h \
	keyd/tickets.c keyd/tickets.h \
	keyd/transport.c keyd/transport.h \
	keyd/trust.c keyd/trust.h \
	keyd/upgrade.c keyd/upgrade.h \
	keyd/vcache.c keyd/vcache.h \
	keyd/worker.c keyd/worker.h
libtlskey_keyd_la_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(SYSTEMD_CFLAGS) $(UNBOUND_CFLAGS) -pthread
libtlskey_keyd_la_LIBADD = libtlskey-policy.la libtlskey-pkcs11.la libtlskey-common.la \
	$(GNUTLS_LIBS) $(SYSTEMD_LIBS) $(UNBOUND_LIBS)
tlskeyd_SOURCES = keyd/main.c
tlskeyd_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(SYSTEMD_CFLAGS) -pthread
tlskeyd_LDADD = libtlskey-keyd.la -lpthread
