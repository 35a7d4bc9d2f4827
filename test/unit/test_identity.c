/* Unit tests for identities derived from certificates (keyd/identity.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keyd/identity.h"

static gnutls_x509_privkey_t key;

/* A self-signed certificate with the given subject DN and SANs. */
static gnutls_x509_crt_t make_cert(const char *dn, const char *dns, const char *email)
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
	if (dns)
		ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns,
								      (unsigned)strlen(dns), GNUTLS_FSAN_APPEND), 0);
	if (email)
		ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_RFC822NAME, email,
								      (unsigned)strlen(email), GNUTLS_FSAN_APPEND), 0);
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
	char id[64] = "";
	int r = keyd_identity_from_cert(crt, id, sizeof(id));

	ck_assert_msg(r == want_r, "%s: got %d, want %d", dn, r, want_r);
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

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("/keyd/identity");
	SRunner *sr;
	int failed;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		return 1;
	tcase_add_test(tc, san_first);
	tcase_add_test(tc, dn_components);
	tcase_add_test(tc, no_identity);
	tcase_add_test(tc, too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	gnutls_x509_privkey_deinit(key);
	return failed ? 1 : 0;
}
