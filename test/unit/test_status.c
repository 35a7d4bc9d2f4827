/* Unit tests for keyd/stats.c (histogram, quantiles, counters),
 * keyd/status.c (escaping, the three documents, the size bound) and the
 * audit value quoting of keyd/log.c. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "keyd/conf.h"
#include "keyd/keyd.h"
#include "keyd/log.h"
#include "keyd/stats.h"
#include "keyd/status.h"
#include "test/unit/check-main.h"

START_TEST(audit_quote)
{
	char out[64];

	ck_assert_str_eq(keyd_audit_quote("server.example.test", out, sizeof(out)), "server.example.test");
	ck_assert_str_eq(keyd_audit_quote(NULL, out, sizeof(out)), "-");
	ck_assert_str_eq(keyd_audit_quote("", out, sizeof(out)), "-");
	/* A literal "-" would read as "absent": quoted. */
	ck_assert_str_eq(keyd_audit_quote("-", out, sizeof(out)), "\"-\"");
	ck_assert_str_eq(keyd_audit_quote("default deny", out, sizeof(out)), "\"default deny\"");
	ck_assert_str_eq(keyd_audit_quote("a\"b\\c", out, sizeof(out)), "\"a\\\"b\\\\c\"");
	ck_assert_str_eq(keyd_audit_quote("x=1", out, sizeof(out)), "\"x=1\"");
	/* Never a raw control character or a byte a terminal might obey. */
	ck_assert_str_eq(keyd_audit_quote("a\nb\x1b[0m\x7f\xc2\x9b", out, sizeof(out)),
			 "\"a\\x0ab\\x1b[0m\\x7f\\xc2\\x9b\"");
	/* Cut to fit, and says so. */
	{
		char small[12];
		const char *q = keyd_audit_quote("one two three four five", small, sizeof(small));

		ck_assert_uint_lt(strlen(q), sizeof(small));
		ck_assert_ptr_nonnull(strstr(q, "...\""));
	}
}
END_TEST

START_TEST(escape)
{
	char out[64];

	ck_assert_str_eq(status_escape("a\"b\\c\nd", 0, out, sizeof(out)), "a\\\"b\\\\c\\nd");
	ck_assert_str_eq(status_escape("a\tb\x7f", 1, out, sizeof(out)), "a\\u0009b\\u007f");
	ck_assert_str_eq(status_escape("a\tb", 0, out, sizeof(out)), "a?b");
}
END_TEST

START_TEST(histogram)
{
	struct stats *s;
	struct stats_sign_total t;

	ck_assert_int_eq(stats_new(2, 3, &s), 0);
	stats_sign_merge(s, 1, &t);
	ck_assert_int_eq(stats_quantile_us(&t, 0.5), -1);
	/* 98 fast signatures on worker 0, 2 slow ones on worker 1. */
	for (int i = 0; i < 98; i++)
		stats_sign_record(s, 0, 1, 90, 1);
	stats_sign_record(s, 1, 1, 3000, 1);
	stats_sign_record(s, 1, 1, 3000, 0);
	/* Out of range: ignored, not written anywhere. */
	stats_sign_record(s, 2, 1, 1, 1);
	stats_sign_record(s, 0, 3, 1, 1);
	stats_sign_merge(s, 1, &t);
	ck_assert_uint_eq(t.n, 100);
	ck_assert_uint_eq(t.failed, 1);
	ck_assert_uint_eq(t.sum_us, 98 * 90 + 6000);
	ck_assert_int_eq(stats_quantile_us(&t, 0.5), 100);
	ck_assert_int_eq(stats_quantile_us(&t, 0.98), 100);
	ck_assert_int_eq(stats_quantile_us(&t, 0.99), 5000);
	stats_sign_merge(s, 0, &t);
	ck_assert_uint_eq(t.n, 0);
	/* Counters by outcome and cause; causes past the table share a slot. */
	stats_outcome(s, STATS_ACL_DENIED, EACCES, 2);
	stats_outcome(s, STATS_FAILED, 100000, (size_t)-1);
	ck_assert_uint_eq(s->outcome[STATS_ACL_DENIED][EACCES], 1);
	ck_assert_uint_eq(s->denied_id[2], 1);
	ck_assert_uint_eq(s->outcome[STATS_FAILED][STATS_ERRNO_MAX - 1], 1);
	stats_free(s);
	stats_free(NULL);
}
END_TEST

