/* The listening socket of the accept thread: see listener.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/listener.h"
#include "keyd/log.h"

/* Is the socket at sa's path left over from a daemon that is gone?  0 if
 * so (nobody listens: ECONNREFUSED); -EADDRINUSE if a live daemon accepts
 * connections there, which we must not orphan by replacing its socket;
 * another negative errno if we cannot tell (then we leave it alone too). */
static int socket_stale(const struct sockaddr_un *sa)
{
	int fd, r;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a live daemon with a full backlog gives EAGAIN, which
	 * also means it is there. */
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN) {
		keyd_log(LOG_ERR, "another tlskeyd is listening on %s: not starting", sa->sun_path);
		r = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		keyd_log(LOG_INFO, "replacing the stale socket %s", sa->sun_path);
		r = 0;
	} else {
		r = -errno;
		keyd_log(LOG_ERR, "cannot tell whether %s is in use (%s): not starting", sa->sun_path,
			 strerror(-r));
	}
	(void)tk_close(fd);
	return r;
}

/* At exit: remove our socket, but only if the path still names the one we
 * bound (a second daemon may have replaced a socket it found stale).  The
 * descriptor is left to the process's exit: a close here would release
 * what connections not yet accepted carry (descriptors a caller passed,
 * one with SO_LINGER set can make that close wait for an hour), and
 * closes at exit never linger. */
void listener_close(struct loop *l)
{
	struct stat st;

	if (l->own_socket && l->socket_path && lstat(l->socket_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->sock_dev && st.st_ino == l->sock_ino)
		(void)unlink(l->socket_path);
	l->listen_fd = -1;
}

int listener_open(struct loop *l, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int n = sd_listen_fds(1), fd;

	if (n > 1) {
		keyd_log(LOG_ERR, "expected one socket from systemd, got %d", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
			keyd_log(LOG_ERR, "the socket passed by systemd is not a listening SOCK_SEQPACKET UNIX socket");
			return -EINVAL;
		}
		/* systemd passes blocking sockets (NonBlocking=no), and
		 * accept_clients() drains the backlog until EAGAIN. */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			int r = -errno;
			keyd_log(LOG_ERR, "cannot make the passed socket non-blocking: %s", strerror(-r));
			return r;
		}
		l->listen_fd = fd;
		l->activated = 1;
		keyd_log(LOG_INFO, "using the socket passed by systemd");
		return 0;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		keyd_log(LOG_ERR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Standalone runs create the socket's directory (systemd's socket
	 * unit does it otherwise): world-traversable, like /run/tlskeyd. */
	{
		char dir[sizeof(sa.sun_path)];
		char *slash;

		char why[512];
		struct stat dst;

		memcpy(dir, path, strlen(path) + 1);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) == 0)
				(void)chmod(dir, 0755); /* despite our umask */
		} else {
			/* "/x.sock" lies in "/", "x.sock" in the working
			 * directory (-s with a relative path). */
			(void)snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
		}
		/* One that was there may be anybody's: whoever may write it
		 * could put another socket in our place (clients refuse a
		 * listener of another uid, but would find no daemon). */
		if (stat(dir, &dst) < 0) {
			int r = -errno;

			keyd_log(LOG_ERR, "socket directory %s: %s", dir, strerror(-r));
			return r;
		}
		if (tk_file_trusted(dir, &dst, why, sizeof(why)) < 0) {
			keyd_log(LOG_ERR, "refusing the socket directory %s: %s (whoever may write it could put "
				 "another socket in the daemon's place)", dir, why);
			return -EPERM;
		}
	}
	/* A socket at the path is either a live daemon's or left over. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int r = socket_stale(&sa);

		if (r < 0)
			return r;
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    /* Anyone may connect: the ACL, checked per request, is the gate. */
	    chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0 || lstat(path, &st) < 0) {
		int r = -errno;
		keyd_log(LOG_ERR, "cannot listen on %s: %s", path, strerror(-r));
		(void)tk_close(fd);
		return r;
	}
	l->listen_fd = fd;
	l->own_socket = 1;
	l->sock_dev = st.st_dev;
	l->sock_ino = st.st_ino;
	keyd_log(LOG_INFO, "listening on %s", path);
	return 0;
}

/* Handed over: the old process's socket path is ours (if still there). */
void listener_took_over(struct loop *l)
{
	struct stat st;

	if (!l->up_own)
		return;
	if (lstat(l->socket_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		keyd_log(LOG_WARNING, "upgrade: %s is no socket any more: it stays as it is", l->socket_path);
		return;
	}
	l->own_socket = l->up.own_socket = 1;
	l->sock_dev = st.st_dev;
	l->sock_ino = st.st_ino;
}
