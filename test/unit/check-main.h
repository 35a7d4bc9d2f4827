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

/* tkt_run(NAME, TCASE-NAME, SETUP, TEARDOWN, TIMEOUT, TESTS): the whole
 * main() of a test program with one test case: run the NULL-terminated
 * TESTS (START_TEST names) in a suite NAME, each between SETUP and
 * TEARDOWN (a checked fixture; either may be NULL), with TIMEOUT seconds
 * each (0: Check's default); returns the exit status. */
static inline int tkt_run(const char *name, const char *tc_name, void (*setup)(void),
			  void (*teardown)(void), int timeout, const TTest *const *tests)
{
	TCase *tc;
	Suite *s = tkt_suite_tcase(name, tc_name, &tc);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout > 0)
		tcase_set_timeout(tc, timeout);
	for (; *tests; tests++)
		tcase_add_test(tc, *tests);
	return tkt_suite_run(s);
}

#endif
