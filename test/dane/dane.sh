#!/bin/bash
# DANE in the client role (RFC 6698, 7671) through a real DNSSEC chain on
# 127.0.0.1: the zone example.test. signed with ldns-signzone, served by
# nsd, validated by unbound (trust anchor: the zone's DS) and again by the
# daemon's own libunbound (dns-trust-anchor).  The servers are openssl
# s_server processes; none of their certificates chains to the daemon's
# ca-file except the PKIX one (the fixture's peer.example.test).
#   ee        DANE-EE 3 1 1 of a self-signed certificate for another name:
#             passes with no CA (peer rule dane = require), audited (DANE-EE)
#   ee-old    DANE-EE of a self-signed certificate that expired in 2020:
#             passes (RFC 7671 5.1: no date check for DANE-EE)
#   ee again  answered from the daemon's TLSA cache: one query in all
#   bad       3 1 1 of another key: EKEYREJECTED
#   bogus     the TLSA rdata edited after signing (it now matches the
#             server!): EKEYREJECTED even though dane = opportunistic
#   ta        DANE-TA 2 0 1 of a private CA that sent the chain: passes
#   ta-name   the same TA, but the leaf does not name the TLSA host: refused
#   pkix      no TLSA at all (secure NXDOMAIN), opportunistic: PKIX passes
#   require   the same with dane = require on the identity: EKEYREJECTED
#   off       a matching 3 1 1, but the peer rule says off: PKIX refuses it
#   bogus-pkix the same tampering for a server the daemon's CA accepts:
#             still EKEYREJECTED (a bogus answer never falls back to PKIX)
#   insecure  a TLSA record in the unsigned zone plain.test. for a server
#             the CA accepts: opportunistic validates by the CA (the record,
#             which does not match, is not used); a peer rule require refuses
#   pkix-ee   PKIX-EE 1 1 1 of a server the CA accepts (which sends the CA
#             too): passes, audited (PKIX-EE); pkix-ta: PKIX-TA 0 0 1 of that
#             CA: passes (PKIX-TA); pkix-bad: 1 1 1 of another key: refused
#             although the CA accepts the server; pkix-off-path: PKIX-TA 0 0 1
#             of a CA certificate the server sends beside the chain, not on
#             the leaf's path: refused; pkix-self: 1 1 1 matching a
#             self-signed server: refused, PKIX validation is still required
#   ttl       a TLSA record with TTL 2: asked again once it expired
#   long      a server sending 250 certificates after its leaf, 32 DANE-TA
#             records matching none: refused, five handshakes cost the
#             daemon under 50 ticks of CPU (before the search stopped at the
#             16 certificates a path can use: 24 ticks each); long-ee: the
#             same server under a DANE-EE record of its leaf: passes
#   ocsp-*    peer-ocsp-online = hard: a DANE-EE peer (twice: the second
#             from the validation cache) and a DANE-TA one connect with
#             nobody asked (no CA vouched for their AIA or issuer, RFC 7671
#             5.1; without the check hard refused them: no responder), a
#             PKIX-EE one is still asked (its certificate names none:
#             refused, ocsp-unavailable)
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl
tk_dns_need
tk_setup --no-daemon

D=$TK_TMP/pki
mkdir -p "$D"
selfsigned() { # NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$D/$1.key" -out "$D/$1.pem" -subj "/CN=$2" \
		-addext "subjectAltName=DNS:$2" 2>>"$D/openssl.log" || tk_fail "openssl req $1"
}
selfsigned ee unrelated.invalid
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/old.key" 2>>"$D/openssl.log"
printf '%s\n' 'cn = "old.invalid"' 'serial = 7' 'activation_date = "2019-01-01 00:00:00 UTC"' \
	'expiration_date = "2020-01-01 00:00:00 UTC"' 'tls_www_server' 'signing_key' >"$D/old.tmpl"
certtool --generate-self-signed --load-privkey "$D/old.key" --template "$D/old.tmpl" \
	--outfile "$D/old.pem" </dev/null >>"$D/openssl.log" 2>&1 || tk_fail "certtool old.pem"
