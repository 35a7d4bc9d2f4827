# test/conformance: tlsfuzzer (../shared/tlsfuzzer beside the repository)
# against tlskeyd, through tlskey-tunnel, and against gnutls-serv with the
# same token keys, each test in a network namespace of its own.  See
# test/lib/tk-tlsfuzzer.sh and doc/testing.md ("Conformance differences").
# The long ones first, so that make -j2 check starts them early.
CONFORMANCE_TESTS = test/conformance/tlsfuzzer-large-hello.sh \
	test/conformance/tlsfuzzer-finished.sh test/conformance/tlsfuzzer-rsa.sh \
	test/conformance/tlsfuzzer-ecdsa.sh test/conformance/relay-alerts.sh \
	test/conformance/version-negotiation.sh test/conformance/client-role.sh \
	test/conformance/tlsfuzzer-resumption.sh

TESTS += $(CONFORMANCE_TESTS)
EXTRA_DIST += $(CONFORMANCE_TESTS) test/conformance/exceptions.txt test/conformance/tf-peer.py
