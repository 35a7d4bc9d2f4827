/* Unit tests for identities derived from certificates (keyd/identity.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keyd/identity.h"
#include "test/unit/check-main.h"

static gnutls_x509_privkey_t key;

struct san {
	unsigned type; /* GNUTLS_SAN_*, 0 ends the list */
	const char *val;
	size_t len;    /* 0: strlen(val) */
};

static gnutls_x509_crt_t make_cert_sans(const char *dn, const struct san *sans);

/* A self-signed certificate with the given subject DN and SANs. */
static gnutls_x509_crt_t make_cert(const char *dn, const char *dns, const char *email)
{
	struct san sans[3] = { { 0 } };
	size_t n = 0;

	if (dns)
		sans[n++] = (struct san){ GNUTLS_SAN_DNSNAME, dns, 0 };
	if (email)
		sans[n++] = (struct san){ GNUTLS_SAN_RFC822NAME, email, 0 };
	return make_cert_sans(dn, sans);
}

static gnutls_x509_crt_t make_cert_sans(const char *dn, const struct san *sans)
{
	gnutls_x509_crt_t crt;
	const char *err = NULL;
	unsigned char serial = 1;

	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, &serial, 1), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600), 0);
	ck_assert_msg(gnutls_x509_crt_set_dn(crt, dn, &err) == 0, "bad DN at %s", err ? err : "?");
	for (; sans->type; sans++)
		ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(
					 crt, sans->type, sans->val,
					 (unsigned)(sans->len ? sans->len : strlen(sans->val)),
					 GNUTLS_FSAN_APPEND), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(crt, key), 0);
	ck_assert_int_eq(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
	/* Round-trip through DER, as certificates reach the daemon. */
	{
		gnutls_datum_t der;
		gnutls_x509_crt_t parsed;

		ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
		ck_assert_int_eq(gnutls_x509_crt_init(&parsed), 0);
		ck_assert_int_eq(gnutls_x509_crt_import(parsed, &der, GNUTLS_X509_FMT_DER), 0);
		gnutls_free(der.data);
		gnutls_x509_crt_deinit(crt);
		crt = parsed;
	}
	return crt;
}

static void expect(const char *dn, const char *dns, const char *email, int want_r, const char *want)
{
	gnutls_x509_crt_t crt = make_cert(dn, dns, email);
	char id[300] = "";
	int r = keyd_identity_from_cert(crt, id, sizeof(id));

	ck_assert_msg(r == want_r, "%.80s: got %d (%s), want %d", dn, r, r == 0 ? id : "-", want_r);
	if (want)
		ck_assert_str_eq(id, want);
	gnutls_x509_crt_deinit(crt);
}

START_TEST(san_first)
{
	/* rfc822Name wins over dNSName, which wins over the DN. */
	expect("CN=x,DC=other,DC=test", "www.example.test", "alice@example.test", 0, "alice@example.test");
	expect("CN=x,DC=other,DC=test", "www.example.test", NULL, 0, "www.example.test");
}
END_TEST

START_TEST(dn_components)
{
	expect("DC=example,DC=test", NULL, NULL, 0, "example.test");
	expect("CN=Alice,DC=example,DC=test", NULL, NULL, 0, "example.test");
	expect("UID=alice,DC=example,DC=test", NULL, NULL, 0, "alice@example.test");
	expect("UID=bob,DC=mail,DC=example,DC=test", NULL, NULL, 0, "bob@mail.example.test");
}
END_TEST

START_TEST(no_identity)
{
	expect("CN=server.example.test,O=Example", NULL, NULL, -ENOENT, NULL);
	/* Not a valid identity: refused, not passed on. */
	expect("CN=x", "bad..name", NULL, -ENOENT, NULL);
	expect("CN=x", NULL, "@example.test", -ENOENT, NULL);
	expect("UID=a b,DC=example,DC=test", NULL, NULL, -ENOENT, NULL);
}
END_TEST

START_TEST(too_long)
{
	gnutls_x509_crt_t crt = make_cert("CN=x", "a-rather-long-name.example.test", NULL);
	char small[8];

	ck_assert_int_eq(keyd_identity_from_cert(crt, small, sizeof(small)), -ERANGE);
	gnutls_x509_crt_deinit(crt);
	ck_assert_int_eq(keyd_identity_is_user("alice@example.test"), 1);
	ck_assert_int_eq(keyd_identity_is_user("example.test"), 0);
}
END_TEST

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Finding 8: a part of the subject DN that does not fit is a refusal,
 * never a shorter identity. */
