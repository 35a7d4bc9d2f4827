/* Unit tests for keyd/prio.c: every priority the daemon builds, default,
 * administrator's or one that asks for +RSA, leaves out RSA key exchange
 * (the cipher suites of the built cache are checked one by one, so this
 * fails when the removal is not appended); +RSA is recognised as an item
 * of its own; a bad string is refused and *ret_prio left alone. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <gnutls/gnutls.h>

#include "keyd/prio.h"
#include "test/unit/check-main.h"

/* Count the suites of P by key exchange: RSA/RSA-PSK and ECDHE-RSA. */
static void count_kx(gnutls_priority_t p, unsigned *ret_rsa, unsigned *ret_ecdhe_rsa)
{
	unsigned rsa = 0, ecdhe_rsa = 0, sidx;

	for (unsigned i = 0;; i++) {
		gnutls_kx_algorithm_t kx;
		int r = gnutls_priority_get_cipher_suite_index(p, i, &sidx);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			continue;
		ck_assert_ptr_nonnull(gnutls_cipher_suite_info(sidx, NULL, &kx, NULL, NULL, NULL));
		if (kx == GNUTLS_KX_RSA || kx == GNUTLS_KX_RSA_PSK)
			rsa++;
		if (kx == GNUTLS_KX_ECDHE_RSA)
			ecdhe_rsa++;
	}
	*ret_rsa = rsa;
	*ret_ecdhe_rsa = ecdhe_rsa;
}

static void check_no_rsa_kx(const char *admin)
{
	gnutls_priority_t p = NULL;
	unsigned rsa, ecdhe_rsa;

	ck_assert_int_eq(keyd_prio_init(admin, &p), 0);
	ck_assert_ptr_nonnull(p);
	count_kx(p, &rsa, &ecdhe_rsa);
	ck_assert_uint_eq(rsa, 0);
	ck_assert_uint_gt(ecdhe_rsa, 0);
	gnutls_priority_deinit(p);
}

START_TEST(no_rsa_kx_default)
{
	check_no_rsa_kx(NULL);
	check_no_rsa_kx("");
	check_no_rsa_kx("NORMAL");
	check_no_rsa_kx("NORMAL:");
}
END_TEST

START_TEST(no_rsa_kx_when_asked)
{
	check_no_rsa_kx("NORMAL:+RSA");
	check_no_rsa_kx("NONE:+VERS-TLS1.2:+AES-128-CBC:+SHA1:+RSA:+ECDHE-RSA:+SIGN-ALL:+GROUP-ALL:+COMP-NULL");
	check_no_rsa_kx("NORMAL:+RSA-PSK:+RSA");
}
END_TEST

START_TEST(asks_rsa_kx)
{
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL:+RSA"), 1);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("normal:+rsa"), 1);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("RSA"), 1);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL:+RSA-PSK:%COMPAT"), 1);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL"), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL:-RSA"), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL:+ECDHE-RSA:+DHE-RSA"), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL:+SIGN-RSA-SHA256:+RSAX"), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx("NORMAL::"), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx(""), 0);
	ck_assert_int_eq(keyd_prio_asks_rsa_kx(NULL), 0);
}
END_TEST

START_TEST(bad_string_refused)
{
	gnutls_priority_t p = (gnutls_priority_t)(void *)&p;

	ck_assert_int_eq(keyd_prio_init("NORMAL:+NO-SUCH-THING", &p), -EINVAL);
	ck_assert_ptr_eq(p, (gnutls_priority_t)(void *)&p);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s = tkt_suite_tcase("prio", "/keyd/prio", &tc);

	tcase_add_test(tc, no_rsa_kx_default);
	tcase_add_test(tc, no_rsa_kx_when_asked);
	tcase_add_test(tc, asks_rsa_kx);
	tcase_add_test(tc, bad_string_refused);
	return tkt_suite_run(s);
}
