/* The OCSP fetch thread: asks responders for workers (a bounded queue,
 * each question bounded by its deadline), keeps the verdicts in a cache
 * bounded in count (ocsp-cache-size) and time (nextUpdate, at most
 * ocsp-max-ttl), and asks again about entries that live sessions rely on
 * when they expire, so that a status can turn to revoked while a session
 * lives (reeval.c then ends it).  OCSP_FETCH_THREADS threads share the
 * queue, and at most OCSP_PER_ORIGIN of them ask one responder at a time,
 * so that a silent responder (or a peer that names one in many
 * certificates) does not hold up every other question; a question asked
 * again while it is queued or being asked joins it (followers) rather than
 * taking another thread.  Only these threads insert or evict, and an entry
 * being refreshed keeps its request and certificates (e->src), which the
 * refreshing thread reads without the lock. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

struct ocsp_fetcher;

/* A fetch thread and what it asks now (NULL: nothing), a job of the
 * queue or an entry's src being refreshed (then refresh is set). */
struct fetch_slot {
	struct ocsp_fetcher *f;
	struct ocsp_job *busy;
	int refresh;
};

struct ocsp_fetcher {
	pthread_t thread[OCSP_FETCH_THREADS];
	struct fetch_slot slot[OCSP_FETCH_THREADS];
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
	while (j->followers) {
		struct ocsp_job *x = j->followers;

		j->followers = x->next;
		x->next = NULL;
		ocsp_job_free(x);
	}
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

/* The length of url's scheme://host[:port] (job_make checked http://). */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return (size_t)(p - url) + strcspn(p, "/?#");
}

static int same_origin(const char *a, const char *b)
{
	size_t n = origin_len(a);

	return n == origin_len(b) && !strncasecmp(a, b, n);
}

/* How many threads ask url's responder now (lock held). */
static unsigned origin_busy(const struct ocsp_fetcher *f, const char *url)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n_started; i++)
		if (f->slot[i].busy && same_origin(f->slot[i].busy->url, url))
			n++;
	return n;
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
	src->followers = NULL; /* they stay j's */
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

/* The queued question with j's key, which then takes j's deadline if it
 * is later; NULL if none (lock held). */
static struct ocsp_job *queued_leader(struct ocsp_fetcher *f, const struct ocsp_job *j)
{
	for (struct ocsp_job *q = f->queue; q; q = q->next)
		if (!memcmp(q->key, j->key, 32)) {
			if (q->deadline_ms < j->deadline_ms)
				q->deadline_ms = j->deadline_ms;
			return q;
		}
	return NULL;
}

/* j follows lead: it gets lead's answer (lock held). */
static void join(struct ocsp_job *lead, struct ocsp_job *j)
{
	j->next = lead->followers;
	lead->followers = j;
}

/* j at the queue's end (lock held; the caller checked the bound). */
static void enqueue(struct ocsp_fetcher *f, struct ocsp_job *j)
{
	j->next = NULL;
	if (f->tail)
		f->tail->next = j;
	else
		f->queue = j;
	f->tail = j;
	f->queued++;
}

/* Queue j again, or join it to the queued question with its key (lock
 * held; no bound: j was counted in before). */
static void requeue(struct ocsp_fetcher *f, struct ocsp_job *j)
{
	struct ocsp_job *lead = queued_leader(f, j);

	if (lead)
		join(lead, j);
	else
		enqueue(f, j);
}

/* j goes back to the worker it names. */
static void deliver(struct ocsp_job *j)
{
	/* The worker outlives this thread (ocsp_fetcher_stop comes first). */
	pthread_mutex_lock(&j->w->lock);
	j->next = j->w->ocsp_done;
	j->w->ocsp_done = j;
	pthread_mutex_unlock(&j->w->lock);
	(void)eventfd_write(j->w->wakefd, 1);
}

/* Ask j's question (s->busy is j; lock not held), then hand the answer to
 * j's worker and to those of its followers. */
static void answer(struct fetch_slot *s, struct ocsp_job *j)
{
	struct ocsp_fetcher *f = s->f;
	struct ocsp_job *fl;
	unsigned long long now;
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
	fl = j->followers;
	j->followers = NULL;
	s->busy = NULL;
	/* j's own time ran out: a follower with time left asks again (a
	 * caller's short handshake timer must not fail another's question). */
	now = tk_now_ms();
	if (j->verdict == OCSP_V_FAILED && now >= j->deadline_ms) {
		struct ocsp_job **pp = &fl, *x;

		while ((x = *pp)) {
			if (x->deadline_ms > now + OCSP_RETRY_MIN_MS && !f->stop) {
				*pp = x->next;
				requeue(f, x);
			} else {
				pp = &x->next;
			}
		}
	}
	pthread_cond_broadcast(&f->cond); /* a place at this responder is free */
	pthread_mutex_unlock(&f->lock);
	while (fl) {
		struct ocsp_job *x = fl;

		fl = x->next;
		x->verdict = j->verdict;
		memcpy(x->why, j->why, sizeof(x->why));
		deliver(x);
	}
	deliver(j);
}