START_TEST(dn_never_truncated)
{
	char dn[2048], *u = repeat('u', 300), *l = repeat('l', 70), *l63 = repeat('m', 63);
	size_t pos = 0;

	/* A uid= too long to read used to vanish, leaving the bare domain. */
	(void)snprintf(dn, sizeof(dn), "UID=%s,DC=example,DC=test", u);
	expect(dn, NULL, NULL, -ENAMETOOLONG, NULL);
	/* A 70-byte dc= label used to be dropped with everything after it. */
	(void)snprintf(dn, sizeof(dn), "UID=alice,DC=%s,DC=example,DC=test", l);
	expect(dn, NULL, NULL, -ENAMETOOLONG, NULL);
	(void)snprintf(dn, sizeof(dn), "DC=%s,DC=test", l);
	expect(dn, NULL, NULL, -ENAMETOOLONG, NULL);
	/* 63 bytes is a whole DNS label and still fine. */
	(void)snprintf(dn, sizeof(dn), "DC=%s,DC=test", l63);
	{
		char want[80];

		(void)snprintf(want, sizeof(want), "%s.test", l63);
		expect(dn, NULL, NULL, 0, want);
	}
	/* 16 dc= components are read; a 17th used to be dropped silently. */
	for (int i = 0; i < 16; i++)
		pos += (size_t)snprintf(dn + pos, sizeof(dn) - pos, "%sDC=d%d", i ? "," : "", i);
	expect(dn, NULL, NULL, 0, "d0.d1.d2.d3.d4.d5.d6.d7.d8.d9.d10.d11.d12.d13.d14.d15");
	(void)snprintf(dn + pos, sizeof(dn) - pos, ",DC=d16");
	expect(dn, NULL, NULL, -ENAMETOOLONG, NULL);
	/* A dc= value is one label: "a.b" would smuggle in a second. */
	expect("UID=alice,DC=evil.example,DC=test", NULL, NULL, -EINVAL, NULL);
	free(u);
	free(l);
	free(l63);
}
END_TEST

/* A subjectAltName too long to read refuses the certificate; it used to
 * be skipped, letting the next name stand for the peer. */
START_TEST(san_never_skipped)
{
	char *local = repeat('a', 600), email[700];

	(void)snprintf(email, sizeof(email), "%s@example.test", local);
	expect("CN=x", "www.example.test", email, -ENAMETOOLONG, NULL);
	free(local);
}
END_TEST

/* keyd_identity_list(): every form, in the documented order. */
static void expect_list(const char *dn, const struct san *sans, unsigned cn, int want_r,
			const char *const *want)
{
	gnutls_x509_crt_t crt = make_cert_sans(dn, sans);
	struct keyd_peer_ids ids = { .n = 99 };
	int r = keyd_identity_list(crt, cn, &ids);
	size_t n = 0;

	ck_assert_int_eq(r, want_r);
	if (r == 0) {
		for (; want[n]; n++)
			ck_assert_str_eq(ids.id[n], want[n]);
		ck_assert_uint_eq(ids.n, n);
	} else {
		ck_assert_uint_eq(ids.n, 99);
	}
	gnutls_x509_crt_deinit(crt);
}

