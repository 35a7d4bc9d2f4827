/* DANE answers and TLSA matching (RFC 6698, RFC 7671): which records are
 * usable, what a mode makes of an answer, and whether a chain matches. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "keyd/dane_match.h"

/* Usable (RFC 7671 4.1): DANE-TA or DANE-EE, a known selector and
 * matching type, and a digest of its algorithm's length. */
static int tlsa_usable(const uint8_t *d, int len)
{
	size_t want;

	if (len < 4 || len - 3 > DANE_MAX_RDATA)
		return 0;
	if (d[0] > DANE_USAGE_EE || d[1] > 1 || d[2] > 2)
		return 0;
	want = d[2] == 1 ? 32 : d[2] == 2 ? 64 : 0;
	return !want || (size_t)(len - 3) == want;
}

int dane_answer_new(enum dane_status status, char *const *rdata, const int *rdlen, unsigned ttl_s,
		    const char *why, struct dane_answer **ret_answer)
{
	struct dane_answer *a;
	size_t total = 0, off = 0, n = 0;
	gnutls_hash_hd_t h;

	for (size_t i = 0; status == DANE_SECURE_RECORDS && rdata && rdata[i]; i++)
		if (tlsa_usable((const uint8_t *)rdata[i], rdlen[i]) && n++ < DANE_MAX_RECORDS)
			total += (size_t)rdlen[i] - 3;
	a = calloc(1, sizeof(*a) + total);
	if (!a)
		return -ENOMEM;
	atomic_init(&a->refs, 1);
	a->ttl_s = ttl_s;
	(void)snprintf(a->why, sizeof(a->why), "%s", why ? why : "");
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		free(a);
		return -ENOMEM;
	}
	for (size_t i = 0; status == DANE_SECURE_RECORDS && rdata && rdata[i]; i++) {
		const uint8_t *d = (const uint8_t *)rdata[i];
		struct dane_tlsa *t = &a->rec[a->n];

		if (!tlsa_usable(d, rdlen[i]) || a->n >= DANE_MAX_RECORDS)
			continue;
		t->usage = d[0];
		t->selector = d[1];
		t->mtype = d[2];
		t->len = (uint16_t)(rdlen[i] - 3);
		memcpy(a->store + off, d + 3, t->len);
		t->data = a->store + off;
		off += t->len;
		a->n++;
		(void)gnutls_hash(h, d, (size_t)rdlen[i]);
	}
	gnutls_hash_deinit(h, a->digest);
	if (status == DANE_SECURE_RECORDS && !a->n) {
		status = DANE_SECURE_NONE;
		(void)snprintf(a->why, sizeof(a->why), "no usable TLSA record (unknown usages, "
			       "selectors or matching types)");
	}
	a->status = status;
	*ret_answer = a;
	return 0;
}

struct dane_answer *dane_answer_ref(struct dane_answer *a)
{
	(void)atomic_fetch_add(&a->refs, 1);
	return a;
}

void dane_answer_unref(struct dane_answer *a)
{
	if (a && atomic_fetch_sub(&a->refs, 1) == 1)
		free(a);
}

int dane_decide(enum keyd_dane mode, const struct dane_answer *a, const char **ret_why)
{
	if (mode <= KEYD_DANE_OFF)
		return 0;
	switch (a->status) {
	case DANE_SECURE_RECORDS:
		return 1;
	case DANE_BOGUS:
		*ret_why = "the TLSA answer failed DNSSEC validation";
		return -EKEYREJECTED;
	case DANE_FAILED:
		/* Not knowing whether records exist is not "none": an attacker
		 * who can drop answers must not turn DANE off. */
		*ret_why = "the TLSA lookup failed";
		return -EKEYREJECTED;
	case DANE_SECURE_NONE:
	case DANE_INSECURE:
		break;
	}
	if (mode == KEYD_DANE_REQUIRE) {
		*ret_why = a->status == DANE_INSECURE ? "no DNSSEC-secure TLSA records (dane = require)"
						      : "no usable TLSA records (dane = require)";
		return -EKEYREJECTED;
	}
	return 0;
}

/* The bytes a record's selector names: the whole certificate or its
 * SubjectPublicKeyInfo, both DER.  The caller frees *out with gnutls_free
 * when *alloc. */
static int selected(const gnutls_datum_t *cert, uint8_t selector, gnutls_datum_t *out, int *alloc)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	int r = -1;

	*alloc = 0;
	if (selector == 0) {
		*out = *cert;
		return 0;
	}
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, cert, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out) < 0)
		goto out;
	*alloc = 1;
	r = 0;
out:
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return r;
}