selfsigned other unrelated.invalid
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$D/ca.key" -out "$D/ca.pem" -subj "/CN=dane test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	2>>"$D/openssl.log" || tk_fail "openssl CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/ta.key" \
	-out "$D/ta.csr" -subj "/CN=ta.example.test" 2>>"$D/openssl.log" || tk_fail "openssl csr"
printf '%s\n' "subjectAltName=DNS:ta.example.test" "extendedKeyUsage=serverAuth" >"$D/ta.ext"
openssl x509 -req -in "$D/ta.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 \
	-extfile "$D/ta.ext" -out "$D/ta.pem" 2>>"$D/openssl.log" || tk_fail "openssl sign"

# Two servers the fixture CA vouches for, under names with TLSA records.
for n in bogus2.example.test www.plain.test; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$n.key" 2>>"$D/openssl.log"
	openssl pkey -in "$D/$n.key" -pubout -out "$D/$n.pub" 2>>"$D/openssl.log"
	tk_check_cert "$D/$n.pem" "$D/$n.pub" 2 "dns_name = \"$n\"
tls_www_server
signing_key"
done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/pkix.key" 2>>"$D/openssl.log"
openssl pkey -in "$D/pkix.key" -pubout -out "$D/pkix.pub" 2>>"$D/openssl.log"
tk_check_cert "$D/pkix.pem" "$D/pkix.pub" 2 'dns_name = "pkix.example.test"
dns_name = "pkixta.example.test"
dns_name = "pkixbad.example.test"
dns_name = "pkixoff.example.test"
tls_www_server
signing_key'

srv() { # NAME ARGS...: an s_server reversing lines, many connections
	local name=$1
	shift
	tk_start_peer "$name" openssl s_server -accept 127.0.0.1:PORT -rev "$@"
}
srv s-ee -cert "$D/ee.pem" -key "$D/ee.key"
P_EE=$TK_PORT
srv s-old -cert "$D/old.pem" -key "$D/old.key"
P_OLD=$TK_PORT
srv s-ta -cert "$D/ta.pem" -key "$D/ta.key" -cert_chain "$D/ca.pem"
P_TA=$TK_PORT
srv s-pkix -cert "$TK_FX/peer-server.pem" -key "$TK_FX/peer-server.key"
P_PKIX=$TK_PORT
srv s-bogus2 -cert "$D/bogus2.example.test.pem" -key "$D/bogus2.example.test.key"
P_B2=$TK_PORT
srv s-plain -cert "$D/www.plain.test.pem" -key "$D/www.plain.test.key"
P_PLAIN=$TK_PORT
B2=$(tk_dns_tlsa_spki "$D/bogus2.example.test.pem")
srv s-pkixd -cert "$D/pkix.pem" -key "$D/pkix.key" -cert_chain "$TK_FX/ca.pem"
P_PX=$TK_PORT
# The same server, sending an unrelated CA certificate (the DANE-TA test's)
# after the fixture CA that issued it.
cat "$TK_FX/ca.pem" "$D/ca.pem" >"$D/pkix-extra.pem"
srv s-pkixx -cert "$D/pkix.pem" -key "$D/pkix.key" -cert_chain "$D/pkix-extra.pem"
P_PXX=$TK_PORT
# 250 copies of an unrelated certificate after the leaf (about 110 KB, under
# GnuTLS's 128 KiB limit for one handshake message).
for i in $(seq 250); do cat "$D/other.pem"; done >"$D/long.pem"
srv s-long -cert "$D/ee.pem" -key "$D/ee.key" -cert_chain "$D/long.pem"
P_LONG=$TK_PORT

