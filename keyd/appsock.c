/* The application's side of a session: the protected descriptor.
 *
 * For TLS it is one end of a loopback TCP connection by default, because
 * only TCP can tell the application that a stream broke: when the peer
 * truncates the stream (no close_notify) or resets it, the daemon closes
 * its end with a reset and the application's read() fails with
 * ECONNRESET after the data that did arrive.  The same holds when the
 * daemon itself dies: its end lingers {1, 0} while the session is live,
 * so the kernel resets it (cleared only for the orderly end, see
 * appsock_orderly).  A UNIX socket pair can only end in a clean EOF, so it
 * is used for DTLS (datagrams, which have no truncation), when configured
 * (protected-socket = unix), and, only if protected-socket-fallback = unix
 * says so, when a loopback connection cannot be made; otherwise that start
 * fails with EAGAIN rather than silently losing truncation detection.
 *
 * Loopback connections are made in batches (a worker's pool, filled
 * before it waits for events), through a listener that lives only for
 * the batch, bound to a random address in 127.0.0.0/8 (ports in TIME_WAIT
 * on one address never exhaust another), and each accepted connection
 * must come from our own connecting socket: a stranger who guesses the
 * port in that window is turned away. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "common/util.h"
#include "keyd/appsock.h"
#include "keyd/log.h"

/* How long a loopback connect or accept may take before we give up. */
#define LOOPBACK_WAIT_MS 200
/* Strangers' connections turned away before giving up on one listener. */
#define MAX_STRANGERS 4

static int wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, LOOPBACK_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? -errno : 0;
}

/* Any address of 127/8 but the network and broadcast ones.  Nothing
 * relies on it being unpredictable (our own connection is recognised by
 * its address), so a per-thread xorshift seeded once is enough. */
static void random_loopback(struct sockaddr_in *a)
{
	static _Thread_local uint64_t x;
	uint32_t host;

	if (!x && (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x) || !x))
		x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)tk_now_ms();
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	host = (uint32_t)(x >> 40) & 0xffffffu;
	if ((host & 0xff) == 0 || (host & 0xff) == 255)
		host = (host & 0xffff00u) | 1u;
	a->sin_addr.s_addr = htonl(0x7f000000u | host);
}

static int same_addr(const struct sockaddr_in *x, const struct sockaddr_in *y)
{
	return x->sin_family == y->sin_family && x->sin_port == y->sin_port &&
	       x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* Our connection from listener ls, sent from the address `from`; the
 * accepted socket blocks, like the socket the application handed us (it
 * is the application's end).  It inherits TCP_NODELAY from ls. */
static int accept_own(int ls, const struct sockaddr_in *from)
{
	int waits = 0;

	for (int i = 0; i <= MAX_STRANGERS; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int s = accept4(ls, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = ++waits > 3 ? -ETIMEDOUT : wait_for(ls, POLLIN);
			if (r < 0)
				return r;
			i--; /* waiting is not a stranger */
			continue;
		}
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		if (len == sizeof(peer) && same_addr(&peer, from))
			return s;
		keyd_log(LOG_WARNING, "loopback connection for a protected descriptor came from a "
			 "stranger (port %u); turned away", (unsigned)ntohs(peer.sin_port));
		appsock_reset(s);
		(void)tk_close(s);
	}
	return -EADDRINUSE;
}

/* A listener for one batch of pairs, on a random address of 127/8, with
 * TCP_NODELAY for the connections it hands out.  Returns it or -errno. */
static int batch_listener(struct sockaddr_in *ret_addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int ls, one = 1, r;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ls < 0)
		return -errno;
	(void)setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	random_loopback(&a);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0) {
		/* Not all of 127/8 may be local here (a namespace, a jail). */
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = 0;
		if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
	}
	if (listen(ls, APPSOCK_POOL) < 0 || getsockname(ls, (struct sockaddr *)&a, &len) < 0)
		goto fail;
	*ret_addr = a;
	return ls;
fail:
	r = -errno;
	(void)tk_close(ls);
	return r;
}

/* One loopback connection through listener ls at a: sv[0] the daemon's
 * end (non-blocking, connecting), sv[1] the application's (accepted). */
