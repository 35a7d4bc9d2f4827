/* Online OCSP (keyd/ocsp_fetch.c): a few fetch threads per daemon with a
 * bounded queue and a cache of verdicts bounded in size and time.  Workers
 * never fetch: they submit a job and get it back on their own list
 * (worker.h ocsp_done) with a wake-up of their eventfd, as for DANE. */
#ifndef TLSKEY_KEYD_OCSP_FETCH_H
#define TLSKEY_KEYD_OCSP_FETCH_H

#include <stdint.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keyd/ocsp_http.h"

struct worker;
struct ocsp_fetcher;

#define OCSP_QUEUE_MAX 256          /* fetches queued */
#define OCSP_FETCH_THREADS 4        /* questions asked at the same time */
#define OCSP_PER_ORIGIN 2           /* of them to one responder (scheme://host:port) */
#define OCSP_CACHE_DEFAULT 1024     /* ocsp-cache-size */
#define OCSP_MAX_TTL_DEFAULT 3600   /* ocsp-max-ttl, seconds */
#define OCSP_ONLINE_TIMEOUT_MS 3000 /* ocsp-timeout */
#define OCSP_RETRY_S 60             /* a failed refresh is tried again after this */
#define OCSP_RETRY_MIN_MS 100       /* a follower with less time left shares a timeout */

enum ocsp_verdict { OCSP_V_FAILED = 0, OCSP_V_GOOD, OCSP_V_REVOKED };

/* One question to a responder, owned by the fetch thread until answered,
 * then by the worker it names (ocsp_job_free). */
struct ocsp_job {
	struct ocsp_job *next;
	struct ocsp_job *followers;     /* the same question, asked meanwhile: they share the answer */
	struct worker *w;
	unsigned long long serial;      /* the conn waiting (conn.h ocsp_serial) */
	unsigned long long deadline_ms; /* given up (OCSP_V_FAILED) at this time */
	unsigned timeout_ms;            /* ocsp-timeout, for later refreshes */
	unsigned max_ttl_s;             /* ocsp-max-ttl */
	uint8_t key[32];                /* SHA-256 of req: issuer name and key hashes, serial */
	char url[OCSP_URL_MAX];
	gnutls_datum_t req;             /* DER request, gnutls_malloc */
	gnutls_x509_crt_t leaf, issuer;
	int verdict;                    /* enum ocsp_verdict, set when answered */
	char why[256];                  /* a failure's reason */
};

/* Start the threads with a cache of cache_size entries (0: the default).
 * A status that turns to revoked on a refresh sets a flag
 * (ocsp_fetcher_take_revoked) and writes notify_fd (an eventfd the
 * accept thread polls).  Returns 0 or a negative errno. */
int ocsp_fetcher_new(unsigned cache_size, int notify_fd, struct ocsp_fetcher **ret_f);

/* Stop and join the threads: no answer reaches a worker after it; later
 * submissions get -ESHUTDOWN.  Before the workers stop; NULL ok. */
void ocsp_fetcher_stop(struct ocsp_fetcher *f);

/* Stop (if not yet) and free everything; after the workers. NULL ok. */
void ocsp_fetcher_free(struct ocsp_fetcher *f);

/* Queue j (the caller filled all but verdict and why), or, when the
 * same question (key) is queued or being asked, attach j to it: j gets
 * that question's answer.  Takes j on success; returns 0, -EAGAIN
 * (OCSP_QUEUE_MAX reached) or -ESHUTDOWN. */
int ocsp_submit(struct ocsp_fetcher *f, struct ocsp_job *j);

/* Free a job and what it holds; NULL ok. */
void ocsp_job_free(struct ocsp_job *j);

/* The cached, unexpired verdict for key: 0 and *ret_verdict, or -ENOENT. */
int ocsp_cache_lookup(struct ocsp_fetcher *f, const uint8_t key[32], int *ret_verdict);

/* A live session relies on key's entry: it is kept (not evicted) and
 * asked again when it expires.  0, or -ENOENT (not cached). */
int ocsp_cache_hold(struct ocsp_fetcher *f, const uint8_t key[32]);

/* The session ended: undo one ocsp_cache_hold(). */
void ocsp_cache_release(struct ocsp_fetcher *f, const uint8_t key[32]);

/* Does key's entry say revoked, expired or not?  1 or 0 (for reeval.c). */
int ocsp_cache_revoked(struct ocsp_fetcher *f, const uint8_t key[32]);

/* Did a refresh see a status turn to revoked since the last call?  1 or
 * 0; for the accept thread, which then asks for a re-evaluation. */
int ocsp_fetcher_take_revoked(struct ocsp_fetcher *f);

#endif
