/* Caller identification: who is at the other end of a control socket
 * (credentials, groups, unit, exe), tied to the process that connected. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
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
#include "keyd/caller.h"
#include "keyd/log.h"

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

/* Call fn on each line of /proc/PID/status until it returns other than
 * 1; returns what fn returned last, -ENODATA if no line ended the walk, or
 * a negative errno if the file cannot be opened.  The one parser of that
 * file (groups of a caller, gid of a signal's sender). */
static int status_walk(pid_t pid, int (*fn)(const char *line, size_t n, void *ctx), void *ctx)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int r = -ENODATA;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		r = fn(line, (size_t)n, ctx);
		if (r != 1)
			break;
		r = -ENODATA;
	}
	free(line);
	(void)fclose(f);
	return r;
}

struct groups_walk {
	struct caller *c;
	int uid_ok;
};

/* status_walk() step of read_groups(): 1 to go on, else the result. */
static int groups_line(const char *line, size_t n, void *ctx)
{
	struct groups_walk *gw = ctx;
	const char *p = line + 7;
	char *end;
	gid_t *g;
	size_t k = 0;

	if (!strncmp(line, "Uid:", 4)) {
		gw->uid_ok = strtoul(line + 4, NULL, 10) == gw->c->cred.uid;
		return 1;
	}
	if (strncmp(line, "Groups:", 7))
		return 1;
	if (!gw->uid_ok)
		return -ESRCH;
	if (n > CALLER_GROUPS_MAX * 12u)
		return -E2BIG;
	/* Each group takes at least two bytes ("1 "): n bounds the count. */
	g = malloc((n / 2 + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
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
		return -EBADMSG;
	}
	free(gw->c->groups);
	gw->c->groups = g; /* now owned by c */
	gw->c->n_groups = k;
	return 0;
}

/* Supplementary groups from /proc, for kernels without SO_PEERGROUPS; only
 * trusted if the process there still has the uid of the socket.  The
 * Groups: line is read whole however long it is (up to what
 * CALLER_GROUPS_MAX groups can take).  Returns 0 with the list in c, or
 * a negative errno: then the list is unknown and the caller is refused. */
static int read_groups(struct caller *c)
{
	struct groups_walk gw = { .c = c, .uid_ok = 0 };

	return status_walk(c->cred.pid, groups_line, &gw);
}

/* status_walk() step of caller_proc_gid(): the last Gid: line wins. */
static int gid_line(const char *line, size_t n, void *ctx)
{
	(void)n;
	if (!strncmp(line, "Gid:", 4))
		*(gid_t *)ctx = (gid_t)strtoul(line + 4, NULL, 10);
	return 1;
}

gid_t caller_proc_gid(pid_t pid)
{
	gid_t gid = (gid_t)-1;

	(void)status_walk(pid, gid_line, &gid);
	return gid;
}

void caller_done(struct caller *c)
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
static atomic_int pidfd_usable;

int caller_identify_init(void)
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
 * admission threads share it under unit_cache_lock. */
#define UNIT_CACHE_SLOTS 64
#define UNIT_CACHE_MS 1000
static struct {
	unsigned long long ino, at_ms;
	char unit[sizeof(((struct caller *)0)->unit)];
} unit_cache[UNIT_CACHE_SLOTS];
static atomic_int pidfs; /* 0 not known yet, 1 pidfds have unique inodes, -1 no */
/* Admission may run on any thread (worker threads later): the cache is
 * shared, so every access holds this lock (a memcpy of 256 bytes). */
static pthread_mutex_t unit_cache_lock = PTHREAD_MUTEX_INITIALIZER;

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
		int hit;

		pthread_mutex_lock(&unit_cache_lock);
		hit = unit_cache[i].ino == key && now - unit_cache[i].at_ms < UNIT_CACHE_MS;
		if (hit)
			memcpy(c->unit, unit_cache[i].unit, sizeof(c->unit));
		pthread_mutex_unlock(&unit_cache_lock);
		if (hit)
			return;
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

	if (!key)
		return;
	pthread_mutex_lock(&unit_cache_lock);
	if (!(unit_cache[i].ino == key && now - unit_cache[i].at_ms < UNIT_CACHE_MS)) {
		unit_cache[i].ino = key;
		unit_cache[i].at_ms = now;
		memcpy(unit_cache[i].unit, c->unit, sizeof(c->unit));
	}
	pthread_mutex_unlock(&unit_cache_lock);
}

