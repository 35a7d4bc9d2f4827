#!/bin/bash
# tlsfuzzer test-large-hello (3,202 tests: ClientHellos of every size up to
# the limits, fragmented), whole, against tlskeyd and gnutls-serv with the
# same RSA token key (see tlsfuzzer-rsa.sh).  About a minute per server.
# Not with the ECDSA key: every test fails on both servers there (the
# script offers RSA signature schemes only) and it still takes two
# minutes.  Normal build only.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_tf_long
tk_setup
tk_tf_compare rsa test-large-hello
tk_tf_done
