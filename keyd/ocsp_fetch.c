/* The OCSP fetch thread: asks responders for workers (a bounded queue,
 * each question bounded by its deadline), keeps the verdicts in a cache
 * bounded in count (ocsp-cache-size) and time (nextUpdate, at most
 * ocsp-max-ttl), and asks again about entries that live sessions rely on
 * when they expire, so that a status can turn to revoked while a session
 * lives (reeval.c then ends it).  OCSP_FETCH_THREADS threads share the
 * queue, so that one silent responder does not hold up every other
 * question.  Only these threads insert or evict, and an entry being
 * refreshed keeps its request and certificates (e->src), which the
 * refreshing thread reads without the lock. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/util.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/ocsp_fetch.h"
#include "keyd/worker.h"

struct entry {
	int used;
	uint8_t key[32];
	int verdict;
	time_t expires;            /* new connections take the verdict until then */
	time_t retry_at;           /* a refresh for live sessions is due then */
	unsigned live;             /* sessions holding it */
	int refreshing;
	unsigned long long last_ms; /* for the LRU choice */
	struct ocsp_job *src;      /* url, request, certificates (thread only) */
};

struct ocsp_fetcher {
	pthread_t thread[OCSP_FETCH_THREADS];
	unsigned n_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	struct ocsp_job *queue, *tail;
	unsigned queued;
	struct entry *cache;
	unsigned n_cache;
	unsigned long holds; /* sum of the entries' live counts */
	int notify_fd;
	atomic_int revoked;
};

void ocsp_job_free(struct ocsp_job *j)
{
	if (!j)
		return;
	gnutls_free(j->req.data);
	if (j->leaf)
		gnutls_x509_crt_deinit(j->leaf);
	if (j->issuer)
		gnutls_x509_crt_deinit(j->issuer);
	free(j);
}

/* Ask j's responder; verdict and nextUpdate, or a reason in j->why. */
static int ask(const struct ocsp_job *j, unsigned long long deadline, time_t *ret_next, char *why,
	       size_t len)
{
	gnutls_datum_t resp = { NULL, 0 };
	int r, revoked = 0;

	r = ocsp_http_post(j->url, &j->req, deadline, &resp, why, len);
	if (r == 0)
		r = ocsp_resp_check(&resp, j->leaf, j->issuer, time(NULL), &revoked, ret_next, why, len);
	gnutls_free(resp.data);
	if (r < 0)
		return OCSP_V_FAILED;
	return revoked ? OCSP_V_REVOKED : OCSP_V_GOOD;
}

static struct entry *find(struct ocsp_fetcher *f, const uint8_t key[32])
{
	for (unsigned i = 0; i < f->n_cache; i++)
		if (f->cache[i].used && !memcmp(f->cache[i].key, key, 32))
			return &f->cache[i];
	return NULL;
}

/* A slot for a new entry: a free one, else the least recently used one
 * no session holds; NULL when all are held (then nothing is cached). */
static struct entry *victim(struct ocsp_fetcher *f)
{
	struct entry *best = NULL;

	for (unsigned i = 0; i < f->n_cache; i++) {
		struct entry *e = &f->cache[i];

		if (!e->used)
			return e;
		if (!e->live && !e->refreshing && (!best || e->last_ms < best->last_ms))
			best = e;
	}
	return best;
}

/* e's status turned to revoked while sessions hold it: the accept
 * thread asks for a re-evaluation (reeval.c reads the verdict). */
static void turned_revoked(struct ocsp_fetcher *f, const struct entry *e)
{
	keyd_log(LOG_WARNING, "OCSP: %s now says REVOKED for a certificate %u live sessions use",
		 e->src->url, e->live);
	atomic_store(&f->revoked, 1);
	(void)eventfd_write(f->notify_fd, 1);
}

/* Keep j's verdict (lock held).  The entry takes j's request and
 * certificates for later refreshes: j->src. */
