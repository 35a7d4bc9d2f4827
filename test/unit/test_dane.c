/* Unit tests for DANE answers and matching (keyd/dane_match.c): which
 * records are usable, what each mode makes of each answer, DANE-EE and
 * DANE-TA against chains made here. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "keyd/dane_match.h"
#include "test/unit/check-main.h"

/* A certificate for key, named dns, issued by (ca, ca_key) or self-signed. */
static gnutls_datum_t make_cert(gnutls_x509_privkey_t key, const char *dns, int is_ca,
				gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key, gnutls_x509_crt_t *ret)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t der;
	unsigned char serial[4] = { 1, 2, 3, (unsigned char)is_ca };

	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(crt, key), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, dns,
						       (unsigned)strlen(dns)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(crt, is_ca, -1), 0);
	if (is_ca) {
		ck_assert_int_eq(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN), 0);
	} else {
		ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns,
								      (unsigned)strlen(dns), GNUTLS_FSAN_SET), 0);
		ck_assert_int_eq(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 0);
	}
	ck_assert_int_eq(gnutls_x509_crt_sign2(crt, ca ? ca : crt, ca_key ? ca_key : key,
					       GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
	*ret = crt;
	return der;
}

static gnutls_x509_privkey_t make_key(void)
{
	gnutls_x509_privkey_t k;

	ck_assert_int_eq(gnutls_x509_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
						      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	return k;
}

/* One TLSA rdata: usage, selector, matching type, then the data. */
static int rdata(char *out, uint8_t u, uint8_t s, uint8_t m, const void *d, size_t n)
{
	out[0] = (char)u;
	out[1] = (char)s;
	out[2] = (char)m;
	memcpy(out + 3, d, n);
	return (int)(n + 3);
}

static void spki_sha256(gnutls_x509_crt_t crt, uint8_t out[32])
{
	gnutls_pubkey_t pub;
	gnutls_datum_t d;

	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_x509(pub, crt, 0), 0);
	ck_assert_int_eq(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d), 0);
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, d.data, d.size, out), 0);
	gnutls_free(d.data);
	gnutls_pubkey_deinit(pub);
}

static struct dane_answer *secure(char **rd, int *len)
{
	struct dane_answer *a = NULL;

	ck_assert_int_eq(dane_answer_new(DANE_SECURE_RECORDS, rd, len, 300, NULL, &a), 0);
	return a;
}

START_TEST(usable_records)
{
	char r0[40], r1[40], r2[40], r3[40], *rd[5] = { r0, r1, r2, r3, NULL };
	int len[4];
	uint8_t h[64] = { 0 };
	struct dane_answer *a;

	len[0] = rdata(r0, 4, 1, 1, h, 32); /* usage 4: unknown */
	len[1] = rdata(r1, 3, 2, 1, h, 32); /* selector 2: unknown */
	len[2] = rdata(r2, 3, 1, 1, h, 31); /* SHA-256 of the wrong length */
	len[3] = rdata(r3, 3, 1, 3, h, 32); /* matching type 3: unknown */
	a = secure(rd, len);
	ck_assert_int_eq(a->status, DANE_SECURE_NONE);
	ck_assert_uint_eq(a->n, 0);
	dane_answer_unref(a);
	len[3] = rdata(r3, 3, 1, 1, h, 32);
	a = secure(rd, len);
	ck_assert_int_eq(a->status, DANE_SECURE_RECORDS);
	ck_assert_uint_eq(a->n, 1);
	ck_assert_uint_eq(a->rec[0].usage, 3);
	dane_answer_unref(a);
}
END_TEST

