#!/bin/bash
# A fatal TLS error in a record after the handshake is answered with the
# alert GnuTLS sends (keyd/relay.c relay_alert), not a bare close.  Real
# peer: tlsfuzzer through tlskey-tunnel -> tlskeyd (RSA key), the tests
# that got a bare close before:
#   test-tls13-keyupdate          KeyUpdate with an invalid type: illegal_parameter
#   test-tls13-record-layer-limits  2**14 + 1 bytes of payload: record_overflow
#   test-tls13-empty-alert        an empty alert record under application keys:
#                                 unexpected_message
#   test-tls13-ccs                ChangeCipherSpec after Finished: unexpected_message
# Each relay ends ("relay closed ... TLS receive" in the daemon log) and the
# daemon keeps serving.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_tf_init "$@"
tk_setup
tk_tf_servers rsa
tk_mark
tk_tf_expect_ok rsa test-tls13-keyupdate 'invalid message_type - 249, in KeyUpdate msg' \
	'invalid message_type - 3, in KeyUpdate msg'
tk_tf_expect_ok rsa test-tls13-record-layer-limits \
	'too big payload in app_data, data size: 2**14 + 1, cipher TLS_AES_128_GCM_SHA256' \
	'too big plaintext, size: 2**14 - 8, with an additional 9 bytes of padding, cipher TLS_CHACHA20_POLY1305_SHA256'
tk_tf_expect_ok rsa test-tls13-empty-alert 'empty alert with no padding using application keys' \
	'empty alert with 30 bytes of padding using application keys'
tk_tf_expect_ok rsa test-tls13-ccs 'CCS message after Finished message'
tk_wait_log 'relay closed: .*TLS receive: ' || tk_fail "no relay ended on a TLS receive error"
tk_tf_servers_stop rsa
tk_legit_check
tk_pass