static int tcp_pair(int ls, const struct sockaddr_in *a, int sv[2])
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	int cs, as, r, one = 1;

	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cs < 0)
		return -errno;
	/* On loopback the handshake is usually done when connect() returns
	 * EINPROGRESS; either way, once the listener hands out a connection
	 * from our address, ours is established too. */
	if ((connect(cs, (const struct sockaddr *)a, sizeof(*a)) < 0 && errno != EINPROGRESS) ||
	    getsockname(cs, (struct sockaddr *)&from, &len) < 0) {
		r = -errno;
		(void)tk_close(cs);
		return r;
	}
	as = accept_own(ls, &from);
	if (as < 0) {
		(void)tk_close(cs);
		return as;
	}
	/* Each write is meant for the peer now: no Nagle delay on loopback
	 * (the accepted end has it from the listener). */
	(void)setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Until the orderly end, any close of ours -- a daemon killed or
	 * crashed included -- resets: the app reads ECONNRESET, not EOF. */
	appsock_reset(cs);
	sv[0] = cs;
	sv[1] = as;
	return 0;
}

int appsock_pool_fill(struct appsock_pool *p)
{
	struct sockaddr_in a;
	int ls, r = 0, want = p->batch < 1 ? 1 : p->batch > APPSOCK_POOL ? APPSOCK_POOL : p->batch;

	if (p->n >= want)
		return 0;
	ls = batch_listener(&a);
	if (ls < 0)
		return ls;
	while (p->n < want) {
		r = tcp_pair(ls, &a, p->fd[p->n]);
		if (r < 0)
			break;
		p->n++;
		if (p->ready)
			(void)atomic_fetch_add(p->ready, 1);
	}
	(void)tk_close(ls);
	return p->n ? 0 : r;
}

void appsock_pool_drain(struct appsock_pool *p)
{
	while (p->n > 0) {
		p->n--;
		if (p->ready)
			(void)atomic_fetch_sub(p->ready, 1);
		(void)tk_close(p->fd[p->n][0]);
		(void)tk_close(p->fd[p->n][1]);
	}
}

/* A loopback pair: from the pool, filled first if empty (one listener
 * for the batch), or made alone where there is no pool. */
static int loopback_pair(struct appsock_pool *pool, int sv[2])
{
	struct appsock_pool one = { .n = 0 };
	struct appsock_pool *p = pool ? pool : &one;
	int r = p->n ? 0 : appsock_pool_fill(p);

	if (r < 0)
		return r;
	p->used = 1;
	p->n--;
	if (p->ready)
		(void)atomic_fetch_sub(p->ready, 1);
	sv[0] = p->fd[p->n][0];
	sv[1] = p->fd[p->n][1];
	if (!pool)
		appsock_pool_drain(&one); /* the rest of a batch made for one */
	return 0;
}

int appsock_pair(struct appsock_pool *pool, const struct keyd_conf *conf, int dtls, int ret_sv[2],
		 int *ret_tcp, char *why, size_t whylen)
{
	static atomic_ullong warned_ms;
	int sv[2], r;

	if (!dtls && !conf->protected_unix) {
		r = loopback_pair(pool, sv);
		if (r == 0) {
			ret_sv[0] = sv[0];
			ret_sv[1] = sv[1];
			*ret_tcp = 1;
			return 0;
		}
		/* Once a minute at most: this can happen per session (a local
		 * user holding the ephemeral ports can make it happen). */
		unsigned long long now = tk_now_ms(), last = atomic_load(&warned_ms);
		int say = (!last || now - last >= 60000) &&
			  atomic_compare_exchange_strong(&warned_ms, &last, now);
		if (!conf->fallback_unix) {
			(void)snprintf(why, whylen, "cannot make a loopback TCP protected descriptor: %s, "
				       "refusing; set protected-socket-fallback = unix to accept UNIX "
				       "pairs that cannot report truncation", strerror(-r));
			if (say)
				keyd_log(LOG_WARNING, "%s", why);
			return -EAGAIN;
		}
		if (say)
			keyd_log(LOG_WARNING, "cannot make a loopback TCP connection (%s): protected "
				 "descriptors are UNIX sockets for now, which end a truncated stream "
				 "with EOF instead of ECONNRESET (protected-socket-fallback = unix; "
				 "the start result and tlskey_query() say so)", strerror(-r));
	}
	if (socketpair(AF_UNIX, (dtls ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		(void)snprintf(why, whylen, "%s", strerror(-r));
		return r;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		(void)tk_close(sv[0]);
		(void)tk_close(sv[1]);
		(void)snprintf(why, whylen, "%s", strerror(-r));
		return r;
	}
	ret_sv[0] = sv[0];
	ret_sv[1] = sv[1];
	*ret_tcp = 0;
	return 0;
}

void appsock_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void appsock_orderly(int fd)
{
	struct linger lg = { .l_onoff = 0, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

size_t appsock_unsent(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
		return 0;
	return (size_t)n;
}