START_TEST(decide_table)
{
	static const struct {
		enum dane_status st;
		enum keyd_dane mode;
		int want;
	} t[] = {
		{ DANE_SECURE_RECORDS, KEYD_DANE_REQUIRE, 1 },
		{ DANE_SECURE_RECORDS, KEYD_DANE_OPPORTUNISTIC, 1 },
		{ DANE_SECURE_RECORDS, KEYD_DANE_OFF, 0 },
		{ DANE_SECURE_NONE, KEYD_DANE_REQUIRE, -EKEYREJECTED },
		{ DANE_SECURE_NONE, KEYD_DANE_OPPORTUNISTIC, 0 },
		{ DANE_INSECURE, KEYD_DANE_REQUIRE, -EKEYREJECTED },
		{ DANE_INSECURE, KEYD_DANE_OPPORTUNISTIC, 0 },
		{ DANE_BOGUS, KEYD_DANE_OPPORTUNISTIC, -EKEYREJECTED },
		{ DANE_BOGUS, KEYD_DANE_REQUIRE, -EKEYREJECTED },
		{ DANE_FAILED, KEYD_DANE_OPPORTUNISTIC, -EKEYREJECTED },
		{ DANE_FAILED, KEYD_DANE_REQUIRE, -EKEYREJECTED },
	};
	uint8_t h[32] = { 0 };
	char r[40], *rd[2] = { r, NULL };
	int len = rdata(r, 3, 1, 1, h, 32);

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct dane_answer *a = NULL;
		const char *why = NULL;

		ck_assert_int_eq(dane_answer_new(t[i].st, rd, &len, 60, "x", &a), 0);
		ck_assert_int_eq(dane_decide(t[i].mode, a, &why), t[i].want);
		if (t[i].want < 0)
			ck_assert_ptr_nonnull(why);
		dane_answer_unref(a);
	}
}
END_TEST

