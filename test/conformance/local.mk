# test/conformance: tlsfuzzer (../shared/tlsfuzzer beside the repository)
# against tlskeyd, through tlskey-tunnel, and against gnutls-serv with the
# same token keys, each test in a network namespace of its own.  See
# test/lib/tk-tlsfuzzer.sh and doc/testing.md ("Conformance differences").
CONFORMANCE_TESTS = \
	test/conformance/relay-alerts.sh \
	test/conformance/version-negotiation.sh \
	test/conformance/client-role.sh

TESTS += $(CONFORMANCE_TESTS)
EXTRA_DIST += $(CONFORMANCE_TESTS) test/conformance/exceptions.txt test/conformance/tf-peer.py
