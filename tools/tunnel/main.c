/* tlskey-tunnel: the listener, signals and the one epoll loop.
 *
 * One process, one thread, one epoll set for every connection.  The TLS
 * work happens in tlskeyd; this process only accepts, starts handshakes
 * non-blocking (tlskey_starttls + tlskey_finish when the pending
 * descriptor is readable), connects, and copies plaintext.  See
 * doc/tunnel.md for why this and not a process per connection. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "tools/tunnel/tunnel.h"

#define LISTEN_BACKLOG 128
#define EVENTS_PER_WAIT 64
#define ACCEPTS_PER_WAKEUP 32
/* How long --exec children get between SIGTERM and SIGKILL at shutdown. */
#define SHUTDOWN_GRACE_MS 5000u
/* Out of descriptors: pause accepting this long rather than spin. */
#define ACCEPT_PAUSE_MS 1000u

uint64_t tunnel_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tunnel_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "tlskey-tunnel: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write() per line: --exec children share stderr. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

int tunnel_ep_set(struct tunnel *t, struct tunnel_ep *ep, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ep };
	int op;

	if (ep->events == events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (ep->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(t->epfd, op, ep->fd, &ev) < 0)
		return -errno;
	ep->events = events;
	return 0;
}

/* Write the bound TCP port to `path` atomically, for scripts that listen
 * on port 0.  Only ever replaces a regular file (tk_file_replace): the
 * tunnel may run as root, and --port-file /dev/null must not replace the
 * device.  Returns 0 or a negative errno, with the reason in err. */
static int write_port_file(const char *path, int fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64], text[16];
	unsigned port;
	int n;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		(void)snprintf(err, errlen, "getsockname: %s", strerror(errno));
		return -errno;
	}
	if (tunnel_addr_host_port((struct sockaddr *)&ss, len, host, sizeof(host), &port) < 0) {
		(void)snprintf(err, errlen, "unexpected address family");
		return -EAFNOSUPPORT;
	}
	n = snprintf(text, sizeof(text), "%u\n", port);
	return tk_file_replace(path, text, (size_t)n, err, errlen);
}

/* True if nothing listens on the UNIX socket file at ss any more: a
 * connect() to it is refused.  A live listener (even one whose backlog
 * is full: EAGAIN) or a file we may not connect to is not stale. */
static int unix_path_stale(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r, e;

	if (fd < 0)
		return 0;
	r = connect(fd, (const struct sockaddr *)ss, len);
	e = errno;
	(void)close(fd);
	return r < 0 && e == ECONNREFUSED;
}

/* Create the listening socket.  Returns the fd or a negative errno (logged).
 * For a UNIX listener *st gets the socket file just bound (st_ino 0 if it
 * cannot be read back). */
static int listen_open(const struct tunnel_conf *conf, struct stat *bound)
{
	const struct tunnel_addr *a = &conf->listen;
	int fd, one = 1, zero = 0, r;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		tunnel_log("socket for %s: %s", a->text, strerror(-r));
		return r;
	}
	if (a->ss.ss_family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
		struct stat st;

		/* A stale socket from an earlier run goes; one that still has a
		 * listener (another tunnel, another program) stays, and bind()
		 * below then fails with EADDRINUSE; never remove anything else. */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unix_path_stale(&a->ss, a->len))
			(void)unlink(path);
	} else {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* "[::]:P" / "*:P" serve IPv4 too, whatever net.ipv6.bindv6only says. */
		if (a->ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		tunnel_log("cannot listen on %s: %s", a->text, strerror(-r));
		(void)close(fd);
		return r;
	}
	memset(bound, 0, sizeof(*bound));
	if (a->ss.ss_family == AF_UNIX &&
	    lstat(((const struct sockaddr_un *)&a->ss)->sun_path, bound) < 0)
		memset(bound, 0, sizeof(*bound));
	if (conf->port_file[0]) {
		char err[512] = "";

		r = write_port_file(conf->port_file, fd, err, sizeof(err));
		if (r < 0) {
			tunnel_log("cannot write port file %s: %s", conf->port_file, err);
			(void)close(fd);
			return r;
		}
	}
	return fd;
}

static void listen_close(struct tunnel *t)
{
	const struct tunnel_addr *a = &t->conf->listen;

	if (t->listen_ep.fd < 0)
		return;
	(void)tunnel_ep_set(t, &t->listen_ep, 0);
	(void)close(t->listen_ep.fd);
	t->listen_ep.fd = -1;
	if (a->ss.ss_family == AF_UNIX && t->listen_path_ours) {
		const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
		struct stat st;

		/* Only the file this listener bound: the same path spelled
		 * another way by a SIGHUP names the new listener's socket by
		 * now, and another program may have put its own there. */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == t->listen_dev &&
		    st.st_ino == t->listen_ino)
			(void)unlink(path);
	}
	t->listen_path_ours = 0;
}