static void cache_put(struct ocsp_fetcher *f, struct ocsp_job *j, time_t next)
{
	struct entry *e = find(f, j->key);
	time_t cap = time(NULL) + (time_t)j->max_ttl_s;
	struct ocsp_job *src;

	if (!e && !(e = victim(f)))
		return;
	src = calloc(1, sizeof(*src));
	if (!src)
		return;
	*src = *j;
	src->next = NULL;
	src->w = NULL;
	j->req = (gnutls_datum_t){ NULL, 0 };
	j->leaf = j->issuer = NULL;
	if (e->used && e->refreshing) {
		/* Another fetch thread reads e->src now: keep it. */
		ocsp_job_free(src);
	} else {
		if (e->used)
			ocsp_job_free(e->src);
		else
			e->live = 0;
		e->src = src;
	}
	/* A new connection's question may be the one that learns it. */
	if (e->used && e->live && j->verdict == OCSP_V_REVOKED && e->verdict != OCSP_V_REVOKED)
		turned_revoked(f, e);
	e->used = 1;
	memcpy(e->key, j->key, 32);
	e->verdict = j->verdict;
	e->expires = next < cap ? next : cap;
	e->retry_at = e->expires;
	e->last_ms = tk_now_ms();
}

static void answer(struct ocsp_fetcher *f, struct ocsp_job *j)
{
	time_t next = 0;

	if (tk_now_ms() >= j->deadline_ms) {
		(void)snprintf(j->why, sizeof(j->why), "timed out waiting for the fetch thread");
		j->verdict = OCSP_V_FAILED;
	} else {
		j->verdict = ask(j, j->deadline_ms, &next, j->why, sizeof(j->why));
	}
	keyd_log(LOG_INFO, "OCSP: asked %s: %s%s%s", j->url,
		 j->verdict == OCSP_V_GOOD ? "good" : j->verdict == OCSP_V_REVOKED ? "REVOKED" : "failed",
		 j->verdict == OCSP_V_FAILED ? ": " : "", j->verdict == OCSP_V_FAILED ? j->why : "");
	pthread_mutex_lock(&f->lock);
	if (j->verdict != OCSP_V_FAILED) /* failures are not cached */
		cache_put(f, j, next);
	pthread_mutex_unlock(&f->lock);
	/* The worker outlives this thread (ocsp_fetcher_stop comes first). */
	pthread_mutex_lock(&j->w->lock);
	j->next = j->w->ocsp_done;
	j->w->ocsp_done = j;
	pthread_mutex_unlock(&j->w->lock);
	(void)eventfd_write(j->w->wakefd, 1);
}

/* Ask again about one expired entry a live session holds (lock held on
 * entry and exit, dropped while asking).  1 if one was refreshed. */
static int refresh_one(struct ocsp_fetcher *f)
{
	time_t now = time(NULL), next = 0;
	struct entry *e = NULL;
	struct ocsp_job *src;
	char why[256] = "";
	int v;

	for (unsigned i = 0; !e && i < f->n_cache; i++)
		if (f->cache[i].used && f->cache[i].live && !f->cache[i].refreshing &&
		    f->cache[i].retry_at <= now)
			e = &f->cache[i];
	if (!e)
		return 0;
	e->refreshing = 1;
	src = e->src; /* neither replaced nor evicted while refreshing */
	pthread_mutex_unlock(&f->lock);
	v = ask(src, tk_now_ms() + src->timeout_ms, &next, why, sizeof(why));
	pthread_mutex_lock(&f->lock);
	e->refreshing = 0;
	now = time(NULL);
	if (v == OCSP_V_FAILED) {
		/* The old verdict stands for the sessions that hold it until a
		 * responder says otherwise; a new connection no longer takes it
		 * (expires stays: the response's nextUpdate has passed). */
		keyd_log(LOG_WARNING, "OCSP: refresh from %s failed (%s); asking again in %u s",
			 e->src->url, why, OCSP_RETRY_S);
		e->retry_at = now + OCSP_RETRY_S;
		return 1;
	}
	if (v == OCSP_V_REVOKED && e->verdict != OCSP_V_REVOKED)
		turned_revoked(f, e);
	e->verdict = v;
	e->expires = next < now + (time_t)e->src->max_ttl_s ? next : now + (time_t)e->src->max_ttl_s;
	e->retry_at = e->expires;
	return 1;
}

