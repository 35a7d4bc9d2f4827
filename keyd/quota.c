/* Per-uid and per-identity accounting (see quota.h).  A uid has an entry
 * only while it has something pending or in flight, so the table holds at
 * most max-pending + max-handshakes entries whatever the number of users. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyd/quota.h"

#define QUOTA_BUCKETS 256

struct uid_entry {
	struct uid_entry *next;
	uid_t uid;
	unsigned pending, handshakes;
};

struct quota {
	pthread_mutex_t lock;
	struct quota_limits lim;
	struct uid_entry *bucket[QUOTA_BUCKETS];
	unsigned *id_handshakes; /* n_ids of them */
};

int quota_new(const struct quota_limits *lim, struct quota **ret_q)
{
	struct quota *q;

	if (!lim->pending_per_uid || !lim->handshakes_per_uid || !lim->handshakes_per_id)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->id_handshakes = calloc(lim->n_ids ? lim->n_ids : 1, sizeof(*q->id_handshakes));
	if (!q->id_handshakes) {
		free(q);
		return -ENOMEM;
	}
	q->lim = *lim;
	pthread_mutex_init(&q->lock, NULL);
	*ret_q = q;
	return 0;
}

void quota_free(struct quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < QUOTA_BUCKETS; i++) {
		while (q->bucket[i]) {
			struct uid_entry *e = q->bucket[i];
			q->bucket[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&q->lock);
	free(q->id_handshakes);
	free(q);
}

/* Under q->lock.  With `create`, a missing entry is added (NULL: ENOMEM). */
static struct uid_entry *entry(struct quota *q, uid_t uid, int create)
{
	struct uid_entry **b = &q->bucket[(unsigned)uid % QUOTA_BUCKETS], *e;

	for (e = *b; e; e = e->next)
		if (e->uid == uid)
			return e;
	if (!create || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->uid = uid;
	e->next = *b;
	*b = e;
	return e;
}

/* Under q->lock: drop an entry that counts nothing any more. */
static void entry_gc(struct quota *q, struct uid_entry *e)
{
	struct uid_entry **p = &q->bucket[(unsigned)e->uid % QUOTA_BUCKETS];

	if (e->pending || e->handshakes)
		return;
	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	free(e);
}

void quota_set_pending_per_uid(struct quota *q, unsigned n)
{
	if (!n)
		return;
	pthread_mutex_lock(&q->lock);
	q->lim.pending_per_uid = n;
	pthread_mutex_unlock(&q->lock);
}

int quota_pending_take(struct quota *q, uid_t uid, char *why, size_t len)
{
	struct uid_entry *e;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	e = entry(q, uid, 1);
	if (!e) {
		r = -ENOMEM;
	} else if (e->pending >= q->lim.pending_per_uid) {
		if (why && len)
			(void)snprintf(why, len, "too many waiting requests from uid %u (max-pending-per-uid %u)",
				       (unsigned)uid, q->lim.pending_per_uid);
		r = -EAGAIN;
	} else {
		e->pending++;
	}
	if (e)
		entry_gc(q, e);
	pthread_mutex_unlock(&q->lock);
	return r;
}

void quota_pending_put(struct quota *q, uid_t uid)
{
	struct uid_entry *e;

	pthread_mutex_lock(&q->lock);
	e = entry(q, uid, 0);
	if (e && e->pending) {
		e->pending--;
		entry_gc(q, e);
	}
	pthread_mutex_unlock(&q->lock);
}

int quota_handshake_take(struct quota *q, uid_t uid, size_t id)
{
	struct uid_entry *e;
	int r = 0;

	if (id >= q->lim.n_ids)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	e = entry(q, uid, 1);
	if (!e) {
		r = -ENOMEM;
	} else if (e->handshakes >= q->lim.handshakes_per_uid ||
		   q->id_handshakes[id] >= q->lim.handshakes_per_id) {
		r = -EAGAIN;
	} else {
		e->handshakes++;
		q->id_handshakes[id]++;
	}
	if (e)
		entry_gc(q, e);
	pthread_mutex_unlock(&q->lock);
	return r;
}

void quota_handshake_put(struct quota *q, uid_t uid, size_t id)
{
	struct uid_entry *e;

	if (id >= q->lim.n_ids)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->id_handshakes[id])
		q->id_handshakes[id]--;
	e = entry(q, uid, 0);
	if (e && e->handshakes) {
		e->handshakes--;
		entry_gc(q, e);
	}
	pthread_mutex_unlock(&q->lock);
}

/* One uid's pending (or, with handshakes, in-flight) count. */
static unsigned uid_count(struct quota *q, uid_t uid, int handshakes)
{
	struct uid_entry *e;
	unsigned n = 0;

	pthread_mutex_lock(&q->lock);
	e = entry(q, uid, 0);
	if (e)
		n = handshakes ? e->handshakes : e->pending;
	pthread_mutex_unlock(&q->lock);
	return n;
}

unsigned quota_uid_pending(struct quota *q, uid_t uid)
{
	return uid_count(q, uid, 0);
}

unsigned quota_uid_handshakes(struct quota *q, uid_t uid)
{
	return uid_count(q, uid, 1);
}

unsigned quota_id_handshakes(struct quota *q, size_t id)
{
	unsigned n;

	if (id >= q->lim.n_ids)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->id_handshakes[id];
	pthread_mutex_unlock(&q->lock);
	return n;
}
