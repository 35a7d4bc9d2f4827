/* keyd/vcache.c: the bounded, TTL-limited cache of peer validation
 * results.  Every case checks a miss as well as a hit, and that a miss
 * leaves the output untouched (ret_ written only on success). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "keyd/vcache.h"
#include "test/unit/check-main.h"

/* key_of(N, KEY): a key whose first bytes (the slot index) and last byte
 * both come from N. */
static void key_of(unsigned n, uint8_t key[VCACHE_KEY_LEN])
{
	memset(key, 0, VCACHE_KEY_LEN);
	memcpy(key, &n, sizeof(n));
	key[VCACHE_KEY_LEN - 1] = (uint8_t)n;
}

static struct vcache_value value_of(const char *peer)
{
	struct vcache_value v;

	memset(&v, 0, sizeof(v));
	strcpy(v.peer, peer);
	strcpy(v.mapped_user, "u");
	return v;
}

/* A miss must leave *ret as it was: fill it with a marker first. */
static int get_marked(struct vcache *vc, const uint8_t *key, struct vcache_value *out)
{
	memset(out, 0x5a, sizeof(*out));
	return vcache_get(vc, key, out);
}

static int untouched(const struct vcache_value *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t i;

	for (i = 0; i < sizeof(*v); i++)
		if (p[i] != 0x5a)
			return 0;
	return 1;
}

/* A get of key must miss and leave its output untouched. */
static void expect_miss(struct vcache *vc, const uint8_t *key)
{
	struct vcache_value out;

	ck_assert_int_eq(get_marked(vc, key, &out), -ENOENT);
	ck_assert(untouched(&out));
}

START_TEST(hit_and_miss)
{
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("bob@example.test"), out;
	uint8_t k1[VCACHE_KEY_LEN], k2[VCACHE_KEY_LEN];

	key_of(1, k1);
	key_of(2, k2);
	ck_assert_int_eq(vcache_new(64, 60, &vc), 0);
	expect_miss(vc, k1);
	vcache_put(vc, k1, &in);
	ck_assert_int_eq(get_marked(vc, k1, &out), 0);
	ck_assert_str_eq(out.peer, "bob@example.test");
	ck_assert_str_eq(out.mapped_user, "u");
	ck_assert_int_eq(out.pinned, 0);
	ck_assert_int_eq(out.dane_usage, 0);
	expect_miss(vc, k2);
	/* A second put on the same key replaces the value, how the chain
	 * was accepted included (online OCSP asks by it). */
	in = value_of("carol@example.test");
	in.pinned = 1;
	in.dane_usage = 4;
	vcache_put(vc, k1, &in);
	ck_assert_int_eq(get_marked(vc, k1, &out), 0);
	ck_assert_str_eq(out.peer, "carol@example.test");
	ck_assert_int_eq(out.pinned, 1);
	ck_assert_int_eq(out.dane_usage, 4);
	vcache_free(vc);
}
END_TEST

/* Keys that index the same slot but differ elsewhere never hit each other:
 * the whole key is compared, not only the bytes that choose the slot. */
START_TEST(different_keys)
{
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("bob@example.test"), out;
	uint8_t k[VCACHE_KEY_LEN], other[VCACHE_KEY_LEN];
	size_t i;

	key_of(7, k);
	ck_assert_int_eq(vcache_new(8, 60, &vc), 0);
	vcache_put(vc, k, &in);
	for (i = sizeof(size_t); i < VCACHE_KEY_LEN; i++) {
		memcpy(other, k, sizeof(other));
		other[i] ^= 0x01;
		expect_miss(vc, other);
	}
	ck_assert_int_eq(get_marked(vc, k, &out), 0);
	vcache_free(vc);
}
END_TEST

/* The cache never holds more than its slots: of many distinct keys put, at
 * most SLOTS still hit, and the most recent one always does. */
