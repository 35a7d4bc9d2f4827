# Part of test/lib/tk.sh (sourced by it): a DNSSEC-signed zone on
# loopback for the DANE tests (test/dane/).  ldns-keygen + ldns-signzone
# sign the zone example.test., nsd serves it on 127.0.0.1, and a
# validating unbound (trust anchor: the zone's KSK as a DS record, a stub
# zone to nsd) answers on another 127.0.0.1 port.  Everything lives in
# $TK_TMP/dns; both servers run in the foreground, started by tk_bg and
# stopped by PID at cleanup.
#
#   tk_dns_need                     skip unless nsd, unbound, ldns-* and drill exist
#   tk_dns_zone                     start $TK_TMP/dns/zone (SOA, NS) and make the keys
#   tk_dns_rr LINE...               append records (relative to example.test.)
#   tk_dns_plain_rr LINE...         append records to the unsigned zone plain.test.
#                                   (no trust anchor covers it: insecure)
#   tk_dns_tlsa_spki PEM            hex SHA-256 of PEM's SubjectPublicKeyInfo (selector 1, type 1)
#   tk_dns_tlsa_cert PEM            hex SHA-256 of PEM's DER certificate (selector 0, type 1)
#   tk_dns_sign                     sign into zone.signed
#   tk_dns_tamper OWNER OLD NEW     replace OLD by NEW in OWNER's TLSA rdata after signing
#   tk_dns_start                    start nsd and unbound; sets TK_DNS_RESOLVER
#                                   (127.0.0.1@PORT), TK_DNS_ANCHOR (the DS file),
#                                   TK_DNS_UNBOUND_LOG
#   tk_dns_queries NAME             how many queries for NAME unbound logged
TK_DNS=

tk_dns_need() {
	tk_need nsd unbound ldns-keygen ldns-signzone drill
}

tk_dns_zone() {
	TK_DNS=$TK_TMP/dns
	mkdir -p "$TK_DNS"
	(
		cd "$TK_DNS" || exit 1
		ldns-keygen -a ECDSAP256SHA256 -k example.test >ksk.name &&
			ldns-keygen -a ECDSAP256SHA256 example.test >zsk.name
	) || tk_fail "ldns-keygen failed"
	tk_dns_head example.test >"$TK_DNS/zone"
	tk_dns_head plain.test >"$TK_DNS/plain"
}

tk_dns_head() { # ORIGIN: SOA, NS and the name server's address
	printf '%s\n' "\$ORIGIN $1." '$TTL 300' "@ IN SOA ns.$1. admin.$1. 1 3600 600 86400 300" \
		"@ IN NS ns.$1." "ns IN A 127.0.0.1"
}

tk_dns_plain_rr() {
	printf '%s\n' "$@" >>"$TK_DNS/plain"
}

tk_dns_rr() {
	printf '%s\n' "$@" >>"$TK_DNS/zone"
}

tk_dns_tlsa_spki() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -hex | sed 's/.*= *//'
}

tk_dns_tlsa_cert() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -hex | sed 's/.*= *//'
}

tk_dns_sign() {
	(
		cd "$TK_DNS" || exit 1
		ldns-signzone -f zone.signed zone "$(cat ksk.name)" "$(cat zsk.name)"
	) >"$TK_DNS/sign.log" 2>&1 || { cat "$TK_DNS/sign.log" >&2; tk_fail "ldns-signzone failed"; }
	cp "$TK_DNS/$(cat "$TK_DNS/ksk.name").ds" "$TK_DNS/anchor"
}

# The RRSIG stays the one made for the old rdata: a validator must call the
# RRset bogus.
tk_dns_tamper() {
	local owner=$1 old=$2 new=$3
	grep -q "^$owner\.[[:space:]].*TLSA.*$old" "$TK_DNS/zone.signed" ||
		tk_fail "tk_dns_tamper: no TLSA $old at $owner"
	sed -i "/^$owner\.[[:space:]].*IN[[:space:]]TLSA[[:space:]]/s/$old/$new/" "$TK_DNS/zone.signed"
}

tk_dns_nsd_conf() { # PORT
	cat <<EON
server:
	ip-address: 127.0.0.1@$1
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$TK_DNS"
	database: ""
	pidfile: "$TK_DNS/nsd.pid"
	xfrdfile: "$TK_DNS/xfrd.state"
	zonelistfile: "$TK_DNS/zone.list"
	xfrdir: "$TK_DNS"
	logfile: "$TK_DNS/nsd.log"
	server-count: 1
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: example.test
	zonefile: "$TK_DNS/zone.signed"
zone:
	name: plain.test
	zonefile: "$TK_DNS/plain"
EON
}

tk_dns_unbound_conf() { # PORT NSD-PORT
	cat <<EOU
server:
	interface: 127.0.0.1@$1
	port: $1
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$TK_DNS"
	pidfile: "$TK_DNS/unbound.pid"
	logfile: "$TK_DNS/unbound.log"
	use-syslog: no
	log-queries: yes
	verbosity: 1
	num-threads: 1
	so-reuseport: no
	do-not-query-localhost: no
	module-config: "validator iterator"
	trust-anchor-file: "$TK_DNS/anchor"
	local-zone: "test." nodefault
	val-log-level: 2
remote-control:
	control-enable: no
stub-zone:
	name: "example.test"
	stub-addr: 127.0.0.1@$2
stub-zone:
	name: "plain.test"
	stub-addr: 127.0.0.1@$2
EOU
}

tk_dns_answers() { # PORT: unbound answers for the zone, validated (ad)
	drill -D -p "$1" @127.0.0.1 example.test SOA 2>/dev/null | grep -q 'flags: qr.* ad'
}

tk_dns_start() {
	local np up i
	for i in 1 2 3 4 5; do
		np=$(tk_free_port) || tk_fail "no free port"
		up=$(tk_free_port) || tk_fail "no free port"
		[ "$np" != "$up" ] || continue
		tk_dns_nsd_conf "$np" >"$TK_DNS/nsd.conf"
		tk_dns_unbound_conf "$up" "$np" >"$TK_DNS/unbound.conf"
		tk_bg nsd -d -c "$TK_DNS/nsd.conf" >"$TK_DNS/nsd.out" 2>&1
		TK_NSD_PID=$TK_BG_PID
		tk_bg unbound -d -c "$TK_DNS/unbound.conf" >"$TK_DNS/unbound.out" 2>&1
		TK_UNBOUND_PID=$TK_BG_PID
		if tk_wait_until 10 "$TK_UNBOUND_PID" tk_dns_answers "$up" && kill -0 "$TK_NSD_PID"; then
			TK_DNS_RESOLVER=127.0.0.1@$up
			TK_DNS_ANCHOR=$TK_DNS/anchor
			TK_DNS_UNBOUND_LOG=$TK_DNS/unbound.log
			return 0
		fi
		kill "$TK_NSD_PID" "$TK_UNBOUND_PID" 2>/dev/null || true
		tk_wait_pid "$TK_NSD_PID" 5 || true
		tk_wait_pid "$TK_UNBOUND_PID" 5 || true
	done
	cat "$TK_DNS"/*.out "$TK_DNS"/*.log >&2 2>/dev/null || true
	tk_fail "nsd + unbound did not start"
}

tk_dns_queries() {
	grep -c -i -- "info: 127.0.0.1 $1\.* TLSA IN" "$TK_DNS_UNBOUND_LOG" 2>/dev/null || true
}
