/* The client role's session cache: direct-mapped slots under a mutex.
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

struct scache {
	pthread_mutex_t lock;
	size_t n;
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

static struct scache_entry *slot(struct scache *s, const uint8_t key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &s->e[h % s->n];
}

int scache_new(size_t n, unsigned ttl_s, struct scache **ret_s)
{
	struct scache *s;

	if (n == 0 || n > 16384)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
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
	struct scache_entry *e;
	unsigned char *copy;

	if (!s || !data->size || data->size > SCACHE_DATA_MAX)
		return;
	copy = malloc(data->size);
	if (!copy)
		return;
	memcpy(copy, data->data, data->size);
	(void)pthread_mutex_lock(&s->lock);
	e = slot(s, key);
	entry_clear(e);
	memcpy(e->key, key, 32);
	e->data = copy;
	e->len = data->size;
	e->expires_ms = tk_now_ms() + (unsigned long long)s->ttl_s * 1000;
	(void)pthread_mutex_unlock(&s->lock);
}

int scache_take(struct scache *s, const uint8_t key[32], gnutls_datum_t *ret_data)
{
	struct scache_entry *e;
	int r = -ENOENT;

	if (!s)
		return -ENOENT;
	(void)pthread_mutex_lock(&s->lock);
	e = slot(s, key);
	if (e->data && !memcmp(e->key, key, 32)) {
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