/* Take fd (from listen_open(), with the socket file it bound) as the
 * listener. */
static void listen_set(struct tunnel *t, int fd, const struct stat *bound)
{
	t->listen_ep.fd = fd;
	t->listen_dev = bound->st_dev;
	t->listen_ino = bound->st_ino;
	t->listen_path_ours = bound->st_ino != 0;
}

/* Accept what is waiting, up to max-conns.  Returns a pause deadline
 * (ms) if accepting must stop for a while (out of descriptors), else 0. */
static uint64_t on_accept(struct tunnel *t)
{
	/* Server mode hands the socket to tlskeyd as it is; client mode
	 * relays it here, non-blocking. */
	int flags = SOCK_CLOEXEC | (t->conf->mode == TUNNEL_MODE_CLIENT ? SOCK_NONBLOCK : 0);

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage remote, local;
		socklen_t rlen = sizeof(remote), llen = sizeof(local);
		int fd;

		if (t->nconns >= t->conf->max_conns) {
			static uint64_t last_warned;
			uint64_t now = tunnel_now_ms();

			/* At most once a minute: under a flood every freed slot
			 * fills again at once. */
			if (!last_warned || now - last_warned >= 60000) {
				tunnel_log("max-conns %u reached: not accepting until a connection ends",
					   t->conf->max_conns);
				last_warned = now;
			}
			(void)tunnel_ep_set(t, &t->listen_ep, 0);
			return 0;
		}
		fd = accept4(t->listen_ep.fd, (struct sockaddr *)&remote, &rlen, flags);
		if (fd < 0) {
			int err = errno; /* the log line's write() may change errno */

			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return 0;
			tunnel_log("accept on %s: %s", t->conf->listen.text, strerror(err));
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				(void)tunnel_ep_set(t, &t->listen_ep, 0);
				return tunnel_now_ms() + ACCEPT_PAUSE_MS;
			}
			return 0;
		}
		if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
			llen = 0;
		/* fd is consumed by tunnel_conn_start(). */
		(void)tunnel_conn_start(t, fd, (struct sockaddr *)&remote, rlen, (struct sockaddr *)&local,
					llen);
	}
	return 0;
}

static void reap_children(struct tunnel *t)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		(void)tunnel_conn_child_exited(t, pid, status);
	}
}

/* Returns 1 when SIGTERM/SIGINT arrived; *reload is set for SIGHUP. */
static int on_signal(struct tunnel *t, int *reload)
{
	struct signalfd_siginfo si;
	int stop = 0;

	for (;;) {
		ssize_t n = read(t->signal_ep.fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			break;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			stop = 1;
			break;
		case SIGCHLD:
			reap_children(t);
			break;
		case SIGHUP:
			*reload = 1;
			break;
		default:
			break;
		}
	}
	return stop;
}

static void describe(const struct tunnel_conf *c, int listen_fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char where[TUNNEL_ADDR_TEXT_MAX];

	/* The bound address, so that port 0 shows the port it got. */
	if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family != AF_UNIX)
		tunnel_addr_format((struct sockaddr *)&ss, len, where, sizeof(where));
	else
		(void)snprintf(where, sizeof(where), "%s", c->listen.text);
	if (c->mode == TUNNEL_MODE_SERVER && c->exec_argv[0])
		tunnel_log("server mode: TLS on %s as %s, exec %s", where, c->myname,
			   c->exec_argv[0]);
	else if (c->mode == TUNNEL_MODE_SERVER)
		tunnel_log("server mode: TLS on %s as %s, backend %s%s", where, c->myname,
			   c->backend.text, c->proxy_v2 ? " with PROXY v2" : "");
	else
		tunnel_log("client mode: plaintext on %s, TLS to %s as %s, sni %s", where,
			   c->connect.text, c->myname, c->sni[0] ? c->sni : "(none)");
	if (tunnel_conf_per_source(c))
		tunnel_log("max-conns %u, at most %u from one source address (IPv6: one /64)", c->max_conns,
			   tunnel_conf_per_source(c));
	else
		tunnel_log("max-conns %u, no cap per source address", c->max_conns);
}

/* Does `a` name a loopback address only (127/8, ::1, ::ffff:127/104)?
 * The wildcard is not: it takes connections from every interface. */
static int addr_is_loopback(const struct tunnel_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(in6) || (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
	}
	return 0;
}

