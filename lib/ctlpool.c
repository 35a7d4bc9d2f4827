/* libtlskey: control connections kept for the next start.
 *
 * When the daemon answers a start with TK_TAG_KEEP, it keeps the control
 * connection open and waits for the next request on it; the library puts
 * the connection here and the next blocking start in this process takes
 * it instead of connecting: the daemon identified the caller once, when
 * it connected.  That identity is the connecting process's, with the
 * credentials it had then, so a kept connection is only reused by the
 * same process (not a child after fork()) with the same effective uid,
 * gid and supplementary groups (checked at each start: three system
 * calls, against socket, connect and close), for the same daemon socket, and for
 * LIB_POOL_IDLE_MS at most (the daemon keeps it longer, CTLCONN_IDLE_MS,
 * so it does not close one under us).  A connection the daemon closed
 * anyway is noticed when the request cannot be sent or gets no answer,
 * and the start is retried once on a new connection (starttls.c). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/util.h"
#include "common/wire.h"
#include "lib/client.h"

#define LIB_POOL_MAX 16
#define LIB_POOL_IDLE_MS 10000

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static struct lib_self pool_self;
static int pool_fd[LIB_POOL_MAX];
static unsigned long long pool_at[LIB_POOL_MAX];
static int pool_n;
/* Bumped in a child of fork(): what the pool holds is the parent's. */
static unsigned forks;
/* getpid(), kept: a system call less per request.  Set again in a child
 * of fork(); a process made otherwise (clone()) finds out when the
 * kernel refuses the old pid (lib_send()). */
static _Atomic pid_t self_pid;

/* fork() holds the pool's lock, so that no other thread is half way
 * through the pool in the child, whose only thread would then wait for
 * it forever (a threaded program's child blocked in its first start). */
static void before_fork(void)
{
	pthread_mutex_lock(&pool_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&pool_lock);
}

static void after_fork_child(void)
{
	/* The parent's connections speak for the parent (the daemon refuses
	 * a request from another pid on them): the child's copies go now.
	 * One another thread had taken out at the fork stays open in the
	 * child, unused (forks differs), until it execs or exits. */
	while (pool_n > 0)
		(void)close(pool_fd[--pool_n]);
	forks++;
	self_pid = getpid();
	pthread_mutex_unlock(&pool_lock);
}

static void pool_init(void)
{
	self_pid = getpid();
	(void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

int lib_send(int sock, const struct tk_msg *m, int fd, const struct lib_self *self)
{
	struct ucred cred;
	int r;

	(void)pthread_once(&pool_once, pool_init);
	cred.pid = self_pid;
	cred.uid = self ? self->euid : geteuid();
	cred.gid = self ? self->egid : getegid();
	r = tk_msg_send_cred(sock, m, fd, &cred);
	if (r == -EPERM && cred.pid != getpid()) {
		/* Not the pid we knew: a process fork() did not make. */
		self_pid = cred.pid = getpid();
		r = tk_msg_send_cred(sock, m, fd, &cred);
	}
	return r;
}

static void self_now(struct lib_self *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->forks = forks;
	s->euid = geteuid();
	s->egid = getegid();
	s->n_groups = getgroups(LIB_POOL_GROUPS, s->groups);
	if (s->n_groups < 0)
		s->n_groups = -1;
	(void)snprintf(s->path, sizeof(s->path), "%s", path);
}

static int self_same(const struct lib_self *a, const struct lib_self *b)
{
	return a->n_groups >= 0 && a->forks == b->forks && a->euid == b->euid && a->egid == b->egid &&
	       a->n_groups == b->n_groups &&
	       !memcmp(a->groups, b->groups, (size_t)a->n_groups * sizeof(gid_t)) &&
	       !strcmp(a->path, b->path);
}

/* Under pool_lock: the connections of another identity are no use. */
static void pool_reset(const struct lib_self *now)
{
	/* After fork() the child closes only its copies: the parent's
	 * connections stay open in the parent. */
	while (pool_n > 0)
		(void)tk_close(pool_fd[--pool_n]);
	pool_self = *now;
}

int lib_ctlpool_take(const char *path, struct lib_self *self)
{
	unsigned long long t = tk_now_ms();
	int fd = -1;

	(void)pthread_once(&pool_once, pool_init);
	self_now(self, path);
	pthread_mutex_lock(&pool_lock);
	if (!self_same(self, &pool_self))
		pool_reset(self);
	/* The newest first; the older ones have been idle longer. */
	while (pool_n > 0 && fd < 0) {
		pool_n--;
		if (t - pool_at[pool_n] < LIB_POOL_IDLE_MS)
			fd = pool_fd[pool_n];
		else
			(void)tk_close(pool_fd[pool_n]);
	}
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

void lib_ctlpool_recheck(struct lib_self *self)
{
	struct lib_self now;

	self_now(&now, self->path);
	if (!self_same(self, &now)) {
		/* The connection speaks for the new ones (lib_send()). */
		self->euid = now.euid;
		self->egid = now.egid;
		self->n_groups = -1;
	}
}

void lib_ctlpool_give(int fd, const struct lib_self *self)
{
	pthread_mutex_lock(&pool_lock);
	/* Only into the pool of the identity the connection was made or
	 * taken under. */
	if (self->n_groups >= 0 && self_same(self, &pool_self) && pool_n < LIB_POOL_MAX) {
		pool_fd[pool_n] = fd;
		pool_at[pool_n] = tk_now_ms();
		pool_n++;
		fd = -1;
	}
	pthread_mutex_unlock(&pool_lock);
	(void)tk_close(fd);
}
