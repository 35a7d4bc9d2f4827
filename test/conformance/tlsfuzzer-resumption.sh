#!/bin/bash
# tlsfuzzer's TLS 1.3 resumption scripts against tlskeyd with
# resumption = on (tlskey-tunnel server mode) and against gnutls-serv with
# the same RSA token key (the scripts' TLS 1.2 parts offer only RSA
# certificates), compared test by test as in tlsfuzzer-rsa.sh.  The
# differences, TLS 1.2 tickets, are documented exceptions (doc/testing.md,
# "Conformance differences").
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_setup
tk_conf resume resumption=on
tk_daemon_start "$TK_TMP/resume.conf"
tk_tf_compare rsa test-tls13-session-resumption test-tls13-count-tickets
tk_tf_done
