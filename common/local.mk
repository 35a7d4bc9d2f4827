# Internal helpers linked into the daemon, the library, the CLI and the tests.
noinst_LTLIBRARIES += libtlskey-common.la
libtlskey_common_la_SOURCES = \
	common/alpn.c common/alpn.h \
	common/buf.h \
	common/daemonpeer.c common/daemonpeer.h \
	common/file.c common/file.h \
	common/flags.c common/flags.h \
	common/namelist.c common/namelist.h \
	common/peerid.c common/peerid.h \
	common/sessdoc.c common/sessdoc.h \
	common/util.c common/util.h \
	common/wire.c common/wire.h
