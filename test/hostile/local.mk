# test/hostile: regression tests for attacks on the custody promise (issue 9):
# each reproduces one attack by a hostile local user, a hostile admitted
# caller or a hostile remote peer against the real daemon, and checks that
# the attack fails with a clear error while other callers keep being served.
HOSTILE_TESTS = test/hostile/acl-case.sh test/hostile/anon-peers.sh test/hostile/exe-combined.sh \
	test/hostile/many-groups.sh test/hostile/no-pidfd.sh test/hostile/worker-freeze.sh \
	test/hostile/close-timer.sh test/hostile/daemon-death.sh \
	test/hostile/protected-fallback.sh test/hostile/fairness.sh test/hostile/refusals.sh \
	test/hostile/pin-fifo.sh test/hostile/second-daemon.sh test/hostile/port-file.sh \
	test/hostile/linger-close.sh test/hostile/forged-record.sh test/hostile/shutdown-cut.sh \
	test/hostile/ku-after-eof.sh test/hostile/kept-fork.sh test/hostile/exit-backlog.sh \
	test/hostile/impostor.sh test/hostile/fuse-close.sh test/hostile/close-slow-reader.sh \
	test/hostile/reneg-flood.sh test/hostile/nodata-flood.sh

# fork() while other threads start sessions: no child inherits the pool's
# lock held (test/hostile/fork-pool.c; a test program of its own).
check_PROGRAMS += test/hostile/fork-pool
test_hostile_fork_pool_SOURCES = test/hostile/fork-pool.c
test_hostile_fork_pool_LDADD = libtlskey.la -lpthread
TESTS += test/hostile/fork-pool

# A FUSE server that never answers the daemon's flushes (fuse-close.sh).
check_PROGRAMS += test/hostile/stallfs
test_hostile_stallfs_SOURCES = test/hostile/stallfs.c

# A launcher that hides SO_PEERPIDFD and pidfd_send_signal (no-pidfd.sh).
check_PROGRAMS += test/hostile/no-pidfd
test_hostile_no_pidfd_SOURCES = test/hostile/no-pidfd.c

# datapath: attacks on the data path (test/hostile/datapath.c).
check_PROGRAMS += test/hostile/datapath
test_hostile_datapath_SOURCES = test/hostile/datapath.c
test_hostile_datapath_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
test_hostile_datapath_LDADD = test/lib/libtkt.la libtlskey.la libtlskey-common.la $(GNUTLS_LIBS)

# attack: the fairness and admission attacks (test/hostile/attack.c).
check_PROGRAMS += test/hostile/attack
test_hostile_attack_SOURCES = test/hostile/attack.c
test_hostile_attack_LDADD = test/lib/libtkt.la libtlskey-common.la

TESTS += $(HOSTILE_TESTS)
EXTRA_DIST += $(HOSTILE_TESTS) test/hostile/linger-attack.py test/hostile/forge-peer.py \
	test/hostile/sink-peer.py test/hostile/udp-forge.py test/hostile/dtls-hello.py test/hostile/kept-fork.py test/hostile/impostor.py \
	test/hostile/hello-flood.py test/hostile/nodata-flood.py
