#!/bin/bash
# tlsfuzzer test-tls13-finished (713 tests: malformed and truncated
# Finished messages), whole, against tlskeyd and gnutls-serv with the same
# token keys (see tlsfuzzer-rsa.sh).  About a minute per server with the RSA
# key; with the ECDSA key every test fails on both (the script offers RSA
# signature schemes only), which takes seconds.  Normal build only.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_tf_long
tk_setup
tk_tf_compare rsa test-tls13-finished
tk_tf_compare ecdsa test-tls13-finished
tk_tf_done
