# bench: performance measurements, run by hand with bench/run.sh (not part
# of "make check"; see doc/performance.md).  "make bench" builds the tools.
EXTRA_PROGRAMS += bench/hs-client bench/hs-server bench/tk-bench-app
bench_hs_client_SOURCES = bench/hs-client.c
bench_hs_client_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
bench_hs_client_LDADD = $(GNUTLS_LIBS)
bench_hs_server_SOURCES = bench/hs-server.c
bench_hs_server_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
bench_hs_server_LDADD = $(GNUTLS_LIBS)
bench_tk_bench_app_SOURCES = bench/tk-bench-app.c
bench_tk_bench_app_CFLAGS = $(AM_CFLAGS) -pthread
bench_tk_bench_app_LDADD = libtlskey.la -lpthread
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += bench/run.sh bench/resume.sh

bench: $(EXTRA_PROGRAMS) tlskeyd
.PHONY: bench
