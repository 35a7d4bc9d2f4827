# Documentation shipped in the tarball and installed.
dist_doc_DATA += doc/status.md doc/protocol.md doc/config.md doc/acl.md doc/pkcs11.md doc/testing.md doc/identities.md doc/api.md doc/tokens.md
sysconf_tlskeyddir = $(sysconfdir)/tlskeyd
# Example configurations, installed under the documentation directory
# (never over an administrator's files in sysconfdir): copy and edit.
examplesdir = $(docdir)/examples
dist_examples_DATA = etc/tlskeyd.conf etc/acl.conf etc/tunnel-example.conf

# The configuration directory the daemon reads by default
# (SYSCONFDIR/tlskeyd/tlskeyd.conf); created empty, never filled or
# removed by make: its contents are the administrator's.
install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(sysconf_tlskeyddir)'

installdirs-local:
	$(MKDIR_P) '$(DESTDIR)$(sysconf_tlskeyddir)'
