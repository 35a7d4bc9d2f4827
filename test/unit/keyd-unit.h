/* Helpers shared by the Check unit tests of keyd/. */
#ifndef TLSKEY_TEST_UNIT_KEYD_UNIT_H
#define TLSKEY_TEST_UNIT_KEYD_UNIT_H

#include <check.h>
#include "check-main.h"
#include <dirent.h>

/* Descriptors open in this process now: a test that counts them before
 * and after proves that the code under test closed what it owned. */
static inline unsigned unit_open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	(void)closedir(d);
	return n; /* the same bias (the directory's own descriptor) each time */
}

#endif