EE=$(tk_dns_tlsa_spki "$D/ee.pem")
OTHER=$(tk_dns_tlsa_spki "$D/other.pem")
CA=$(tk_dns_tlsa_cert "$D/ca.pem")
tk_dns_zone
tk_dns_rr "_$P_EE._tcp.ee IN TLSA 3 1 1 $EE" \
	"_$P_OLD._tcp.old IN TLSA 3 1 1 $(tk_dns_tlsa_spki "$D/old.pem")" \
	"_$P_EE._tcp.bad IN TLSA 3 1 1 $OTHER" \
	"_$P_EE._tcp.bogus IN TLSA 3 1 1 $OTHER" \
	"_$P_EE._tcp.off IN TLSA 3 1 1 $EE" \
	"_$P_EE._tcp.short 2 IN TLSA 3 1 1 $EE" \
	"_$P_TA._tcp.ta IN TLSA 2 0 1 $CA" \
	"_$P_TA._tcp.ta2 IN TLSA 2 0 1 $CA" \
	"_$P_B2._tcp.bogus2 IN TLSA 3 1 1 $OTHER" \
	"_$P_PX._tcp.pkix IN TLSA 1 1 1 $(tk_dns_tlsa_spki "$D/pkix.pem")" \
	"_$P_PX._tcp.pkixta IN TLSA 0 0 1 $(tk_dns_tlsa_cert "$TK_FX/ca.pem")" \
	"_$P_PX._tcp.pkixbad IN TLSA 1 1 1 $OTHER" \
	"_$P_PXX._tcp.pkixoff IN TLSA 0 0 1 $CA" \
	"_$P_EE._tcp.pkixself IN TLSA 1 1 1 $EE" \
	"_$P_LONG._tcp.long-ee IN TLSA 3 1 1 $EE"
for i in $(seq 32); do
	tk_dns_rr "_$P_LONG._tcp.long IN TLSA 2 1 1 $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
done
tk_dns_plain_rr "_$P_PLAIN._tcp.www IN TLSA 3 1 1 $OTHER" \
	"_$P_PLAIN._tcp.www2 IN TLSA 3 1 1 $OTHER"
tk_dns_sign
tk_dns_tamper "_$P_EE._tcp.bogus.example.test" "$OTHER" "$EE"
tk_dns_tamper "_$P_B2._tcp.bogus2.example.test" "$OTHER" "$B2"
tk_dns_start

tk_conf dane dane=opportunistic dns-resolver="$TK_DNS_RESOLVER" dns-trust-anchor="$TK_DNS_ANCHOR" \
	-- "[peer ee.example.test]" "dane = require" "[peer off.example.test]" "dane = off" \
	"[peer www2.plain.test]" "dane = require"
sed -i '/^\[identity carol@example.test\]/a dane = require' "$TK_TMP/dane.conf"
tk_daemon_start "$TK_TMP/dane.conf" || tk_fail "tlskeyd refused the DANE configuration"

echo hello >"$TK_TMP/hello"
ok() { # NAME PORT SNI [MYNAME]: handshake, data both ways, peer = SNI
	cp "$TK_TMP/hello" "$TK_TMP/$1.in"
	tk_ok "$1" client --connect "127.0.0.1:$2" --myname "${4:-alice@example.test}" --sni "$3"
	tk_expect_line "$TK_TMP/$1.err" "PEER=$3"
	[ "$(cat "$TK_TMP/$1.out")" = olleh ] || tk_fail "$1: no data through the session"
}
ok_as() { # NAME PORT SNI NOTE: ok, and the established record says (NOTE)
	tk_mark
	ok "$1" "$2" "$3"
	tk_wait_log "established.*\($4\)" || tk_fail "$1: not audited as $4"
}
bad() { # NAME PORT SNI ERE [MYNAME]: EKEYREJECTED, and why in the daemon log
	tk_mark
	tk_err "$1" EKEYREJECTED client --connect "127.0.0.1:$2" --myname "${5:-alice@example.test}" \
		--sni "$3"
	tk_wait_log "$4" || tk_fail "$1: the log does not say /$4/"
}

ok_as ee "$P_EE" ee.example.test DANE-EE
ok_as ee-old "$P_OLD" old.example.test DANE-EE
tk_mark
ok ee-again "$P_EE" ee.example.test
tk_wait_log "TLSA _$P_EE._tcp.ee.example.test. from the cache" || tk_fail "ee-again: not cached"
[ "$(grep -c "TLSA query _$P_EE._tcp.ee.example.test" "$TK_TMP/tlskeyd.log")" = 1 ] ||
	tk_fail "ee: the daemon asked more than once"
[ "$(tk_dns_queries "_$P_EE._tcp.ee.example.test")" = 1 ] ||
	tk_fail "ee: unbound saw $(tk_dns_queries "_$P_EE._tcp.ee.example.test") queries, not 1"

