# test/tunnel: tlskey-tunnel against the real daemon (SoftHSM fixture from
# test/lib/tk.sh), gnutls-cli/gnutls-serv peers and tt-backend, a
# small plaintext echo service and client.  Loopback only, every wait
# bounded.  See doc/tunnel.md.
check_PROGRAMS += test/tunnel/tt-backend
test_tunnel_tt_backend_SOURCES = test/tunnel/tt-backend.c
test_tunnel_tt_backend_LDADD = test/lib/libtkt.la libtlskey-common.la

TUNNEL_TESTS = test/tunnel/options.sh test/tunnel/per-source.sh test/tunnel/server.sh test/tunnel/exec.sh \
	test/tunnel/client.sh test/tunnel/negative.sh \
	test/tunnel/reload.sh test/tunnel/alpn.sh test/tunnel/shutdown.sh \
	test/tunnel/reload-sni.sh test/tunnel/proxy-resume.sh test/tunnel/warnings.sh

TESTS += $(TUNNEL_TESTS)
EXTRA_DIST += $(TUNNEL_TESTS)
