#!/bin/bash
# More peer identity forms (keyd/identity.c, doc/identities.md), the app as
# TLS server, gnutls-cli as the client with certificates of the test CA:
#  - only a URI SAN (SPIFFE ID): PEER=spiffe://td.test/web;
#  - only IP SANs: PEER=192.0.2.7 (the first);
#  - only a CN: refused (EKEYREJECTED) unless peer-cn allows its kind
#    (hostname / email), globally or for the identity (which wins); a CN
#    with a wildcard is never an identity;
#  - several SANs: the e-mail address is the peer, unless peers= admits
#    only a later form: then that one (spiffe, address) is the peer;
#  - peers= patterns spiffe://td.test/* and 192.0.2.0/24 admit, others
#    (spiffe://other.test/*, spiffe://td.test2/*, 198.51.100.0/24) refuse;
#  - map-user with a SPIFFE pattern, an address and a CN: mapped, or EACCES
#    (peers= for a CN identity too).
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need gnutls-cli getent
tk_setup
LOCAL=
for u in daemon nobody "$TK_ME"; do
	if getent passwd "$u" >/dev/null; then LOCAL=$u; break; fi
done
[ -n "$LOCAL" ] || tk_skip "no local account to map to"

# pf NAME TEMPLATE-LINES: a client certificate and file key in the fixture.
serial=100
pf() {
	serial=$((serial + 1))
	(umask 077 && certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
		--outfile "$TK_FX/$1.key" </dev/null 2>/dev/null) || tk_fail "key for $1"
	printf 'serial = %d\n%s\ntls_www_client\nsigning_key\nexpiration_days = 30\n' "$serial" "$2" \
		>"$TK_TMP/$1.tmpl"
	tk_cert_issue "$TK_FX/$1.pem" "$TK_TMP/$1.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
		--load-privkey "$TK_FX/$1.key" >/dev/null 2>&1 || tk_fail "certificate for $1"
}
pf pf-uri 'organization = "test"
uri = "spiffe://td.test/web"'
pf pf-ip 'organization = "test"
ip_address = "192.0.2.7"
ip_address = "2001:db8::7"'
pf pf-cn 'cn = "host.example.test"'
pf pf-cnmail 'cn = "dave@example.test"'
pf pf-cnwild 'cn = "*.example.test"'
pf pf-several 'cn = "multi"
ip_address = "192.0.2.9"
uri = "spiffe://td.test/multi"
dns_name = "multi.example.test"
email = "multi@example.test"'
certtool -i --infile "$TK_FX/pf-several.pem" | grep -A8 'Subject Alternative' >"$TK_TMP/several.txt"
tk_expect_grep "$TK_TMP/several.txt" 'URI: spiffe://td.test/multi'
tk_expect_grep "$TK_TMP/several.txt" 'RFC822Name: multi@example.test'

M=server.example.test
# ok NAME CERT WANT-PEER [APP-ARGS]: a handshake that works, PEER= checked.
ok() {
	tk_acl_server "$1" ok "$M" "$2" --query "${@:4}"
	tk_expect_line "$TK_TMP/$1.err" "PEER=$3"
	tk_expect_grep "$TK_TMP/$1.err" "^QUERY .* peer=$3 "
}

ok uri pf-uri spiffe://td.test/web
ok ip pf-ip 192.0.2.7
ok several pf-several multi@example.test
tk_mark
tk_acl_server cn-off EKEYREJECTED "$M" pf-cn
tk_log_expect 'peer certificate names no usable identity'
tk_acl_server cnmail-off EKEYREJECTED "$M" pf-cnmail

