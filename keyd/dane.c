/* TLSA lookups on a thread of their own.  DNS answers come from a network
 * peer in whatever time it likes, so no worker ever waits for one: the
 * resolver thread runs libunbound's asynchronous API (its context in
 * threaded mode, never forked), gives each lookup a deadline, and hands
 * the answer back to the worker that asked. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unbound.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/dane.h"
#include "keyd/log.h"
#include "keyd/worker.h"

#define RR_TYPE_TLSA 52
#define RR_CLASS_IN 1

struct cache_entry {
	char qname[DANE_QNAME_MAX + 1];
	unsigned long long expires_ms;
	struct dane_answer *answer; /* NULL: free slot */
};

struct dane_resolver {
	struct ub_ctx *ub; /* the resolver thread's only */
	pthread_t thread;
	int wakefd;
	pthread_mutex_t lock; /* queue, n_jobs, stop, cache */
	struct dane_job *queue;  /* submitted, not started */
	struct dane_job *active; /* in flight: the resolver thread's only */
	size_t n_jobs;           /* queued + in flight */
	int stop;
	struct cache_entry cache[DANE_CACHE_MAX];
};

void dane_job_free(struct dane_job *j)
{
	if (!j)
		return;
	dane_answer_unref(j->answer);
	free(j);
}

int dane_cache_get(struct dane_resolver *r, const char *qname, struct dane_answer **ret_answer)
{
	unsigned long long now = tk_now_ms();
	int found = -ENOENT;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < DANE_CACHE_MAX; i++) {
		struct cache_entry *e = &r->cache[i];

		if (!e->answer || e->expires_ms <= now || strcasecmp(e->qname, qname))
			continue;
		*ret_answer = dane_answer_ref(e->answer);
		found = 0;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* Keep a for its TTL (capped): in a free or expired slot, or in place of
 * the entry closest to expiry.  Failures are never kept: the next
 * connection asks again. */
static void cache_put(struct dane_resolver *r, const char *qname, struct dane_answer *a)
{
	unsigned long long now = tk_now_ms();
	struct cache_entry *slot = NULL;
	unsigned ttl = a->ttl_s > DANE_TTL_MAX ? DANE_TTL_MAX : a->ttl_s;

	if (!ttl || a->status == DANE_FAILED || a->status == DANE_BOGUS)
		return;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < DANE_CACHE_MAX; i++) {
		struct cache_entry *e = &r->cache[i];

		if (e->answer && !strcasecmp(e->qname, qname)) {
			slot = e;
			break;
		}
		if (!e->answer || e->expires_ms <= now) {
			if (!slot || slot->answer)
				slot = e;
		} else if (!slot || (slot->answer && e->expires_ms < slot->expires_ms)) {
			slot = e;
		}
	}
	dane_answer_unref(slot->answer);
	(void)snprintf(slot->qname, sizeof(slot->qname), "%s", qname);
	slot->expires_ms = now + (unsigned long long)ttl * 1000;
	slot->answer = dane_answer_ref(a);
	pthread_mutex_unlock(&r->lock);
}

/* The job is answered: off the active list, to its worker. */
static void job_done(struct dane_resolver *r, struct dane_job *j, struct dane_answer *a)
{
	struct dane_job **pp = &r->active;

	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	j->answer = a;
	if (a)
		cache_put(r, j->qname, a);
	keyd_log(LOG_DEBUG, "DANE: TLSA %s: %s%s%s", j->qname,
		 !a ? "out of memory" : a->status == DANE_SECURE_RECORDS ? "secure records"
		 : a->status == DANE_SECURE_NONE ? "secure, none usable" : a->status == DANE_INSECURE
		 ? "insecure" : a->status == DANE_BOGUS ? "bogus" : "failed", a && a->why[0] ? ": " : "",
		 a ? a->why : "");
	pthread_mutex_lock(&r->lock);
	r->n_jobs--;
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&j->w->lock);
	j->next = j->w->dane_done;
	j->w->dane_done = j;
	pthread_mutex_unlock(&j->w->lock);
	(void)eventfd_write(j->w->wakefd, 1);
}

/* What libunbound's result means for DANE. */
static struct dane_answer *answer_of(int err, struct ub_result *res)
{
	struct dane_answer *a = NULL;
	char why[160];
	enum dane_status st;

