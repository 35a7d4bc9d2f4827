# Documentation shipped in the tarball and installed.
dist_doc_DATA += doc/status.md doc/protocol.md doc/config.md doc/acl.md doc/pkcs11.md doc/testing.md doc/identities.md doc/api.md doc/tokens.md
EXTRA_DIST += etc/tlskeyd.conf etc/acl.conf
sysconf_tlskeyddir = $(sysconfdir)/tlskeyd
