# test/dane: DANE (RFC 6698, 7671) in the client role against a real
# DNSSEC chain on loopback: a zone signed with ldns, served by nsd, a
# validating unbound (test/lib/tk-dns.sh).
DANE_TESTS = test/dane/dane.sh test/dane/dane-resolver.sh

TESTS += $(DANE_TESTS)
EXTRA_DIST += $(DANE_TESTS)
