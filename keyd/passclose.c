#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/log.h"
#include "keyd/passclose.h"

/* The closer threads (passclose_start): a queue of descriptors to close,
 * and threads that close them, more of them while those there are held. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int on;
	int *q; /* a ring of cap, grown as needed: each entry is an open descriptor */
	size_t cap, head, n;
	unsigned threads, idle;
	unsigned long long logged_ms;
} closer = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_ok;

static _Thread_local timer_t thread_timer;
static _Thread_local int timer_state; /* 0 not made yet, 1 usable, -1 cannot be made */

static int passclose_signal(void)
{
	/* glibc keeps the first real-time signals for itself; SIGRTMIN is
	 * already past those. */
	return SIGRTMIN + 2;
}

static void do_nothing(int sig)
{
	(void)sig;
}

static void install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = do_nothing;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the waiting close must return */
	handler_ok = sigaction(passclose_signal(), &sa, NULL) == 0;
}

static int thread_timer_ready(void)
{
	struct sigevent ev;

	if (timer_state)
		return timer_state > 0;
	(void)pthread_once(&handler_once, install_handler);
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = passclose_signal();
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (!handler_ok || timer_create(CLOCK_MONOTONIC, &ev, &thread_timer) < 0) {
		timer_state = -1;
		keyd_log(LOG_WARNING, "cannot bound the time a close may take (%s): a caller that "
			 "sets SO_LINGER could hold a thread", handler_ok ? strerror(errno) : "sigaction");
		return 0;
	}
	timer_state = 1;
	return 1;
}

/* close(fd) under this thread's timer. */
static void close_timed(int fd)
{
	const struct itimerspec arm = { .it_value = { 0, PASSCLOSE_MAX_MS * 1000000L } };
	const struct itimerspec disarm = { .it_value = { 0, 0 } };
	int timed = thread_timer_ready() && timer_settime(thread_timer, 0, &arm, NULL) == 0;

	/* Linux releases the descriptor even when close() is interrupted. */
	(void)close(fd);
	if (timed)
		(void)timer_settime(thread_timer, 0, &disarm, NULL);
}

static void *closer_main(void *arg)
{
	(void)arg;
	sigset_t only;

	/* Only the timer's signal reaches this thread. */
	sigfillset(&only);
	sigdelset(&only, passclose_signal());
	(void)pthread_sigmask(SIG_SETMASK, &only, NULL);
	pthread_mutex_lock(&closer.lock);
	for (;;) {
		int fd;

		while (!closer.n)
			(void)pthread_cond_wait(&closer.cond, &closer.lock);
		fd = closer.q[closer.head];
		closer.head = (closer.head + 1) % closer.cap;
		closer.n--;
		closer.idle--;
		pthread_mutex_unlock(&closer.lock);
		close_timed(fd);
		pthread_mutex_lock(&closer.lock);
		closer.idle++;
	}
	return NULL;
}

/* One more closer thread (lock held).  0 or a positive error. */
static int closer_spawn(void)
{
	pthread_attr_t a;
	pthread_t t;
	int r;

	if (pthread_attr_init(&a))
		return ENOMEM;
	(void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, closer_main, NULL);
	(void)pthread_attr_destroy(&a);
	if (r == 0) {
		closer.threads++;
		closer.idle++;
	}
	return r;
}

/* Room for one more in the ring (lock held): 0 or -ENOMEM. */
static int closer_room(void)
{
	size_t cap = closer.cap ? closer.cap * 2 : 256;
	int *q;

	if (closer.n < closer.cap)
		return 0;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < closer.n; i++)
		q[i] = closer.q[(closer.head + i) % closer.cap];
	free(closer.q);
	closer.q = q;
	closer.cap = cap;
	closer.head = 0;
	return 0;
}

/* Hand fd to the closer threads: 1, or 0 when they are off (or out of
 * memory: then the caller closes it, under its own timer). */
