#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "keyd/vcache.h"

struct slot {
	uint8_t key[VCACHE_KEY_LEN];
	unsigned long long expires_ms; /* 0: empty */
	struct vcache_value v;
};

/* Slots come in sets of VCACHE_WAYS: a key may sit in any slot of its
 * set, so a few entries whose digests meet in one set do not evict each
 * other (direct-mapped, two peers could take turns missing). */
enum { VCACHE_WAYS = 4 };

struct vcache {
	pthread_mutex_t lock;
	size_t n_sets;
	unsigned ways;
	unsigned ttl_ms;
	struct slot *slots;
};

int vcache_new(size_t slots, unsigned ttl_s, struct vcache **ret)
{
	struct vcache *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return -ENOMEM;
	if (slots && ttl_s) {
		vc->ways = slots < VCACHE_WAYS ? (unsigned)slots : VCACHE_WAYS;
		vc->n_sets = slots / vc->ways;
		vc->slots = calloc(vc->n_sets * vc->ways, sizeof(*vc->slots));
		if (!vc->slots) {
			free(vc);
			return -ENOMEM;
		}
		vc->ttl_ms = ttl_s * 1000u;
	}
	pthread_mutex_init(&vc->lock, NULL);
	*ret = vc;
	return 0;
}

void vcache_free(struct vcache *vc)
{
	if (!vc)
		return;
	pthread_mutex_destroy(&vc->lock);
	free(vc->slots);
	free(vc);
}

/* The first slot of key's set. */
static struct slot *set_of(struct vcache *vc, const uint8_t *key)
{
	size_t h;

	/* The key is a SHA-256 digest: any of its bytes index uniformly. */
	memcpy(&h, key, sizeof(h));
	return &vc->slots[(h % vc->n_sets) * vc->ways];
}

/* key's live slot in its set, or NULL. */
static struct slot *find(struct vcache *vc, struct slot *set, const uint8_t *key, unsigned long long now)
{
	for (unsigned i = 0; i < vc->ways; i++)
		if (set[i].expires_ms > now && !memcmp(set[i].key, key, VCACHE_KEY_LEN))
			return &set[i];
	return NULL;
}

int vcache_get(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], struct vcache_value *ret)
{
	struct slot *s;
	int r = -ENOENT;

	if (!vc || !vc->n_sets)
		return -ENOENT;
	pthread_mutex_lock(&vc->lock);
	s = find(vc, set_of(vc, key), key, tk_now_ms());
	if (s) {
		*ret = s->v;
		r = 0;
	}
	pthread_mutex_unlock(&vc->lock);
	return r;
}

void vcache_put(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], const struct vcache_value *v)
{
	unsigned long long now;
	struct slot *set, *s;

	if (!vc || !vc->n_sets)
		return;
	pthread_mutex_lock(&vc->lock);
	now = tk_now_ms();
	set = set_of(vc, key);
	s = find(vc, set, key, now);
	/* Else an empty or expired slot, else the one expiring first: every
	 * entry lives ttl_ms, so that is the oldest. */
	for (unsigned i = 0; !s && i < vc->ways; i++)
		if (set[i].expires_ms <= now)
			s = &set[i];
	if (!s) {
		s = &set[0];
		for (unsigned i = 1; i < vc->ways; i++)
			if (set[i].expires_ms < s->expires_ms)
				s = &set[i];
	}
	memcpy(s->key, key, VCACHE_KEY_LEN);
	s->v = *v;
	s->expires_ms = now + vc->ttl_ms;
	pthread_mutex_unlock(&vc->lock);
}