static int record_matches(const struct dane_tlsa *t, const gnutls_datum_t *cert)
{
	gnutls_datum_t sel;
	uint8_t md[64];
	int alloc, ok = 0;

	if (selected(cert, t->selector, &sel, &alloc) < 0)
		return 0;
	if (t->mtype == 0)
		ok = sel.size == t->len && !memcmp(sel.data, t->data, t->len);
	else if (gnutls_hash_fast(t->mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, sel.data,
				  sel.size, md) == 0)
		ok = !memcmp(md, t->data, t->len);
	if (alloc)
		gnutls_free(sel.data);
	return ok;
}

/* certs[0..ta-1] up to certs[ta] as the only trust anchor. */
static int ta_validates(const gnutls_datum_t *certs, unsigned ta, const char *hostname)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t path[16], anchor = NULL;
	gnutls_typed_vdata_st vd[2];
	unsigned n = 0, nvd = 0, status = 1;

	if (ta >= 16 || gnutls_x509_trust_list_init(&tl, 0) < 0)
		return 0;
	if (gnutls_x509_crt_init(&anchor) < 0 ||
	    gnutls_x509_crt_import(anchor, &certs[ta], GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if (gnutls_x509_trust_list_add_cas(tl, &anchor, 1, 0) != 1)
		goto out;
	anchor = NULL; /* owned by tl now */
	for (; n < ta; n++) {
		if (gnutls_x509_crt_init(&path[n]) < 0)
			goto out;
		if (gnutls_x509_crt_import(path[n], &certs[n], GNUTLS_X509_FMT_DER) < 0) {
			n++; /* deinit it below */
			goto out;
		}
	}
	if (hostname) {
		vd[nvd].type = GNUTLS_DT_DNS_HOSTNAME;
		vd[nvd].data = (unsigned char *)(uintptr_t)hostname;
		vd[nvd++].size = 0;
	}
	vd[nvd].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd[nvd].data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_SERVER;
	vd[nvd++].size = 0;
	if (gnutls_x509_trust_list_verify_crt2(tl, path, n, vd, nvd, 0, &status, NULL) < 0)
		status = 1;
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(path[i]);
	gnutls_x509_crt_deinit(anchor);
	gnutls_x509_trust_list_deinit(tl, 1);
	return status == 0;
}

/* The best usage a record of a matches the chain with: a DANE match (3,
 * 2) before a PKIX-constrained one (1, 0), or -1.  *ta_seen: a DANE-TA
 * (1) or PKIX-TA (2) record matched a certificate that the certificates
 * before it do not validate up to. */
static int best_match(const struct dane_answer *a, const gnutls_datum_t *certs, unsigned n,
		      const char *hostname, int *ta_seen)
{
	int best = -1;

	for (size_t i = 0; i < a->n && best < DANE_USAGE_EE; i++) {
		const struct dane_tlsa *t = &a->rec[i];
		int ee = t->usage == DANE_USAGE_EE || t->usage == DANE_USAGE_PKIX_EE;

		if (t->usage <= best)
			continue;
		if (ee) {
			if (n > 0 && record_matches(t, &certs[0]))
				best = t->usage;
			continue;
		}
		for (unsigned j = 1; j < n && best < (int)t->usage; j++) {
			if (!record_matches(t, &certs[j]))
				continue;
			/* PKIX-TA too: the certificate must be on a path of the
			 * leaf (RFC 6698 2.1.1), not merely sent beside a chain to
			 * some configured CA: the ones before it validate up to it
			 * here, and trust.c validates the whole chain as usual. */
			if (!ta_validates(certs, j, hostname)) {
				if (!*ta_seen)
					*ta_seen = t->usage == DANE_USAGE_PKIX_TA ? 2 : 1;
				continue;
			}
			best = t->usage == DANE_USAGE_PKIX_TA ? DANE_USAGE_PKIX_TA : DANE_USAGE_TA;
		}
	}
	return best;
}

int dane_chain_check(const struct dane_answer *a, const gnutls_datum_t *certs, unsigned n,
		     const char *hostname, const char **ret_why)
{
	int ta_seen = 0, best = best_match(a, certs, n, hostname, &ta_seen);

	if (best >= 0)
		return best;
	*ret_why = ta_seen == 1 ? "the chain does not validate up to the DANE-TA certificate (name, "
				  "dates or signature)"
		   : ta_seen == 2 ? "the certificate the PKIX-TA record names is not on the chain's "
				    "path (the certificates before it do not validate up to it)"
				  : "no TLSA record matches the peer's certificate chain";
	return -EKEYREJECTED;
}

const char *dane_usage_note(int usage_plus_one)
{
	static const char *const notes[] = { "", " (PKIX-TA)", " (PKIX-EE)", " (DANE-TA)",
					     " (DANE-EE)" };

	return usage_plus_one >= 0 && usage_plus_one <= 4 ? notes[usage_plus_one] : "";
}
