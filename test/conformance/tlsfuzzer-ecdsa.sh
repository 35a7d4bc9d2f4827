#!/bin/bash
# tlsfuzzer against tlskeyd (tlskey-tunnel server mode, an HTTP responder
# behind it) and against gnutls-serv --http with the same ecdsa token key, in
# one network namespace of this test's own; every script whole (-n 0).
# Fails when a tlsfuzzer test passes against gnutls-serv and fails through
# tlskeyd, unless test/conformance/exceptions.txt lists it (with its reason
# in doc/testing.md, "Conformance differences").  Prints the counts per
# script, both sides (CONFORMANCE lines).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_setup
# shellcheck disable=SC2086
tk_tf_compare ecdsa $TK_TF_MAIN_SET
tk_tf_done