# --- peer-cn ------------------------------------------------------------------
cn_conf() {
	{ echo "peer-cn = $1"; cat "$TK_FX/tlskeyd.conf"; } >"$TK_TMP/cn-$1.conf"
	tk_daemon_start "$TK_TMP/cn-$1.conf"
}
cn_conf hostname
ok cn-host pf-cn host.example.test
tk_acl_server cnmail-host EKEYREJECTED "$M" pf-cnmail
tk_acl_server cnwild-host EKEYREJECTED "$M" pf-cnwild
# A CN is no identity beside a SAN of its kind: several keeps its SANs.
ok several-host pf-several multi@example.test
# peers= and map-user see a CN identity as the name it is.
tk_acl_set "allow user:$TK_ME $M server peers=*.example.test"
ok cn-peers pf-cn host.example.test
tk_acl_set "allow user:$TK_ME $M server peers=other.example.test"
tk_acl_server cn-peers-no EACCES "$M" pf-cn
tk_acl_set "allow user:$TK_ME $M server map-user" "map host.example.test $LOCAL"
ok cn-map pf-cn host.example.test
tk_expect_grep "$TK_TMP/cn-map.err" "^QUERY .* mapped=$LOCAL "
tk_acl_set "allow user:$TK_ME $M server map-user" "map other.example.test $LOCAL"
tk_acl_server cn-map-no EACCES "$M" pf-cn
tk_acl_set "allow user:$TK_ME * client,server"
cn_conf email
ok cn-mail pf-cnmail dave@example.test
tk_acl_server cnhost-mail EKEYREJECTED "$M" pf-cn
cn_conf both
ok cn-both pf-cn host.example.test
tk_acl_server cnwild-both EKEYREJECTED "$M" pf-cnwild
printf 'peer-cn = yes\n' >"$TK_TMP/cn-bad.conf"
cat "$TK_FX/tlskeyd.conf" >>"$TK_TMP/cn-bad.conf"
rc=0
"$TLSKEYD" -t -c "$TK_TMP/cn-bad.conf" >"$TK_TMP/cn-bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || tk_fail "peer-cn = yes was accepted"
tk_expect_grep "$TK_TMP/cn-bad.out" "cn-bad.conf:1: 'peer-cn' must be off, hostname, email or both"
# Per identity: only server.example.test takes host-name CNs (and with
# a global hostname, an identity's own off wins).
sed '/^\[identity server\.example\.test\]$/a peer-cn = hostname' "$TK_FX/tlskeyd.conf" >"$TK_TMP/cn-id.conf"
tk_daemon_start "$TK_TMP/cn-id.conf"
ok cn-id pf-cn host.example.test
tk_acl_server cn-id-rsa EKEYREJECTED rsa.example.test pf-cn
{ echo "peer-cn = hostname"; sed '/^\[identity server\.example\.test\]$/a peer-cn = off' "$TK_FX/tlskeyd.conf"; } >"$TK_TMP/cn-id2.conf"
tk_daemon_start "$TK_TMP/cn-id2.conf"
tk_acl_server cn-id2 EKEYREJECTED "$M" pf-cn
tk_acl_server cn-id2-rsa ok rsa.example.test pf-cn
tk_daemon_start "$TK_FX/tlskeyd.conf"

# --- peers= -------------------------------------------------------------------
tk_acl_set "allow user:$TK_ME $M server peers=spiffe://td.test/*"
ok p-uri pf-uri spiffe://td.test/web
# The operator's view agrees (tlskeyctl acl test --peer).
tk_dctl 0 t-uri acl test --user "$TK_ME" --myname "$M" --role server --peer spiffe://td.test/web
tk_dctl 1 t-uri2 acl test --user "$TK_ME" --myname "$M" --role server --peer spiffe://td.test2/web
ok p-several pf-several spiffe://td.test/multi
tk_mark
tk_acl_server p-ip-no EACCES "$M" pf-ip
tk_log_expect 'peer 192\.0\.2\.7 not authorized for server\.example\.test: peer not listed in peers='
tk_acl_set "allow user:$TK_ME $M server peers=spiffe://other.test/*,spiffe://td.test2/*,198.51.100.0/24"
tk_acl_server p-uri-no EACCES "$M" pf-uri
tk_acl_server p-ip-no2 EACCES "$M" pf-ip
tk_acl_server p-several-no EACCES "$M" pf-several
tk_acl_set "allow user:$TK_ME $M server peers=192.0.2.0/24"
ok p-ip pf-ip 192.0.2.7
ok p-several-ip pf-several 192.0.2.9
tk_acl_set "allow user:$TK_ME $M server peers=2001:db8::/32"
ok p-ip6 pf-ip 2001:db8::7

# --- map-user -----------------------------------------------------------------
tk_acl_set "allow user:$TK_ME $M server map-user" "map spiffe://td.test/* $LOCAL" \
	"map 192.0.2.7 $LOCAL"
ok m-uri pf-uri spiffe://td.test/web
tk_expect_grep "$TK_TMP/m-uri.err" "^QUERY .* mapped=$LOCAL "
ok m-ip pf-ip 192.0.2.7
tk_expect_grep "$TK_TMP/m-ip.err" "^QUERY .* mapped=$LOCAL "
tk_acl_set "allow user:$TK_ME $M server map-user" "map spiffe://td.test/db $LOCAL" \
	"map 192.0.2.8 $LOCAL"
tk_mark
tk_acl_server m-uri-no EACCES "$M" pf-uri
tk_log_expect 'peer=spiffe://td\.test/web result=EACCES .*maps to no local user'
tk_acl_server m-ip-no EACCES "$M" pf-ip
tk_acl_set "allow user:$TK_ME * client,server"
tk_legit_check
tk_pass
