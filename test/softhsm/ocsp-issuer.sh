#!/bin/bash
# Online OCSP: whose key checks the responder's answer.  The issuer the
# daemon asks about (and whose key, or whose delegate's, must sign the
# answer) is the chain's next certificate only if that certificate signed
# the peer's, else an anchor that did.  A matching name is not enough: a
# peer whose certificate has no authority key identifier may append a
# self-signed certificate with its CA's name and a key of its own, which
# the chain's validation passes over (the real anchor validates the
# leaf), and whose key would then vouch for a forged "good".
#
# Cases (hard mode; each against openssl s_server; openssl ocsp responders
# in the test's own network namespace):
#   forged: leaf (the fixture CA's, no AKI, AIA -> the forger's responder)
#     + the forger's self-signed "fixture CA": refused, ocsp-unavailable,
#     the answer's signature rejected (without the check: connected,
#     ocsp=good)
#   forged-alone: the same leaf alone: refused likewise (the control: the
#     forger's responder cannot vouch for the real issuer)
#   inter: leaf of an intermediate CA (AIA -> the intermediate's responder)
#     + that intermediate: connected, ocsp=good (the chain's next
#     certificate is still taken when it did sign)
#   pinned: a self-signed peer accepted by its [peer] pin (AIA -> the
#     forger's responder) connects twice, the second time from the
#     validation cache, and nobody is asked (without the pin kept in the
#     cache entry: the second was refused, ocsp-unavailable)
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need openssl ip unshare python3
tk_netns_enter "$@"
tk_setup --no-daemon
O=$TK_TMP/issuer
mkdir "$O"

forger_port=$(tk_free_port) || tk_fail "no free port"
inter_port=$(tk_free_port) || tk_fail "no free port"
[ "$forger_port" != "$inter_port" ] || inter_port=$((forger_port + 1))
forger_url=http://127.0.0.1:$forger_port/
inter_url=http://127.0.0.1:$inter_port/

# --- PKI (python3-cryptography: the forger's CA copies the fixture CA's
# subject as encoded, which a command line cannot promise) -------------------
# (certtool may write an EC key one byte short, which python3-cryptography
# refuses; openssl pkey writes it in full)
for k in ca peer-server; do
	openssl pkey -in "$TK_FX/$k.key" -out "$O/fx-$k.key" 2>"$O/fx-$k.err" ||
		{ cat "$O/fx-$k.err" >&2; tk_fail "cannot read $k.key"; }
done
python3 - "$TK_FX" "$O" "$forger_url" "$inter_url" <<'PY' || tk_fail "cannot make the PKI"
import datetime, random, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

fx, out, forger_url, inter_url = sys.argv[1:5]
rd = lambda p: open(p, "rb").read()
ca = x509.load_pem_x509_certificate(rd(fx + "/ca.pem"))
ca_key = serialization.load_pem_private_key(rd(out + "/fx-ca.key"), None)
peer_pub = serialization.load_pem_private_key(rd(out + "/fx-peer-server.key"), None).public_key()
now = datetime.datetime.now(datetime.timezone.utc)

def save_key(name, k):
    open(out + "/" + name + ".key", "wb").write(k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))

def build(subject, issuer, pub, sign_key, ca_cert, aia=None, aki_from=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(pub).serial_number(random.randrange(1 << 60, 1 << 62))
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if aki_from is not None:  # the issuer's own key identifier, however it was made
        ski = aki_from.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    if ca_cert:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                          False), critical=True))
    else:
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                          False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
             .add_extension(x509.SubjectAlternativeName([x509.DNSName("peer.example.test")]),
                            critical=False)
             .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                 AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(aia))]),
                 critical=False))
    return b.sign(sign_key, hashes.SHA256())

def save(name, c):
    open(out + "/" + name + ".pem", "wb").write(c.public_bytes(serialization.Encoding.PEM))

peer_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "peer.example.test")])
# The forger: a key of its own under the fixture CA's very name.
forger_key = ec.generate_private_key(ec.SECP256R1())
save_key("forger", forger_key)
save("forger", build(ca.subject, ca.subject, forger_key.public_key(), forger_key, True))
# A genuine leaf of the fixture CA without an authority key identifier.
save("noaki", build(peer_name, ca.subject, peer_pub, ca_key, False, aia=forger_url))
# A genuine intermediate and its leaf.
inter_key = ec.generate_private_key(ec.SECP256R1())
save_key("inter", inter_key)
inter_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "tlskeyd test intermediate")])
inter = build(inter_name, ca.subject, inter_key.public_key(), ca_key, True, aki_from=ca)
save("inter", inter)
save("leaf2", build(peer_name, inter_name, peer_pub, inter_key, False, aia=inter_url,
                    aki_from=inter))