static void *fetch_main(void *arg)
{
	struct ocsp_fetcher *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct ocsp_job *j = f->queue;
		struct timespec ts;

		if (j) {
			f->queue = j->next;
			if (!f->queue)
				f->tail = NULL;
			f->queued--;
			pthread_mutex_unlock(&f->lock);
			answer(f, j);
			pthread_mutex_lock(&f->lock);
			continue;
		}
		if (refresh_one(f))
			continue;
		/* Expiries matter only while sessions hold entries: then they
		 * are looked for once a second, otherwise the threads sleep. */
		if (!f->holds) {
			(void)pthread_cond_wait(&f->cond, &f->lock);
			continue;
		}
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int ocsp_fetcher_new(unsigned cache_size, int notify_fd, struct ocsp_fetcher **ret_f)
{
	struct ocsp_fetcher *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->n_cache = cache_size ? cache_size : OCSP_CACHE_DEFAULT;
	f->cache = calloc(f->n_cache, sizeof(*f->cache));
	f->notify_fd = notify_fd;
	atomic_init(&f->revoked, 0);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	if (!f->cache) {
		ocsp_fetcher_free(f);
		return -ENOMEM;
	}
	for (; f->n_started < OCSP_FETCH_THREADS; f->n_started++) {
		r = pthread_create(&f->thread[f->n_started], NULL, fetch_main, f);
		if (r) {
			ocsp_fetcher_free(f);
			return -r;
		}
	}
	*ret_f = f;
	return 0;
}

/* XXX: a thread in the middle of a question finishes it first: stopping
 * waits up to ocsp-timeout (the name lookup included: keyd/resolve.c). */
void ocsp_fetcher_stop(struct ocsp_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < f->n_started; i++)
		(void)pthread_join(f->thread[i], NULL);
	f->n_started = 0;
}

void ocsp_fetcher_free(struct ocsp_fetcher *f)
{
	if (!f)
		return;
	ocsp_fetcher_stop(f);
	while (f->queue) {
		struct ocsp_job *j = f->queue;

		f->queue = j->next;
		ocsp_job_free(j);
	}
	for (unsigned i = 0; f->cache && i < f->n_cache; i++)
		ocsp_job_free(f->cache[i].src);
	free(f->cache);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int ocsp_submit(struct ocsp_fetcher *f, struct ocsp_job *j)
{
	int r = 0;

	pthread_mutex_lock(&f->lock);
	if (f->stop)
		r = -ESHUTDOWN;
	else if (f->queued >= OCSP_QUEUE_MAX)
		r = -EAGAIN;
	if (r == 0) {
		j->next = NULL;
		if (f->tail)
			f->tail->next = j;
		else
			f->queue = j;
		f->tail = j;
		f->queued++;
		pthread_cond_signal(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int ocsp_cache_lookup(struct ocsp_fetcher *f, const uint8_t key[32], int *ret_verdict)
{
	struct entry *e;
	int r = -ENOENT;

	pthread_mutex_lock(&f->lock);
	e = find(f, key);
	if (e && e->expires > time(NULL)) {
		e->last_ms = tk_now_ms();
		*ret_verdict = e->verdict;
		r = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int ocsp_cache_hold(struct ocsp_fetcher *f, const uint8_t key[32])
{
	struct entry *e;

	pthread_mutex_lock(&f->lock);
	e = find(f, key);
	if (e) {
		e->live++;
		if (f->holds++ == 0)
			pthread_cond_broadcast(&f->cond); /* start looking at expiries */
	}
	pthread_mutex_unlock(&f->lock);
	return e ? 0 : -ENOENT;
}

void ocsp_cache_release(struct ocsp_fetcher *f, const uint8_t key[32])
{
	struct entry *e;

	pthread_mutex_lock(&f->lock);
	e = find(f, key);
	if (e && e->live) {
		e->live--;
		f->holds--;
	}
	pthread_mutex_unlock(&f->lock);
}

int ocsp_fetcher_take_revoked(struct ocsp_fetcher *f)
{
	return f && atomic_exchange(&f->revoked, 0);
}

int ocsp_cache_revoked(struct ocsp_fetcher *f, const uint8_t key[32])
{
	struct entry *e;
	int yes;

	pthread_mutex_lock(&f->lock);
	e = find(f, key);
	yes = e && e->verdict == OCSP_V_REVOKED;
	pthread_mutex_unlock(&f->lock);
	return yes;
}
