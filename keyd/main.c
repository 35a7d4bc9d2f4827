/* tlskeyd: the accept loop.  Admits requests (credentials, wire format,
 * ACL) on the main thread and hands admitted ones to worker threads, at
 * most max-handshakes at a time; the rest wait in a bounded FIFO. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#include "common/util.h"
#include "keyd/aclstore.h"
#include "keyd/control.h"
#include "keyd/worker.h"
#include "keyd/log.h"
#include "keyd/p11reset.h"
#include "keyd/quota.h"
#include "pkcs11/p11.h"

#define DEFAULT_CONF SYSCONFDIR "/tlskeyd/tlskeyd.conf"
#define DEFAULT_SOCKET "/run/tlskeyd/tlskeyd.sock"
/* Descriptors kept free for transient use: on the accept thread the
 * caller's pidfd, /proc files and the descriptor being received; on each
 * worker the one-shot listener of a loopback pair and the files a PKCS#11
 * module opens while it signs (SoftHSM: two at a time). */
#define FD_RESERVE_BASE 8
#define FD_RESERVE_PER_WORKER 3

enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_DONE };

/* A control connection that has not sent its request yet. */
struct client {
	struct client *prev, *next;
	int fd;
	int watched; /* registered with epoll: its request had not arrived */
	int counted; /* holds one of its uid's max-pending-per-uid slots */
	unsigned long long deadline_ms;
	struct caller who;
};

/* An admitted request waiting for a handshake slot. */
struct pending {
	struct pending *next;
	struct keyd_request req;
	int netfd, ctlfd;
	int counted; /* holds a max-pending-per-uid slot, as struct client */
};

struct loop {
	struct keyd *k;
	int epfd, listen_fd, sig_fd;
	int own_socket; /* we bound it, so we unlink it (if still ours) */
	dev_t sock_dev; /* the inode we bound, see close_listener() */
	ino_t sock_ino;
	const char *socket_path;
	struct client *clients;
	size_t n_clients;
	struct pending *head, *tail;
	size_t n_pending;
	unsigned next_worker;
	int stop;
	int activated; /* socket passed by systemd */
	unsigned long long watchdog_ms, next_watchdog_ms, next_tick_ms, idle_since_ms;
	int listen_paused; /* out of descriptors: not accepting for now */
	unsigned fd_base; /* descriptors open besides clients and sessions */
	unsigned long long fd_max; /* RLIMIT_NOFILE, read again every tick */
	unsigned long long fd_warned_ms;
};

static int tags[4] = { 0, TAG_LISTEN, TAG_SIGNAL, TAG_DONE };

static void client_drop(struct loop *l, struct client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_clients--;
	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->counted)
		quota_pending_put(l->k->quota, c->who.cred.uid);
	(void)tk_close(c->fd);
	caller_done(&c->who);
	free(c);
}

/* Turn away a client that has not been admitted: see control_refuse(). */
static void client_refuse(struct loop *l, struct client *c, int err, const char *why)
{
	int fd = c->fd;

	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	c->watched = 0;
	c->fd = -1;
	control_refuse(fd, &c->who.cred, c->who.unit[0] ? c->who.unit : NULL, err, why);
	client_drop(l, c);
}

static void pending_unlink(struct loop *l, struct pending *prev, struct pending *p)
{
	if (prev)
		prev->next = p->next;
	else
		l->head = p->next;
	if (l->tail == p)
		l->tail = prev;
	p->next = NULL;
	l->n_pending--;
	if (p->counted)
		quota_pending_put(l->k->quota, p->req.cred.uid);
	p->counted = 0;
}