static int closer_take(int fd)
{
	unsigned long long now;
	int r;

	pthread_mutex_lock(&closer.lock);
	if (!closer.on || (r = closer_room()) < 0) {
		pthread_mutex_unlock(&closer.lock);
		return 0;
	}
	closer.q[(closer.head + closer.n) % closer.cap] = fd;
	closer.n++;
	/* More to close than threads waiting: those busy may be held (a
	 * FUSE file whose server does not answer its flush waits
	 * uninterruptibly), so one more, up to the most.  Past that the
	 * queue grows: each entry is a descriptor still open, which the
	 * open file limit bounds, and admission counts. */
	if (closer.idle < closer.n && closer.threads < PASSCLOSE_THREADS_MAX)
		(void)closer_spawn();
	now = tk_now_ms();
	if (closer.idle == 0 && closer.threads == PASSCLOSE_THREADS_MAX &&
	    now - closer.logged_ms >= 10000) {
		closer.logged_ms = now;
		keyd_log(LOG_WARNING, "%zu descriptors callers passed wait to be closed: all %u closer "
			 "threads are held (a FUSE server that does not answer?)", closer.n, closer.threads);
	}
	pthread_cond_signal(&closer.cond);
	pthread_mutex_unlock(&closer.lock);
	return 1;
}

/* An AF_INET or AF_INET6 socket: it carries no descriptors and lives on
 * no file system, so the timer bounds its close.  getsockopt() touches
 * no file system either (ENOTSOCK for anything but a socket). */
static int inet_socket(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	       (domain == AF_INET || domain == AF_INET6);
}

int passclose_fork_begin(void)
{
	pthread_mutex_lock(&closer.lock);
	if (closer.n) {
		size_t n = closer.n;

		pthread_mutex_unlock(&closer.lock);
		return (int)(n > INT_MAX ? INT_MAX : n);
	}
	return 0;
}

void passclose_fork_end(void)
{
	pthread_mutex_unlock(&closer.lock);
}

int passclose_start(void)
{
	int r;

	pthread_mutex_lock(&closer.lock);
	r = closer.threads ? 0 : closer_spawn();
	closer.on = r == 0;
	pthread_mutex_unlock(&closer.lock);
	return -r;
}

void passclose_stop(void)
{
	pthread_mutex_lock(&closer.lock);
	closer.on = 0;
	pthread_mutex_unlock(&closer.lock);
}

static void set_linger(int fd, enum passclose_linger linger)
{
	if (linger != PASSCLOSE_AS_IS) {
		struct linger lg = { .l_onoff = linger == PASSCLOSE_RESET, .l_linger = 0 };

		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
}

int passclose_linger(int fd, enum passclose_linger linger)
{
	if (fd < 0)
		return -1;
	set_linger(fd, linger);
	if (inet_socket(fd) || !closer_take(fd))
		close_timed(fd);
	return -1;
}

int passclose_here(int fd, enum passclose_linger linger)
{
	if (fd < 0)
		return -1;
	set_linger(fd, linger);
	close_timed(fd);
	return -1;
}

int passclose(int fd)
{
	return passclose_linger(fd, PASSCLOSE_ORDERLY);
}

int passclose_drain(int sock, unsigned max)
{
	unsigned fds = 0;

	for (unsigned i = 0; i < max && fds < max; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(PASSCLOSE_MSG_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
		} control;
		char byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		/* The end.  (A message carries credentials: SO_PASSCRED is set
		 * on the listener and its connections inherit it, so even an
		 * empty one does not read as nothing.) */
		if (n < 0 || (n == 0 && mh.msg_controllen == 0))
			return 1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				(void)passclose(fd);
				fds++;
			}
		}
	}
	return 0;
}

int passclose_ctl(int fd)
{
	if (fd < 0)
		return -1;
	(void)shutdown(fd, SHUT_RDWR);
	/* Emptied: the close releases nothing, here and now. */
	if (passclose_drain(fd, PASSCLOSE_DRAIN_MAX))
		return passclose_here(fd, PASSCLOSE_AS_IS);
	/* The client queued more than a drain takes: its close releases the
	 * rest, and one of them may linger (100 ms each under the timer, and
	 * a client can make as many connections as it likes); so the closer
	 * threads do it, not the thread that answered. */
	return passclose_linger(fd, PASSCLOSE_AS_IS);
}

void passclose_thread_done(void)
{
	if (timer_state > 0)
		(void)timer_delete(thread_timer);
	timer_state = 0;
}