PY
openssl x509 -in "$O/noaki.pem" -noout -ext authorityKeyIdentifier 2>&1 | grep -q 'keyid' &&
	tk_fail "the test's leaf has an authority key identifier"

# ocspd NAME CA KEY CERT PORT: openssl ocsp answering "good" for CERT as CA
# (which signs too); sets RESPONDER_PID.
ocspd() {
	printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=peer.example.test\n' \
		"$(tk_ocsp_serial "$O/$4.pem")" >"$O/$1.idx"
	echo 'unique_subject = no' >"$O/$1.idx.attr"
	tk_bg openssl ocsp -index "$O/$1.idx" -port "$5" -rsigner "$O/$2.pem" -rkey "$O/$3.key" \
		-CA "$O/$2.pem" -ndays 1 </dev/null >>"$O/$1.out" 2>>"$O/$1.err"
	RESPONDER_PID=$TK_BG_PID
	tk_wait_listen "$5" "$RESPONDER_PID" || { cat "$O/$1.err" >&2; tk_fail "$1: did not start"; }
}
ocspd forger forger forger noaki "$forger_port"
ocspd inter inter inter leaf2 "$inter_port"

# The forger's own check: its answer is "good" when its key is the issuer.
openssl ocsp -issuer "$O/forger.pem" -cert "$O/noaki.pem" -url "$forger_url" \
	-VAfile "$O/forger.pem" >"$O/forger.check" 2>&1 || true
tk_expect_grep "$O/forger.check" 'noaki.pem: good'

# A self-signed peer.example.test (the peer-server key), pinned.
printf '%s\n' 'cn = peer.example.test' 'dns_name = peer.example.test' 'tls_www_server' \
	'signing_key' 'expiration_days = 30' "ocsp_uri = $forger_url" >"$O/self.tmpl"
certtool --generate-self-signed --load-privkey "$TK_FX/peer-server.key" --template "$O/self.tmpl" \
	--outfile "$O/self.pem" >"$O/self.log" 2>&1 || { cat "$O/self.log" >&2; tk_fail "self.pem"; }
self_sha=$(openssl x509 -in "$O/self.pem" -outform DER | sha256sum | cut -d' ' -f1)

tk_conf hard "peer-ocsp-online=hard" "ocsp-timeout=3000" "workers=1" -- \
	"[peer peer.example.test]" "cert-sha256 = $self_sha"
tk_daemon_start "$TK_TMP/hard.conf"

# peer NAME WANT CERT [CHAIN]: alice as client against s_server with CERT
# (and CHAIN after it).
peer() {
	local name=$1 want=$2 cert=$3 chain=${4:-}
	tk_start_openssl_serv "$name-srv" -cert "$O/$cert.pem" -key "$TK_FX/peer-server.key" \
		${chain:+-cert_chain "$O/$chain.pem"}
	tk_mark
	if [ "$want" = ok ]; then
		tk_ok "$name" client --connect "127.0.0.1:$TK_PORT" --myname alice@example.test \
			--sni peer.example.test
	else
		tk_err "$name" "$want" client --connect "127.0.0.1:$TK_PORT" \
			--myname alice@example.test --sni peer.example.test
	fi
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
}

tk_log "forged: a look-alike CA appended to the chain does not vouch for the leaf"
peer forged EKEYREJECTED noaki forger
tk_expect_grep "$TK_TMP/forged.err" 'ocsp-unavailable'
tk_wait_log "OCSP: asked $forger_url: failed" || tk_fail "forged: the failed check is not logged"
tk_no_log "ocsp=good" || tk_fail "forged: the forged answer was taken"

tk_log "forged-alone: the same leaf without the look-alike"
peer forged-alone EKEYREJECTED noaki
tk_expect_grep "$TK_TMP/forged-alone.err" 'ocsp-unavailable'
tk_wait_log "OCSP: asked $forger_url: failed" || tk_fail "forged-alone: the failed check is not logged"

tk_log "inter: the chain's next certificate signed the leaf: it is the issuer"
peer inter ok leaf2 inter
tk_wait_log "OCSP: asked $inter_url: good" || tk_fail "inter: no good answer logged"
tk_wait_log "event=established .*myname=alice@example.test .*ocsp=good" || tk_fail "inter: no audit"

tk_log "pinned: no CA vouched for the peer: nobody is asked, the cached validation included"
peer pinned ok self
tk_wait_log "established .*\\(pinned\\)" || tk_fail "pinned: not accepted by the pin"
tk_no_log "OCSP: asked" || tk_fail "pinned: the responder was asked about a pinned peer"
peer pinned-cached ok self
tk_wait_log "validation cache hit: myname=alice@example.test" || tk_fail "pinned-cached: no cache hit"
tk_no_log "OCSP: asked" || tk_fail "pinned-cached: the responder was asked about a pinned peer"

tk_pass