bad bad "$P_EE" bad.example.test "DANE: no TLSA record matches"
bad bogus "$P_EE" bogus.example.test "DANE: the TLSA (answer failed DNSSEC validation|lookup failed)"
bad bogus-pkix "$P_B2" bogus2.example.test "DANE: the TLSA answer failed DNSSEC validation"

tk_mark
ok insecure "$P_PLAIN" www.plain.test
tk_wait_log "TLSA _$P_PLAIN._tcp.www.plain.test.: insecure" || tk_fail "insecure: not seen as insecure"
bad insecure-require "$P_PLAIN" www2.plain.test "no DNSSEC-secure TLSA records \(dane = require\)"

ok_as ta "$P_TA" ta.example.test DANE-TA
bad ta-name "$P_TA" ta2.example.test "DANE: the chain does not validate up to the DANE-TA"

tk_mark
ok pkix "$P_PKIX" peer.example.test
tk_no_log "DANE-(EE|TA)" || tk_fail "pkix: DANE claimed a session without TLSA records"
bad require "$P_PKIX" peer.example.test "no usable TLSA records \(dane = require\)" \
	carol@example.test
bad off "$P_EE" off.example.test "peer certificate rejected: The certificate is NOT trusted"

ok_as pkix-ee "$P_PX" pkix.example.test PKIX-EE
ok_as pkix-ta "$P_PX" pkixta.example.test PKIX-TA
bad pkix-bad "$P_PX" pkixbad.example.test "DANE: no TLSA record matches"
# PKIX-TA of a certificate the server sends but that is not on the leaf's
# path (the leaf is the fixture CA's; the configured CA accepts it).
bad pkix-off-path "$P_PXX" pkixoff.example.test "DANE: the certificate the PKIX-TA record names is not on the chain's path"
bad pkix-self "$P_EE" pkixself.example.test "peer certificate rejected: The certificate is NOT trusted"

cpu() { awk '{ print $14 + $15 }' "/proc/$TK_DAEMON_PID/stat"; }
c0=$(cpu)
for i in 1 2 3 4 5; do
	bad "long$i" "$P_LONG" long.example.test "DANE: no TLSA record matches"
done
c1=$(cpu)
tk_log "long: five refused handshakes with 251 certificates cost $((c1 - c0)) ticks"
[ $((c1 - c0)) -lt 50 ] || tk_fail "long: $((c1 - c0)) ticks of CPU for five handshakes (a hostile chain is searched too far)"
ok_as long-ee "$P_LONG" long-ee.example.test DANE-EE

ok ttl "$P_EE" short.example.test
sleep 3 # the record's TTL (2 s) must pass: time itself is what is tested
ok ttl-again "$P_EE" short.example.test
n=$(grep -c "TLSA query _$P_EE._tcp.short.example.test" "$TK_TMP/tlskeyd.log" || true)
[ "$n" = 2 ] || tk_fail "ttl: $n queries for a record whose TTL expired, not 2"

cp "$TK_TMP/dane.conf" "$TK_TMP/dane-ocsp.conf"
sed -i '0,/^\[/s//peer-ocsp-online = hard\n[/' "$TK_TMP/dane-ocsp.conf"
grep -q '^peer-ocsp-online = hard$' "$TK_TMP/dane-ocsp.conf" || tk_fail "dane-ocsp.conf"
tk_daemon_start "$TK_TMP/dane-ocsp.conf" || tk_fail "tlskeyd refused dane-ocsp.conf"
ok_as ocsp-ee "$P_EE" ee.example.test DANE-EE
tk_no_log "OCSP" || tk_fail "ocsp-ee: a DANE-EE peer was asked about"
tk_mark
ok ocsp-ee-cached "$P_EE" ee.example.test
tk_wait_log "validation cache hit: myname=alice@example.test" || tk_fail "ocsp-ee-cached: no cache hit"
tk_no_log "OCSP" || tk_fail "ocsp-ee-cached: a DANE-EE peer was asked about"
ok_as ocsp-ta "$P_TA" ta.example.test DANE-TA
tk_no_log "OCSP" || tk_fail "ocsp-ta: a DANE-TA peer was asked about"
bad ocsp-pkix-ee "$P_PX" pkix.example.test "reason=ocsp-unavailable .*names no http:// OCSP responder"

tk_daemon_alive
tk_pass