/* A daemon with n identities and no tokens or certificates. */
static void fake_keyd(struct keyd *k, size_t n)
{
	memset(k, 0, sizeof(*k));
	k->conf = calloc(1, sizeof(*k->conf));
	ck_assert_ptr_nonnull(k->conf);
	k->conf->path = strdup("/etc/tlskeyd/tlskeyd.conf");
	k->conf->acl_path = strdup("/etc/tlskeyd/acl \"x\".conf");
	k->conf->ids = calloc(n, sizeof(*k->conf->ids));
	k->conf->n_ids = n;
	for (size_t i = 0; i < n; i++) {
		char name[64];

		(void)snprintf(name, sizeof(name), "id%zu.example.test", i);
		k->conf->ids[i].name = strdup(name);
		k->conf->ids[i].key_uri = strdup("pkcs11:token=t;object=\"k\";type=private");
		k->conf->ids[i].cert_src = strdup("/nonexistent");
	}
	ck_assert_int_eq(stats_new(1, n, &k->stats), 0);
	stats_assign(k->stats, k->conf);
}

static void fake_free(struct keyd *k)
{
	stats_free(k->stats);
	keyd_conf_free(k->conf);
}

START_TEST(documents)
{
	struct keyd k;
	char *doc;
	size_t len;

	fake_keyd(&k, 2);
	stats_sign_record(k.stats, 0, 0, 400, 1);
	stats_outcome(k.stats, STATS_ESTABLISHED, 0, 0);
	stats_outcome(k.stats, STATS_FAILED, ETIMEDOUT, 1);
	stats_key_event(k.stats, 1, ENODEV);
	ck_assert_int_eq(status_render(&k, 0, &doc, &len), -EINVAL);

	ck_assert_int_eq(status_render(&k, TK_FORMAT_TEXT, &doc, &len), 0);
	ck_assert_uint_eq(strlen(doc), len);
	ck_assert_ptr_nonnull(strstr(doc, "identity id1.example.test\n"));
	ck_assert_ptr_nonnull(strstr(doc, "  token present: no\n"));
	ck_assert_ptr_nonnull(strstr(doc, "  failed               1 (ETIMEDOUT 1)\n"));
	free(doc);

	ck_assert_int_eq(status_render(&k, TK_FORMAT_JSON, &doc, &len), 0);
	ck_assert_ptr_nonnull(strstr(doc, "\"acl\":\"/etc/tlskeyd/acl \\\"x\\\".conf\""));
	ck_assert_ptr_nonnull(strstr(doc, "\"key_uri\":\"pkcs11:token=t;object=\\\"k\\\";type=private\""));
	ck_assert_ptr_nonnull(strstr(doc, "\"failed\":{\"total\":1,\"causes\":{\"ETIMEDOUT\":1}}"));
	ck_assert_ptr_nonnull(strstr(doc, "\"token_present\":false"));
	ck_assert_ptr_nonnull(strstr(doc, "\"certificate_expiry\":null"));
	free(doc);

	ck_assert_int_eq(status_render(&k, TK_FORMAT_PROMETHEUS, &doc, &len), 0);
	ck_assert_ptr_nonnull(strstr(doc, "# TYPE tlskeyd_sign_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_sign_duration_seconds_bucket{identity=\"id0.example.test\",le=\"0.00025\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_sign_duration_seconds_bucket{identity=\"id0.example.test\",le=\"0.0005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_sign_duration_seconds_bucket{identity=\"id0.example.test\",le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_handshakes_total{outcome=\"failed\",cause=\"ETIMEDOUT\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_token_present{identity=\"id1.example.test\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(doc, "acl=\"/etc/tlskeyd/acl \\\"x\\\".conf\""));
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_identities_omitted 0\n"));
	free(doc);
	fake_free(&k);
}
END_TEST