static void dispatch_pending(struct loop *l)
{
	struct keyd *k = l->k;

	/* Announce first, then look: a slot freed in between still wakes us. */
	atomic_store(&k->queued, l->head != NULL);
	if (atomic_load(&k->resetting))
		return; /* requests wait until the module is back */
	/* The first request that fits its uid's and its identity's share
	 * goes, not necessarily the head: one uid over its share (or one
	 * identity flooded by a remote peer) must not hold up the others. */
	for (struct pending *prev = NULL, *p = l->head, *next; p; p = next) {
		struct worker *w;

		next = p->next;
		if (atomic_load(&k->handshakes) >= k->conf->max_handshakes)
			break;
		if (quota_handshake_take(k->quota, p->req.cred.uid, p->req.id_index) < 0) {
			prev = p;
			continue;
		}
		pending_unlink(l, prev, p);
		w = &k->workers[l->next_worker++ % k->n_workers];
		/* netfd, ctlfd and the ACL reference now belong to the worker,
		 * and with them the handshake slot just taken. */
		if (worker_submit(w, &p->req, p->netfd, p->ctlfd) < 0)
			quota_handshake_put(k->quota, p->req.cred.uid, p->req.id_index);
		free(p);
	}
	atomic_store(&k->queued, l->head != NULL);
}

static void client_readable(struct loop *l, struct client *c)
{
	struct keyd_request req;
	struct pending *p;
	int netfd = -1, ctlfd = c->fd, r;

	r = control_admit(l->k, ctlfd, &c->who, &req, &netfd);
	if (r == -EAGAIN) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

		if (c->watched)
			return;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ctlfd, &e) < 0) {
			client_drop(l, c);
			return;
		}
		c->watched = 1;
		return;
	}
	if (r != 0) {
		client_drop(l, c);
		return;
	}
	if (l->n_pending >= l->k->conf->max_pending || !(p = calloc(1, sizeof(*p)))) {
		keyd_log(LOG_WARNING, "uid=%u pid=%d: too many pending handshakes (%zu), refusing",
			 (unsigned)c->who.cred.uid, (int)c->who.cred.pid, l->n_pending);
		acl_unref(req.acl);
		(void)shutdown(netfd, SHUT_RDWR);
		(void)tk_close(netfd);
		client_refuse(l, c, EAGAIN, "tlskeyd is overloaded, try again later");
		return;
	}
	/* The control socket moves with the request: detach it from us. */
	if (c->watched)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, ctlfd, NULL);
	c->watched = 0;
	c->fd = -1;
	/* Its max-pending-per-uid slot moves with it. */
	p->counted = c->counted;
	c->counted = 0;
	client_drop(l, c);
	p->req = req;
	p->netfd = netfd;
	p->ctlfd = ctlfd;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	l->n_pending++;
	dispatch_pending(l);
}

/* Descriptor budget.  Every client and session costs a known number of
 * descriptors: an accepted client 2 (its connection and the socket it is
 * about to pass), an admitted request or a session 2, a handshake 2 more
 * (the protected descriptor, made while it runs).  Admission stops while that estimate plus a reserve would
 * exceed the limit, so requests that were accepted can also be served:
 * accepting greedily until EMFILE would leave accepted clients whose
 * descriptors cannot be received. */
static unsigned fds_accounted(const struct loop *l)
{
	const struct keyd *k = l->k;

	return (unsigned)(2 * l->n_clients + 2 * l->n_pending) + 2 * atomic_load(&k->sessions) +
	       2 * atomic_load(&k->handshakes);
}

static unsigned count_open_fds(void)
{
	unsigned n = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	(void)closedir(dir);
	return n ? n - 1 : 0; /* not the directory's own descriptor */
}

static unsigned long long fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return ~0ULL;
	return rl.rlim_cur;
}

/* Learn what is open besides what fds_accounted() counts: at start, and
 * when the estimate proved wrong or the limit is near. */
static void fd_calibrate(struct loop *l)
{
	unsigned open = count_open_fds(), acc = fds_accounted(l);

	l->fd_max = fd_limit();
	if (open)
		l->fd_base = open > acc ? open - acc : 0;
}

static unsigned fd_reserve(const struct loop *l)
{
	return FD_RESERVE_BASE + FD_RESERVE_PER_WORKER * l->k->n_workers;
}

static int fd_room(const struct loop *l)
{
	return (unsigned long long)l->fd_base + fds_accounted(l) + fd_reserve(l) < l->fd_max;
}

/* Out of descriptors: the pending connection stays in the backlog and
 * would wake us forever, so stop watching the listener.  tick() resumes
 * it once sessions have ended. */
