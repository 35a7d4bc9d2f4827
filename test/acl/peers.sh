#!/bin/bash
# Remote-peer rules with the real daemon and real peers:
#   - peers= refuses a peer outside the allowed set in both roles (EACCES
#     after the handshake) and admits one inside it
#   - flags=skip-authorization granted: the same refused peer passes when
#     the request carries TLSKEY_FLAG_SKIP_AUTHORIZATION (0x80); not
#     granted: the request is refused at admission (EACCES, acl-denied)
#   - "tlskeyctl acl test --peer" agrees with the daemon
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli gnutls-serv
tk_setup
tk_peer_serv
ACL=$TK_FX/acl.conf
# gnutls-cli presents bob@example.test (peer-user); gnutls-serv is
# peer.example.test (peer-server).
tk_acl_set \
	"allow user:$TK_ME server.example.test server peers=alice@example.test" \
	"allow user:$TK_ME rsa.example.test server peers=bob@example.test,carol@example.test" \
	"allow user:$TK_ME alice@example.test client peers=other.example.test" \
	"allow user:$TK_ME carol@example.test client peers=*.example.test"

# ---- server role -----------------------------------------------------------------
tk_mark
tk_acl_server srv-refused EACCES server.example.test peer-user
tk_log_expect "audit: event=handshake-failed uid=$(id -u) .*myname=server.example.test role=server .*peer=bob@example.test result=EACCES rule=$ACL:2 .*not authorized"
tk_acl_server srv-allowed ok rsa.example.test peer-user
tk_expect_line "$TK_TMP/srv-allowed.err" "PEER=bob@example.test"
tk_dctl 1 t-srv-refused acl test --user "$TK_ME" --myname server.example.test --role server \
	--peer bob@example.test
tk_expect_grep "$TK_TMP/t-srv-refused.out" "^peer: bob@example.test refused: .*$ACL:2"
tk_dctl 0 t-srv-allowed acl test --user "$TK_ME" --myname rsa.example.test --role server \
	--peer bob@example.test
tk_expect_line "$TK_TMP/t-srv-allowed.out" "peer: bob@example.test allowed"

# ---- client role -------------------------------------------------------------------
tk_mark
tk_acl_client cli-refused EACCES alice@example.test
tk_log_expect "audit: event=handshake-failed uid=$(id -u) .*myname=alice@example.test role=client .*peer=peer.example.test result=EACCES rule=$ACL:4"
tk_acl_client cli-allowed ok carol@example.test
tk_dctl 1 t-cli-refused acl test --user "$TK_ME" --myname alice@example.test --role client \
	--peer peer.example.test

# ---- skip-authorization --------------------------------------------------------------
# Not granted by any rule: refused at admission, before any handshake.
tk_mark
tk_acl_server srv-skip-denied EACCES server.example.test peer-user --flags 80
tk_log_expect "audit: event=acl-denied uid=$(id -u) .*myname=server.example.test role=server .*result=EACCES rule=\"default deny\".*privileged flags not granted"
tk_acl_client cli-skip-denied EACCES alice@example.test --flags 80
tk_dctl 1 t-skip-denied acl test --user "$TK_ME" --myname server.example.test --role server \
	--flags skip-authorization
tk_expect_line "$TK_TMP/t-skip-denied.out" "rule: default deny (no rule matched)"
tk_expect_grep "$TK_TMP/t-skip-denied.out" "^note: .*flags skip-authorization$"

# Granted (same peers= list): the peer outside it now passes with the flag...
tk_dctl 0 grant acl add --reload --before 1 allow "user:$TK_ME" server.example.test server \
	peers=alice@example.test flags=skip-authorization
tk_expect_grep "$TK_TMP/grant.out" "^added rule 1 at $ACL:2"
tk_expect_grep "$TK_TMP/grant.out" "^ACL loaded from "
tk_acl_server srv-skip ok server.example.test peer-user --flags 80
tk_expect_line "$TK_TMP/srv-skip.err" "PEER=bob@example.test"
tk_dctl 0 t-skip acl test --user "$TK_ME" --myname server.example.test --role server \
	--flags skip-authorization --peer bob@example.test
tk_expect_grep "$TK_TMP/t-skip.out" "^rule: 1 $ACL:2: .*flags=skip-authorization"
# ...and is still refused without it (the rule matches, peers= applies).
tk_acl_server srv-noskip EACCES server.example.test peer-user
# The flag does not leak to identities whose rules do not grant it.
tk_acl_client cli-skip-still-denied EACCES alice@example.test --flags 80
tk_pass
