/* This process's descriptors against its open file limit (keyd/fdcount.c):
 * admission calibrates its estimate with them, and a token operation that
 * failed is checked against them before it is taken for a token failure. */
#ifndef TLSKEY_KEYD_FDCOUNT_H
#define TLSKEY_KEYD_FDCOUNT_H

/* Descriptors open in this process (from /proc/self/fd, not counting the
 * one used to read it): >= 0, or -errno (EMFILE: not even that one could
 * be opened). */
int fds_open(void);

/* The soft RLIMIT_NOFILE; ~0ULL when there is none. */
unsigned long long fds_limit(void);

/* Descriptors left within the margin of the limit: what a PKCS#11 module
 * needs for a signature or a login (SoftHSM opens and locks two token
 * files) may have been missing.  The margin is FDS_SHORT_MARGIN plus
 * FDS_SHORT_PER_WORKER for each worker: the count is taken after the
 * failure, and by then the other workers may have closed the files their
 * own signatures held when this one's open failed. */
#define FDS_SHORT_MARGIN 4
#define FDS_SHORT_PER_WORKER 2

/* A key that fails this many signatures in a row, each while short of
 * descriptors, is taken for failed at the next one all the same: a
 * shortage that lasts cannot hide a token that died meanwhile. */
#define FDS_SHORT_RUN_MAX 3

/* Set the number of workers the margin allows for (at start; 0 until). */
void fds_short_set_workers(unsigned n_workers);

/* The margin now in force: FDS_SHORT_MARGIN + FDS_SHORT_PER_WORKER * workers. */
unsigned fds_short_margin(void);

/* 1 if this process is within fds_short_margin() descriptors of its limit
 * right now, or cannot open /proc/self/fd for want of a descriptor; 0 if
 * not (or if it cannot tell).  *used and *limit get what was seen (*used
 * is the limit when the directory could not be opened). */
int fds_short(unsigned long long *used, unsigned long long *limit);

#endif