/* Ask again about one expired entry a live session holds, whose
 * responder has a place free (lock held on entry and exit, dropped while
 * asking).  1 if one was refreshed. */
static int refresh_one(struct fetch_slot *s)
{
	struct ocsp_fetcher *f = s->f;
	time_t now = time(NULL), next = 0;
	struct entry *e = NULL;
	struct ocsp_job *src;
	char why[256] = "";
	int v;

	for (unsigned i = 0; !e && i < f->n_cache; i++)
		if (f->cache[i].used && f->cache[i].live && !f->cache[i].refreshing &&
		    f->cache[i].retry_at <= now &&
		    origin_busy(f, f->cache[i].src->url) < OCSP_PER_ORIGIN)
			e = &f->cache[i];
	if (!e)
		return 0;
	e->refreshing = 1;
	src = e->src; /* neither replaced nor evicted while refreshing */
	s->busy = src;
	s->refresh = 1;
	pthread_mutex_unlock(&f->lock);
	v = ask(src, tk_now_ms() + src->timeout_ms, &next, why, sizeof(why));
	pthread_mutex_lock(&f->lock);
	s->busy = NULL;
	s->refresh = 0;
	pthread_cond_broadcast(&f->cond);
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

/* The first queued job whose responder has a place free, or whose time
 * is up (answered at once), taken off the queue (lock held); else NULL
 * and *wake: the earliest deadline among those left (0: none). */
static struct ocsp_job *take(struct ocsp_fetcher *f, unsigned long long *wake)
{
	unsigned long long now = tk_now_ms();
	struct ocsp_job **pp, *j, *prev = NULL;

	*wake = 0;
	for (pp = &f->queue; (j = *pp); prev = j, pp = &j->next) {
		if (j->deadline_ms <= now || origin_busy(f, j->url) < OCSP_PER_ORIGIN) {
			*pp = j->next;
			if (f->tail == j)
				f->tail = prev;
			f->queued--;
			j->next = NULL;
			return j;
		}
		if (!*wake || j->deadline_ms < *wake)
			*wake = j->deadline_ms;
	}
	return NULL;
}

/* The queued or running question with j's key, to join (lock held); a
 * queued one takes j's deadline if it is later.  (A running one whose time
 * runs out first sends j back to the queue: answer().) */
static struct ocsp_job *leader(struct ocsp_fetcher *f, const struct ocsp_job *j)
{
	struct ocsp_job *q = queued_leader(f, j);

	if (q)
		return q;
	for (unsigned i = 0; i < f->n_started; i++)
		if (f->slot[i].busy && !f->slot[i].refresh && !memcmp(f->slot[i].busy->key, j->key, 32))
			return f->slot[i].busy;
	return NULL;
}

static void *fetch_main(void *arg)
{
	struct fetch_slot *s = arg;
	struct ocsp_fetcher *f = s->f;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		unsigned long long wake, now;
		struct ocsp_job *j;
		struct timespec ts;

		/* Expiries matter only while sessions hold entries. */
		if (f->holds && refresh_one(s))
			continue;
		j = take(f, &wake);
		if (j) {
			s->busy = j;
			s->refresh = 0;
			pthread_mutex_unlock(&f->lock);
			answer(s, j);
			pthread_mutex_lock(&f->lock);
			continue;
		}
		if (!f->holds && !wake) {
			(void)pthread_cond_wait(&f->cond, &f->lock);
			continue;
		}
		/* Held entries are looked at once a second; a queued job
		 * waiting for its responder is answered when its time is up. */
		now = tk_now_ms();
		if (wake && (!f->holds || wake < now + 1000))
			wake = wake > now ? wake - now : 1;
		else
			wake = 1000;
		(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* the cond's clock */
		ts.tv_sec += (time_t)(wake / 1000);
		ts.tv_nsec += (long)(wake % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
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
	{
		/* Timed waits on the monotonic clock: a step of the wall clock
		 * must not stretch a queued question's wait. */
		pthread_condattr_t ca;

		(void)pthread_condattr_init(&ca);
		(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cond, &ca);
		(void)pthread_condattr_destroy(&ca);
	}
	if (!f->cache) {
		ocsp_fetcher_free(f);
		return -ENOMEM;
	}
	for (; f->n_started < OCSP_FETCH_THREADS; f->n_started++) {
		f->slot[f->n_started].f = f;
		r = pthread_create(&f->thread[f->n_started], NULL, fetch_main, &f->slot[f->n_started]);
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
	struct ocsp_job *lead;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	if (f->stop) {
		r = -ESHUTDOWN;
	} else if ((lead = leader(f, j))) {
		/* Bounded by the conns that wait: one job each. */
		j->followers = NULL;
		join(lead, j);
		pthread_mutex_unlock(&f->lock);
		return 0;
	} else if (f->queued >= OCSP_QUEUE_MAX) {
		r = -EAGAIN;
	}
	if (r == 0) {
		enqueue(f, j);
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