/* Many identities: the answer stays under STATUS_MAX and says how many it
 * left out. */
START_TEST(bounded)
{
	struct keyd k;
	char *doc;
	size_t len;

	fake_keyd(&k, 4096);
	ck_assert_int_eq(status_render(&k, TK_FORMAT_PROMETHEUS, &doc, &len), 0);
	ck_assert_uint_le(len, STATUS_MAX);
	ck_assert_ptr_nonnull(strstr(doc, "tlskeyd_identities_omitted "));
	free(doc);
	ck_assert_int_eq(status_render(&k, TK_FORMAT_JSON, &doc, &len), 0);
	ck_assert_uint_le(len, STATUS_MAX);
	free(doc);
	fake_free(&k);
}
END_TEST

/* Counter slots follow identity names across reloads: a name keeps its
 * slot (and counters), a new name gets a fresh one, and past the spare
 * slots a new identity is not counted ((size_t)-1), never another's. */
static struct keyd_conf *named(size_t n, const char *const *names)
{
	struct keyd_conf *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->ids = calloc(n, sizeof(*c->ids));
	ck_assert_ptr_nonnull(c->ids);
	c->n_ids = n;
	for (size_t i = 0; i < n; i++)
		c->ids[i].name = strdup(names[i]);
	return c;
}

START_TEST(slots_by_name)
{
	static const char *const first[] = { "a.test", "b.test" };
	static const char *const second[] = { "c.test", "b.test" };
	struct stats *s = NULL;
	struct keyd_conf *c1 = named(2, first), *c2 = named(2, second), *big;
	const char *many[STATS_SPARE_SLOTS + 1];
	char names[STATS_SPARE_SLOTS + 1][32];
	struct stats_sign_total v;

	ck_assert_int_eq(stats_new(1, 2, &s), 0);
	stats_assign(s, c1);
	ck_assert_uint_eq(c1->ids[0].stats_slot, 0);
	ck_assert_uint_eq(c1->ids[1].stats_slot, 1);
	stats_sign_record(s, 0, c1->ids[1].stats_slot, 300, 1);
	stats_assign(s, c2);
	ck_assert_uint_eq(c2->ids[1].stats_slot, 1); /* b.test kept its slot */
	ck_assert_uint_eq(c2->ids[0].stats_slot, 2); /* c.test: a new one */
	stats_sign_merge(s, c2->ids[1].stats_slot, &v);
	ck_assert_uint_eq(v.n, 1);
	stats_sign_merge(s, c2->ids[0].stats_slot, &v);
	ck_assert_uint_eq(v.n, 0);
	/* Exhaust the spare slots: the last new name is not counted. */
	for (size_t i = 0; i <= STATS_SPARE_SLOTS; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "n%zu.test", i);
		many[i] = names[i];
	}
	big = named(STATS_SPARE_SLOTS + 1, many);
	stats_assign(s, big);
	ck_assert_uint_eq(big->ids[STATS_SPARE_SLOTS - 2].stats_slot, s->n_ids - 1);
	ck_assert_uint_eq(big->ids[STATS_SPARE_SLOTS - 1].stats_slot, (size_t)-1);
	ck_assert_uint_eq(big->ids[STATS_SPARE_SLOTS].stats_slot, (size_t)-1);
	stats_sign_record(s, 0, big->ids[STATS_SPARE_SLOTS].stats_slot, 300, 1); /* ignored */
	keyd_conf_free(c1);
	keyd_conf_free(c2);
	keyd_conf_free(big);
	stats_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("/keyd/status");

	tcase_add_test(tc, audit_quote);
	tcase_add_test(tc, escape);
	tcase_add_test(tc, histogram);
	tcase_add_test(tc, documents);
	tcase_add_test(tc, bounded);
	tcase_add_test(tc, slots_by_name);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tkt_suite_run(s);
}
