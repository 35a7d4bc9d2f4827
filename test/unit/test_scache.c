/* Unit tests for the client role's session cache (keyd/scache.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "keyd/scache.h"
#include "test/unit/check-main.h"

static void key_of(unsigned char v, uint8_t k[32])
{
	memset(k, v, 32);
}

static gnutls_datum_t datum(const char *s)
{
	return (gnutls_datum_t){ (unsigned char *)s, (unsigned)strlen(s) };
}

/* An entry is taken once, with its exact key only. */
START_TEST(take_once)
{
	struct scache *s = NULL;
	uint8_t k[32], other[32];
	gnutls_datum_t in = datum("session-a"), out = { NULL, 0 };

	key_of(1, k);
	memcpy(other, k, 32);
	other[31] ^= 1; /* same slot, another key */
	ck_assert_int_eq(scache_new(8, 60, &s), 0);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	scache_put(s, k, &in);
	ck_assert_int_eq(scache_take(s, other, &out), -ENOENT);
	ck_assert_int_eq(scache_take(s, k, &out), 0);
	ck_assert_uint_eq(out.size, in.size);
	ck_assert_int_eq(memcmp(out.data, in.data, in.size), 0);
	scache_datum_free(&out);
	ck_assert_ptr_null(out.data);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	scache_free(s);
}
END_TEST

/* Bounds: slot count, entry size, lifetime; a newer entry replaces. */
START_TEST(bounds)
{
	struct scache *s = NULL;
	static unsigned char big[SCACHE_DATA_MAX + 1];
	gnutls_datum_t huge = { big, sizeof(big) }, a = datum("a"), b = datum("bb"), out = { NULL, 0 };
	uint8_t k[32];

	ck_assert_int_eq(scache_new(0, 60, &s), -EINVAL);
	ck_assert_int_eq(scache_new(16385, 60, &s), -EINVAL);
	ck_assert_int_eq(scache_new(1, 1, &s), 0);
	key_of(2, k);
	scache_put(s, k, &huge);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	scache_put(s, k, &a);
	scache_put(s, k, &b);
	ck_assert_int_eq(scache_take(s, k, &out), 0);
	ck_assert_uint_eq(out.size, 2);
	scache_datum_free(&out);
	/* One slot: another key evicts the first. */
	scache_put(s, k, &a);
	key_of(3, k);
	scache_put(s, k, &b);
	key_of(2, k);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	/* ttl 1 s */
	scache_put(s, k, &a);
	(void)usleep(1100 * 1000);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	scache_free(s);
	scache_put(NULL, k, &a);
	ck_assert_int_eq(scache_take(NULL, k, &out), -ENOENT);
	scache_free(NULL);
	scache_datum_free(NULL);
}
END_TEST

/* Keys that meet in one set (64 slots: 16 sets of 4; a first word that is
 * a multiple of 64 shares slot 0 of a direct-mapped cache too) keep each
 * other: four are all there (direct-mapped, the last one only), a fifth
 * gives up the oldest. */
static void key_n(uint64_t n, uint8_t k[32])
{
	memset(k, 0x11, 32);
	memcpy(k, &n, sizeof(n));
}

START_TEST(colliding_keys)
{
	struct scache *s = NULL;
	uint8_t k[32];
	gnutls_datum_t in = datum("session"), out = { NULL, 0 };

	ck_assert_int_eq(scache_new(64, 60, &s), 0);
	for (uint64_t n = 0; n < 4; n++) {
		key_n(n * 64, k);
		scache_put(s, k, &in);
	}
	for (uint64_t n = 0; n < 4; n++) {
		key_n(n * 64, k);
		ck_assert_msg(scache_take(s, k, &out) == 0, "session %u of 4 in one set was evicted", (unsigned)n);
		scache_datum_free(&out);
		scache_put(s, k, &in); /* taken: put back, in the same order */
	}
	key_n(4 * 64, k);
	scache_put(s, k, &in);
	key_n(0, k);
	ck_assert_int_eq(scache_take(s, k, &out), -ENOENT);
	for (uint64_t n = 1; n < 5; n++) {
		key_n(n * 64, k);
		ck_assert_int_eq(scache_take(s, k, &out), 0);
		scache_datum_free(&out);
	}
	scache_free(s);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { take_once, bounds, colliding_keys, NULL };

	return tkt_run("scache", "/keyd/scache", NULL, NULL, 0, tests);
}