START_TEST(slots_bound)
{
	enum { SLOTS = 4, KEYS = 200 };
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("p"), out;
	uint8_t k[VCACHE_KEY_LEN];
	unsigned n, hits = 0;

	ck_assert_int_eq(vcache_new(SLOTS, 60, &vc), 0);
	for (n = 0; n < KEYS; n++) {
		key_of(n, k);
		vcache_put(vc, k, &in);
		ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	}
	for (n = 0; n < KEYS; n++) {
		key_of(n, k);
		if (vcache_get(vc, k, &out) == 0)
			hits++;
	}
	ck_assert_uint_ge(hits, 1);
	ck_assert_uint_le(hits, SLOTS);
	vcache_free(vc);

	/* One slot: the second key evicts the first. */
	ck_assert_int_eq(vcache_new(1, 60, &vc), 0);
	key_of(1, k);
	vcache_put(vc, k, &in);
	key_of(2, k);
	vcache_put(vc, k, &in);
	ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	key_of(1, k);
	expect_miss(vc, k);
	vcache_free(vc);
}
END_TEST

/* Keys that meet in one set (64 slots: 16 sets of 4; key_of(n) lands in
 * set n % 16; multiples of 64 share a slot of a direct-mapped cache too) keep each other: four all hit (a direct-mapped cache kept
 * the last one only), a fifth gives up the oldest, the others stay. */
START_TEST(colliding_keys)
{
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("p"), out;
	uint8_t k[VCACHE_KEY_LEN];
	unsigned n;

	ck_assert_int_eq(vcache_new(64, 60, &vc), 0);
	for (n = 0; n < 4; n++) {
		key_of(n * 64, k);
		vcache_put(vc, k, &in);
	}
	for (n = 0; n < 4; n++) {
		key_of(n * 64, k);
		ck_assert_msg(vcache_get(vc, k, &out) == 0, "key %u of 4 in one set was evicted", n);
	}
	/* Putting a key again updates its slot rather than taking another. */
	key_of(64, k);
	vcache_put(vc, k, &in);
	key_of(0, k);
	ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	key_of(256, k);
	vcache_put(vc, k, &in);
	ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	key_of(0, k);
	expect_miss(vc, k);
	for (n = 1; n < 4; n++) {
		key_of(n * 64, k);
		ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	}
	/* Another set is untouched by all this. */
	key_of(1, k);
	expect_miss(vc, k);
	vcache_free(vc);
}
END_TEST

/* An entry hits until its TTL (1 s, the smallest) has passed, then misses.
 * The wait is bounded (3 s) and polled, not a fixed sleep. */
START_TEST(ttl_expiry)
{
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("p"), out;
	uint8_t k[VCACHE_KEY_LEN];
	unsigned long long t0, t;
	const struct timespec tick = { 0, 20 * 1000 * 1000 };

	key_of(3, k);
	ck_assert_int_eq(vcache_new(16, 1, &vc), 0);
	t0 = tk_now_ms();
	vcache_put(vc, k, &in);
	ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	for (;;) {
		t = tk_now_ms();
		if (get_marked(vc, k, &out) != 0)
			break;
		ck_assert_msg(t - t0 < 3000, "entry still cached %llu ms after a 1 s TTL", t - t0);
		nanosleep(&tick, NULL);
	}
	ck_assert(untouched(&out));
	/* It did not expire early (allow for the clock read before the put). */
	ck_assert_msg(t - t0 >= 900, "entry expired after %llu ms, TTL 1 s", t - t0);
	/* A new put makes it fresh again. */
	vcache_put(vc, k, &in);
	ck_assert_int_eq(vcache_get(vc, k, &out), 0);
	vcache_free(vc);
}
END_TEST

/* slots == 0 or ttl == 0 disable the cache: puts are dropped, every get
 * misses.  A NULL cache (none configured) behaves the same. */
START_TEST(disabled)
{
	struct vcache *vc = NULL;
	struct vcache_value in = value_of("p");
	uint8_t k[VCACHE_KEY_LEN];

	key_of(5, k);
	ck_assert_int_eq(vcache_new(0, 60, &vc), 0);
	ck_assert_ptr_nonnull(vc);
	vcache_put(vc, k, &in);
	expect_miss(vc, k);
	vcache_free(vc);

	vc = NULL;
	ck_assert_int_eq(vcache_new(16, 0, &vc), 0);
	vcache_put(vc, k, &in);
	expect_miss(vc, k);
	vcache_free(vc);

	vcache_put(NULL, k, &in);
	expect_miss(NULL, k);
	vcache_free(NULL);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { hit_and_miss, different_keys, slots_bound, colliding_keys, ttl_expiry, disabled, NULL };

	return tkt_run("vcache", "/keyd/vcache", NULL, NULL, 0, tests);
}
