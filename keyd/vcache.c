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

struct vcache {
	pthread_mutex_t lock;
	size_t n;
	unsigned ttl_ms;
	struct slot *slots;
};

int vcache_new(size_t slots, unsigned ttl_s, struct vcache **ret)
{
	struct vcache *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return -ENOMEM;
	if (slots && ttl_s) {
		vc->slots = calloc(slots, sizeof(*vc->slots));
		if (!vc->slots) {
			free(vc);
			return -ENOMEM;
		}
		vc->n = slots;
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

static struct slot *slot_of(struct vcache *vc, const uint8_t *key)
{
	size_t h;

	/* The key is a SHA-256 digest: any of its bytes index uniformly. */
	memcpy(&h, key, sizeof(h));
	return &vc->slots[h % vc->n];
}

int vcache_get(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], struct vcache_value *ret)
{
	struct slot *s;
	int r = -ENOENT;

	if (!vc || !vc->n)
		return -ENOENT;
	pthread_mutex_lock(&vc->lock);
	s = slot_of(vc, key);
	if (s->expires_ms > tk_now_ms() && !memcmp(s->key, key, VCACHE_KEY_LEN)) {
		*ret = s->v;
		r = 0;
	}
	pthread_mutex_unlock(&vc->lock);
	return r;
}

void vcache_put(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], const struct vcache_value *v)
{
	struct slot *s;

	if (!vc || !vc->n)
		return;
	pthread_mutex_lock(&vc->lock);
	s = slot_of(vc, key);
	memcpy(s->key, key, VCACHE_KEY_LEN);
	s->v = *v;
	s->expires_ms = tk_now_ms() + vc->ttl_ms;
	pthread_mutex_unlock(&vc->lock);
}
