/* Who listens at the daemon's socket: a client (the library, tlskeyctl,
 * tlskey-tunnel) hands it sockets, PINs never but plaintext always, and
 * believes the peer identities it answers.  A socket at a path someone
 * else could write (a stale one, TLSKEYD_SOCKET into a shared directory)
 * must not get them: the listener's uid, which the kernel recorded at its
 * listen() (SO_PEERCRED), must be root's (systemd's socket unit, a daemon
 * run by root), the daemon account's, this process's own, or the one
 * TLSKEYD_SOCKET_USER names. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/daemonpeer.h"

/* The uid of user name (or a number), or -1. */
static long long uid_of(const char *name)
{
	struct passwd pw, *res = NULL;
	char *buf, *end;
	long long uid = -1;
	unsigned long long n;
	size_t cap = 16384;

	if (!name || !*name)
		return -1;
	errno = 0;
	n = strtoull(name, &end, 10);
	if (!*end && errno == 0 && name[0] >= '0' && name[0] <= '9')
		return n <= 0xfffffffeull ? (long long)n : -1;
	buf = malloc(cap);
	if (!buf)
		return -1;
	if (getpwnam_r(name, &pw, buf, cap, &res) == 0 && res)
		uid = (long long)res->pw_uid;
	free(buf);
	return uid;
}

int tk_daemon_peer_check(int fd, const char *path, char *why, size_t len)
{
	struct ucred cr;
	socklen_t n = sizeof(cr);
	const char *extra = secure_getenv("TLSKEYD_SOCKET_USER");

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) < 0 || n != sizeof(cr)) {
		int e = n != sizeof(cr) ? EINVAL : errno;

		(void)snprintf(why, len, "cannot tell who listens at %s: SO_PEERCRED: %s", path, strerror(e));
		return -e;
	}
	if (cr.uid == 0 || cr.uid == geteuid() || (long long)cr.uid == uid_of(TK_DAEMON_USER) ||
	    (extra && *extra && (long long)cr.uid == uid_of(extra)))
		return 0;
	if (extra && *extra)
		(void)snprintf(why, len, "the socket at %s is not tlskeyd's: its listener runs as uid %u, "
			       "not as root, user %s, this process's uid or TLSKEYD_SOCKET_USER=%s",
			       path, (unsigned)cr.uid, TK_DAEMON_USER, extra);
	else
		(void)snprintf(why, len, "the socket at %s is not tlskeyd's: its listener runs as uid %u, "
			       "not as root, user %s or this process's uid (TLSKEYD_SOCKET_USER names "
			       "another account to accept)", path, (unsigned)cr.uid, TK_DAEMON_USER);
	return -EPERM;
}
