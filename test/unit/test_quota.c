/* Unit tests for keyd/quota.c: the fairness decisions (per-uid waiting
 * clients, per-uid and per-identity handshakes in flight). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyd/quota.h"
#include "test/unit/check-main.h"

static struct quota *mk(unsigned pending, unsigned hs_uid, unsigned hs_id, size_t n_ids)
{
	struct quota_limits lim = { .pending_per_uid = pending,
				    .handshakes_per_uid = hs_uid,
				    .handshakes_per_id = hs_id,
				    .n_ids = n_ids };
	struct quota *q = NULL;

	ck_assert_int_eq(quota_new(&lim, &q), 0);
	ck_assert_ptr_nonnull(q);
	return q;
}

/* Handshake takes in order: `spec` is a list of UID:ID, each followed by
 * '+' (must be taken) or '-' (must wait, -EAGAIN). */
static void takes(struct quota *q, const char *spec)
{
	const char *p = spec;
	unsigned uid, id;
	char want;
	int n;

	while (sscanf(p, " %u:%u%c%n", &uid, &id, &want, &n) == 3) {
		ck_assert_msg(want == '+' || want == '-', "bad spec at '%s'", p);
		ck_assert_msg(quota_handshake_take(q, uid, id) == (want == '+' ? 0 : -EAGAIN),
			      "take %u:%u: expected %s", uid, id, want == '+' ? "taken" : "wait");
		p += n;
	}
	ck_assert_msg(*p == '\0', "bad spec at '%s'", p);
}

START_TEST(pending_per_uid)
{
	struct quota *q = mk(3, 1, 1, 1);
	char why[128] = "";

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(quota_pending_take(q, 1000, why, sizeof(why)), 0);
	/* The fourth of uid 1000 waits for nothing: refused with a reason. */
	ck_assert_int_eq(quota_pending_take(q, 1000, why, sizeof(why)), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(why, "uid 1000"));
	ck_assert_ptr_nonnull(strstr(why, "max-pending-per-uid 3"));
	/* Another uid is not affected. */
	ck_assert_int_eq(quota_pending_take(q, 1001, NULL, 0), 0);
	ck_assert_uint_eq(quota_uid_pending(q, 1000), 3);
	ck_assert_uint_eq(quota_uid_pending(q, 1001), 1);
	/* A slot given back can be taken again. */
	quota_pending_put(q, 1000);
	ck_assert_int_eq(quota_pending_take(q, 1000, NULL, 0), 0);
	ck_assert_int_eq(quota_pending_take(q, 1000, NULL, 0), -EAGAIN);
	quota_free(q);
}
END_TEST

START_TEST(handshakes_per_uid)
{
	struct quota *q = mk(8, 2, 100, 4);

	takes(q, "0:0+ 0:1+");
	/* Third of uid 0, whatever the identity: waits. */
	takes(q, "0:2-");
	ck_assert_uint_eq(quota_uid_handshakes(q, 0), 2);
	/* A refused take counts nothing. */
	ck_assert_uint_eq(quota_id_handshakes(q, 2), 0);
	takes(q, "42:2+");
	quota_handshake_put(q, 0, 1);
	takes(q, "0:2+");
	quota_free(q);
}
END_TEST

START_TEST(handshakes_per_identity)
{
	struct quota *q = mk(8, 100, 2, 2);

	/* Two uids share identity 0's share of 2. */
	takes(q, "1:0+ 2:0+ 3:0-");
	/* Identity 1 is unaffected. */
	takes(q, "3:1+");
	ck_assert_uint_eq(quota_id_handshakes(q, 0), 2);
	quota_handshake_put(q, 2, 0);
	ck_assert_uint_eq(quota_id_handshakes(q, 0), 1);
	ck_assert_uint_eq(quota_uid_handshakes(q, 2), 0);
	takes(q, "3:0+");
	quota_free(q);
}
END_TEST

START_TEST(bad_input)
{
	struct quota_limits lim = { .pending_per_uid = 0, .handshakes_per_uid = 1,
				    .handshakes_per_id = 1, .n_ids = 1 };
	struct quota *q = NULL;

	ck_assert_int_eq(quota_new(&lim, &q), -EINVAL);
	ck_assert_ptr_null(q);
	q = mk(1, 1, 1, 1);
	ck_assert_int_eq(quota_handshake_take(q, 0, 1), -EINVAL);
	/* Puts without takes never underflow. */
	quota_handshake_put(q, 7, 0);
	quota_pending_put(q, 7);
	ck_assert_uint_eq(quota_uid_pending(q, 7), 0);
	ck_assert_uint_eq(quota_id_handshakes(q, 0), 0);
	ck_assert_int_eq(quota_handshake_take(q, 7, 0), 0);
	quota_free(q);
	quota_free(NULL);
}
END_TEST

START_TEST(many_uids)
{
	struct quota *q = mk(1, 1, 100000, 1);

	/* Entries come and go: more uids than hash buckets. */
	for (uid_t u = 0; u < 2000; u++)
		ck_assert_int_eq(quota_pending_take(q, u, NULL, 0), 0);
	for (uid_t u = 0; u < 2000; u++)
		ck_assert_int_eq(quota_pending_take(q, u, NULL, 0), -EAGAIN);
	for (uid_t u = 0; u < 2000; u += 2)
		quota_pending_put(q, u);
	for (uid_t u = 0; u < 2000; u++)
		ck_assert_uint_eq(quota_uid_pending(q, u), u % 2);
	quota_free(q);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { pending_per_uid, handshakes_per_uid, handshakes_per_identity,
				bad_input, many_uids, NULL };

	return tkt_run("quota", "/keyd/quota", NULL, NULL, 0, tests);
}