	if (err) {
		(void)snprintf(why, sizeof(why), "resolver: %s", ub_strerror(err));
		st = DANE_FAILED;
	} else if (res->bogus) {
		(void)snprintf(why, sizeof(why), "%s", res->why_bogus ? res->why_bogus : "bogus");
		/* libunbound's words, with names and text from the DNS in
		 * them: they go to the app, the log and the audit record. */
		tk_printable(why);
		st = DANE_BOGUS;
	} else if (res->rcode != 0 && res->rcode != 3) {
		/* A validating upstream answers SERVFAIL for bogus data. */
		(void)snprintf(why, sizeof(why), "DNS rcode %d%s", res->rcode,
			       res->rcode == 2 ? " (SERVFAIL)" : "");
		st = DANE_FAILED;
	} else if (!res->secure) {
		(void)snprintf(why, sizeof(why), "no DNSSEC trust anchor covers the name");
		st = DANE_INSECURE;
	} else {
		why[0] = '\0';
		st = res->havedata ? DANE_SECURE_RECORDS : DANE_SECURE_NONE;
	}
	if (dane_answer_new(st, res && st == DANE_SECURE_RECORDS ? res->data : NULL,
			    res ? res->len : NULL, res && res->ttl > 0 ? (unsigned)res->ttl : 0, why,
			    &a) < 0)
		return NULL;
	return a;
}

static void ub_cb(void *arg, int err, struct ub_result *res)
{
	struct dane_job *j = arg;

	job_done(j->r, j, answer_of(err, res));
	ub_resolve_free(res);
}

/* Start what was queued (resolver thread). */
static void start_queued(struct dane_resolver *r)
{
	struct dane_job *list;

	pthread_mutex_lock(&r->lock);
	list = r->queue;
	r->queue = NULL;
	pthread_mutex_unlock(&r->lock);
	while (list) {
		struct dane_job *j = list;
		int e;

		list = j->next;
		j->next = r->active;
		r->active = j;
		keyd_log(LOG_DEBUG, "DANE: TLSA query %s", j->qname);
		e = ub_resolve_async(r->ub, j->qname, RR_TYPE_TLSA, RR_CLASS_IN, j, ub_cb, &j->async_id);
		if (e)
			job_done(r, j, answer_of(e, NULL));
	}
}

/* Give up on lookups past their deadline; returns the poll timeout. */
static int expire_active(struct dane_resolver *r)
{
	unsigned long long now = tk_now_ms(), best = 0;

	for (struct dane_job *j = r->active, *next; j; j = next) {
		next = j->next;
		if (j->deadline_ms <= now) {
			struct dane_answer *a = NULL;

			(void)ub_cancel(r->ub, j->async_id);
			(void)dane_answer_new(DANE_FAILED, NULL, NULL, 0, "the TLSA lookup timed out", &a);
			job_done(r, j, a);
		} else if (!best || j->deadline_ms < best) {
			best = j->deadline_ms;
		}
	}
	if (!best)
		return -1;
	return best - now > 60000 ? 60000 : (int)(best - now);
}

static void *resolver_main(void *arg)
{
	struct dane_resolver *r = arg;
	struct pollfd pfd[2] = { { .fd = r->wakefd, .events = POLLIN },
				 { .fd = ub_fd(r->ub), .events = POLLIN } };

	for (;;) {
		int stop, n;

		pthread_mutex_lock(&r->lock);
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		start_queued(r);
		/* ub_fd() exists once the first asynchronous query started it. */
		pfd[1].fd = ub_fd(r->ub);
		n = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, expire_active(r));
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			eventfd_t v;
			(void)eventfd_read(r->wakefd, &v);
		}
		if (n > 0 && pfd[1].fd >= 0 && pfd[1].revents)
			(void)ub_process(r->ub);
	}
	return NULL;
}

int dane_submit(struct dane_resolver *r, struct worker *w, unsigned long long serial,
		const char *qname, unsigned long long deadline_ms)
{
	struct dane_job *j;
	int e = 0;

	if (strlen(qname) > DANE_QNAME_MAX)
		return -ENAMETOOLONG;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->w = w;
	j->r = r;
	j->serial = serial;
	j->deadline_ms = deadline_ms;
	memcpy(j->qname, qname, strlen(qname) + 1);
	pthread_mutex_lock(&r->lock);
	if (r->stop)
		e = -ESHUTDOWN;
	else if (r->n_jobs >= DANE_QUEUE_MAX)
		e = -EAGAIN;
	if (!e) {
		j->next = r->queue;
		r->queue = j;
		r->n_jobs++;
	}
	pthread_mutex_unlock(&r->lock);
	if (e) {
		free(j);
		return e;
	}
	(void)eventfd_write(r->wakefd, 1);
	return 0;
}

int dane_anchor_check(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	r = tk_file_open_regular("dns-trust-anchor", path, 0, &fd, &st, err, errlen);
	if (r < 0)
		return r;
	(void)tk_close(fd);
	return tk_file_trusted(path, &st, err, errlen);
}

#define FD_SCAN_MAX 4096

