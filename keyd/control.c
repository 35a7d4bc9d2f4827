#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <systemd/sd-login.h>

#include "common/util.h"
#include "keyd/control.h"
#include "keyd/log.h"
#include "tlskey/starttls.h"

void control_reply_error(int ctlfd, int err, const char *message)
{
	struct tk_msg m = { .type = TK_MSG_RESULT };

	m.err = (uint32_t)err;
	m.present = 1u << TK_TAG_ERRNO;
	(void)tk_msg_set_str(&m, TK_TAG_MESSAGE, message);
	(void)tk_msg_send(ctlfd, &m, -1);
}

/* Read and discard whatever the client has sent, closing any descriptors
 * that came with it.  Bounded: the socket is shut down first, so nothing
 * new can arrive, and its receive queue holds a bounded number of
 * messages. */
static void drain(int ctlfd)
{
	for (int i = 0; i < 64; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(8 * sizeof(int))];
		} control;
		char byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(ctlfd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				/* The contract: a refused socket is shut down. */
				(void)shutdown(fd, SHUT_RDWR);
				(void)tk_close(fd);
			}
		}
	}
}

void control_refuse(int ctlfd, const struct ucred *cred, const char *unit, int err, const char *why)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (!cred) {
		if (getsockopt(ctlfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
			peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		cred = &peer;
	}
	{
		struct keyd_audit a = { .event = "refused", .cred = cred, .unit = unit, .err = err,
					.sign_us = -1, .handshake_ms = -1, .detail = why };
		keyd_audit(&a);
	}
	control_reply_error(ctlfd, err, why);
	/* Closing a UNIX socket with unread messages resets the peer, and a
	 * reset hides the answer just queued for it (the client would see
	 * ECONNRESET, not our errno).  So: no more input (the client's own
	 * send now fails with EPIPE, and it reads the answer), then read what
	 * had arrived, then close. */
	(void)shutdown(ctlfd, SHUT_RDWR);
	drain(ctlfd);
	(void)tk_close(ctlfd);
}

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#define PIDFS_MAGIC 0x50494446

/* The kernel's limit on supplementary groups (NGROUPS_MAX in
 * <linux/limits.h>): a list can never be longer, so it bounds what we
 * allocate for a caller. */
#define CALLER_GROUPS_MAX 65536u

/* Supplementary groups as of connect(), from the socket like SO_PEERCRED:
 * no race with PID reuse.  All of them: a deny group: rule must see every
 * group the caller is in.  The kernel says how much room it needs
 * (ERANGE and the size in len); the list of a connected socket does not
 * change, so a second try with that much room is enough.  Returns 0 and
 * sets c->groups/n_groups, or a negative errno (-ENOPROTOOPT where the
 * kernel lacks SO_PEERGROUPS). */
static int peer_groups(int ctlfd, struct caller *c)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *buf = NULL;
	int r = -ERANGE;

	for (int attempt = 0; attempt < 3 && r == -ERANGE; attempt++) {
		gid_t *nbuf;

		if (len > CALLER_GROUPS_MAX * sizeof(gid_t)) {
			r = -E2BIG;
			break;
		}
		nbuf = realloc(buf, len ? len : sizeof(gid_t));
		if (!nbuf) {
			r = -ENOMEM;
			break;
		}
		buf = nbuf;
		r = getsockopt(ctlfd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) < 0 ? -errno : 0;
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	c->groups = buf; /* now owned by c */
	c->n_groups = len / sizeof(gid_t);
	return 0;
}

/* Supplementary groups from /proc, for kernels without SO_PEERGROUPS; only
 * trusted if the process there still has the uid of the socket.  The
 * Groups: line is read whole however long it is (up to what
 * CALLER_GROUPS_MAX groups can take).  Returns 0 with the list in c, or
 * a negative errno: then the list is unknown and the caller is refused. */
static int read_groups(struct caller *c)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int uid_ok = 0, r = -ENODATA;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)c->cred.pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (!strncmp(line, "Uid:", 4)) {
			unsigned long real = strtoul(line + 4, NULL, 10);
			uid_ok = real == c->cred.uid;
		} else if (!strncmp(line, "Groups:", 7)) {
			char *p = line + 7, *end;
			gid_t *g;
			size_t k = 0;

			if (!uid_ok) {
				r = -ESRCH;
				break;
			}
			if ((size_t)n > CALLER_GROUPS_MAX * 12u) {
				r = -E2BIG;
				break;
			}
			/* Each group takes at least two bytes ("1 "): n bounds the count. */
			g = malloc(((size_t)n / 2 + 1) * sizeof(*g));
			if (!g) {
				r = -ENOMEM;
				break;
			}
			for (;;) {
				unsigned long v = strtoul(p, &end, 10);
				if (end == p)
					break;
				g[k++] = (gid_t)v;
				p = end;
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != '\n' && *p != '\0') {
				free(g);
				r = -EBADMSG;
				break;
			}
			free(c->groups);
			c->groups = g; /* now owned by c */
			c->n_groups = k;
			r = 0;
			break;
		}
	}
	free(line);
	(void)fclose(f);
	return r;
}