static void listen_pause(struct loop *l, int err)
{
	struct epoll_event e = { .events = 0, .data.ptr = &tags[TAG_LISTEN] };
	unsigned long long now = tk_now_ms();

	if (l->listen_paused)
		return;
	/* One line per episode, not one per second while it lasts. */
	if (!l->fd_warned_ms || now - l->fd_warned_ms >= 60000) {
		keyd_log(LOG_ERR, "cannot accept more clients: %s (%u sessions, %zu waiting, "
			 "about %u of %llu descriptors in use); new requests wait until sessions end",
			 err ? strerror(err) : "open file limit reached", atomic_load(&l->k->sessions),
			 l->n_pending + l->n_clients, l->fd_base + fds_accounted(l), l->fd_max);
		l->fd_warned_ms = now;
	}
	(void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->listen_fd, &e);
	l->listen_paused = 1;
}

static void listen_resume(struct loop *l)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &tags[TAG_LISTEN] };

	if (!l->listen_paused)
		return;
	/* tick() has just calibrated: a paused listener means the limit is near. */
	if (!fd_room(l))
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->listen_fd, &e);
	l->listen_paused = 0;
	l->fd_warned_ms = 0;
	keyd_log(LOG_NOTICE, "accepting clients again (%u sessions)", atomic_load(&l->k->sessions));
}

static void accept_clients(struct loop *l)
{
	for (int i = 0; i < 64; i++) {
		char why[TK_MESSAGE_MAX];
		struct client *c;
		int fd, r;

		if (!fd_room(l)) {
			listen_pause(l, 0);
			return;
		}
		fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				fd_calibrate(l); /* the estimate was low */
				listen_pause(l, errno);
			}
			return;
		}
		if (l->n_clients >= l->k->conf->max_pending) {
			keyd_log(LOG_WARNING, "too many waiting clients (%zu): refusing one", l->n_clients);
			control_refuse(fd, NULL, NULL, EAGAIN, "tlskeyd has too many waiting clients");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			(void)tk_close(fd);
			continue;
		}
		r = caller_identify(fd, &c->who);
		if (r < 0) {
			keyd_log(LOG_INFO, "a client could not be identified (%s): closed",
				 r == -ESRCH ? "it exited, or its PID was reused" : strerror(-r));
			free(c);
			(void)tk_close(fd);
			continue;
		}
		r = quota_pending_take(l->k->quota, c->who.cred.uid, why, sizeof(why));
		if (r < 0) {
			keyd_log(LOG_WARNING, "uid=%u pid=%d: %s: refusing", (unsigned)c->who.cred.uid,
				 (int)c->who.cred.pid, r == -EAGAIN ? why : strerror(-r));
			control_refuse(fd, &c->who.cred, c->who.unit[0] ? c->who.unit : NULL, EAGAIN,
				       r == -EAGAIN ? why : "tlskeyd is out of memory, try again later");
			free(c);
			continue;
		}
		c->counted = 1;
		c->fd = fd;
		c->deadline_ms = tk_now_ms() + l->k->conf->request_timeout_ms;
		c->next = l->clients;
		if (c->next)
			c->next->prev = c;
		l->clients = c;
		l->n_clients++;
		/* The library sends its request right after connecting: it is
		 * usually here already, so epoll only watches clients whose
		 * request has not arrived (client_readable). */
		client_readable(l, c);
	}
}

static void expire_clients(struct loop *l)
{
	unsigned long long now = tk_now_ms();
	struct client *c, *next;

	for (c = l->clients; c; c = next) {
		next = c->next;
		if (c->deadline_ms <= now) {
			keyd_log(LOG_INFO, "uid=%u pid=%d: no request within %u ms, closing",
				 (unsigned)c->who.cred.uid, (int)c->who.cred.pid,
				 l->k->conf->request_timeout_ms);
			client_refuse(l, c, ETIMEDOUT, "no request received in time");
		}
	}
}

