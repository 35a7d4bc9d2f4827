/* The protected descriptor (keyd/appsock.c). */
#ifndef TLSKEY_KEYD_APPSOCK_H
#define TLSKEY_KEYD_APPSOCK_H

#include <stdatomic.h>
#include <stddef.h>

#include "keyd/conf.h"

/* Loopback pairs made ahead of time by a worker, in batches through one
 * short-lived listener: 6 system calls a pair instead of 13. */
#define APPSOCK_POOL 8
struct appsock_pool {
	int n;
	int used; /* a pair was taken: worth keeping filled */
	int batch; /* pairs a fill makes, at most APPSOCK_POOL: fewer near the descriptor limit */
	atomic_ullong *ready; /* a daemon-wide count of pairs in pools (STATUS), or NULL */
	int fd[APPSOCK_POOL][2]; /* [0] the daemon's end, [1] the application's */
};

/* Top pool up to pool->batch pairs (at least one; workers call it when
 * the pool they use ran empty, before they wait for events).  Returns 0 if it holds any, else a
 * negative errno. */
int appsock_pool_fill(struct appsock_pool *pool);
/* Close every pair left in pool. */
void appsock_pool_drain(struct appsock_pool *pool);

/* A protected descriptor pair, a TCP one from pool (NULL: made for this
 * call).  ret_sv[0] (non-blocking) stays
 * with the daemon, ret_sv[1] goes to the application, both owned by the
 * caller; *ret_tcp says whether it is a loopback TCP connection (which can
 * carry a reset) or a UNIX pair.  Written only on success; returns 0 or a
 * negative errno, with an explanation for the caller in why: -EAGAIN when
 * no loopback TCP connection can be made and protected-socket-fallback is
 * refuse.  The daemon's end of a TCP pair resets on close until
 * appsock_orderly() is called on it. */
int appsock_pair(struct appsock_pool *pool, const struct keyd_conf *conf, int dtls, int ret_sv[2],
		 int *ret_tcp, char *why, size_t whylen);
/* Make the next close() of a TCP socket send a reset, not a FIN. */
void appsock_reset(int fd);
/* Undo appsock_reset(): the stream ends in order (FIN), close() does not
 * block either. */
void appsock_orderly(int fd);
/* Bytes written to fd that the other end has not received yet. */
size_t appsock_unsent(int fd);

#endif
