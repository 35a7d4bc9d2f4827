/* libtlskey: talking to the daemon (its socket, bounded waits) and the
 * per-thread error text, shared by the calls of starttls.c and session.c. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/daemonpeer.h"
#include "common/util.h"
#include "common/wire.h"
#include "lib/client.h"
#include "tlskey/starttls.h"

#define TLSKEYD_DEFAULT_SOCKET "/run/tlskeyd/tlskeyd.sock"
/* How long we wait for the daemon when nobody says (TLSKEYD_TIMEOUT, in
 * milliseconds, overrides; 0 waits forever): the daemon's default
 * handshake-timeout (30 s, doc/config.md) plus a margin for the queue and
 * the answer.  The library cannot know a daemon's configured timer; a
 * per-request handshake_timeout_ms replaces the 30 s. */
#define DAEMON_HANDSHAKE_DEFAULT_MS 30000
#define WAIT_MARGIN_MS 5000
#define WAIT_MAX_MS (24u * 3600 * 1000)

static __thread char last_error[TK_MESSAGE_MAX + 1];

void lib_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *tlskey_last_error(void)
{
	return last_error;
}

void lib_error_clear(void)
{
	last_error[0] = '\0';
}

/* The bound on one wait for the daemon, in ms (0: none), for a request
 * whose handshake timer is hs_ms (0: the daemon's default). */
unsigned lib_wait_budget_ms(unsigned hs_ms)
{
	const char *v = secure_getenv("TLSKEYD_TIMEOUT");

	if (v && *v) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (!errno && *end == '\0' && v[0] >= '0' && v[0] <= '9' && n <= WAIT_MAX_MS)
			return (unsigned)n;
		/* A malformed value must not mean "forever". */
	}
	return (hs_ms ? (hs_ms > WAIT_MAX_MS ? WAIT_MAX_MS : hs_ms) : DAEMON_HANDSHAKE_DEFAULT_MS) +
	       WAIT_MARGIN_MS;
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms, 0: none) for poll():
 * -1 for no deadline, 0 when it passed. */
int lib_wait_left(unsigned long long deadline)
{
	unsigned long long now;

	if (!deadline)
		return -1;
	now = tk_now_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

unsigned long long lib_wait_deadline(unsigned budget)
{
	return budget ? tk_now_ms() + budget : 0;
}

/* Wait until sock is readable or the deadline passes.  0, -ETIMEDOUT
 * (last_error says so) or another negative errno. */
int lib_wait_readable(int sock, unsigned long long deadline, unsigned budget)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	for (;;) {
		int n = poll(&p, 1, lib_wait_left(deadline));

		if (n > 0)
			return 0;
		if (n == 0) {
			lib_set_error("tlskeyd did not answer within %u ms (TLSKEYD_TIMEOUT sets the bound, "
				  "in milliseconds)", budget);
			return -ETIMEDOUT;
		}
		if (errno != EINTR) {
			int r = -errno;
			lib_set_error("waiting for tlskeyd: %s", strerror(-r));
			return r;
		}
	}
}

const char *lib_daemon_path(void)
{
	const char *path = secure_getenv("TLSKEYD_SOCKET");

	return path && *path ? path : TLSKEYD_DEFAULT_SOCKET;
}

int lib_daemon_connect(int *ret_sock, unsigned budget)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = lib_daemon_path();
	unsigned long long deadline;
	int s;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		lib_set_error("daemon socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		int r = -errno;
		lib_set_error("socket: %s", strerror(-r));
		return r;
	}
	deadline = lib_wait_deadline(budget);
	for (;;) {
		int left = lib_wait_left(deadline);

		if (budget) {
			/* Bounds connect() on a full backlog and the sends of our
			 * request (the answer is bounded by lib_wait_readable()):
			 * what is left of the budget, since a signal interrupts
			 * the wait (SO_SNDTIMEO makes it EINTR even under
			 * SA_RESTART) and it starts again. */
			struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };

			if (left <= 0) {
				errno = EAGAIN;
				break;
			}
			(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			char why[TK_MESSAGE_MAX];
			int r = tk_daemon_peer_check(s, path, why, sizeof(why));

			if (r < 0) {
				lib_set_error("%s", why);
				(void)tk_close(s);
				return r;
			}
			*ret_sock = s;
			return 0;
		}
		if (errno != EINTR)
			break;
	}
	{
		int r = -errno;
		if (r == -EAGAIN && budget) {
			lib_set_error("tlskeyd at %s did not accept within %u ms (TLSKEYD_TIMEOUT)", path, budget);
			r = -ETIMEDOUT;
		} else {
			lib_set_error("cannot reach tlskeyd at %s: %s", path, strerror(-r));
		}
		(void)tk_close(s);
		return r;
	}
}