START_TEST(identity_forms)
{
	static const unsigned char v4[4] = { 192, 0, 2, 7 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	const struct san uri[] = { { GNUTLS_SAN_URI, "spiffe://td/web", 0 }, { 0 } };
	const struct san ip[] = { { GNUTLS_SAN_IPADDRESS, (const char *)v4, 4 },
				  { GNUTLS_SAN_IPADDRESS, (const char *)v6, 16 }, { 0 } };
	const struct san several[] = { { GNUTLS_SAN_IPADDRESS, (const char *)v4, 4 },
				       { GNUTLS_SAN_URI, "spiffe://td/web", 0 },
				       { GNUTLS_SAN_DNSNAME, "www.example.test", 0 },
				       { GNUTLS_SAN_URI, "https://not.spiffe/x", 0 },
				       { GNUTLS_SAN_RFC822NAME, "bob@example.test", 0 },
				       { GNUTLS_SAN_DNSNAME, "www.example.test", 0 }, { 0 } };
	const struct san bad_uri[] = { { GNUTLS_SAN_URI, "spiffe://td/../x", 0 }, { 0 } };
	const struct san none[] = { { 0 } };
	const struct san dns_ip[] = { { GNUTLS_SAN_DNSNAME, "10.0.0.1", 0 }, { 0 } };
	const struct san mail[] = { { GNUTLS_SAN_RFC822NAME, "bob@example.test", 0 }, { 0 } };
	const struct san wild[] = { { GNUTLS_SAN_DNSNAME, "*.example.test", 0 }, { 0 } };
	/* The kind is the SAN's: a dNSName spelt user@domain, an rfc822Name
	 * without a local part, are no identity of either kind. */
	const struct san dns_user[] = { { GNUTLS_SAN_DNSNAME, "root@example.test", 0 }, { 0 } };
	const struct san mail_host[] = { { GNUTLS_SAN_RFC822NAME, "www.example.test", 0 }, { 0 } };
	const struct san crossed[] = { { GNUTLS_SAN_DNSNAME, "root@example.test", 0 },
				       { GNUTLS_SAN_RFC822NAME, "www.example.test", 0 },
				       { GNUTLS_SAN_DNSNAME, "www.example.test", 0 },
				       { GNUTLS_SAN_RFC822NAME, "bob@example.test", 0 }, { 0 } };

	expect_list("CN=x", uri, 0, 0, (const char *[]){ "spiffe://td/web", NULL });
	expect_list("CN=x", ip, 0, 0, (const char *[]){ "192.0.2.7", "2001:db8::1", NULL });
	/* Kind order, certificate order within a kind, duplicates once,
	 * non-SPIFFE URIs ignored. */
	expect_list("CN=x", several, 0, 0,
		    (const char *[]){ "bob@example.test", "www.example.test", "spiffe://td/web",
				      "192.0.2.7", NULL });
	expect_list("CN=x", bad_uri, 0, -ENOENT, NULL);
	/* The CN only when asked, of the asked kind, with no SAN of its kind. */
	expect_list("CN=host.example.test", none, 0, -ENOENT, NULL);
	expect_list("CN=host.example.test", none, KEYD_PEER_CN_HOSTNAME, 0,
		    (const char *[]){ "host.example.test", NULL });
	expect_list("CN=host.example.test", none, KEYD_PEER_CN_EMAIL, -ENOENT, NULL);
	expect_list("CN=carol@example.test", none, KEYD_PEER_CN_EMAIL, 0,
		    (const char *[]){ "carol@example.test", NULL });
	expect_list("CN=carol@example.test", mail, KEYD_PEER_CN_EMAIL, 0,
		    (const char *[]){ "bob@example.test", NULL });
	expect_list("CN=host.example.test", mail, KEYD_PEER_CN_HOSTNAME, 0,
		    (const char *[]){ "bob@example.test", "host.example.test", NULL });
	expect_list("CN=*.example.test", none, 3, -ENOENT, NULL);
	expect_list("CN=host.example.test\\, x", none, 3, -ENOENT, NULL);
	expect_list("CN=192.0.2.1", none, 3, -ENOENT, NULL);
	/* An address in a dNSName or dc= components is not an IP identity. */
	expect_list("CN=x", dns_ip, 0, -ENOENT, NULL);
	expect_list("CN=x", dns_user, 0, -ENOENT, NULL);
	expect_list("CN=x", mail_host, 0, -ENOENT, NULL);
	expect_list("CN=x", crossed, 0, 0, (const char *[]){ "bob@example.test", "www.example.test", NULL });
	expect_list("DC=1,DC=2,DC=0,DC=192", none, 0, -ENOENT, NULL);
	/* A SAN of the CN's kind that is no identity here still rules the CN
	 * out (RFC 6125 6.4.4): before, a wildcard or invalid dNSName let
	 * CN=admin... through. */
	expect_list("CN=admin.example.test", wild, 3, -ENOENT, NULL);
	expect_list("CN=admin.example.test", dns_ip, 3, -ENOENT, NULL);
	expect_list("CN=root@example.test", mail_host, 3, -ENOENT, NULL);
	expect_list("CN=root@example.test", wild, 3, 0, (const char *[]){ "root@example.test", NULL });
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;
	int rc;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		return 1;
	s = tkt_suite_tcase("identity", "/keyd/identity", &tc);
	tcase_add_test(tc, san_first);
	tcase_add_test(tc, dn_components);
	tcase_add_test(tc, no_identity);
	tcase_add_test(tc, too_long);
	tcase_add_test(tc, dn_never_truncated);
	tcase_add_test(tc, san_never_skipped);
	tcase_add_test(tc, identity_forms);
	rc = tkt_suite_run(s);
	gnutls_x509_privkey_deinit(key);
	return rc;
}