/* The sender of a signal, as far as the kernel tells (uid, pid). */
static void signal_sender(const struct signalfd_siginfo *si, struct ucred *ret, char *unit, size_t len)
{
	ret->pid = (pid_t)si->ssi_pid;
	ret->uid = si->ssi_uid;
	ret->gid = caller_proc_gid((pid_t)si->ssi_pid);
	unit[0] = '\0';
	if (si->ssi_pid) {
		char *u = NULL;
		if (sd_pid_get_unit((pid_t)si->ssi_pid, &u) >= 0 && u)
			(void)snprintf(unit, len, "%s", u);
		free(u);
	}
}

static void handle_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct ucred who;
			char msg[1024], unit[256];
			int r = aclstore_reload(l->k, msg, sizeof(msg));

			signal_sender(&si, &who, unit, sizeof(unit));
			aclstore_audit_reload(l->k, &who, unit, r, msg);
		} else {
			keyd_log(LOG_NOTICE, "signal %u: shutting down", si.ssi_signo);
			l->stop = 1;
		}
	}
}

static int next_timeout(const struct loop *l)
{
	unsigned long long now = tk_now_ms(), best = 0;

	for (const struct client *c = l->clients; c; c = c->next)
		if (!best || c->deadline_ms < best)
			best = c->deadline_ms;
	if (!best)
		return -1;
	return best <= now ? 0 : (int)(best - now);
}

static void report_status(struct loop *l)
{
	(void)sd_notifyf(0, "STATUS=%u sessions, %u handshakes, %zu waiting",
			 atomic_load(&l->k->sessions), atomic_load(&l->k->handshakes), l->n_pending);
}

/* Housekeeping once a second at most: watchdog, status, idle exit. */
static void tick(struct loop *l, unsigned long long now)
{
	struct keyd *k = l->k;

	if (now < l->next_tick_ms)
		return;
	l->next_tick_ms = now + 1000;
	/* The limit can be changed from outside (prlimit); near it the
	 * estimate must be exact. */
	l->fd_max = fd_limit();
	if ((unsigned long long)l->fd_base + fds_accounted(l) + 8 * fd_reserve(l) >= l->fd_max)
		fd_calibrate(l);
	listen_resume(l);
	if (l->watchdog_ms && now >= l->next_watchdog_ms) {
		(void)sd_notify(0, "WATCHDOG=1");
		l->next_watchdog_ms = now + l->watchdog_ms / 2;
	}
	report_status(l);
	if (atomic_load(&k->sessions) || l->n_clients || l->n_pending)
		l->idle_since_ms = now;
	else if (k->conf->idle_exit_s && l->activated &&
		 now - l->idle_since_ms >= (unsigned long long)k->conf->idle_exit_s * 1000) {
		keyd_log(LOG_NOTICE, "idle for %u s with no sessions: exiting (the socket stays with systemd)",
			 k->conf->idle_exit_s);
		l->stop = 1;
	}
}

static int run(struct loop *l)
{
	struct epoll_event evs[64];
	uint64_t wd_usec = 0;

	if (sd_watchdog_enabled(0, &wd_usec) > 0)
		l->watchdog_ms = wd_usec / 1000;
	l->idle_since_ms = tk_now_ms();
	(void)sd_notify(0, "READY=1\nSTATUS=accepting requests");
	while (!l->stop) {
		int timeout = next_timeout(l);
		int n;

		/* Wake up at least once a second for tick(). */
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		n = epoll_wait(l->epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			keyd_log(LOG_CRIT, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tags[TAG_LISTEN]) {
				accept_clients(l);
			} else if (p == &tags[TAG_SIGNAL]) {
				handle_signal(l);
			} else if (p == &tags[TAG_DONE]) {
				eventfd_t v;
				(void)eventfd_read(l->k->donefd, &v);
			} else {
				/* A client is only ever dropped by its own event,
				 * so later events in this batch stay valid. */
				client_readable(l, p);
			}
		}
		expire_clients(l);
		p11reset_step(l->k, tk_now_ms());
		dispatch_pending(l);
		tick(l, tk_now_ms());
	}
	(void)sd_notify(0, "STOPPING=1");
	return 0;
}

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
 * bound (a second daemon may have replaced a socket it found stale). */
