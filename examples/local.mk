# Demo programs used by quickstart.sh; they use only the public API.
noinst_PROGRAMS += examples/demo-server examples/demo-client
examples_demo_server_SOURCES = examples/demo-server.c
examples_demo_server_LDADD = libtlskey.la
examples_demo_client_SOURCES = examples/demo-client.c
examples_demo_client_LDADD = libtlskey.la
