# test/tokens: tlskeyd with keys on tokens beyond the one SoftHSM token of
# the fixture: a software TPM 2.0 (swtpm + tpm2-abrmd + tpm2-pkcs11), a
# remote token (p11-kit server + p11-kit-client.so) and several tokens at
# once.  They reuse test/lib/tk.sh, test/softhsm/{fixture.sh,tk-app}; see
# doc/tokens.md.  A test skips (77) only when a Debian package it needs is
# not installable; tools/install-deps.sh --test installs them.
TOKENS_TESTS = test/tokens/multi-token.sh test/tokens/remote-token.sh test/tokens/tpm.sh

TESTS += $(TOKENS_TESTS)
EXTRA_DIST += $(TOKENS_TESTS)