START_TEST(ee_and_ta)
{
	gnutls_x509_privkey_t ca_key = make_key(), key = make_key(), other = make_key();
	gnutls_x509_crt_t ca, leaf, self, stranger;
	gnutls_datum_t chain[2], self_der, stranger_der;
	uint8_t h[64], h2[32];
	char r[2][128], *rd[3] = { r[0], r[1], NULL };
	int len[2];
	const char *why = NULL;
	struct dane_answer *a;

	chain[1] = make_cert(ca_key, "dane test CA", 1, NULL, NULL, &ca);
	chain[0] = make_cert(key, "www.example.test", 0, ca, ca_key, &leaf);
	self_der = make_cert(key, "unrelated.invalid", 0, NULL, NULL, &self);
	stranger_der = make_cert(other, "www.example.test", 0, NULL, NULL, &stranger);

	/* DANE-EE 3 1 1: the key matters, not the name nor the issuer. */
	spki_sha256(leaf, h2);
	len[0] = rdata(r[0], 3, 1, 1, h2, 32);
	rd[1] = NULL;
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, &self_der, 1, "www.example.test", &why), DANE_USAGE_EE);
	ck_assert_int_eq(dane_chain_check(a, &stranger_der, 1, "www.example.test", &why), -EKEYREJECTED);
	ck_assert_ptr_nonnull(strstr(why, "no TLSA record matches"));
	dane_answer_unref(a);

	/* DANE-EE 3 0 2 (SHA-512 of the whole certificate). */
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA512, self_der.data, self_der.size, h), 0);
	len[0] = rdata(r[0], 3, 0, 2, h, 64);
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, &self_der, 1, NULL, &why), DANE_USAGE_EE);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, NULL, &why), -EKEYREJECTED);
	dane_answer_unref(a);

	/* DANE-TA 2 0 1 of the CA: the chain must lead to it and name the host. */
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[1].data, chain[1].size, h), 0);
	len[0] = rdata(r[0], 2, 0, 1, h, 32);
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, "www.example.test", &why), DANE_USAGE_TA);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, "other.example.test", &why), -EKEYREJECTED);
	ck_assert_ptr_nonnull(strstr(why, "DANE-TA"));
	/* The leaf alone: the TA is not in the chain (nor may the leaf be it). */
	ck_assert_int_eq(dane_chain_check(a, chain, 1, "www.example.test", &why), -EKEYREJECTED);
	/* A stranger presenting the CA certificate after its own leaf. */
	{
		gnutls_datum_t forged[2] = { stranger_der, chain[1] };

		ck_assert_int_eq(dane_chain_check(a, forged, 2, "www.example.test", &why), -EKEYREJECTED);
	}
	dane_answer_unref(a);

	/* PKIX-EE 1 1 1 of the leaf, PKIX-TA 0 0 1 of the CA: matches that
	 * trust.c must confirm by ordinary validation; a DANE match wins. */
	spki_sha256(leaf, h2);
	len[0] = rdata(r[0], 1, 1, 1, h2, 32);
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, "www.example.test", &why), DANE_USAGE_PKIX_EE);
	ck_assert_int_eq(dane_chain_check(a, &stranger_der, 1, "www.example.test", &why), -EKEYREJECTED);
	dane_answer_unref(a);
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[1].data, chain[1].size, h), 0);
	len[0] = rdata(r[0], 0, 0, 1, h, 32);
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, NULL, &why), DANE_USAGE_PKIX_TA);
	ck_assert_int_eq(dane_chain_check(a, chain, 1, NULL, &why), -EKEYREJECTED);
	dane_answer_unref(a);
	len[0] = rdata(r[0], 0, 0, 1, h, 32);
	len[1] = rdata(r[1], 3, 1, 1, h2, 32);
	rd[1] = r[1];
	a = secure(rd, len);
	ck_assert_int_eq(dane_chain_check(a, chain, 2, NULL, &why), DANE_USAGE_EE);
	dane_answer_unref(a);
	rd[1] = NULL;
	ck_assert_str_eq(dane_usage_note(DANE_USAGE_EE + 1), " (DANE-EE)");
	ck_assert_str_eq(dane_usage_note(0), "");

	/* DANE-TA 2 1 0 (the CA's SPKI, exact) next to a useless record. */
	{
		gnutls_pubkey_t pub;
		gnutls_datum_t d;

		ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
		ck_assert_int_eq(gnutls_pubkey_import_x509(pub, ca, 0), 0);
		ck_assert_int_eq(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d), 0);
		ck_assert_uint_le(d.size, 120);
		len[0] = rdata(r[0], 3, 1, 1, h2, 31); /* wrong length: unusable */
		len[1] = rdata(r[1], 2, 1, 0, d.data, d.size);
		rd[1] = r[1];
		a = secure(rd, len);
		ck_assert_uint_eq(a->n, 1);
		ck_assert_int_eq(dane_chain_check(a, chain, 2, "www.example.test", &why), DANE_USAGE_TA);
		dane_answer_unref(a);
		gnutls_free(d.data);
		gnutls_pubkey_deinit(pub);
	}
	gnutls_free(chain[0].data);
	gnutls_free(chain[1].data);
	gnutls_free(self_der.data);
	gnutls_free(stranger_der.data);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(leaf);
	gnutls_x509_crt_deinit(self);
	gnutls_x509_crt_deinit(stranger);
	gnutls_x509_privkey_deinit(ca_key);
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_privkey_deinit(other);
}
END_TEST

/* The digest (part of the validation cache key) follows the records. */
START_TEST(digest_follows_records)
{
	uint8_t h[32] = { 0 };
	char r[40], *rd[2] = { r, NULL };
	int len = rdata(r, 3, 1, 1, h, 32);
	struct dane_answer *a = secure(rd, &len), *b;

	r[10] = 1;
	b = secure(rd, &len);
	ck_assert_int_ne(memcmp(a->digest, b->digest, 32), 0);
	dane_answer_unref(a);
	dane_answer_unref(b);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { usable_records, decide_table, ee_and_ta, digest_follows_records, NULL };

	return tkt_run("dane", "/keyd/dane", NULL, NULL, 30, tests);
}
