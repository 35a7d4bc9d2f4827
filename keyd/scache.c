/* The client role's session cache: slots in sets of 4 under a mutex (a
 * key takes any slot of its set, a full set gives up its oldest entry).
 * Lookups are exact 32-byte keys (tickets.c hashes everything a session
 * must not cross into them), so a collision only evicts. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "keyd/scache.h"

struct scache_entry {
	uint8_t key[32];
	unsigned char *data; /* NULL: empty */
	size_t len;
	unsigned long long expires_ms;
};

enum { SCACHE_WAYS = 4 };

struct scache {
	pthread_mutex_t lock;
	size_t n; /* slots: n_sets * ways */
	size_t n_sets;
	unsigned ways;
	unsigned ttl_s;
	struct scache_entry *e;
};

static void entry_clear(struct scache_entry *e)
{
	if (e->data) {
		gnutls_memset(e->data, 0, e->len);
		free(e->data);
	}
	memset(e, 0, sizeof(*e));
}

/* The first slot of key's set. */
static struct scache_entry *set_of(struct scache *s, const uint8_t key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &s->e[(h % s->n_sets) * s->ways];
}

/* key's slot in its set (live or expired), or NULL. */
static struct scache_entry *find(struct scache *s, struct scache_entry *set, const uint8_t key[32])
{
	for (unsigned i = 0; i < s->ways; i++)
		if (set[i].data && !memcmp(set[i].key, key, 32))
			return &set[i];
	return NULL;
}

int scache_new(size_t n, unsigned ttl_s, struct scache **ret_s)
{
	struct scache *s;

	if (n == 0 || n > 16384)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ways = n < SCACHE_WAYS ? (unsigned)n : SCACHE_WAYS;
	s->n_sets = n / s->ways;
	n = s->n_sets * s->ways;
	s->e = calloc(n, sizeof(*s->e));
	if (!s->e || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->e);
		free(s);
		return -ENOMEM;
	}
	s->n = n;
	s->ttl_s = ttl_s;
	*ret_s = s;
	return 0;
}

void scache_free(struct scache *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_clear(&s->e[i]);
	free(s->e);
	(void)pthread_mutex_destroy(&s->lock);
	free(s);
}

void scache_put(struct scache *s, const uint8_t key[32], const gnutls_datum_t *data)
{
	struct scache_entry *set, *e;
	unsigned long long now;
	unsigned char *copy;

	if (!s || !data->size || data->size > SCACHE_DATA_MAX)
		return;
	copy = malloc(data->size);
	if (!copy)
		return;
	memcpy(copy, data->data, data->size);
	(void)pthread_mutex_lock(&s->lock);
	now = tk_now_ms();
	set = set_of(s, key);
	/* The key's own slot, else an empty or expired one, else the one
	 * expiring first (every entry lives ttl_s: the oldest). */
	e = find(s, set, key);
	for (unsigned i = 0; !e && i < s->ways; i++)
		if (!set[i].data || set[i].expires_ms <= now)
			e = &set[i];
	if (!e) {
		e = &set[0];
		for (unsigned i = 1; i < s->ways; i++)
			if (set[i].expires_ms < e->expires_ms)
				e = &set[i];
	}
	entry_clear(e);
	memcpy(e->key, key, 32);
	e->data = copy;
	e->len = data->size;
	e->expires_ms = now + (unsigned long long)s->ttl_s * 1000;
	(void)pthread_mutex_unlock(&s->lock);
}

int scache_take(struct scache *s, const uint8_t key[32], gnutls_datum_t *ret_data)
{
	struct scache_entry *e;
	int r = -ENOENT;

	if (!s)
		return -ENOENT;
	(void)pthread_mutex_lock(&s->lock);
	e = find(s, set_of(s, key), key);
	if (e) {
		if (tk_now_ms() < e->expires_ms) {
			/* Ownership moves to the caller. */
			ret_data->data = e->data;
			ret_data->size = (unsigned)e->len;
			e->data = NULL;
			r = 0;
		}
		entry_clear(e);
	}
	(void)pthread_mutex_unlock(&s->lock);
	return r;
}

void scache_datum_free(gnutls_datum_t *d)
{
	if (d && d->data) {
		gnutls_memset(d->data, 0, d->size);
		free(d->data);
		d->data = NULL;
		d->size = 0;
	}
}
