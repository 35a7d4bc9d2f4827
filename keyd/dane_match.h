/* DANE TLSA answers and certificate matching (keyd/dane_match.c), RFC 6698
 * and RFC 7671.  No I/O: keyd/dane.c fetches the records, trust.c checks
 * the peer's chain against them. */
#ifndef TLSKEY_KEYD_DANE_MATCH_H
#define TLSKEY_KEYD_DANE_MATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>

#include "keyd/conf.h"

#define DANE_MAX_RECORDS 32     /* usable records kept from one RRset */
#define DANE_MAX_RDATA 4096     /* one record's rdata (a full certificate at most) */

enum dane_usage { DANE_USAGE_PKIX_TA = 0, DANE_USAGE_PKIX_EE, DANE_USAGE_TA, DANE_USAGE_EE };

/* What the validating resolver said about one TLSA name. */
enum dane_status {
	DANE_SECURE_RECORDS = 1, /* validated RRset with at least one usable record */
	DANE_SECURE_NONE,        /* validated denial, or only unusable records */
	DANE_INSECURE,           /* the name is outside every trust anchor */
	DANE_BOGUS,              /* validation failed: tampering, bad or missing signatures */
	DANE_FAILED,             /* no answer: SERVFAIL, timeout, resolver error */
};

struct dane_tlsa {
	uint8_t usage, selector, mtype;
	uint16_t len;
	const uint8_t *data; /* into the answer's own storage */
};

/* An immutable, refcounted answer: the resolver's cache and each
 * connection waiting for or using it hold a reference. */
struct dane_answer {
	atomic_uint refs;
	enum dane_status status;
	unsigned ttl_s;
	char why[160];         /* for logs and the caller's message */
	uint8_t digest[32];    /* SHA-256 of the usable records: part of the validation cache key */
	size_t n;
	struct dane_tlsa rec[DANE_MAX_RECORDS];
	uint8_t store[];       /* the records' data */
};

/* Build an answer.  status: what the resolver said; rdata/rdlen: the
 * RRset's records (NULL-terminated array as libunbound gives it, may be
 * NULL) for DANE_SECURE_RECORDS, ignored otherwise; why: a reason for the
 * non-secure statuses, may be NULL.  Records with an unknown usage (over
 * DANE-EE(3)), selector or matching type, a digest of the wrong length, or
 * over DANE_MAX_RDATA are unusable (RFC 7671 4.1) and dropped; PKIX-TA(0)
 * and PKIX-EE(1) are kept, and match only with PKIX validation as well
 * (dane_chain_check()); a secure RRset with none left becomes DANE_SECURE_NONE.
 * Returns 0 and *ret_answer (one reference), or -ENOMEM. */
int dane_answer_new(enum dane_status status, char *const *rdata, const int *rdlen, unsigned ttl_s,
		    const char *why, struct dane_answer **ret_answer);

/* Take a reference; returns a. */
struct dane_answer *dane_answer_ref(struct dane_answer *a);

/* Drop a reference, freeing at the last; NULL ok. */
void dane_answer_unref(struct dane_answer *a);

/* The one rule of doc/config.md "DANE": given the mode in force and the
 * answer, 1 = the peer's chain must match the records (dane_chain_check),
 * 0 = no DANE, ordinary PKIX validation, or -EKEYREJECTED with *ret_why
 * (a static sentence, the answer's own reason is in a->why). */
int dane_decide(enum keyd_dane mode, const struct dane_answer *a, const char **ret_why);

/* Check the peer's chain (DER, leaf first) against a's records.  A DANE-EE
 * record matching the leaf passes whatever the names and dates say (RFC
 * 7671 5.1).  A DANE-TA record matching certs[i], i >= 1, passes if
 * certs[0..i-1] validate up to certs[i] as the only anchor, with
 * hostname (may be NULL) and the TLS server purpose, dates included.
 * A PKIX-EE record matching the leaf, or a PKIX-TA record matching
 * certs[i], i >= 1, is a match only together with ordinary PKIX
 * validation, which the caller must then require (trust.c).  Returns the
 * best usage that matched (3, 2, then 1, 0), or -EKEYREJECTED with a
 * static sentence in *ret_why. */
int dane_chain_check(const struct dane_answer *a, const gnutls_datum_t *certs, unsigned n,
		     const char *hostname, const char **ret_why);

/* For the established audit record: " (DANE-EE)" ... " (PKIX-TA)" for
 * conn.h's dane_usage (the usage + 1), "" for 0. */
const char *dane_usage_note(int usage_plus_one);

#endif