static void close_listener(struct loop *l)
{
	struct stat st;

	if (l->own_socket && l->socket_path && lstat(l->socket_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->sock_dev && st.st_ino == l->sock_ino)
		(void)unlink(l->socket_path);
	l->listen_fd = tk_close(l->listen_fd);
}

static int open_listener(struct loop *l, const char *path)
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

		memcpy(dir, path, strlen(path) + 1);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) == 0)
				(void)chmod(dir, 0755); /* despite our umask */
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

static void harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	/* Keys stay on the token, but PINs and session secrets pass through
	 * our memory: no core dumps, no ptrace by same-uid processes. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			keyd_log(LOG_WARNING, "cannot raise the open file limit: %s", strerror(errno));
	}
	umask(077);
}

static int load_identities(struct keyd *k)
{
	struct keyd_conf *c = k->conf;
	char err[512];
	int r;

	k->chains = calloc(c->n_ids ? c->n_ids : 1, sizeof(*k->chains));
	k->chain_lens = calloc(c->n_ids ? c->n_ids : 1, sizeof(*k->chain_lens));
	if (!k->chains || !k->chain_lens)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_ids; i++) {
		struct keyd_identity *id = &c->ids[i];
		struct p11_key_status st;

		if (id->pin_file) {
			r = p11_pin_add(id->key_uri, id->pin_file, err, sizeof(err));
			if (r < 0) {
				keyd_log(LOG_ERR, "identity %s: %s", id->name, err);
				return r;
			}
		}
		r = p11_chain_load(id->cert_src, &k->chains[i], &k->chain_lens[i], err, sizeof(err));
		if (r < 0) {
			keyd_log(LOG_ERR, "identity %s: certificate: %s", id->name, err);
			return r;
		}
		/* A missing token is not fatal at startup: it may come back. */
		r = p11_key_probe(id->key_uri, &st, err, sizeof(err));
		if (r < 0)
			keyd_log(LOG_WARNING, "identity %s: key not usable now: %s", id->name, err);
		else if (st.extractable || !st.sensitive)
			keyd_log(LOG_WARNING, "identity %s: key %s is extractable or not sensitive",
				 id->name, id->key_uri);
	}
	return 0;
}

