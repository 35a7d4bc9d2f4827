/* TLSA lookups (keyd/dane.c): one resolver thread per daemon with its own
 * DNSSEC-validating libunbound context, a bounded queue, and a cache of
 * answers kept for their DNS TTL.  Workers never resolve: they submit a
 * job and get it back on their own list (worker.h dane_done) with a wake-up
 * of their eventfd. */
#ifndef TLSKEY_KEYD_DANE_H
#define TLSKEY_KEYD_DANE_H

#include "keyd/conf.h"
#include "keyd/dane_match.h"

struct worker;
struct dane_resolver;

#define DANE_QNAME_MAX 300   /* "_65535._tcp." + a 255-byte name */
#define DANE_QUEUE_MAX 256   /* lookups queued or in flight */
#define DANE_CACHE_MAX 1024  /* names cached */
#define DANE_TTL_MAX 3600    /* an answer is kept at most this long, whatever its TTL */

/* One lookup, owned by the resolver until it is answered, then by the
 * worker it names (dane_job_free). */
struct dane_job {
	struct dane_job *next;
	struct worker *w;
	struct dane_resolver *r;
	unsigned long long serial;      /* the conn waiting for it (conn.h dane_serial) */
	unsigned long long deadline_ms; /* given up (DANE_FAILED) at this time */
	int async_id;                   /* libunbound's, while in flight */
	struct dane_answer *answer;     /* set when answered */
	char qname[DANE_QNAME_MAX + 1];
};

/* The trust anchor names the keys every DANE decision rests on: the rule
 * of ca-file, a regular file that tk_file_trusted() accepts.  Returns 0 or
 * a negative errno with one line in err.  Used at start-up and by the
 * configuration check (check.c). */
int dane_anchor_check(const char *path, char *err, size_t errlen);

/* Start the resolver for conf's dns-resolver and dns-trust-anchor (a
 * regular file that tk_file_trusted() accepts).  *ret_r is NULL when no
 * dns-resolver is configured.  Returns 0, or a negative errno with one
 * line in err. */
int dane_resolver_new(const struct keyd_conf *conf, struct dane_resolver **ret_r, char *err,
		      size_t errlen);

/* Stop the thread: no answer reaches a worker after it, and later
 * submissions get -ESHUTDOWN.  Lookups in flight are dropped (their conns
 * are failed by their worker).  Before the workers stop; NULL ok. */
void dane_resolver_stop(struct dane_resolver *r);

/* Stop (if not yet) and free everything; after the workers stopped.
 * NULL ok. */
void dane_resolver_free(struct dane_resolver *r);

/* A cached, unexpired answer for qname: 0 and *ret_answer (a reference the
 * caller drops), or -ENOENT. */
int dane_cache_get(struct dane_resolver *r, const char *qname, struct dane_answer **ret_answer);

/* Queue a lookup of qname's TLSA RRset for worker w, conn serial, to be
 * given up at deadline_ms.  Returns 0, -EAGAIN (DANE_QUEUE_MAX reached),
 * -ESHUTDOWN (the resolver is stopping), -ENAMETOOLONG or -ENOMEM. */
int dane_submit(struct dane_resolver *r, struct worker *w, unsigned long long serial,
		const char *qname, unsigned long long deadline_ms);

/* Free an answered job (its answer reference too); NULL ok. */
void dane_job_free(struct dane_job *j);

#endif