/* Settings that hand what the tunnel vouches for to more than the
 * operator may think: said at every start and reload, since the tunnel
 * cannot tell who else is on the host or the network. */
static void warn_exposure(const struct tunnel_conf *c)
{
	/* The backend cannot tell our connections from anybody else's: on a
	 * TCP port every local user may connect and send a PROXY header of
	 * its own, with any address and identity. */
	if (c->mode == TUNNEL_MODE_SERVER && c->proxy_v2 && c->backend.len &&
	    c->backend.ss.ss_family != AF_UNIX)
		tunnel_log("warning: --proxy-v2 with the TCP backend %s: any local user can connect to it "
			   "directly and forge a PROXY header (address and peer identity); use a UNIX "
			   "backend socket in a directory only the tunnel and the backend can reach",
			   c->backend.text);
	/* Whoever reaches the plaintext listener speaks TLS as myname. */
	if (c->mode == TUNNEL_MODE_CLIENT && c->listen.ss.ss_family != AF_UNIX && !addr_is_loopback(&c->listen))
		tunnel_log("warning: client mode listening on %s, not a loopback address: everyone who can "
			   "connect to it uses the identity %s; listen on a UNIX socket in a directory "
			   "only its clients can reach",
			   c->listen.text, c->myname);
}

static int same_addr(const struct tunnel_addr *a, const struct tunnel_addr *b)
{
	return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len) && !strcmp(a->text, b->text);
}

static void conf_destroy(struct tunnel_conf *c)
{
	tunnel_conf_free(c);
	free(c);
}

/* True if a names, by another spelling (dir/./sock, a symlinked
 * directory), the socket file the current listener bound: the listener
 * is kept as it is, since binding anew would first have to remove the
 * file clients are connecting to. */
static int same_unix_listener(const struct tunnel *t, const struct tunnel_addr *a)
{
	struct stat st;

	if (a->ss.ss_family != AF_UNIX || t->conf->listen.ss.ss_family != AF_UNIX ||
	    t->listen_ep.fd < 0 || !t->listen_path_ours)
		return 0;
	return lstat(((const struct sockaddr_un *)&a->ss)->sun_path, &st) == 0 &&
	       S_ISSOCK(st.st_mode) && st.st_dev == t->listen_dev && st.st_ino == t->listen_ino;
}

/* SIGHUP: parse the same command line again (and with it the --config
 * file) and apply the result, all or nothing.  A new listen address gets
 * its listener before the old one closes, so that no client is refused in
 * between; if it cannot be bound the old configuration stays.  Relaying
 * connections are not touched; connections still in their handshake or
 * connect use the new settings from their next step on (backend, timeouts,
 * sni-allow).  The mode needs a restart. */
static void on_reload(struct tunnel *t)
{
	struct tunnel_conf *fresh = calloc(1, sizeof(*fresh));
	struct tunnel_conf *old = (struct tunnel_conf *)t->conf;
	struct stat bound;
	int fd = -1, r;

	if (!fresh) {
		tunnel_log("SIGHUP: out of memory, keeping the previous configuration");
		return;
	}
	/* Errors are printed by the parser, one per line, above this one. */
	r = tunnel_conf_from_argv(t->argc, t->argv, fresh);
	if (r != 0) {
		tunnel_log("SIGHUP: keeping the previous configuration: the new one is invalid");
		free(fresh);
		return;
	}
	if (fresh->mode != old->mode) {
		tunnel_log("SIGHUP: keeping the previous configuration: mode needs a restart");
		conf_destroy(fresh);
		return;
	}
	if (!same_addr(&fresh->listen, &old->listen) && !same_unix_listener(t, &fresh->listen)) {
		fd = listen_open(fresh, &bound);
		if (fd < 0) {
			tunnel_log("SIGHUP: keeping the previous configuration: cannot listen on %s",
				   fresh->listen.text);
			conf_destroy(fresh);
			return;
		}
		listen_close(t); /* still the old address: its UNIX path goes */
		listen_set(t, fd, &bound);
	}
	t->conf = fresh;
	conf_destroy(old);
	tunnel_conn_reload(t);
	if (t->listen_ep.fd >= 0 && t->nconns < fresh->max_conns &&
	    (r = tunnel_ep_set(t, &t->listen_ep, EPOLLIN)) < 0)
		tunnel_log("epoll_ctl: %s", strerror(-r));
	describe(fresh, t->listen_ep.fd);
	warn_exposure(fresh);
	tunnel_log("SIGHUP: configuration reloaded%s (%u connections kept)",
		   fd >= 0 ? ", new listener" : "", t->nconns);
}

