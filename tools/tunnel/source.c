/* Connections per source address, for --max-conns-per-source: a count per
 * IPv4 address and per IPv6 /64 (what one host or one subscriber usually
 * has), in a hash table keyed with a secret drawn at start, so that remote
 * peers cannot pick addresses that all land in one bucket.  Sources with
 * no connection are not kept: the table holds at most one entry per
 * connection, which --max-conns bounds. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tools/tunnel/tunnel.h"

struct tunnel_source {
	struct tunnel_source *next;
	struct tunnel_source_key key;
	unsigned count;
};

int tunnel_source_key(const struct sockaddr *sa, socklen_t len, struct tunnel_source_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		k->family = 4;
		memcpy(k->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		/* A listener on [::] sees IPv4 clients as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k->family = 4;
			memcpy(k->addr, &a->s6_addr[12], 4);
		} else {
			k->family = 6;
			memcpy(k->addr, a->s6_addr, 8); /* the /64 */
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

void tunnel_sources_init(struct tunnel_sources *s)
{
	memset(s, 0, sizeof(*s));
	if (getrandom(s->seed, sizeof(s->seed), GRND_NONBLOCK) != (ssize_t)sizeof(s->seed)) {
		/* No entropy yet (early boot): the time and our address are a
		 * weaker secret, but chains stay bounded by --max-conns. */
		struct timespec ts;

		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		s->seed[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)s;
		s->seed[1] = s->seed[0] * 0x9e3779b97f4a7c15ULL + 1;
	}
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct tunnel_source **bucket(struct tunnel_sources *s, const struct tunnel_source_key *k)
{
	uint64_t a;

	memcpy(&a, k->addr, 8);
	a = mix(mix(a ^ s->seed[0]) ^ s->seed[1] ^ k->family);
	return &s->buckets[a % TUNNEL_SOURCE_BUCKETS];
}

static int same(const struct tunnel_source_key *a, const struct tunnel_source_key *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

unsigned tunnel_sources_count(struct tunnel_sources *s, const struct tunnel_source_key *k)
{
	for (const struct tunnel_source *e = *bucket(s, k); e; e = e->next)
		if (same(&e->key, k))
			return e->count;
	return 0;
}

int tunnel_sources_add(struct tunnel_sources *s, const struct tunnel_source_key *k)
{
	struct tunnel_source **b = bucket(s, k), *e;

	for (e = *b; e; e = e->next)
		if (same(&e->key, k)) {
			e->count++;
			return 0;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = *k;
	e->count = 1;
	e->next = *b;
	*b = e;
	s->n++;
	return 0;
}

void tunnel_sources_del(struct tunnel_sources *s, const struct tunnel_source_key *k)
{
	for (struct tunnel_source **p = bucket(s, k); *p; p = &(*p)->next) {
		struct tunnel_source *e = *p;

		if (!same(&e->key, k))
			continue;
		if (--e->count == 0) {
			*p = e->next;
			free(e);
			s->n--;
		}
		return;
	}
}

void tunnel_sources_free(struct tunnel_sources *s)
{
	for (size_t i = 0; i < TUNNEL_SOURCE_BUCKETS; i++)
		while (s->buckets[i]) {
			struct tunnel_source *e = s->buckets[i];

			s->buckets[i] = e->next;
			free(e);
		}
	s->n = 0;
}

unsigned tunnel_conf_per_source(const struct tunnel_conf *c)
{
	if (c->max_conns_per_source != TUNNEL_PER_SOURCE_DEFAULT)
		return c->max_conns_per_source;
	/* In client mode the connections come from local programs, all of
	 * them from loopback: no default share. */
	if (c->mode != TUNNEL_MODE_SERVER)
		return 0;
	return (c->max_conns + 3) / 4;
}
