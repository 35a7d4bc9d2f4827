# Check unit tests for common/ and keyd/ (policy/ and pkcs11/ carry their own).
# Every test_*.c runs its suite through test/unit/check-main.h.
EXTRA_DIST += test/unit/check-main.h
if HAVE_CHECK
check_PROGRAMS += test/unit/test_wire test/unit/test_conf test/unit/test_identity \
	test/unit/test_registry test/unit/test_quota test/unit/test_common test/unit/test_vcache test/unit/test_tkt \
	test/unit/test_scache
TESTS += test/unit/test_wire test/unit/test_conf test/unit/test_identity test/unit/test_registry \
	test/unit/test_quota test/unit/test_common test/unit/test_vcache test/unit/test_tkt test/unit/test_scache
test_unit_test_wire_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_wire_LDADD = libtlskey-common.la $(CHECK_LIBS)
test_unit_test_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_conf_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_identity_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_identity_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_registry_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_registry_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_quota_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
test_unit_test_quota_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_common_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_common_LDADD = libtlskey-common.la $(CHECK_LIBS)
test_unit_test_vcache_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
test_unit_test_vcache_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_scache_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS) -pthread
test_unit_test_scache_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_tkt_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_tkt_LDADD = test/lib/libtkt.la libtlskey-common.la $(CHECK_LIBS)
check_PROGRAMS += test/unit/test_status
TESTS += test/unit/test_status
test_unit_test_status_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_status_LDADD = libtlskey-keyd.la libtlskey-common.la $(GNUTLS_LIBS) $(CHECK_LIBS)
check_PROGRAMS += test/unit/test_control test/unit/test_authz test/unit/test_conn test/unit/test_relay \
	test/unit/test_admission test/unit/test_passclose
TESTS += test/unit/test_control test/unit/test_authz test/unit/test_conn test/unit/test_relay \
	test/unit/test_admission test/unit/test_passclose
check_PROGRAMS += test/unit/test_prio test/unit/test_vhost test/unit/test_dane test/unit/test_ocsp_http
TESTS += test/unit/test_prio test/unit/test_vhost test/unit/test_dane test/unit/test_ocsp_http
test_unit_test_ocsp_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_ocsp_http_LDADD = libtlskey-keyd.la $(GNUTLS_LIBS) $(CHECK_LIBS) -lpthread
test_unit_test_vhost_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_vhost_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_dane_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_dane_LDADD = libtlskey-keyd.la $(GNUTLS_LIBS) $(CHECK_LIBS)
test_unit_test_prio_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
test_unit_test_prio_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
test_unit_test_passclose_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_passclose_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
check_PROGRAMS += test/unit/test_tunnel_source
TESTS += test/unit/test_tunnel_source
test_unit_test_tunnel_source_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
test_unit_test_tunnel_source_LDADD = libtlskey-tunnel-conf.la libtlskey-common.la $(CHECK_LIBS)
# The keyd unit tests that run a struct keyd of their own (keyd-unit.h).
KEYD_UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS) -pthread
KEYD_UNIT_LDADD = libtlskey-keyd.la $(CHECK_LIBS)
KEYD_UNIT_H = test/unit/keyd-unit.h test/unit/keyd-gen-unit.h
test_unit_test_admission_SOURCES = test/unit/test_admission.c $(KEYD_UNIT_H)
test_unit_test_relay_SOURCES = test/unit/test_relay.c $(KEYD_UNIT_H)
test_unit_test_conn_SOURCES = test/unit/test_conn.c $(KEYD_UNIT_H)
test_unit_test_control_SOURCES = test/unit/test_control.c $(KEYD_UNIT_H)
test_unit_test_authz_SOURCES = test/unit/test_authz.c test/unit/keyd-unit.h
test_unit_test_admission_CFLAGS = $(KEYD_UNIT_CFLAGS)
test_unit_test_relay_CFLAGS = $(KEYD_UNIT_CFLAGS)
test_unit_test_conn_CFLAGS = $(KEYD_UNIT_CFLAGS)
test_unit_test_control_CFLAGS = $(KEYD_UNIT_CFLAGS)
test_unit_test_authz_CFLAGS = $(KEYD_UNIT_CFLAGS)
test_unit_test_admission_LDADD = $(KEYD_UNIT_LDADD)
test_unit_test_relay_LDADD = $(KEYD_UNIT_LDADD)
test_unit_test_conn_LDADD = $(KEYD_UNIT_LDADD)
test_unit_test_control_LDADD = $(KEYD_UNIT_LDADD)
test_unit_test_authz_LDADD = $(KEYD_UNIT_LDADD)
endif
