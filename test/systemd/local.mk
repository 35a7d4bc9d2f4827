# test/systemd: the units, socket activation and a real (user) service
# manager; see doc/systemd.md.  Each test skips (77) when its tools are
# missing; user-manager.sh also needs root.
SYSTEMD_TESTS = test/systemd/units-verify.sh test/systemd/socket-activate.sh \
	test/systemd/user-manager.sh test/systemd/manpages.sh test/systemd/journal.sh

TESTS += $(SYSTEMD_TESTS)
EXTRA_DIST += $(SYSTEMD_TESTS)

check_PROGRAMS += test/systemd/journal-sink
test_systemd_journal_sink_SOURCES = test/systemd/journal-sink.c
