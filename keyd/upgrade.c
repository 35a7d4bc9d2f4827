/* Upgrade: the old process's side (start the new binary with the
 * listener, wait for it, hand over the main PID) and the new process's
 * side (adopt the environment, say ready).  See upgrade.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/util.h"
#include "common/wire.h"
#include "keyd/log.h"
#include "keyd/passclose.h"
#include "keyd/notify.h"
#include "keyd/upgrade.h"

extern char **environ;

#define UPGRADE_FD_LISTEN 3 /* SD_LISTEN_FDS_START */
#define UPGRADE_FD_PAIR 4
#define UPGRADE_START_MS 60000ULL
#define UPGRADE_GO_MS 10000
#define UPGRADE_ENV_MAX 512

int upgrade_init(struct upgrade *u, char **argv)
{
	memset(u, 0, sizeof(*u));
	u->listen_fd = u->sock = u->replyfd = -1;
	u->argv = argv;
	/* The path, not /proc/self/exe later: that is the old file once a
	 * package upgrade replaced it.  Started through $PATH (no slash in
	 * argv[0]): the path the kernel resolved, read now. */
	if (strchr(argv[0], '/')) {
		if (!realpath(argv[0], u->exe))
			return -errno;
	} else {
		ssize_t n = readlink("/proc/self/exe", u->exe, sizeof(u->exe) - 1);

		if (n <= 0)
			return -errno;
		u->exe[n] = '\0';
	}
	return 0;
}