static int run(struct tunnel *t)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	uint64_t grace_end = 0, accept_pause = 0;

	for (;;) {
		uint64_t now = tunnel_now_ms();
		int timeout = tunnel_conn_expire(t, now), n;

		if (t->stopping && t->nconns == 0)
			return 0;
		if (accept_pause) {
			if (accept_pause <= now) {
				accept_pause = 0;
				if (!t->stopping && t->listen_ep.fd >= 0)
					(void)tunnel_ep_set(t, &t->listen_ep, EPOLLIN);
			} else if (timeout < 0 || accept_pause - now < (uint64_t)timeout) {
				timeout = (int)(accept_pause - now);
			}
		}
		if (grace_end) {
			if (grace_end <= now) {
				tunnel_log("shutdown: killing %u remaining --exec children", t->nconns);
				tunnel_conn_kill_children(t);
				grace_end = 0;
			} else if (timeout < 0 || grace_end - now < (uint64_t)timeout) {
				timeout = (int)(grace_end - now);
			}
		}
		tunnel_conn_reap(t);

		n = epoll_wait(t->epfd, events, EVENTS_PER_WAIT, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tunnel_log("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct tunnel_ep *ep = events[i].data.ptr;

			if (ep->kind == TUNNEL_EP_LISTEN) {
				if (t->listen_ep.fd >= 0) {
					uint64_t p = on_accept(t);

					if (p)
						accept_pause = p;
				}
			} else if (ep->kind == TUNNEL_EP_SIGNAL) {
				int reload = 0, stop = on_signal(t, &reload);

				if (reload && !stop && !t->stopping)
					on_reload(t);
				if (stop && !t->stopping) {
					unsigned children;

					t->stopping = 1;
					listen_close(t);
					tunnel_log("SIGTERM: closing %u connections", t->nconns);
					children = tunnel_conn_shutdown_all(t);
					if (children) {
						tunnel_log("waiting up to %u ms for %u --exec children",
							   SHUTDOWN_GRACE_MS, children);
						grace_end = tunnel_now_ms() + SHUTDOWN_GRACE_MS;
					}
				}
			} else {
				tunnel_conn_event(t, ep, events[i].events);
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct tunnel_conf *conf = calloc(1, sizeof(*conf));
	struct tunnel t;
	sigset_t mask;
	int r, rc = TUNNEL_EXIT_RUNTIME;

	if (!conf) {
		tunnel_log("out of memory");
		return TUNNEL_EXIT_RUNTIME;
	}
	r = tunnel_conf_from_argv(argc, argv, conf);
	if (r != 0) {
		free(conf);
		return r == 1 ? TUNNEL_EXIT_OK : TUNNEL_EXIT_USAGE;
	}

	/* Fail fast, before listening: every connection would fail alike. */
	if (tunnel_precheck(conf) < 0) {
		conf_destroy(conf);
		return TUNNEL_EXIT_USAGE;
	}
	memset(&t, 0, sizeof(t));
	t.conf = conf;
	t.argc = argc;
	t.argv = argv;
	t.epfd = -1;
	t.listen_ep.kind = TUNNEL_EP_LISTEN;
	t.listen_ep.fd = -1;
	t.signal_ep.kind = TUNNEL_EP_SIGNAL;
	t.signal_ep.fd = -1;
	tunnel_sources_init(&t.sources);

	/* Writes to a closed peer must fail with EPIPE, not kill us. */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		tunnel_log("sigprocmask: %s", strerror(errno));
		goto out;
	}
	t.signal_ep.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	t.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t.signal_ep.fd < 0 || t.epfd < 0) {
		tunnel_log("signalfd/epoll: %s", strerror(errno));
		goto out;
	}
	{
		struct stat bound;
		int fd = listen_open(conf, &bound);

		if (fd < 0)
			goto out;
		listen_set(&t, fd, &bound);
	}
	if ((r = tunnel_ep_set(&t, &t.signal_ep, EPOLLIN)) < 0 ||
	    (r = tunnel_ep_set(&t, &t.listen_ep, EPOLLIN)) < 0) {
		tunnel_log("epoll_ctl: %s", strerror(-r));
		goto out;
	}
	describe(conf, t.listen_ep.fd);
	warn_exposure(conf);
	if (run(&t) == 0) {
		tunnel_log("stopped");
		rc = TUNNEL_EXIT_OK;
	}
out:
	tunnel_conn_reap(&t);
	tunnel_sources_free(&t.sources);
	listen_close(&t);
	if (t.signal_ep.fd >= 0)
		(void)close(t.signal_ep.fd);
	if (t.epfd >= 0)
		(void)close(t.epfd);
	conf_destroy((struct tunnel_conf *)t.conf);
	return rc;
}
