# Internal helpers linked into the daemon, the library, the CLI and the tests.
noinst_LTLIBRARIES += libtlskey-common.la
libtlskey_common_la_SOURCES = \
	common/buf.h \
	common/file.c common/file.h \
	common/flags.c common/flags.h \
	common/sessdoc.c common/sessdoc.h \
	common/util.c common/util.h \
	common/wire.c common/wire.h