/* The descriptors open now, as a bitmap of the first FD_SCAN_MAX. */
static void fds_open(uint8_t map[FD_SCAN_MAX / 8])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	memset(map, 0, FD_SCAN_MAX / 8);
	if (!d)
		return;
	while ((de = readdir(d))) {
		long fd = strtol(de->d_name, NULL, 10);

		/* Not the directory's own descriptor: it is closed below. */
		if (de->d_name[0] != '.' && fd >= 0 && fd < FD_SCAN_MAX && fd != dirfd(d))
			map[fd / 8] |= (uint8_t)(1u << (fd % 8));
	}
	(void)closedir(d);
}

/* libunbound opens its descriptors (the pipes to its thread) without
 * O_CLOEXEC: mark those that appeared since before, so that an upgrade's
 * new process does not inherit them.  XXX: the UDP and TCP sockets it
 * opens per query, on its own thread, stay without it. */
static void fds_cloexec_new(const uint8_t before[FD_SCAN_MAX / 8])
{
	uint8_t now[FD_SCAN_MAX / 8];

	fds_open(now);
	for (int fd = 3; fd < FD_SCAN_MAX; fd++) {
		int fl;

		if (!(now[fd / 8] & (1u << (fd % 8))) || (before[fd / 8] & (1u << (fd % 8))))
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

static int ub_setup(struct dane_resolver *r, const struct keyd_conf *conf, char *err, size_t errlen)
{
	uint8_t before[FD_SCAN_MAX / 8];
	int e;

	fds_open(before);
	r->ub = ub_ctx_create();
	if (!r->ub) {
		tk_errf(err, errlen, "cannot create the libunbound context");
		return -ENOMEM;
	}
	/* Threads, not a forked process (the default): a fork of this
	 * daemon would copy its memory, PINs included. */
	e = ub_ctx_async(r->ub, 1);
	/* The resolver is the configured one, usually on loopback; nothing
	 * from /etc/resolv.conf or /etc/hosts. */
	if (!e)
		e = ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no");
	if (!e)
		e = ub_ctx_set_fwd(r->ub, conf->dns_resolver);
	if (!e)
		e = ub_ctx_add_ta_file(r->ub, conf->dns_trust_anchor);
	/* libunbound answers NXDOMAIN for test. (RFC 6761) by itself; the
	 * configured resolver decides about it like any other name, so that
	 * a private signed zone there (this project's tests) works.  Last: it
	 * finalizes the context, no setting may follow. */
	if (!e)
		e = ub_ctx_zone_add(r->ub, "test.", "nodefault");
	fds_cloexec_new(before);
	if (e) {
		tk_errf(err, errlen, "dns-resolver %s / dns-trust-anchor %s: %s", conf->dns_resolver,
			conf->dns_trust_anchor, ub_strerror(e));
		return -EINVAL;
	}
	return 0;
}

int dane_resolver_new(const struct keyd_conf *conf, struct dane_resolver **ret_r, char *err,
		      size_t errlen)
{
	struct dane_resolver *r;
	int e;

	*ret_r = NULL;
	err[0] = '\0';
	if (!conf->dns_resolver)
		return 0;
	if (!conf->dns_trust_anchor) {
		tk_errf(err, errlen, "dns-resolver needs dns-trust-anchor");
		return -EINVAL;
	}
	e = dane_anchor_check(conf->dns_trust_anchor, err, errlen);
	if (e < 0)
		return e;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&r->lock, NULL);
	e = r->wakefd < 0 ? -errno : ub_setup(r, conf, err, errlen);
	if (e == 0)
		e = -pthread_create(&r->thread, NULL, resolver_main, r);
	if (e < 0) {
		if (r->ub)
			ub_ctx_delete(r->ub);
		(void)tk_close(r->wakefd);
		pthread_mutex_destroy(&r->lock);
		free(r);
		if (!err[0])
			tk_errf(err, errlen, "DANE resolver: %s", strerror(-e));
		return e;
	}
	*ret_r = r;
	return 0;
}

void dane_resolver_stop(struct dane_resolver *r)
{
	int joined;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	joined = r->stop;
	r->stop = 1;
	pthread_mutex_unlock(&r->lock);
	if (joined)
		return;
	(void)eventfd_write(r->wakefd, 1);
	(void)pthread_join(r->thread, NULL);
}

void dane_resolver_free(struct dane_resolver *r)
{
	if (!r)
		return;
	dane_resolver_stop(r);
	/* Deleting the context cancels what is in flight, without callbacks. */
	ub_ctx_delete(r->ub);
	for (struct dane_job *j = r->active, *next; j; j = next) {
		next = j->next;
		dane_job_free(j);
	}
	for (struct dane_job *j = r->queue, *next; j; j = next) {
		next = j->next;
		dane_job_free(j);
	}
	for (size_t i = 0; i < DANE_CACHE_MAX; i++)
		dane_answer_unref(r->cache[i].answer);
	(void)tk_close(r->wakefd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
