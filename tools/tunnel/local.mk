# tools/tunnel: tlskey-tunnel, a stunnel-like front end for unmodified
# plaintext services, built on the public <tlskey/starttls.h> API
# (libtlskey.la) and the small file helpers of libtlskey-common.la
# (common/file.c: the port file).  See doc/tunnel.md.
bin_PROGRAMS += tlskey-tunnel
tlskey_tunnel_SOURCES = \
	tools/tunnel/tunnel.h \
	tools/tunnel/main.c \
	tools/tunnel/conn.h \
	tools/tunnel/conn.c \
	tools/tunnel/relay.c \
	tools/tunnel/spawn.c \
	tools/tunnel/precheck.c \
	tools/tunnel/proxy.c
tlskey_tunnel_LDADD = libtlskey-tunnel-conf.la libtlskey.la libtlskey-common.la
# The option and configuration-file parser (conf.c, with the address
# parser it uses) as a convenience library, so that fuzz/ links the same
# objects as the program.
noinst_LTLIBRARIES += libtlskey-tunnel-conf.la
libtlskey_tunnel_conf_la_SOURCES = tools/tunnel/tunnel.h tools/tunnel/conf.c tools/tunnel/addr.c \
	tools/tunnel/alpn.c tools/tunnel/source.c

dist_man_MANS += doc/man/tlskey-tunnel.1
dist_doc_DATA += doc/tunnel.md
EXTRA_DIST += systemd/tlskey-tunnel@.service.in

# The systemd template unit, generated like systemd/tlskeyd.service (see
# systemd/local.mk) so that "make prefix=..." and "make bindir=..." give a
# unit naming the installed binary.  Its own directory variable keeps this
# fragment independent of systemd/local.mk.
tunnelunitdir = $(systemdsystemunitdir)
tunnelunit_DATA = systemd/tlskey-tunnel@.service
CLEANFILES += systemd/tlskey-tunnel@.service

tunnel_edit = $(SED) \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

systemd/tlskey-tunnel@.service: $(srcdir)/systemd/tlskey-tunnel@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(tunnel_edit) $(srcdir)/systemd/tlskey-tunnel@.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@