void control_caller_done(struct caller *c)
{
	if (!c)
		return;
	free(c->groups);
	c->groups = NULL;
	c->n_groups = 0;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)tk_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may contain anything; fields resume after the last ')'. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Is the process behind pidfd still running?  (Its PID cannot have been
 * reused while it runs, so what we read from /proc was about it.)  Signal
 * 0 only checks; EPERM -- a caller under another uid than the daemon's --
 * still means it runs.  -1: cannot be told here (the system call is
 * missing or filtered, as under valgrind). */
static int pidfd_alive(int pidfd)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM)
		return 1;
	return errno == ESRCH ? 0 : -1;
}

/* Whether pidfd_alive() works here: 0 not known yet, 1 yes, -1 no. */
static int pidfd_usable;

int control_identify_init(void)
{
	int sv[2], pidfd = -1;
	socklen_t len = sizeof(pidfd);

	/* Ask about ourselves over a socketpair: the same getsockopt and
	 * system call a caller's identification needs. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		pidfd_usable = -1;
	} else {
		if (getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
			pidfd = -1;
		pidfd_usable = pidfd >= 0 && pidfd_alive(pidfd) == 1 ? 1 : -1;
		(void)tk_close(pidfd);
		(void)tk_close(sv[0]);
		(void)tk_close(sv[1]);
	}
	if (pidfd_usable < 0)
		keyd_log(LOG_WARNING,
			 "this kernel offers no usable SO_PEERPIDFD/pidfd_send_signal (Linux < 6.5, "
			 "or filtered): caller identification is racy with PID reuse, so unit: and "
			 "exe: subjects admit nobody (allow rules on them never match, deny rules "
			 "on them always do); uid/gid rules are unaffected");
	return pidfd_usable > 0;
}

/* The systemd unit of recent callers.  sd_pid_get_unit() reads two /proc
 * files; a busy caller asks many times a second.  Entries are keyed by the
 * process itself: the inode pidfs gives its pidfd, never reused while the
 * system runs.  A process leaves its unit only by moving to another cgroup,
 * which it can do only where it could have connected from that cgroup in
 * the first place, so a second of staleness gives nothing away.  All of
 * this runs on the accept thread only. */
#define UNIT_CACHE_SLOTS 64
#define UNIT_CACHE_MS 1000
static struct {
	unsigned long long ino, at_ms;
	char unit[sizeof(((struct caller *)0)->unit)];
} unit_cache[UNIT_CACHE_SLOTS];
static int pidfs; /* 0 not known yet, 1 pidfds have unique inodes, -1 no */

static unsigned long long process_key(int pidfd)
{
	struct stat st;

	if (pidfd < 0)
		return 0;
	if (pidfs == 0) {
		struct statfs sf;
		pidfs = fstatfs(pidfd, &sf) == 0 && sf.f_type == PIDFS_MAGIC ? 1 : -1;
	}
	if (pidfs < 0 || fstat(pidfd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_ino;
}

static void caller_unit(struct caller *c, unsigned long long key, unsigned long long now)
{
	char *unit = NULL;

	if (key) {
		unsigned i = (unsigned)(key % UNIT_CACHE_SLOTS);
		if (unit_cache[i].ino == key && now - unit_cache[i].at_ms < UNIT_CACHE_MS) {
			memcpy(c->unit, unit_cache[i].unit, sizeof(c->unit));
			return;
		}
	}
	if (sd_pid_get_unit(c->cred.pid, &unit) >= 0 && unit) {
		/* A unit name that does not fit is unknown, never cut: a cut
		 * name could match a unit: glob the real one does not. */
		if (strlen(unit) < sizeof(c->unit))
			memcpy(c->unit, unit, strlen(unit) + 1);
		free(unit);
	}
}

static void caller_unit_remember(const struct caller *c, unsigned long long key,
				 unsigned long long now)
{
	unsigned i = (unsigned)(key % UNIT_CACHE_SLOTS);

	if (!key || (unit_cache[i].ino == key && now - unit_cache[i].at_ms < UNIT_CACHE_MS))
		return;
	unit_cache[i].ino = key;
	unit_cache[i].at_ms = now;
	memcpy(unit_cache[i].unit, c->unit, sizeof(c->unit));
}

int control_caller_identify(int ctlfd, struct caller *ret)
{
	struct caller c;
	socklen_t len = sizeof(c.cred);
	char path[64];
	unsigned long long t0 = 0, key, now = tk_now_ms();
	int pidfd = -1, alive, r;
	ssize_t n;

	memset(&c, 0, sizeof(c));
	if (getsockopt(ctlfd, SOL_SOCKET, SO_PEERCRED, &c.cred, &len) < 0)
		return -errno;
	len = sizeof(pidfd);
	if (pidfd_usable < 0 || getsockopt(ctlfd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1; /* older kernel: fall back to the start time */
	if (pidfd >= 0 && pidfd_usable == 0) {
		if (pidfd_alive(pidfd) < 0) {
			pidfd_usable = -1;
			pidfd = tk_close(pidfd);
		} else {
			pidfd_usable = 1;
		}
	}
	if (pidfd < 0)
		t0 = start_time(c.cred.pid);
	r = peer_groups(ctlfd, &c);
	if (r == -ENOPROTOOPT)
		r = read_groups(&c);
	/* A list we could not read in full is no list: admission refuses it
	 * rather than let a deny group: rule miss a group. */
	c.groups_complete = r == 0;
	key = process_key(pidfd);
	caller_unit(&c, key, now);
	(void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)c.cred.pid);
	n = readlink(path, c.exe, sizeof(c.exe));
	/* readlink() does not terminate and silently truncates: a result that
	 * fills the buffer may be cut, and a cut path could equal an exe:
	 * rule's shorter path.  Treat it as unreadable. */
	if (n <= 0 || (size_t)n >= sizeof(c.exe))
		n = 0;
	c.exe[n] = '\0';
	/* The caller may have exited and its PID been reused while we read
	 * /proc: then groups, unit and exe describe someone else. */
	alive = pidfd >= 0 ? pidfd_alive(pidfd) == 1 : (t0 != 0 && start_time(c.cred.pid) == t0);
	/* Only the pidfd ties what /proc said to the process that connected:
	 * the start time has clock-tick resolution, and a PID can be reused
	 * within one tick. */
	c.verified = pidfd >= 0 && alive;
	(void)tk_close(pidfd);
	if (!alive) {
		control_caller_done(&c);
		return -ESRCH;
	}
	caller_unit_remember(&c, key, now);
	*ret = c; /* the group list now owned by *ret */
	return 0;
}

/* Is fd a connected socket of the kind `proto` needs? */
static int check_fd(int fd, int proto, char *why, size_t len)
{
	struct stat st;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	int type = 0, protocol = 0;
	socklen_t il = sizeof(int);

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		(void)snprintf(why, len, "passed descriptor is not a socket");
		return -ENOTSOCK;
	}
	/* fstat() succeeds on an O_PATH descriptor of a socket inode, but it
	 * is no socket we can use: every socket call fails with EBADF. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) < 0) {
		(void)snprintf(why, len, "passed descriptor is not a socket");
		return -ENOTSOCK;
	}
	if (type != (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM)) {
		(void)snprintf(why, len, "passed socket is not a %s socket",
			       proto == IPPROTO_UDP ? "datagram (DTLS needs UDP)" : "stream (TLS needs TCP)");
		return -EPROTOTYPE;
	}
	il = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &il) < 0 || protocol != proto) {
		(void)snprintf(why, len, "passed socket is not a %s socket",
			       proto == IPPROTO_UDP ? "UDP" : "TCP");
		return -EPROTONOSUPPORT;
	}
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) < 0) {
		(void)snprintf(why, len, "passed socket is not connected");
		return -ENOTCONN;
	}
	return 0;
}

/* The caller set up fd and may keep a duplicate: take back every option
 * that could make a daemon system call on it block or stall.  SO_LINGER
 * with a timeout would make close() wait for the peer, so l_onoff = 0:
 * close() never blocks (where the daemon wants a reset it sets {1, 0}
 * itself, which does not block either).  SO_RCVLOWAT above 1 would keep
 * epoll from ever reporting a partial record.  O_NONBLOCK is set for
 * calls without flags, but every send and recv also says MSG_DONTWAIT, as
 * the caller can clear the flag again through its own duplicate; O_ASYNC
 * goes (no SIGIO for the daemon).  SO_SNDTIMEO and SO_RCVTIMEO do not
 * matter with MSG_DONTWAIT.  Runs before anything can close fd, the
 * refusal path included.  Errors are ignored: a descriptor that is not a
 * socket is refused by check_fd() next. */
static void take_socket_options(int fd)
{
	struct linger lg = { .l_onoff = 0, .l_linger = 0 };
	int one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
}

static int check_request(const struct tk_msg *m, char *why, size_t len)
{
	const uint32_t server_only = TLSKEY_FLAG_NO_REQUIRE_PEER_CERT | TLSKEY_FLAG_NO_REQUEST_PEER_CERT;
	const uint32_t client_only = TLSKEY_FLAG_NO_LOCAL_CERT;

	if (m->role != TK_ROLE_CLIENT && m->role != TK_ROLE_SERVER) {
		(void)snprintf(why, len, "unknown role %u", m->role);
		return -EINVAL;
	}
	if (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) {
		(void)snprintf(why, len, "unsupported protocol %u", m->proto);
		return -EPROTONOSUPPORT;
	}
	if (m->flags & ~(uint32_t)TLSKEY_FLAGS_ALL) {
		(void)snprintf(why, len, "unknown flags 0x%x", m->flags & ~(uint32_t)TLSKEY_FLAGS_ALL);
		return -EINVAL;
	}
	if ((m->role == TK_ROLE_CLIENT && (m->flags & server_only)) ||
	    (m->role == TK_ROLE_SERVER && (m->flags & client_only))) {
		(void)snprintf(why, len, "flags 0x%x do not apply to this role", m->flags);
		return -EINVAL;
	}
	if (tk_name_validate(m->myname, strlen(m->myname)) < 0) {
		(void)snprintf(why, len, "invalid local identity name");
		return -EINVAL;
	}
	if (TK_HAS(m, TK_TAG_SNINAME) &&
	    (m->role != TK_ROLE_CLIENT || tk_name_validate(m->sniname, strlen(m->sniname)) < 0)) {
		(void)snprintf(why, len, "invalid server name indication");
		return -EINVAL;
	}
	if (m->timeout_ms > 3600u * 1000u) {
		(void)snprintf(why, len, "handshake timer over one hour");
		return -EINVAL;
	}
	if (m->allow_hs_timeout && (m->role != TK_ROLE_SERVER || m->timeout_ms == 0)) {
		(void)snprintf(why, len, "allow-handshake-timeout needs the server role and a timer");
		return -EINVAL;
	}
	if (m->checksni && m->role != TK_ROLE_SERVER) {
		(void)snprintf(why, len, "SNI checking applies to the server role only");
		return -EINVAL;
	}
	return 0;
}

static struct acl *acl_current(struct keyd *k, unsigned *ret_gen)
{
	struct acl *a;

	pthread_mutex_lock(&k->acl_lock);
	a = acl_ref(k->acl);
	*ret_gen = k->acl_gen;
	pthread_mutex_unlock(&k->acl_lock);
	return a;
}

/* tlskey_query(): the passed descriptor is the credential. */
static int handle_query(int ctlfd, int fd)
{
	struct tk_msg *m = calloc(1, sizeof(*m));
	int r;

	if (!m) {
		(void)tk_close(fd);
		return -ENOMEM;
	}
	m->type = TK_MSG_QUERY_RESULT;
	m->present = 1u << TK_TAG_ERRNO;
	r = fd < 0 ? -EBADF : registry_query(fd, m);
	if (r < 0) {
		m->err = (uint32_t)-r;
		(void)tk_msg_set_str(m, TK_TAG_MESSAGE,
				     r == -ENOENT ? "no tlskeyd session behind this descriptor"
						  : "not a tlskeyd protected descriptor");
	}
	(void)tk_msg_send(ctlfd, m, -1);
	free(m);
	(void)tk_close(fd);
	return 1;
}

static int admit_start(struct keyd *k, int ctlfd, const struct caller *who, const struct tk_msg *m,
		       int netfd, struct keyd_request *ret_req, int *ret_netfd);

/* tlskeyctl reload: only root and the daemon's own user may ask. */
static int handle_reload(struct keyd *k, int ctlfd, const struct caller *who, int fd)
{
	char why[TK_MESSAGE_MAX] = "";
	int r;

	(void)tk_close(fd);
	if (who->cred.uid != 0 && who->cred.uid != geteuid()) {
		(void)snprintf(why, sizeof(why), "only root may reload tlskeyd");
		r = -EPERM;
	} else {
		r = keyd_reload_acl(k, why, sizeof(why));
	}
	keyd_audit_reload(k, &who->cred, who->unit, r, why);
	control_reply_error(ctlfd, r < 0 ? -r : 0, why);
	return 1;
}

int control_admit(struct keyd *k, int ctlfd, const struct caller *who, struct keyd_request *ret_req,
		  int *ret_netfd)
{
	struct tk_msg *m;
	int netfd = -1, r;

	/* A decoded message is large (it can carry a certificate): heap. */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = tk_msg_recv(ctlfd, m, &netfd);
	if (r == -EAGAIN)
		goto out;
	if (r == -EMFILE) {
		keyd_log(LOG_ERR, "uid=%u pid=%d: out of file descriptors, request dropped",
			 (unsigned)who->cred.uid, (int)who->cred.pid);
		{
			struct keyd_audit a = { .event = "refused", .cred = &who->cred,
						.unit = who->unit[0] ? who->unit : NULL, .err = EAGAIN,
						.sign_us = -1, .handshake_ms = -1,
						.detail = "out of file descriptors" };
			keyd_audit(&a);
		}
		control_reply_error(ctlfd, EAGAIN, "tlskeyd is out of file descriptors, try again later");
		goto out;
	}
	if (r < 0) {
		keyd_log(LOG_WARNING, "uid=%u pid=%d: malformed request: %s", (unsigned)who->cred.uid,
			 (int)who->cred.pid, strerror(-r));
		if (r != -ECONNRESET)
			control_reply_error(ctlfd, -r, "malformed request");
		goto out;
	}
	/* Dispatch by request type: START is judged by the ACL, QUERY by
	 * possession of the descriptor, RELOAD by the caller's uid. */
	switch (m->type) {
	case TK_MSG_START:
		r = admit_start(k, ctlfd, who, m, netfd, ret_req, ret_netfd);
		break;
	case TK_MSG_QUERY:
		r = handle_query(ctlfd, netfd);
		break;
	case TK_MSG_RELOAD:
		r = handle_reload(k, ctlfd, who, netfd);
		break;
	default:
		(void)tk_close(netfd);
		control_reply_error(ctlfd, EBADMSG, "unexpected message type");
		r = -EBADMSG;
		break;
	}
out:
	free(m);
	return r;
}

static int admit_start(struct keyd *k, int ctlfd, const struct caller *who, const struct tk_msg *m,
		       int netfd, struct keyd_request *ret_req, int *ret_netfd)
{
	struct keyd_request q;
	struct acl_subject subj;
	struct acl_request areq;
	const char *role;
	char why[TK_MESSAGE_MAX] = "";
	int r;

	if (netfd >= 0)
		take_socket_options(netfd);
	memset(&q, 0, sizeof(q));
	q.msg = (struct keyd_start){ .present = m->present,
				     .role = m->role,
				     .proto = m->proto,
				     .checksni = m->checksni,
				     .allow_hs_timeout = m->allow_hs_timeout,
				     .flags = m->flags,
				     .peername_max = TK_HAS(m, TK_TAG_PEERNAME_MAX) ? m->peername_max : UINT32_MAX,
				     .timeout_ms = m->timeout_ms };
	memcpy(q.msg.myname, m->myname, sizeof(q.msg.myname));
	memcpy(q.msg.sniname, m->sniname, sizeof(q.msg.sniname));
	r = check_request(m, why, sizeof(why));
	/* The caller's timer may shorten the handshake, never lengthen it past
	 * handshake-timeout: a slot held for an hour by a silent peer is a
	 * slot nobody else gets. */
	if (r == 0 && q.msg.timeout_ms > k->conf->handshake_timeout_ms) {
		keyd_log(LOG_DEBUG, "uid=%u pid=%d: handshake timer %u ms capped at handshake-timeout %u ms",
			 (unsigned)who->cred.uid, (int)who->cred.pid, q.msg.timeout_ms,
			 k->conf->handshake_timeout_ms);
		q.msg.timeout_ms = k->conf->handshake_timeout_ms;
	}
	if (r == 0 && netfd < 0) {
		(void)snprintf(why, sizeof(why), "no file descriptor attached");
		r = -EBADF;
	}
	if (r == 0)
		r = check_fd(netfd, q.msg.proto, why, sizeof(why));
	if (r < 0)
		goto refuse;

	role = q.msg.role == TK_ROLE_SERVER ? "server" : "client";
	/* Which configured identity is meant, first, under the one case rule
	 * the ACL uses too; from here on only its (canonical) name is used:
	 * for the ACL decision, the audit records, the logs and what
	 * tlskey_query() reports.  The ACL must never judge one spelling
	 * while the key of another is used. */
	q.id = keyd_conf_identity(k->conf, q.msg.myname);
	if (!q.id) {
		(void)snprintf(why, sizeof(why), "no key configured for %s", q.msg.myname);
		r = -ENOKEY;
		goto refuse;
	}
	(void)snprintf(q.msg.myname, sizeof(q.msg.myname), "%s", q.id->name);
	if (!who->groups_complete) {
		struct keyd_audit a = { .event = "refused", .cred = &who->cred, .unit = who->unit,
					.myname = q.msg.myname, .role = role, .err = EACCES,
					.sign_us = -1, .handshake_ms = -1,
					.detail = "supplementary groups unreadable" };

		/* Deciding on part of the list could let a deny group: rule
		 * miss the one group it names. */
		keyd_audit(&a);
		(void)snprintf(why, sizeof(why),
			       "the caller's supplementary groups could not be read in full");
		r = -EACCES;
		goto refuse;
	}
	q.cred = who->cred;
	q.acl = acl_current(k, &q.acl_gen);
	/* unit and exe only vouch for the caller when read from the very
	 * process that connected; otherwise they are "unknown", which no
	 * allow rule accepts and every deny rule naming them does. */
	subj = (struct acl_subject){ .uid = who->cred.uid,
				     .gid = who->cred.gid,
				     .groups = who->groups,
				     .n_groups = who->n_groups,
				     .unit = who->verified && who->unit[0] ? who->unit : NULL,
				     .exe = who->verified && who->exe[0] ? who->exe : NULL };
	areq = (struct acl_request){ .subject = &subj,
				     .myname = q.msg.myname,
				     .role = q.msg.role == TK_ROLE_SERVER ? ACL_ROLE_SERVER : ACL_ROLE_CLIENT,
				     .flags = q.msg.flags };
	if (!q.acl || acl_check(q.acl, &areq, &q.decision) < 0 || !q.decision.allowed) {
		char detail[128];
		struct keyd_audit a = { .event = "acl-denied", .cred = &who->cred, .unit = who->unit,
					.myname = q.msg.myname, .role = role, .err = EACCES,
					.rule = q.acl ? q.decision.where : "no ACL loaded",
					.sign_us = -1, .handshake_ms = -1, .detail = detail };

		(void)snprintf(detail, sizeof(detail), "flags=0x%x%s", q.msg.flags,
			       q.decision.denied_flags ? " (privileged flags not granted)" : "");
		keyd_audit(&a);
		(void)snprintf(why, sizeof(why), "access to %s as %s denied by tlskeyd policy",
			       q.msg.myname, role);
		r = -EACCES;
		goto refuse;
	}
	q.id_index = (size_t)(q.id - k->conf->ids);
	(void)snprintf(q.unit, sizeof(q.unit), "%s", who->unit);
	q.t_start_ms = tk_now_ms();
	*ret_req = q;
	*ret_netfd = netfd;
	return 0;

refuse:
	if (r != -EACCES) {
		struct keyd_audit a = { .event = "refused", .cred = &who->cred, .unit = who->unit,
					.myname = q.msg.myname[0] ? q.msg.myname : NULL,
					.err = -r, .sign_us = -1, .handshake_ms = -1, .detail = why };
		keyd_audit(&a);
	}
	control_reply_error(ctlfd, -r, why);
	acl_unref(q.acl);
	if (netfd >= 0) {
		/* The contract: a refused socket is shut down. */
		(void)shutdown(netfd, SHUT_RDWR);
		(void)tk_close(netfd);
	}
	return r;
}
