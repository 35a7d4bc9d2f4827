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

/* How deep in the peer's chain records are looked for: ta_validates()
 * builds paths of at most this many certificates (GnuTLS's own verify
 * depth), so the rest of a longer chain cannot match usefully.  A hostile
 * server can send some 250 certificates in one message; searching them
 * all for 32 records cost 230 ms of a worker per handshake. */
#define DANE_DEPTH 16

/* The SubjectPublicKeyInfo (DER) of the chain's first DANE_DEPTH
 * certificates, each extracted once for all records. */
struct spki_cache {
	gnutls_datum_t spki[DANE_DEPTH];
	signed char state[DANE_DEPTH]; /* 0 not yet, 1 extracted, -1 failed */
};

static int spki_of(struct spki_cache *sc, const gnutls_datum_t *certs, unsigned j,
		   const gnutls_datum_t **ret)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;

	if (!sc->state[j]) {
		sc->state[j] = -1;
		if (gnutls_x509_crt_init(&crt) == 0 && gnutls_pubkey_init(&pub) == 0 &&
		    gnutls_x509_crt_import(crt, &certs[j], GNUTLS_X509_FMT_DER) == 0 &&
		    gnutls_pubkey_import_x509(pub, crt, 0) == 0 &&
		    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &sc->spki[j]) == 0)
			sc->state[j] = 1;
		gnutls_pubkey_deinit(pub);
		gnutls_x509_crt_deinit(crt);
	}
	*ret = &sc->spki[j];
	return sc->state[j] > 0 ? 0 : -1;
}

static void spki_cache_free(struct spki_cache *sc)
{
	for (unsigned j = 0; j < DANE_DEPTH; j++)
		if (sc->state[j] > 0)
			gnutls_free(sc->spki[j].data);
}

/* Does t match certs[j] (j < DANE_DEPTH)?  Its selector names the whole
 * certificate or its SubjectPublicKeyInfo. */
static int record_matches(const struct dane_tlsa *t, const gnutls_datum_t *certs, unsigned j,
			  struct spki_cache *sc)
{
	const gnutls_datum_t *sel = &certs[j];
	uint8_t md[64];

	if (t->selector != 0 && spki_of(sc, certs, j, &sel) < 0)
		return 0;
	if (t->mtype == 0)
		return sel->size == t->len && !memcmp(sel->data, t->data, t->len);
	return gnutls_hash_fast(t->mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, sel->data,
				sel->size, md) == 0 && !memcmp(md, t->data, t->len);
}

/* certs[0..ta-1] up to certs[ta] as the only trust anchor. */
static int ta_validates(const gnutls_datum_t *certs, unsigned ta, const char *hostname)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t path[DANE_DEPTH], anchor = NULL;
	gnutls_typed_vdata_st vd[2];
	unsigned n = 0, nvd = 0, status = 1;

	if (ta >= DANE_DEPTH || gnutls_x509_trust_list_init(&tl, 0) < 0)
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
	struct spki_cache sc = { .state = { 0 } };
	int best = -1;

	if (n > DANE_DEPTH)
		n = DANE_DEPTH;

	for (size_t i = 0; i < a->n && best < DANE_USAGE_EE; i++) {
		const struct dane_tlsa *t = &a->rec[i];
		int ee = t->usage == DANE_USAGE_EE || t->usage == DANE_USAGE_PKIX_EE;

		if (t->usage <= best)
			continue;
		if (ee) {
			if (n > 0 && record_matches(t, certs, 0, &sc))
				best = t->usage;
			continue;
		}
		for (unsigned j = 1; j < n && best < (int)t->usage; j++) {
			if (!record_matches(t, certs, j, &sc))
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
	spki_cache_free(&sc);
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