int caller_still_there(int pidfd)
{
	return pidfd < 0 ? -1 : pidfd_alive(pidfd);
}

int caller_identify(int ctlfd, struct caller *ret, int *ret_pidfd)
{
	struct caller c;
	socklen_t len = sizeof(c.cred);
	char path[64];
	unsigned long long t0 = 0, key, now = tk_now_ms();
	int pidfd = -1, alive, check_err = 0, r;
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
	if (pidfd >= 0) {
		int a = pidfd_alive(pidfd);

		/* Neither alive nor gone (EBADF, EINVAL): say so, rather than
		 * blame the caller for having exited. */
		check_err = a < 0 ? errno : 0;
		alive = a == 1;
	} else {
		alive = t0 != 0 && start_time(c.cred.pid) == t0;
	}
	/* Only the pidfd ties what /proc said to the process that connected:
	 * the start time has clock-tick resolution, and a PID can be reused
	 * within one tick. */
	c.verified = pidfd >= 0 && alive;
	if (!alive || !ret_pidfd)
		pidfd = tk_close(pidfd);
	if (!alive) {
		caller_done(&c);
		return check_err ? -check_err : -ESRCH;
	}
	if (ret_pidfd)
		*ret_pidfd = pidfd;
	caller_unit_remember(&c, key, now);
	*ret = c; /* the group list now owned by *ret */
	return 0;
}


int caller_in_group(const struct caller *c, gid_t gid)
{
	if (!c->groups_complete)
		return 0;
	if (c->cred.gid == gid)
		return 1;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

/* The ACL's subject for a caller: unit and exe only vouch for the caller
 * when read from the very process that connected; otherwise they are
 * "unknown", which no allow rule accepts and every deny rule naming them
 * does. */
struct acl_subject caller_acl_subject(const struct caller *who)
{
	return (struct acl_subject){ .uid = who->cred.uid,
				     .gid = who->cred.gid,
				     .groups = who->groups,
				     .n_groups = who->n_groups,
				     .unit = who->verified && who->unit[0] ? who->unit : NULL,
				     .exe = who->verified && who->exe[0] ? who->exe : NULL };
}

void caller_subject_save(const struct caller *who, struct keyd_subject *ret)
{
	struct acl_subject a = caller_acl_subject(who);

	memset(ret, 0, sizeof(*ret));
	ret->uid = a.uid;
	ret->gid = a.gid;
	ret->partial = a.n_groups > KEYD_SUBJECT_GROUPS || !who->groups_complete;
	ret->n_groups = (unsigned)(a.n_groups > KEYD_SUBJECT_GROUPS ? KEYD_SUBJECT_GROUPS : a.n_groups);
	if (ret->n_groups)
		memcpy(ret->groups, a.groups, ret->n_groups * sizeof(gid_t));
	ret->has_unit = a.unit != NULL;
	ret->has_exe = a.exe != NULL;
	if (a.exe)
		(void)snprintf(ret->exe, sizeof(ret->exe), "%s", a.exe);
}

struct acl_subject caller_subject_view(const struct keyd_subject *s, const char *unit)
{
	return (struct acl_subject){ .uid = s->uid,
				     .gid = s->gid,
				     .groups = s->n_groups ? s->groups : NULL,
				     .n_groups = s->n_groups,
				     .unit = s->has_unit ? unit : NULL,
				     .exe = s->has_exe ? s->exe : NULL };
}
