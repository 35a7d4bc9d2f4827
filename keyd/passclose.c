#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "keyd/log.h"
#include "keyd/passclose.h"

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

int passclose_linger(int fd, enum passclose_linger linger)
{
	const struct itimerspec arm = { .it_value = { 0, PASSCLOSE_MAX_MS * 1000000L } };
	const struct itimerspec disarm = { .it_value = { 0, 0 } };
	int timed;

	if (fd < 0)
		return -1;
	if (linger != PASSCLOSE_AS_IS) {
		struct linger lg = { .l_onoff = linger == PASSCLOSE_RESET, .l_linger = 0 };

		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	timed = thread_timer_ready() && timer_settime(thread_timer, 0, &arm, NULL) == 0;
	/* Linux releases the descriptor even when close() is interrupted. */
	(void)close(fd);
	if (timed)
		(void)timer_settime(thread_timer, 0, &disarm, NULL);
	return -1;
}

int passclose(int fd)
{
	return passclose_linger(fd, PASSCLOSE_ORDERLY);
}

void passclose_thread_done(void)
{
	if (timer_state > 0)
		(void)timer_delete(thread_timer);
	timer_state = 0;
}
