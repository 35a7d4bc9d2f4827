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

/* Descriptors left within FDS_SHORT_MARGIN of the limit: what a PKCS#11
 * module needs for a signature or a login (SoftHSM opens and locks two
 * token files) may have been missing. */
#define FDS_SHORT_MARGIN 4

/* 1 if this process is within FDS_SHORT_MARGIN descriptors of its limit
 * right now, or cannot open /proc/self/fd for want of a descriptor; 0 if
 * not (or if it cannot tell).  *used and *limit get what was seen (*used
 * is the limit when the directory could not be opened). */
int fds_short(unsigned long long *used, unsigned long long *limit);

#endif
