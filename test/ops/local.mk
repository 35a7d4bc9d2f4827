# test/ops: what an operator sees -- audit records and logs, status and
# metrics (doc/status.md), the metrics socket under a real service manager.
OPS_TESTS = test/ops/session-end.sh test/ops/status.sh test/ops/notify.sh \
	test/ops/metrics-socket.sh test/ops/ocsp-timer.sh

TESTS += $(OPS_TESTS)
EXTRA_DIST += $(OPS_TESTS) test/ops/tls-peer.py