static void keyd_free(struct keyd *k)
{
	if (k->chains) {
		for (size_t i = 0; i < k->conf->n_ids; i++) {
			for (unsigned j = 0; j < k->chain_lens[i]; j++)
				gnutls_pcert_deinit(&k->chains[i][j]);
			free(k->chains[i]);
		}
	}
	free(k->chains);
	free(k->chain_lens);
	if (k->prio)
		gnutls_priority_deinit(k->prio);
	acl_unref(k->acl);
	vcache_free(k->vcache);
	quota_free(k->quota);
	(void)tk_close(k->donefd);
	pthread_mutex_destroy(&k->acl_lock);
	keyd_conf_free(k->conf);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: tlskeyd [-c CONFIG] [-s SOCKET] [-t] [-d]\n"
		   "  -c, --config FILE   configuration file (default " DEFAULT_CONF ")\n"
		   "  -s, --socket PATH   listen here instead of the configured socket\n"
		   "  -t, --test-config   check the configuration and exit\n"
		   "  -d, --debug         log debug messages\n"
		   "  -h, --help          show this help\n"
		   "  -V, --version       show the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "socket", required_argument, NULL, 's' },
		{ "test-config", no_argument, NULL, 't' },  { "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf_path = DEFAULT_CONF, *socket_override = NULL;
	struct keyd k;
	struct loop l;
	struct epoll_event e;
	sigset_t mask;
	char err[512] = "";
	int opt, test_only = 0, r, started = 0, debug = 0;

	while ((opt = getopt_long(argc, argv, "c:s:tdhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case 's': socket_override = optarg; break;
		case 't': test_only = 1; break;
		case 'd': debug = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tlskeyd %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	keyd_log_init(debug ? LOG_DEBUG : LOG_INFO);
	/* Block the signals we take through signalfd before anything can
	 * start a thread: PKCS#11 modules do (tpm2-pkcs11 over D-Bus), and
	 * a thread that inherits an open mask would die of SIGHUP. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&k, 0, sizeof(k));
	memset(&l, 0, sizeof(l));
	k.donefd = -1;
	l.epfd = l.listen_fd = l.sig_fd = -1;
	l.k = &k;
	pthread_mutex_init(&k.acl_lock, NULL);
	harden_process();

	r = keyd_conf_load(conf_path, &k.conf, err, sizeof(err));
	if (r < 0) {
		keyd_log(LOG_ERR, "configuration: %s", err);
		return 1;
	}
	r = aclstore_load(&k);
	if (r < 0)
		goto out;
	(void)caller_identify_init();
	r = gnutls_priority_init2(&k.prio, k.conf->priority ? k.conf->priority : "NORMAL", NULL, 0);
	if (r < 0) {
		keyd_log(LOG_ERR, "priority '%s': %s", k.conf->priority, gnutls_strerror(r));
		r = -EINVAL;
		goto out;
	}
	r = vcache_new(k.conf->cache_size, k.conf->cache_ttl_s, &k.vcache);
	if (r < 0)
		goto out;
	{
		struct quota_limits lim = { .pending_per_uid = k.conf->max_pending_per_uid,
					    .handshakes_per_uid = k.conf->max_handshakes_per_uid,
					    .handshakes_per_id = k.conf->max_handshakes_per_identity,
					    .n_ids = k.conf->n_ids };

		r = quota_new(&lim, &k.quota);
		if (r < 0)
			goto out;
	}
	r = p11_init(k.conf->module_path, err, sizeof(err));
	if (r < 0) {
		keyd_log(LOG_ERR, "PKCS#11: %s", err);
		goto out;
	}
	r = load_identities(&k);
	if (r < 0)
		goto out;
	if (test_only) {
		printf("%s: configuration OK (%zu identities)\n", conf_path, k.conf->n_ids);
		goto out;
	}

	l.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	k.donefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l.sig_fd < 0 || l.epfd < 0 || k.donefd < 0) {
		r = -errno;
		keyd_log(LOG_ERR, "setup: %s", strerror(errno));
		goto out;
	}
	l.socket_path = socket_override ? socket_override
			: (k.conf->socket_path ? k.conf->socket_path : DEFAULT_SOCKET);
	r = open_listener(&l, l.socket_path);
	if (r < 0)
		goto out;
	e = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &tags[TAG_LISTEN] };
	(void)epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.listen_fd, &e);
	e.data.ptr = &tags[TAG_SIGNAL];
	(void)epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.sig_fd, &e);
	e.data.ptr = &tags[TAG_DONE];
	(void)epoll_ctl(l.epfd, EPOLL_CTL_ADD, k.donefd, &e);

	k.n_workers = k.conf->workers;
	k.workers = calloc(k.n_workers, sizeof(*k.workers));
	if (!k.workers) {
		r = -ENOMEM;
		goto out;
	}
	for (; started < (int)k.n_workers; started++) {
		r = worker_start(&k, &k.workers[started], (unsigned)started);
		if (r < 0) {
			keyd_log(LOG_ERR, "cannot start worker %d: %s", started, strerror(-r));
			goto out;
		}
	}
	fd_calibrate(&l);
	keyd_log(LOG_NOTICE, "ready: %zu identities, %u workers, up to %u concurrent handshakes",
		 k.conf->n_ids, k.n_workers, k.conf->max_handshakes);
	r = run(&l);

out:
	/* Everyone still waiting hears why, and each refusal is audited. */
	while (l.clients)
		client_refuse(&l, l.clients, ESHUTDOWN, "tlskeyd is shutting down");
	while (l.head) {
		struct pending *p = l.head;

		pending_unlink(&l, NULL, p);
		(void)shutdown(p->netfd, SHUT_RDWR);
		(void)tk_close(p->netfd);
		control_refuse(p->ctlfd, &p->req.cred, p->req.unit[0] ? p->req.unit : NULL, ESHUTDOWN,
			       "tlskeyd is shutting down");
		acl_unref(p->req.acl);
		free(p);
	}
	for (int i = 0; i < started; i++)
		worker_stop(&k.workers[i]);
	free(k.workers);
	close_listener(&l);
	(void)tk_close(l.sig_fd);
	(void)tk_close(l.epfd);
	keyd_free(&k);
	p11_done();
	return r < 0 ? 1 : 0;
}
