/* Counting descriptors: see keyd/fdcount.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "keyd/fdcount.h"

static atomic_uint short_workers;

void fds_short_set_workers(unsigned n_workers)
{
	short_workers = n_workers;
}

unsigned fds_short_margin(void)
{
	return FDS_SHORT_MARGIN + FDS_SHORT_PER_WORKER * short_workers;
}

int fds_open(void)
{
	int n = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	(void)closedir(dir);
	return n ? n - 1 : 0; /* not the directory's own descriptor */
}

unsigned long long fds_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return ~0ULL;
	return rl.rlim_cur;
}

int fds_short(unsigned long long *used, unsigned long long *limit)
{
	int n = fds_open();

	*limit = fds_limit();
	if (n == -EMFILE || n == -ENFILE) {
		*used = *limit;
		return 1;
	}
	if (n < 0 || *limit == ~0ULL) {
		*used = n < 0 ? 0 : (unsigned long long)n;
		return 0;
	}
	*used = (unsigned long long)n;
	return *used + fds_short_margin() >= *limit;
}