static void reply(struct upgrade *u, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The outcome: the caller (if any), the log, an audit record. */
static void reply(struct upgrade *u, int err, const char *fmt, ...)
{
	struct tk_msg m = { .type = TK_MSG_RESULT };
	char msg[TK_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	keyd_log(err ? LOG_ERR : LOG_NOTICE, "upgrade: %s", msg);
	{
		struct keyd_audit a = { .event = "upgrade", .cred = &u->who, .err = err,
					.sign_us = -1, .handshake_ms = -1, .detail = msg };
		keyd_audit(&a);
	}
	if (u->replyfd >= 0) {
		m.err = (uint32_t)err;
		m.present = 1u << TK_TAG_ERRNO;
		(void)tk_msg_set_str(&m, TK_TAG_MESSAGE, msg);
		(void)tk_msg_send(u->replyfd, &m, -1);
		u->replyfd = passclose_ctl(u->replyfd);
	}
}

/* The environment of the new process: ours without the variables that
 * name this process, plus what tells the new one it is an upgrade.
 * LISTEN_PID and WATCHDOG_PID are set by the new process itself
 * (upgrade_child_env): its pid is not known before fork(). */
static char **child_env(const struct upgrade *u, char *own, size_t len)
{
	static const char *const drop[] = { "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=",
					    "WATCHDOG_PID=", "TLSKEYD_UPGRADE" };
	char **env = calloc(UPGRADE_ENV_MAX + 4, sizeof(*env));
	size_t n = 0;

	if (!env)
		return NULL;
	for (char **e = environ; *e && n < UPGRADE_ENV_MAX; e++) {
		int skip = 0;

		for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
			skip |= !strncmp(*e, drop[i], strlen(drop[i]));
		if (!skip)
			env[n++] = *e;
	}
	(void)snprintf(own, len, "TLSKEYD_UPGRADE=%d,%d", u->activated, u->own_socket);
	env[n++] = (char *)"LISTEN_FDS=1";
	env[n++] = own;
	return env;
}

/* In the children, between fork() and execve(): async-signal-safe calls
 * only.  The first child forks the new process and exits at once, so
 * that the new process is reparented to the service manager (PID 1 or a
 * subreaper such as "systemd --user") before it becomes the main PID:
 * systemd then sees its exit status, as for a process it started.  The
 * first child tells the old process the new pid ("P<pid>") on the pair. */
static void child_exec(const struct upgrade *u, int lfd, int pfd, char **env)
{
	char msg[24], digits[16];
	size_t n = 0, d = 0;
	sigset_t none;
	pid_t pid = fork();

	if (pid < 0)
		_exit(127);
	if (pid > 0) {
		msg[n++] = 'P';
		for (unsigned long v = (unsigned long)pid; v && d < sizeof(digits); v /= 10)
			digits[d++] = (char)('0' + v % 10);
		while (d)
			msg[n++] = digits[--d];
		_exit(send(pfd, msg, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : 127);
	}
	if (dup2(lfd, UPGRADE_FD_LISTEN) < 0 || dup2(pfd, UPGRADE_FD_PAIR) < 0)
		_exit(127);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(u->exe, u->argv, env);
	_exit(127);
}

int upgrade_begin(struct upgrade *u, int replyfd, const struct ucred *who)
{
	char own[64];
	char **env = NULL;
	int sv[2] = { -1, -1 }, lfd = -1, pfd = -1, r;
	pid_t pid;

	if (!u->exe[0]) {
		u->replyfd = replyfd;
		u->who = *who;
		reply(u, ENOTSUP, "the path of this tlskeyd's binary is unknown: restart it instead");
		return -ENOTSUP;
	}
	if (u->state != UPGRADE_IDLE) {
		struct upgrade busy = *u;

		busy.replyfd = replyfd;
		busy.who = *who;
		reply(&busy, EBUSY, "an upgrade is already %s",
		      u->state == UPGRADE_STARTING ? "starting" : "done: this process is draining");
		return -EBUSY;
	}
	u->replyfd = replyfd;
	u->who = *who;
	/* Above the two target numbers, so that dup2() never meets itself. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (lfd = fcntl(u->listen_fd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (pfd = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0 || !(env = child_env(u, own, sizeof(own)))) {
		r = -errno;
		goto fail;
	}
	/* The first child's _exit() closes its copy of every descriptor
	 * still queued for the closer threads, and a FUSE file among them
	 * would hold it there, and us in waitpid(). */
	r = passclose_fork_begin();
	if (r > 0) {
		free(env);
		(void)tk_close(lfd);
		(void)tk_close(pfd);
		(void)tk_close(sv[0]);
		(void)tk_close(sv[1]);
		reply(u, EBUSY, "%d descriptors callers passed are still waiting to be closed (a FUSE "
		      "server that does not answer its flushes?): try again later", r);
		return -EBUSY;
	}
	pid = fork();
	if (pid == 0)
		child_exec(u, lfd, pfd, env);
	r = pid < 0 ? -errno : 0;
	passclose_fork_end();
	if (pid < 0)
		goto fail;
	/* The first child only forks: reap it now. */
	while (waitpid(pid, &r, 0) < 0 && errno == EINTR)
		;
	free(env);
	(void)tk_close(lfd);
	(void)tk_close(pfd);
	(void)tk_close(sv[1]);
	u->child = 0; /* known from its "P" message */
	u->sock = sv[0];
	u->state = UPGRADE_STARTING;
	u->deadline_ms = tk_now_ms() + UPGRADE_START_MS;
	keyd_log(LOG_NOTICE, "upgrade: starting %s", u->exe);
	return u->sock;
fail:
	free(env);
	(void)tk_close(lfd);
	(void)tk_close(pfd);
	(void)tk_close(sv[0]);
	(void)tk_close(sv[1]);
	reply(u, -r, "cannot start %s: %s", u->exe, strerror(-r));
	return r;
}

/* The new process is gone or useless: make sure it is gone, say why.  It
 * is no child of ours (child_exec), so its exit status is not ours to
 * read: its own log says why it stopped. */
static void fail_child(struct upgrade *u, const char *why)
{
	if (u->child > 0)
		(void)kill(u->child, SIGKILL);
	u->sock = tk_close(u->sock);
	u->state = UPGRADE_IDLE;
	reply(u, ECHILD, "the new tlskeyd (pid %d) %s; this one (pid %d) keeps serving", (int)u->child,
	      why, (int)getpid());
	u->child = 0;
}

enum upgrade_state upgrade_event(struct upgrade *u)
{
	char c[24] = "";
	ssize_t n;

	if (u->state != UPGRADE_STARTING)
		return u->state;
	n = recv(u->sock, c, sizeof(c) - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return UPGRADE_STARTING;
	if (n > 1 && c[0] == 'P' && !u->child) {
		c[n] = '\0';
		u->child = (pid_t)strtol(c + 1, NULL, 10);
		keyd_log(LOG_NOTICE, "upgrade: the new tlskeyd is pid %d", (int)u->child);
		return UPGRADE_STARTING;
	}
	if (n != 1 || c[0] != 'R' || u->child <= 0) {
		fail_child(u, "exited before it was ready (its log says why)");
		return UPGRADE_IDLE;
	}
	/* systemd first, so that the new process's READY=1 and WATCHDOG=1
	 * come from the main PID. */
	keyd_notifyf("MAINPID=%d", (int)u->child);
	if (send(u->sock, "G", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
		fail_child(u, "went away while taking over");
		return UPGRADE_IDLE;
	}
	u->sock = tk_close(u->sock);
	u->state = UPGRADE_HANDED_OVER;
	reply(u, 0, "new tlskeyd pid %d serves; pid %d drains its sessions", (int)u->child,
	      (int)getpid());
	return UPGRADE_HANDED_OVER;
}

void upgrade_tick(struct upgrade *u, unsigned long long now_ms)
{
	if (u->state == UPGRADE_STARTING && now_ms >= u->deadline_ms)
		fail_child(u, "was not ready within 60 s");
}

int upgrade_child_env(void)
{
	const char *v = getenv("TLSKEYD_UPGRADE");
	char pid[32];

	if (!v)
		return 0;
	(void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
	(void)setenv("LISTEN_PID", pid, 1);
	if (getenv("WATCHDOG_USEC"))
		(void)setenv("WATCHDOG_PID", pid, 1);
	return 1;
}

void upgrade_child_listener(int *activated, int *own_socket)
{
	const char *v = getenv("TLSKEYD_UPGRADE");
	int a = 0, o = 0;

	if (v && sscanf(v, "%d,%d", &a, &o) == 2) {
		*activated = a;
		*own_socket = o;
	}
}

int upgrade_child_ready(void)
{
	struct pollfd p = { .fd = UPGRADE_FD_PAIR, .events = POLLIN };
	char c = 0;
	int r = 0;

	if (!getenv("TLSKEYD_UPGRADE"))
		return 0;
	(void)unsetenv("TLSKEYD_UPGRADE");
	if (send(UPGRADE_FD_PAIR, "R", 1, MSG_NOSIGNAL) != 1 || poll(&p, 1, UPGRADE_GO_MS) != 1 ||
	    recv(UPGRADE_FD_PAIR, &c, 1, 0) != 1 || c != 'G')
		r = -EPIPE;
	(void)tk_close(UPGRADE_FD_PAIR);
	if (r < 0)
		keyd_log(LOG_ERR, "upgrade: the old tlskeyd did not hand over: exiting");
	return r;
}
