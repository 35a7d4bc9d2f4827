/* The main() of every Check unit test: run a suite, report, exit status.
 * Header only (static inline), so the test programs whose local.mk lives
 * elsewhere (policy/, pkcs11/) need no new sources. */
#ifndef TLSKEY_TEST_CHECK_MAIN_H
#define TLSKEY_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* tkt_suite_tcase(NAME, TCASE-NAME): a new suite NAME holding one new,
 * empty test case TCASE-NAME, returned in *ret_tc (Check owns both once
 * the suite is run by tkt_suite_run). */
static inline Suite *tkt_suite_tcase(const char *name, const char *tc_name, TCase **ret_tc)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(tc_name);

	suite_add_tcase(s, tc);
	*ret_tc = tc;
	return s;
}

/* tkt_suite_run(S): run every test of S (forking, CK_NORMAL output), free
 * the runner and the suite, and return the process exit status:
 * EXIT_SUCCESS if none failed, else EXIT_FAILURE. */
static inline int tkt_suite_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
